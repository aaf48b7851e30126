"""``estiba``'s front door beside the real docker CLI (version 28, the spec), against the
same estibad: help pages (``--help``, ``-h``, ``help``), the management commands'
pages, unknown commands and flags, the global options, ``container inspect`` and
``image inspect``; and the bash completion script sourced in a real bash, completing
commands, subcommands, flags and the daemon's names. Estiba's output is compared with
docker's after "estiba" is read as "docker"."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba.cli.main import DOCKER_COMMANDS, MANAGEMENT
from support.docker_cli import docker, engine_daemon, env_of, estiba, estiba_env

pytestmark = [pytest.mark.e2e, pytest.mark.root]


# the commands whose modules this suite's flags come from
MINE = (("ps",), ("rm",), ("inspect",), ("version",), ("container", "ls"),
        ("container", "ps"), ("container", "rm"), ("container", "inspect"),
        ("image", "inspect"))


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("ecF-")


@pytest.fixture(scope="module")
def scene(daemon: object) -> Iterator[object]:
    """A container, a network and a volume whose names completion must offer."""
    for argv in (("create", "--name", "ecf-web", "busybox", "true"),
                 ("network", "create", "ecf-net"), ("volume", "create", "ecf-vol")):
        result = docker(daemon, *argv)
        assert result.returncode == 0, result.stderr
    yield daemon
    docker(daemon, "rm", "-f", "ecf-web")
    docker(daemon, "network", "rm", "ecf-net")
    docker(daemon, "volume", "rm", "ecf-vol")


def theirs(d: object, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], env=env_of(d), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def as_docker(text: str) -> str:
    return text.replace("estiba", "docker")


def both(d: object, *args: str) -> tuple[subprocess.CompletedProcess,
                                         subprocess.CompletedProcess]:
    return estiba(d, *args), theirs(d, *args)


def wordless(page: str) -> str:
    """A help page with its descriptions replaced by a mark: estiba describes its
    commands in its own words; the layout, the names, the usage lines and the aliases
    are docker's."""
    paragraphs = page.split("\n\n")
    if paragraphs[0].startswith("Usage:") and len(paragraphs) > 1 and \
            not paragraphs[1].endswith(":") and ":\n" not in paragraphs[1]:
        paragraphs[1] = "..."  # a command's description
    # a listed command's description, its column kept
    return re.sub(r"^(  [a-z][\w-]* +)\S.*$", r"\1...", "\n\n".join(paragraphs),
                  flags=re.M)


def alike(d: object, *args: str) -> str:
    """Run both; the same status, stdout and stderr but for the descriptions' words;
    docker's stdout."""
    ours, them = both(d, *args)
    assert (ours.returncode, wordless(as_docker(ours.stdout)),
            wordless(as_docker(ours.stderr))) \
        == (them.returncode, wordless(them.stdout), wordless(them.stderr)), args
    return them.stdout


def identical(d: object, *args: str) -> str:
    """Run both; the same status, stdout and stderr; docker's stdout."""
    ours, them = both(d, *args)
    assert (ours.returncode, as_docker(ours.stdout), as_docker(ours.stderr)) \
        == (them.returncode, them.stdout, them.stderr), args
    return them.stdout


# --- help pages -------------------------------------------------------------------

def _option_lefts(page: str) -> list[str]:
    """The options' left column, padding included (where the help text starts)."""
    _, _, options = page.partition("\nOptions:\n")
    return [line[:re.search(r"\S\s{2,}(?=\S)", line).end()]  # type: ignore[union-attr]
            for line in options.splitlines() if re.match(r"  (-\w, |    )--", line)]


@pytest.mark.parametrize("path", MINE, ids=" ".join)
def test_command_page_as_docker(daemon: object, path: tuple[str, ...]) -> None:
    """Usage, description, aliases as docker's; the same options, the same columns."""
    ours, them = both(daemon, *path, "--help")
    assert ours.returncode == them.returncode == 0 and ours.stderr == ""
    head, _, _ = as_docker(ours.stdout).partition("\nOptions:\n")
    assert wordless(head) == wordless(them.stdout.partition("\nOptions:\n")[0])
    assert _option_lefts(ours.stdout) == _option_lefts(them.stdout)
    assert _option_lefts(ours.stdout)


