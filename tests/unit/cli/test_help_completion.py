"""The front door's pure parts: pflag's option columns, the help pages made from the
tables, the names cobra gives a command (aliases, a subcommand's first name), the
global options and the errors of ``estiba.cli.main.main``; the completion script's
tables and its static completions in a real bash (the daemon's names are tested
against a real estibad in tests/e2e/test_estiba_front.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from estiba.cli import main as front
from estiba.cli.docker import completion, help
from estiba.cli.docker.context import named
from estiba.cli.docker.flags import Flag

SRC = Path(__file__).resolve().parents[3] / "src"


# --- pflag's columns --------------------------------------------------------------

def test_wrap_keeps_short_text_on_one_line() -> None:
    assert help.wrap(10, 40, "short words") == "short words"


def test_wrap_cuts_at_blanks_and_indents_the_rest() -> None:
    # 30 columns, less 5 of slop: lines of up to 25 characters
    text = "alpha beta gamma delta epsilon zeta eta theta"
    assert help.wrap(10, 40, text) == ("alpha beta gamma delta\n" + " " * 10
                                       + "epsilon zeta eta theta")


def test_wrap_lets_the_last_word_run_into_the_slop() -> None:
    text = "alpha beta gamma delta eps"  # 26 characters: within 25 + 5
    assert help.wrap(10, 40, text) == text


def test_wrap_keeps_newlines_and_indents_after_them() -> None:
    assert help.wrap(4, 60, "one\ntwo") == "one\n    two"


def test_wrap_too_narrow_goes_below_from_column_16() -> None:
    assert help.wrap(60, 79, "x y") == "\n" + " " * 16 + "x y"


def test_flag_usages_sorted_and_aligned() -> None:
    flags = (Flag("quiet", "q", help="Say less"), Flag("format", kind="string",
                                                       help="How to print"),
             Flag("filter", "f", repeat=True, kind="filter", help="Keep what matches"),
             Flag("ipv4", value=True, kind="bool", help="Use IPv4"))
    assert help.flag_usages(flags, 79) == (
        "  -f, --filter filter   Keep what matches\n"
        "      --format string   How to print\n"
        "      --ipv4            Use IPv4\n"
        "  -q, --quiet           Say less\n")


def test_flag_usages_leave_out_hidden_flags_and_say_true_defaults() -> None:
    flags = (Flag("timeout", "t", kind="int", help="Seconds to wait"),
             Flag("time", kind="int", help="Seconds to wait (deprecated)", hidden=True),
             Flag("pause", "p", help="Pause the container", default=True))
    assert help.flag_usages(flags, 79) == (
        "  -p, --pause         Pause the container (default true)\n"
        "  -t, --timeout int   Seconds to wait\n")


# --- the tables' names ------------------------------------------------------------

@pytest.mark.parametrize(("name", "paths"), [
    ("ps", ["container ls", "container list", "container ps", "ps"]),
    ("container ls", ["container ls", "container list", "container ps", "ps"]),
    ("rmi", ["image rm", "image remove", "rmi"]),
    ("info", ["system info", "info"]),
    ("network ls", ["network ls", "network list"]),
    ("inspect", ["inspect"]),
    ("container inspect", ["container inspect"]),
])
def test_aliases_in_dockers_order(name: str, paths: list[str]) -> None:
    assert help.aliases(name) == paths


@pytest.mark.parametrize(("argv", "name", "usage"), [
    (["container", "list", "-a"], "container ls", "container ls [OPTIONS]"),
    (["container", "ps"], "container ls", "container ls [OPTIONS]"),
    (["image", "list"], "image ls", "image ls [OPTIONS] [REPOSITORY[:TAG]]"),
    (["network", "list"], "network ls", "network ls [OPTIONS]"),
    (["volume", "remove", "v"], "volume rm", "volume rm [OPTIONS] VOLUME [VOLUME...]"),
    (["ps"], "ps", "ps [OPTIONS]"),
])
def test_a_subcommand_is_named_by_its_first_name(argv: list[str], name: str,
                                                 usage: str) -> None:
    found = front.resolve(argv)
    assert found is not None
    assert (found[0], found[1][2]) == (name, usage)
    assert found[2] == (argv[2:] if argv[0] in front.MANAGEMENT else argv[1:])


def test_subcommands_leave_aliases_out() -> None:
    names = [sub for sub, _ in help.subcommands("network")]
    assert names == ["connect", "create", "disconnect", "inspect", "ls", "prune", "rm"]
    assert ("ls", "Show the containers") in help.subcommands("container")


def test_arguments_error_names_the_path_run() -> None:
    assert named("'estiba ps' accepts no arguments", "container ls") \
        == "'estiba container ls' accepts no arguments"
    assert named("invalid reference format", "container ls") == "invalid reference format"


# --- pages ------------------------------------------------------------------------

def test_command_page_layout() -> None:
    page = help.command_page("ps", "ps [OPTIONS]", "List containers",
                             (Flag("all", "a", help="Everything"),))
    assert page == ("Usage:  estiba ps [OPTIONS]\n\nList containers\n\nAliases:\n"
                    "  estiba container ls, estiba container list, estiba container ps, "
                    "estiba ps\n\nOptions:\n  -a, --all   Everything\n")


@pytest.mark.parametrize("flags", [None, ()])
def test_command_page_without_options(flags: tuple[Flag, ...] | None) -> None:
    page = help.command_page("inspect", "inspect NAME", "Show it", flags)
    assert page == "Usage:  estiba inspect NAME\n\nShow it\n"


def test_group_page_layout() -> None:
    page = help.group_page("completion")
    assert page == ("Usage:  estiba completion COMMAND\n\n"
                    f"{help.GROUPS['completion']}\n\nCommands:\n"
                    "  bash        Print the completion script of bash\n"
                    "  zsh         Print the completion script of zsh\n\n"
                    "Run 'estiba completion COMMAND --help' for more information on a "
                    "command.\n")


def test_root_page_lists_every_command_once() -> None:
    page = help.root_page()
    for name, entry in front.DOCKER_COMMANDS.items():
        assert page.count(f"\n  {name.ljust(11)} {entry[3]}\n") == 1, name
    for name in (*front.MANAGEMENT, "ctr"):
        assert page.count(f"\n  {name.ljust(11)} {help.GROUPS[name]}\n") == 1, name
    assert "\nGlobal Options:\n  -D, --debug " in page
    common = page.partition("Common Commands:\n")[2].partition("\n\n")[0]
    assert [line.split()[0] for line in common.splitlines()] \
        == ["run", "exec", "ps", "pull", "images", "version", "info"]


# --- main: the cases that never reach the daemon ------------------------------------

def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = front.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_alone_prints_the_page_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(capsys)
    assert (status, out) == (0, "") and err == help.root_page(help.columns())


@pytest.mark.parametrize(("argv", "status", "err"), [
    (("--nosuch",), 125, "unknown flag: --nosuch\n\nUsage:  estiba [OPTIONS] COMMAND "
                         "[ARG...]\n\nRun 'estiba --help' for more information\n"),
    (("-l", "loud", "ps"), 1, "Unable to parse logging level: loud\n"),
    (("nosuch",), 1, "estiba: unknown command: estiba nosuch\n\n"
                     "Run 'estiba --help' for more information\n"),
    (("network", "nosuch"), 1, "estiba: unknown command: estiba network nosuch\n\n"
                               "Usage:  estiba network\n\n"
                               "Run 'estiba network --help' for more information\n"),
    (("help", "nosuch", "ps"), 1, "unknown help topic: nosuch ps\n"),
    (("ps", "--help", "--nosuch"), 125, "unknown flag: --nosuch\n\nUsage:  estiba ps "
                                        "[OPTIONS]\n\nRun 'estiba ps --help' for more "
                                        "information\n"),
])
def test_errors(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], status: int,
                err: str) -> None:
    assert run_main(capsys, *argv) == (status, "", err)


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from estiba import __version__

    status, out, _ = run_main(capsys, "-Dv")
    assert status == 0 and out.startswith(f"Estiba version {__version__}, build ")


def test_help_of_a_value_is_no_help(capsys: pytest.CaptureFixture[str]) -> None:
    """``--format --help``: the format is "--help"; the command runs (and finds no
    daemon here)."""
    status, out, err = run_main(capsys, "-H", "unix:///nowhere/x.sock", "ps",
                                "--format", "--help")
    assert (status, out) == (1, "") and err.startswith("Cannot connect")


def test_help_of_a_command_being_written(capsys: pytest.CaptureFixture[str]) -> None:
    """A module not there yet: the page without options."""
    status = help.command_help("zap", ("nosuchmodule", "zap", "zap [OPTIONS] X", "Zap X"),
                               ["-x", "--help"])
    assert status == 0
    assert capsys.readouterr().out == "Usage:  estiba zap [OPTIONS] X\n\nZap X\n"


def test_run_takes_h_after_the_image_as_the_containers() -> None:
    entry = ("nosuchmodule", "run", "run IMAGE", "Run")
    assert help.command_help("run", entry, ["busybox", "ls", "-h"]) is None


def test_ps_imports_no_help_nor_completion() -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "estiba.cli", "-H",
                           "unix:///nowhere/x.sock", "ps"], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=30)
    assert "Cannot connect" in done.stderr
    assert "estiba.cli.docker.containers" in done.stderr
    assert "estiba.cli.docker.help" not in done.stderr
    assert "estiba.cli.docker.completion" not in done.stderr


# --- completion ---------------------------------------------------------------------

@pytest.mark.parametrize(("usage", "path", "kinds"), [
    ("rm [OPTIONS] CONTAINER [CONTAINER...]", "rm", ["container", "container+"]),
    ("network connect [OPTIONS] NETWORK CONTAINER", "network connect",
     ["network", "container"]),
    ("tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "tag", ["image", "image"]),
    ("run [OPTIONS] IMAGE [COMMAND] [ARG...]", "run", ["image", "none", "none+"]),
    ("inspect [OPTIONS] NAME|ID [NAME|ID...]", "inspect", ["any", "any+"]),
    ("cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\testiba cp x", "cp",
     ["container", "file"]),
    ("ps [OPTIONS]", "ps", []),
])
def test_arg_kinds_from_the_usage_line(usage: str, path: str, kinds: list[str]) -> None:
    assert completion.arg_kinds(usage, path) == kinds


def test_every_command_and_subcommand_is_in_the_script() -> None:
    script = completion.bash_script()
    for name in front.DOCKER_COMMANDS:
        assert f"\n    {name}) flags=" in script
    for group, table in front.MANAGEMENT.items():
        for sub in table:
            assert f"\n    '{group} {sub}') key=" in script
    assert "    'container list') key=ps ;;" in script
    assert script.rstrip().endswith("complete -F _estiba estiba")
    assert completion.zsh_script().startswith("#compdef estiba\n")


def bash_complete(tmp_path: Path, *words: str) -> list[str]:
    script = tmp_path / "estiba.bash"
    script.write_text(completion.bash_script())
    program = (f"source {script}\nCOMP_WORDS=(" + " ".join(f"'{w}'" for w in words)
               + f")\nCOMP_CWORD={len(words) - 1}\n_estiba\n"
               "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", program],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(("words", "expected"), [
    (("estiba", "ne"), ["network"]),
    (("estiba", "-H", "unix:///x.sock", "vo"), ["volume"]),
    (("estiba", "system", ""), ["df", "events", "info", "prune"]),
    (("estiba", "ps", "--no"), ["--no-trunc"]),
    (("estiba", "ps", "-f", "--no"), []),   # a filter's value: nothing to offer
    (("estiba", "container", "list", "--q"), ["--quiet"]),
    (("estiba", "-l", "w"), ["warn"]),
    (("estiba", "inspect", "--type", "i"), ["image"]),
    (("estiba", "run", "busybox", "ls", "-"), ["-"]),  # the container's: file names
])
def test_bash_static_completion(tmp_path: Path, words: tuple[str, ...],
                                expected: list[str]) -> None:
    (tmp_path / "-").touch()
    assert bash_complete(tmp_path, *words) == expected


def test_runs_own_h_is_its_hostname(capsys: pytest.CaptureFixture[str]) -> None:
    """cobra gives -h to help only where the command has no -h of its own."""
    entry = front.DOCKER_COMMANDS["run"]
    assert help.command_help("run", entry, ["-h", "box", "busybox"]) is None
    assert help.command_help("run", entry, ["--help"]) == 0
    assert capsys.readouterr().out.startswith("Usage:  estiba run [OPTIONS] IMAGE")


def test_completion_offers_no_hidden_flag_but_knows_its_value() -> None:
    found, _ = completion.commands()
    stop = next(c for c in found if c.key == "stop")
    assert "time" not in {f.name for f in stop.flags}
    assert "time" in {f.name for f in stop.valued}
