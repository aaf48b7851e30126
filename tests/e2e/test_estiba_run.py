"""``estiba run``, ``start``, ``attach`` and ``exec`` beside the real docker CLI against
the same estibad: the same stdout, stderr (once container ids and the CLI's name are
put aside) and exit status, piped input, signals forwarded, and an interactive shell
driven through a pseudo-terminal (its output, its size, the detach keys)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from support.docker_cli import (
    ESTIBA,
    SRC,
    docker,
    engine_daemon,
    estiba_env,
    in_pty,
)

pytestmark = [pytest.mark.e2e, pytest.mark.root]

_ID = re.compile(r"\b[0-9a-f]{64}\b")


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("ecB-")


@pytest.fixture(scope="module")
def keeper(daemon: object) -> Iterator[str]:
    """A running container for the execs."""
    result = docker(daemon, "run", "-d", "--name", "keeper", "busybox", "sleep", "100000")
    assert result.returncode == 0, result.stderr
    yield "keeper"
    docker(daemon, "rm", "-f", "keeper")


def cli(d: object, program: tuple[str, ...], *args: str, input: str | None = None
        ) -> subprocess.CompletedProcess:
    return subprocess.run([*program, *args], env=estiba_env(d), input=input,
                          capture_output=True, text=True, timeout=60)


def estiba(d: object, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return cli(d, ESTIBA, *args, input=input)


def plain(text: str) -> str:
    """What differs between the two runs' messages by nature: the containers' ids,
    the CLI's name."""
    text = _ID.sub("ID", text)
    return re.sub(r"\bdocker\b(?!-)", "estiba", text)


def same(d: object, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """Run both; assert they agree; docker's result."""
    ours = estiba(d, *args, input=input)
    theirs = cli(d, ("docker",), *args, input=input)
    assert (ours.returncode, _ID.sub("ID", ours.stdout), plain(ours.stderr)) == (
        theirs.returncode, _ID.sub("ID", theirs.stdout), plain(theirs.stderr)), args
    return theirs


def poll(check, what: str, timeout: float = 20):  # noqa: ANN001, ANN201
    import time

    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.05)
    return found


def attached(d: object, cid: str, since: float) -> bool:
    """Whether the daemon has seen an attach to ``cid`` since ``since`` (its attach
    event: counting connections would also count those of clients that just ended)."""
    found = docker(d, "events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                   "--filter", f"container={cid}", "--filter", "event=attach")
    return bool(found.stdout.strip())


# --- run -----------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "status"), [
    (("run", "--rm", "busybox", "echo", "hi"), 0),
    (("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"), 3),
    (("run", "busybox", "sh", "-c", "exit 4"), 4),
    (("run", "--rm", "-e", "X=5", "-w", "/tmp", "-u", "1000:1000", "busybox", "sh", "-c",
      "echo $X $(pwd) $(id -u):$(id -g)"), 0),
    (("container", "run", "--rm", "busybox", "printf", "a\\nb"), 0),
    (("run", "--rm", "busybox", "nosuch"), 127),
    (("run", "--rm", "busybox", "/etc/passwd"), 126),
    (("run", "busybox", "/etc"), 126),
    (("run", "--rm", "-t", "busybox", "sh", "-c", "echo tty; exit 2"), 2),
    (("run", "-d", "--rm", "busybox", "nosuch"), 127),
    (("run", "--bogus", "busybox"), 125),
    (("run",), 1),
    (("run", "--rm", "nosuch/image:x"), 125),
    (("run", "--rm", "--pull", "never", "nosuch/image:x"), 125),
])
def test_run_like_docker(daemon: object, args: tuple[str, ...], status: int) -> None:
    assert same(daemon, *args).returncode == status


def test_run_output_is_the_containers(daemon: object) -> None:
    result = estiba(daemon, "run", "--rm", "-e", "X=5", "-w", "/tmp", "-u", "1000",
                    "busybox", "sh", "-c", "echo $X $(pwd) $(id -u); echo e >&2; exit 3")
    assert (result.returncode, result.stdout, result.stderr) == (3, "5 /tmp 1000\n", "e\n")


def test_run_missing_command_says_why(daemon: object) -> None:
    result = estiba(daemon, "run", "--rm", "busybox", "nosuch")
    assert result.returncode == 127
    assert result.stderr.startswith("estiba: Error response from daemon: ")
    assert 'exec: "nosuch": executable file not found in $PATH' in result.stderr
    assert result.stderr.endswith("\n\nRun 'estiba run --help' for more information\n")