@pytest.mark.parametrize("path", [[n] for n in DOCKER_COMMANDS]
                         + [[g, s] for g in MANAGEMENT if g != "completion"
                            for s in MANAGEMENT[g]], ids=" ".join)
def test_every_command_has_docker_usage_and_aliases(daemon: object, path: list[str]) -> None:
    ours, them = both(daemon, *path, "--help")
    assert ours.returncode == them.returncode == 0, ours.stderr
    first = them.stdout.split("\n\n")[0]
    assert as_docker(ours.stdout).split("\n\n")[0] == first
    aliases = re.search(r"\nAliases:\n.*\n", them.stdout)
    ours_aliases = re.search(r"\nAliases:\n.*\n", as_docker(ours.stdout))
    assert (aliases and aliases.group()) == (ours_aliases and ours_aliases.group())


@pytest.mark.parametrize("args", [
    ("help", "ps"), ("--help", "ps"), ("ps", "-a", "--help"), ("ps", "--help", "extra"),
    ("-H", "unix:///nowhere.sock", "ps", "--help"), ("--help", "--", "ps"),
])
def test_help_however_asked(daemon: object, args: tuple[str, ...]) -> None:
    ours = estiba(daemon, *args)
    assert ours.returncode == 0 and ours.stderr == ""
    assert ours.stdout == estiba(daemon, "ps", "--help").stdout
    assert ours.stdout.startswith("Usage:  estiba ps [OPTIONS]\n\nShow the containers\n")


@pytest.mark.parametrize("args", [("ps", "-h"), ("ps", "-ah"), ("network", "ls", "-h"),
                                  ("network", "-h"), ("help", "-h"), ("-h",),
                                  ("-h", "ps")])
def test_h_is_deprecated_as_docker_says(daemon: object, args: tuple[str, ...]) -> None:
    """On stdout after a command, on stderr among the global options."""
    ours, them = both(daemon, *args)
    assert ours.returncode == them.returncode == 0
    assert as_docker(ours.stdout).splitlines()[:2] == them.stdout.splitlines()[:2]
    assert ours.stderr == them.stderr
    assert "Flag shorthand -h has been deprecated, use --help\n" in ours.stdout + ours.stderr


@pytest.mark.parametrize("args", [("network",), ("container",), ("network", "--help"),
                                  ("container", "nosuch", "--help"), ("help", "network")])
def test_management_page_as_docker(daemon: object, args: tuple[str, ...]) -> None:
    """The subcommands, sorted, aliases left out; alone, on stderr (status 0)."""
    out = alike(daemon, *args)
    if args in (("network",), ("container",)):
        assert out == ""
        assert estiba(daemon, *args).stderr.startswith(f"Usage:  estiba {args[0]} COMMAND")


def test_system_page_but_its_name(daemon: object) -> None:
    ours, them = both(daemon, "system", "--help")
    assert wordless(as_docker(ours.stdout)) == wordless(them.stdout)


def test_root_page(daemon: object) -> None:
    """docker's sections in docker's order; every command with its description."""
    ours, them = both(daemon, "--help")
    assert ours.returncode == them.returncode == 0 and ours.stderr == ""
    headings = re.findall(r"^(\S[^\n]*):$", ours.stdout, re.M)
    docker_headings = [h for h in re.findall(r"^(\S[^\n]*):$", them.stdout, re.M)
                       if h != "Swarm Commands"]
    assert headings == docker_headings
    assert ours.stdout.startswith("Usage:  estiba [OPTIONS] COMMAND\n\n")
    for name, entry in DOCKER_COMMANDS.items():
        line = f"  {name.ljust(11)} {entry[3]}\n"
        assert line in ours.stdout and f"\n  {name.ljust(11)} " in them.stdout
    for name in (*MANAGEMENT, "ctr"):
        assert re.search(rf"^  {name} +\S", ours.stdout, re.M), name
    globals_ = ours.stdout.partition("Global Options:\n")[2]
    for option in ("-H, --host list", "-D, --debug", "-l, --log-level string",
                   "-v, --version"):
        assert f"  {option} " in globals_ and f"  {option} " in them.stdout
    assert ours.stdout.endswith("\nRun 'estiba COMMAND --help' for more information "
                                "on a command.\n")


