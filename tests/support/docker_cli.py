"""The real docker CLI against a test estibad (``harness.Daemon``): ``docker(d, ...)``
runs one command with ``DOCKER_HOST`` its Docker API socket (``estiba(d, ...)`` the same
with this checkout's command line); ``engine_daemon`` starts
one for a module and, at its end, removes its containers, stops it and checks that it
left nothing in the kernel; ``reap_shims`` reaps the conmons reparented to the test
session (the subreaper), so that no later test finds them as zombies."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.reaper import zombie_children

_HARNESS = str(Path(__file__).resolve().parents[1] / "integration" / "daemon")
if _HARNESS not in sys.path:
    sys.path.insert(0, _HARNESS)


def env_of(d: object) -> dict[str, str]:
    """The environment that points the docker CLI at ``d``."""
    env = {**os.environ, "DOCKER_HOST": f"unix://{d.docker_sock}"}  # type: ignore[attr-defined]
    env.pop("DOCKER_CONTEXT", None)
    return env


SRC = Path(__file__).resolve().parents[2] / "src"
ESTIBA = (sys.executable, "-m", "estiba.cli")  # the command line of this checkout


# the durations a CLI prints ("5 seconds ago", "Up 5 seconds"), which may tick between
# two runs of a command
DURATIONS = re.compile(r"(Less than a second|About an? (?:minute|hour)|\d+ [a-z]+)"
                       r"(?= ago)|(?<=Up )(Less than a second|About an? (?:minute|hour)"
                       r"|\d+ [a-z]+)")


def estiba_env(d: object) -> dict[str, str]:
    """The environment that points ``estiba`` at ``d`` (as the docker CLI's) and runs it
    from this checkout's sources."""
    env = {**env_of(d), "PYTHONPATH": str(SRC)}
    env.pop("ESTIBA_HOST", None)
    return env


def estiba(d: object, *args: str, input: str | bytes | None = None, timeout: float = 60,
           text: bool | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``estiba``'s result against ``d``, as ``docker`` gives the docker CLI's: text
    unless ``input`` is bytes or ``text`` is False; an empty stdin without ``input``."""
    as_text = not isinstance(input, bytes) if text is None else text
    if input is None:
        input = "" if as_text else b""
    return subprocess.run([*ESTIBA, *args], env=estiba_env(d), input=input,
                          capture_output=True, text=as_text, timeout=timeout, cwd=cwd)


def docker(d: object, *args: str, input: str | bytes | None = None, timeout: float = 60,
           text: bool | None = None) -> subprocess.CompletedProcess:
    """The docker CLI's result: text, unless ``input`` is bytes or ``text`` is False."""
    as_text = not isinstance(input, bytes) if text is None else text
    return subprocess.run(["docker", *args], env=env_of(d), input=input,
                          capture_output=True, text=as_text, timeout=timeout)


def reap_shims() -> None:
    for pid in zombie_children("conmon"):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def engine_daemon(prefix: str, **options: object) -> Iterator[object]:
    """A started estibad for a module's tests (a generator for a module fixture);
    ``options`` go to ``harness.Daemon`` (``tcp=True``)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: runs containers")
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI")
    from harness import Daemon

    d = Daemon(prefix=prefix, **options)
    try:
        d.start()
        yield d
        if d.proc is not None and d.proc.poll() is None:  # a test may have stopped it
            left = docker(d, "ps", "-aq").stdout.split()
            if left:
                docker(d, "rm", "-f", *left)
            d.stop()
        d.assert_nothing_left()
    finally:
        d.remove()
        reap_shims()


def api_connections(d: object) -> int:
    """The connections the daemon has accepted on its Docker API socket (an accepted
    unix socket bears the listening socket's path, in state 03: connected)."""
    with open("/proc/net/unix") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return sum(1 for row in rows if len(row) == 8
               and row[7] == d.docker_sock and row[5] == "03")  # type: ignore[attr-defined]


def in_pty(d: object, argv: list[str], size: tuple[int, int] | None = None,
           timeout: float = 20,
           typed: tuple[tuple[bytes, bytes | tuple[int, int]], ...] = (),
           program: tuple[str, ...] = ("docker",), env: dict[str, str] | None = None,
           apart: float = 0.0) -> tuple[int, bytes]:
    """(exit status, what it wrote) of the docker CLI run with ``argv`` on a new pty of
    ``size`` (rows, columns), as from a terminal; ``typed``: (what to wait for in the
    output, then the keys to type) in turn, b"" for "once the CLI is connected". Asked
    where the cursor is (busybox's shell asks), it answers as a terminal does. A CLI
    still there after ``timeout`` seconds of silence is killed (AssertionError).
    ``program``: the command line the arguments follow (another CLI than docker), with
    ``env`` added to the environment; ``apart``: seconds between the keys of a step,
    typed one at a time as a person types them (a CLI sees each in a read of its own,
    as docker's detach keys must be seen), when not 0. A step's keys may be a size
    (rows, columns) instead: the terminal is resized (the CLI gets SIGWINCH)."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        if size is not None:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
        os.execvpe(program[0], [*program, *argv], {**env_of(d), **(env or {})})
    out = b""
    steps = list(typed)
    silent = 0.0
    try:
        while silent < timeout:
            while steps and (steps[0][0] in out if steps[0][0] else api_connections(d)):
                keys = steps.pop(0)[1]
                if isinstance(keys, tuple):
                    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", *keys, 0, 0))
                    continue
                if not apart:
                    os.write(fd, keys)
                    continue
                for i in range(len(keys)):
                    time.sleep(apart)  # a person's pace, not a wait for a state
                    os.write(fd, keys[i:i + 1])
            if not select.select([fd], [], [], 0.05)[0]:
                silent += 0.05
                continue
            silent = 0.0
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
            for _ in range(data.count(b"\x1b[6n")):
                os.write(fd, b"\x1b[1;1R")  # where the cursor is, as a terminal answers
    finally:
        for _ in range(100):  # its output ended: it is exiting
            done, status = os.waitpid(pid, os.WNOHANG)
            if done or silent >= timeout:
                break
            time.sleep(0.05)
        if not done:
            os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert done, f"{' '.join([*program, *argv])} still running: {out!r}"
    return os.waitstatus_to_exitcode(status), out