@pytest.mark.parametrize(("args", "input"), [
    (("run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"), "line 1\nline 2\n"),
    (("run", "--rm", "-i", "busybox", "wc", "-l"), "a\nb\nc\n"),
    (("run", "--rm", "busybox", "cat"), "not attached\n"),
    (("run", "--rm", "-it", "busybox", "true"), ""),  # stdin is not a terminal
])
def test_run_stdin_like_docker(daemon: object, args: tuple[str, ...], input: str) -> None:
    same(daemon, *args, input=input)


@pytest.mark.parametrize(("streams", "out", "err"), [
    (("-a", "stdout"), "o\n", ""), (("-a", "stderr"), "", "e\n"),
    (("-a", "stdout", "-a", "stderr"), "o\n", "e\n")])
def test_run_attaches_the_streams_asked_for(daemon: object, streams: tuple[str, ...],
                                            out: str, err: str) -> None:
    # (docker's CLI, sent a stream it did not ask for, panics: compared with ours only)
    result = estiba(daemon, "run", "--rm", *streams, "busybox", "sh", "-c",
                    "echo o; echo e >&2")
    assert (result.returncode, result.stdout, result.stderr) == (0, out, err)


def test_run_piped_stdin_reaches_the_container(daemon: object) -> None:
    result = estiba(daemon, "run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done",
                    input="line 1\nline 2\n")
    assert (result.returncode, result.stdout) == (0, "line 1\nline 2\ndone\n")


def test_run_rm_leaves_nothing(daemon: object) -> None:
    estiba(daemon, "run", "--rm", "--name", "gone", "busybox", "true")
    assert docker(daemon, "ps", "-aq", "--filter", "name=gone").stdout == ""


def test_run_detached_then_attach(daemon: object) -> None:
    """``-d`` prints the id; ``attach`` (ours, then docker's) relays what the container
    writes once attached and exits with its status."""
    script = ("while [ ! -f /tmp/go ]; do sleep 0.05; done; rm /tmp/go; "
              "echo late; echo err >&2; exit 7")
    for program in (ESTIBA, ("docker",)):
        run = estiba(daemon, "run", "-d", "busybox", "sh", "-c", script)
        assert run.returncode == 0, run.stderr
        assert re.fullmatch(r"[0-9a-f]{64}\n", run.stdout)
        cid = run.stdout.strip()
        since = time.time()
        attaching = subprocess.Popen([*program, "attach", cid], env=estiba_env(daemon),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        poll(lambda: attached(daemon, cid, since), "attach connected")  # noqa: B023
        assert docker(daemon, "exec", cid, "touch", "/tmp/go").returncode == 0
        out, err = attaching.communicate(timeout=30)
        assert (attaching.returncode, out, err) == (7, "late\n", "err\n"), program


def test_start_attach_an_exited_container(daemon: object) -> None:
    created = docker(daemon, "create", "busybox", "sh", "-c", "echo a; echo b >&2; exit 2")
    cid = created.stdout.strip()
    result = same(daemon, "start", "-a", cid)
    assert (result.returncode, result.stdout, result.stderr) == (2, "a\n", "b\n")
    same(daemon, "container", "start", "--attach", cid)


def test_start_interactive_with_piped_input(daemon: object) -> None:
    created = docker(daemon, "create", "-i", "busybox", "sh", "-c", "read x; echo got $x")
    cid = created.stdout.strip()
    result = same(daemon, "start", "-ai", cid, input="word\n")
    assert (result.returncode, result.stdout) == (0, "got word\n")


@pytest.mark.parametrize("args", [
    ("start", "nosuch"), ("start", "-a", "nosuch"), ("start", "-a", "x", "y"),
    ("start",), ("attach", "nosuch"), ("attach",),
])
def test_start_attach_errors_like_docker(daemon: object, args: tuple[str, ...]) -> None:
    same(daemon, *args)


def test_start_prints_the_names(daemon: object) -> None:
    cid = docker(daemon, "create", "--name", "starter", "busybox", "true").stdout.strip()
    docker(daemon, "wait", cid)
    same(daemon, "start", "starter")
    docker(daemon, "wait", cid)
    same(daemon, "start", "starter", "nosuch")


def test_attach_a_stopped_container(daemon: object) -> None:
    cid = docker(daemon, "run", "-d", "busybox", "true").stdout.strip()
    docker(daemon, "wait", cid)
    result = same(daemon, "attach", cid)
    assert result.stderr == "You cannot attach to a stopped container, start it first\n"


# --- exec ----------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "input"), [
    (("exec", "keeper", "sh", "-c", "echo out; echo err >&2; exit 4"), None),
    (("exec", "-e", "A=1", "-e", "B", "-w", "/tmp", "-u", "1000", "keeper", "sh", "-c",
      "echo $A $B $(pwd) $(id -u)"), None),
    (("exec", "-i", "keeper", "sh", "-c", "cat; echo end"), "piped\n"),
    (("exec", "keeper", "cat"), "not attached\n"),
    (("exec", "keeper", "nosuch"), None),
    (("exec", "keeper", "/etc/passwd"), None),
    (("exec", "nosuch", "ls"), None),
    (("exec", "keeper"), None),
    (("exec", "--bogus", "keeper", "ls"), None),
    (("exec", "-it", "keeper", "ls"), ""),
    (("exec", "-t", "keeper", "echo", "tty"), None),
])
def test_exec_like_docker(daemon: object, keeper: str, args: tuple[str, ...],
                          input: str | None) -> None:
    same(daemon, *args, input=input)