def test_root_alone_and_help(daemon: object) -> None:
    """``estiba`` alone: the page on stderr, status 0, as docker; ``help``: stdout."""
    ours, them = both(daemon)
    assert (ours.returncode, ours.stdout, them.returncode, them.stdout) == (0, "", 0, "")
    assert ours.stderr == estiba(daemon, "--help").stdout
    helped = estiba(daemon, "help")
    assert helped.returncode == 0 and helped.stdout == ours.stderr


# --- errors as docker's -----------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("nosuch",), ("nosuch", "-x"), ("--nosuch",), ("-H",), ("-x", "ps"),
    ("network", "nosuch"), ("network", "-x"), ("network", "--nosuch", "ls"),
    ("image", "nosuch"),
    ("ps", "--help", "--nosuch"), ("ps", "--nosuch", "--help"), ("ps", "--he"),
    ("ps", "--", "--help"), ("container", "ls", "-x"), ("container", "list", "-x"),
    ("container", "ps", "extra"), ("container", "ls", "-h", "-x"),
    ("image", "list", "-x"), ("network", "list", "-x"), ("network", "ls", "--nosuch", "--help"),
    ("container", "remove"), ("network", "remove"), ("images", "-x"),
    ("help", "nosuch"), ("help", "ps", "extra"), ("help", "network", "nosuch"),
    ("help", "nosuch", "ps"), ("help", "-x"), ("help", "--help"),
    ("-l", "nosuch", "ps"), ("-H", "unix:///a.sock", "-H", "unix:///b.sock", "ps"),
    ("container", "inspect"), ("image", "inspect", "-s", "busybox"),
])
def test_errors_as_docker(daemon: object, args: tuple[str, ...]) -> None:
    identical(daemon, *args)


@pytest.mark.parametrize("args", [("-D", "ps", "-a"), ("--log-level=warn", "ps"),
                                  ("-l", "error", "--debug", "version", "-f",
                                   "{{.Server.APIVersion}}"), ("--", "ps", "-q")])
def test_global_options_accepted(daemon: object, args: tuple[str, ...]) -> None:
    ours, them = both(daemon, *args)
    assert (ours.returncode, ours.stderr) == (them.returncode, them.stderr) == (0, "")
    assert ours.stdout.splitlines()[:1] == them.stdout.splitlines()[:1]


def test_version_flag(daemon: object) -> None:
    ours, them = both(daemon, "-v")
    assert re.fullmatch(r"Docker version [^,\s]+, build \w+\n", them.stdout)
    assert re.fullmatch(r"Estiba version [^,\s]+, build \w+\n", ours.stdout)
    assert ours.returncode == 0 and ours.stdout == estiba(daemon, "--version").stdout


# --- container inspect, image inspect -----------------------------------------------

@pytest.mark.parametrize("args", [
    ("container", "inspect", "-f", "{{.Name}} {{.State.Status}}", "ecf-web"),
    ("container", "inspect", "--format", "{{.Name}}", "ecf-web", "nosuch"),
    ("container", "inspect", "nosuch"), ("image", "inspect", "nosuch"),
    ("image", "inspect", "-f", "{{.Id}} {{.Os}}", "busybox"),
    ("container", "inspect", "-f", "{{.Nope", "ecf-web"),
])
def test_inspect_one_kind_as_docker(scene: object, args: tuple[str, ...]) -> None:
    identical(scene, *args)


@pytest.mark.parametrize("args", [("container", "inspect", "ecf-web"),
                                  ("image", "inspect", "busybox")])
