"""The real docker CLI against a test estibad (``harness.Daemon``): ``docker(d, ...)``
runs one command with ``DOCKER_HOST`` its Docker API socket; ``engine_daemon`` starts
one for a module and, at its end, removes its containers, stops it and checks that it
left nothing in the kernel; ``reap_shims`` reaps the conmons reparented to the test
session (the subreaper), so that no later test finds them as zombies."""

from __future__ import annotations

import contextlib
import os
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


def engine_daemon(prefix: str) -> Iterator[object]:
    """A started estibad for a module's tests (a generator for a module fixture)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: runs containers")
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI")
    from harness import Daemon

    d = Daemon(prefix=prefix)
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


def in_pty(d: object, argv: list[str], size: tuple[int, int] | None = None,
           timeout: float = 20) -> tuple[int, bytes]:
    """(exit status, what it wrote) of the docker CLI run with ``argv`` on a new pty of
    ``size`` (rows, columns), as from a terminal."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        if size is not None:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
        os.execvpe("docker", ["docker", *argv], env_of(d))
    out = b""
    try:
        while select.select([fd], [], [], timeout)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out