def test_exec_status_and_streams(daemon: object, keeper: str) -> None:
    result = estiba(daemon, "exec", "-i", "-e", "A=1", "-w", "/tmp", "-u", "1000",
                    keeper, "sh", "-c", "cat; echo $A $(pwd) $(id -u) >&2; exit 6",
                    input="piped\n")
    assert (result.returncode, result.stdout, result.stderr) == (
        6, "piped\n", "1 /tmp 1000\n")


def test_exec_missing_command(daemon: object, keeper: str) -> None:
    result = estiba(daemon, "exec", keeper, "nosuch")
    assert result.returncode in (126, 127)
    # the daemon says why on the exec's output, as Docker's does
    assert 'exec: "nosuch": executable file not found in $PATH' in result.stdout


def test_exec_detached(daemon: object, keeper: str) -> None:
    result = estiba(daemon, "exec", "-d", keeper, "sh", "-c", "echo x > /tmp/detached")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    poll(lambda: docker(daemon, "exec", keeper, "cat", "/tmp/detached").stdout == "x\n",
         "the detached exec ran")


# --- signals -------------------------------------------------------------------------


@pytest.mark.parametrize("program", [ESTIBA, ("docker",)], ids=["estiba", "docker"])
def test_sigint_is_forwarded_without_a_tty(daemon: object, program: tuple[str, ...]) -> None:
    proc = subprocess.Popen(
        [*program, "run", "--rm", "busybox", "sh", "-c",
         "trap 'echo got INT; exit 9' INT; echo ready; while true; do sleep 0.05; done"],
        env=estiba_env(daemon), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out, err) == (9, "got INT\n", "")