def test_inspect_one_kind_json(scene: object, args: tuple[str, ...]) -> None:
    ours, them = both(scene, *args)
    assert ours.returncode == them.returncode == 0, ours.stderr
    assert json.loads(ours.stdout) == json.loads(them.stdout)
    assert json.loads(ours.stdout) == json.loads(
        estiba(scene, "inspect", "--type", args[0], args[2]).stdout)


# --- shell completion ------------------------------------------------------------

@pytest.fixture(scope="module")
def bash_script(scene: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The script, and an ``estiba`` on PATH for it to ask the daemon."""
    where = tmp_path_factory.mktemp("ecf-completion")
    program = where / "estiba"
    program.write_text(f'#!/bin/sh\nexec {sys.executable} -m estiba.cli "$@"\n')
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    made = estiba(scene, "completion", "bash")
    assert made.returncode == 0 and made.stderr == ""
    script = where / "estiba.bash"
    script.write_text(made.stdout)
    return script


def complete(d: object, script: Path, *words: str) -> list[str]:
    """COMPREPLY for the command line ``words`` (the last one being completed)."""
    program = (
        f"source {script}\n"
        "COMP_WORDS=(" + " ".join(f"'{w}'" for w in words) + ")\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_estiba\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    e = {**estiba_env(d), "PATH": f"{script.parent}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], env=e,
                          capture_output=True, text=True, timeout=60, cwd=script.parent)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.parametrize(("words", "expected"), [
    (("estiba", "ne"), ["network"]),
    (("estiba", "network", ""), ["connect", "create", "disconnect", "inspect", "list",
                                 "ls", "prune", "remove", "rm"]),
    (("estiba", "ps", "--no"), ["--no-trunc"]),
    (("estiba", "container", "ls", "-a", "--f"), ["--filter", "--format"]),
    (("estiba", "co"), ["commit", "completion", "container"]),
    (("estiba", "-"), ["--debug", "-D", "--help", "--host", "-H", "--log-level", "-l",
                       "--version", "-v"]),
    (("estiba", "completion", ""), ["bash", "zsh"]),
    (("estiba", "help", "vo"), ["volume"]),
    (("estiba", "inspect", "--type", "c"), ["container"]),
])
def test_bash_completes_the_tables(scene: object, bash_script: Path,
                                   words: tuple[str, ...], expected: list[str]) -> None:
    assert complete(scene, bash_script, *words) == expected


@pytest.mark.parametrize(("words", "expected"), [
    (("estiba", "rm", "ecf-"), ["ecf-web"]),
    (("estiba", "container", "rm", "-f", "ecf"), ["ecf-web"]),
    (("estiba", "network", "rm", "ecf"), ["ecf-net"]),
    (("estiba", "network", "connect", "ecf-net", "ecf"), ["ecf-web"]),
    (("estiba", "volume", "inspect", "ecf"), ["ecf-vol"]),
    (("estiba", "image", "inspect", "bus"), ["busybox:latest"]),
    (("estiba", "rmi", "busybox:l"), ["busybox:latest"]),
    (("estiba", "inspect", "ecf-"), ["ecf-web", "ecf-net", "ecf-vol"]),
    (("estiba", "port", "ecf-web", ""), []),
])
def test_bash_completes_the_daemons_names(scene: object, bash_script: Path,
                                          words: tuple[str, ...], expected: list[str]) -> None:
    assert complete(scene, bash_script, *words) == expected


def test_bash_completion_asks_the_host_given(scene: object, bash_script: Path) -> None:
    """``-H`` on the line being completed names the daemon asked; another has none."""
    host = env_of(scene)["DOCKER_HOST"]
    assert complete(scene, bash_script, "estiba", "-H", host, "rm", "ecf") == ["ecf-web"]
    assert complete(scene, bash_script, "estiba", "-H", "unix:///nowhere.sock", "rm",
                    "ecf") == []


def test_zsh_script_parses(scene: object, tmp_path: Path) -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed")
    made = estiba(scene, "completion", "zsh")
    assert made.returncode == 0 and made.stdout.startswith("#compdef estiba\n")
    script = tmp_path / "_estiba"
    script.write_text(made.stdout)
    checked = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode == 0, checked.stderr