@pytest.mark.parametrize("program", [ESTIBA, ("docker",)], ids=["estiba", "docker"])
def test_attach_forwards_signals_unless_told_not_to(daemon: object,
                                                    program: tuple[str, ...]) -> None:
    cid = docker(daemon, "run", "-d", "busybox", "sh", "-c",
                 "trap 'echo got TERM; exit 11' TERM; echo ready > /tmp/ready; "
                 "while true; do sleep 0.05; done").stdout.strip()
    poll(lambda: docker(daemon, "exec", cid, "cat", "/tmp/ready").returncode == 0,
         "the trap is set")
    # docker's CLI 28, not proxying, takes the signal as "stop streaming" and still
    # waits for the exit: only ours is asked to end there
    for proxied in (False, True) if program == ESTIBA else (True,):
        since = time.time()
        proc = subprocess.Popen([*program, "attach", f"--sig-proxy={proxied}", cid],
                                env=estiba_env(daemon), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            poll(lambda: attached(daemon, cid, since), "attach connected")  # noqa: B023
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proxied:
            assert (proc.returncode, out) == (11, "got TERM\n")
        else:  # the CLI ends; the container goes on
            assert proc.returncode != 0 and out == ""
            state = docker(daemon, "inspect", "-f", "{{.State.Running}}", cid).stdout
            assert state == "true\n"


# --- a terminal ----------------------------------------------------------------------

PROGRAMS = {"estiba": {"program": ESTIBA, "env": {"PYTHONPATH": str(SRC)}},
            "docker": {}}


@pytest.mark.parametrize("name", PROGRAMS)
def test_interactive_shell(daemon: object, name: str) -> None:
    status, out = in_pty(daemon, ["run", "--rm", "-it", "busybox", "sh"], size=(24, 80),
                         typed=((b"# ", b"echo hi; exit 5\r"),), **PROGRAMS[name])
    assert status == 5, out
    assert b"\r\nhi\r\n" in out


@pytest.mark.parametrize("name", PROGRAMS)
def test_interactive_shell_has_our_size(daemon: object, name: str) -> None:
    status, out = in_pty(daemon, ["run", "--rm", "-it", "busybox", "sh"], size=(33, 101),
                         typed=((b"# ", b"stty size; exit\r"),), **PROGRAMS[name])
    assert status == 0, out
    assert b"\r\n33 101\r\n" in out


@pytest.mark.parametrize("name", PROGRAMS)
def test_interactive_shell_follows_a_resize(daemon: object, name: str) -> None:
    status, out = in_pty(daemon, ["run", "--rm", "-it", "busybox", "sh"], size=(24, 80),
                         typed=((b"# ", b"echo ready\r"), (b"\nready", (40, 120)),
                                (b"\nready", b"stty size; exit\r")),
                         apart=0.1, **PROGRAMS[name])
    assert status == 0, out
    assert b"\r\n40 120\r\n" in out


@pytest.mark.parametrize("name", PROGRAMS)
def test_detach_keys_leave_the_container_running(daemon: object, name: str) -> None:
    container = f"detached-{name}"
    status, out = in_pty(daemon, ["run", "-it", "--name", container, "busybox", "sh"],
                         size=(24, 80), typed=((b"# ", b"\x10\x11"),), apart=0.2,
                         **PROGRAMS[name])
    assert status == 0, out
    state = json.loads(docker(daemon, "inspect", "-f", "{{json .State}}", container).stdout)
    assert state["Running"]
    # attach again, and leave with keys of our choosing: docker's attach says so, 1
    status, out = in_pty(daemon, ["attach", "--detach-keys", "ctrl-x", container],
                         size=(24, 80), typed=((b"", b"echo again\r"),
                                               (b"again\r\n/ # \x1b[6n", b"\x18")),
                         apart=0.2, **PROGRAMS[name])
    assert status == 1, out
    assert out.endswith(b"read escape sequence\r\n")
    assert json.loads(docker(daemon, "inspect", "-f", "{{json .State}}",
                             container).stdout)["Running"]
    docker(daemon, "rm", "-f", container)


@pytest.mark.parametrize("name", PROGRAMS)
def test_start_interactive_shell(daemon: object, name: str) -> None:
    cid = docker(daemon, "create", "-it", "--rm", "busybox", "sh").stdout.strip()
    # created without a terminal, it gets our size once started: a first command
    # lets docker's CLI, which sizes it meanwhile, catch up
    status, out = in_pty(daemon, ["start", "-ai", cid], size=(26, 70),
                         typed=((b"# ", b"echo ready\r"),
                                (b"\nready", b"stty size; exit 4\r")), **PROGRAMS[name])
    assert status == 4, out
    assert b"\r\n26 70\r\n" in out


@pytest.mark.parametrize("name", PROGRAMS)
def test_exec_interactive_shell(daemon: object, keeper: str, name: str) -> None:
    status, out = in_pty(daemon, ["exec", "-it", keeper, "sh"], size=(30, 90),
                         typed=((b"# ", b"stty size; exit 3\r"),), **PROGRAMS[name])
    assert status == 3, out
    assert b"\r\n30 90\r\n" in out


def test_terminal_is_restored(daemon: object) -> None:
    """After ``run -it`` the terminal is as it was: a shell's ``stty`` line after it
    shows the pty's usual settings (echo, canonical mode)."""
    status, out = in_pty(daemon, ["-c", f"{' '.join(ESTIBA)} run --rm -it busybox true; "
                                  "stty -a | grep -o ' -\\?icanon' ; stty -a | "
                                  "grep -o ' -\\?echo '"],
                         program=("sh",), env={"PYTHONPATH": str(SRC)})
    assert status == 0, out
    assert b" icanon" in out and b" echo " in out, out
