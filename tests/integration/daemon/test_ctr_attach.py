"""Interactive containers through the core API, as ``estiba ctr`` drives them against
estibad with the real core, conmon and estiba-runtime: stdin piped to ``run``, ``run
-t`` on a pty (raw mode, window size, exit status), ``tasks exec -t``, ``tasks
attach`` to a running task."""

from __future__ import annotations

import fcntl
import os
import secrets
import select
import shutil
import struct
import subprocess
import tempfile
import termios
import time
from collections.abc import Iterator

import pytest
from harness import REAL_CORE
from test_ctr_run import BUSYBOX, stop, unmount_under
from test_estibad import PYTHON, SRC, ctr, start, wait_serving

pytestmark = REAL_CORE

DEADLINE = 10.0


@pytest.fixture(scope="module")
def sock() -> Iterator[str]:
    """A daemon with busybox imported, for the module."""
    from estiba.core.services import Core

    d = tempfile.mkdtemp(prefix="esa-", dir="/tmp")
    roots = {"dir": d, "root": f"{d}/root", "exec_root": f"{d}/run", "sock": f"{d}/c.sock"}
    core = Core(f"{d}/build")
    try:
        image = core.images.provide_busybox("default")
        with open(f"{d}/busybox.tar", "wb") as out:
            core.images.export_archive("default", [image.name], out)
    finally:
        core.close()
    proc = start(roots, fake=False)
    try:
        assert wait_serving(proc, roots["sock"]), proc.communicate(timeout=10)
        imported = ctr(roots["sock"], "images", "import", f"{d}/busybox.tar")
        assert imported.returncode == 0, imported.stderr
        yield roots["sock"]
    finally:
        if proc.poll() is None:
            for line in ctr(roots["sock"], "tasks", "ls", "-q").stdout.split():
                ctr(roots["sock"], "tasks", "rm", "-f", line)
            for line in ctr(roots["sock"], "containers", "ls", "-q").stdout.split():
                ctr(roots["sock"], "containers", "rm", line)
            stop(proc)
        unmount_under(d)
        shutil.rmtree(d, ignore_errors=True)


def cli(sock: str, *argv: str) -> list[str]:
    return [PYTHON, "-m", "estiba.cli", "ctr", "-a", sock, *argv]


ENV = {**os.environ, "PYTHONPATH": str(SRC)}


class Pty:
    """The CLI run on a pty of ours (its stdin, stdout and stderr), of a given size."""

    def __init__(self, argv: list[str], rows: int = 24, cols: int = 80) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=ENV,
                                     start_new_session=True)
        os.close(slave)
        self.seen = b""

    def expect(self, want: bytes, timeout: float = DEADLINE) -> bytes:
        """Read until ``want`` has been seen; what was read."""
        deadline = time.monotonic() + timeout
        while want not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{want!r} not seen in {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:  # EIO: every end of the slave closed
                    data = b""
                assert data, f"{want!r} not seen before the end: {self.seen!r}"
                self.seen += data
        return self.seen

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = DEADLINE) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"still running; seen {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:
                    pass
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def run_pty(argv: list[str], **size: int) -> Iterator[Pty]:
    term = Pty(argv, **size)
    try:
        yield term
    finally:
        term.close()


def test_stdin_is_piped_to_run(sock: str) -> None:
    cid = f"p{secrets.token_hex(3)}"
    ran = subprocess.run(cli(sock, "run", "--rm", BUSYBOX, cid, "sh", "-c",
                             "cat; echo err >&2; exit 2"),
                         input="hello\n", capture_output=True, text=True, env=ENV,
                         timeout=DEADLINE)
    assert (ran.returncode, ran.stdout, ran.stderr) == (2, "hello\n", "err\n")
    assert cid not in ctr(sock, "containers", "ls", "-q").stdout


def test_run_with_a_terminal(sock: str) -> None:
    cid = f"t{secrets.token_hex(3)}"
    for term in run_pty(cli(sock, "run", "-t", "--rm", BUSYBOX, cid, "sh"), rows=33,
                        cols=101):
        term.expect(b"# ")  # the prompt: the shell reads its pty
        term.send(b"stty size; echo $((6*7)); exit 5\n")
        seen = term.expect(b"42")
        assert term.wait() == 5, seen
        assert b"33 101\r\n" in term.seen and b"42\r\n" in term.seen
    assert cid not in ctr(sock, "containers", "ls", "-q").stdout


def test_exec_with_a_terminal_and_with_stdin(sock: str) -> None:
    cid = f"e{secrets.token_hex(3)}"
    assert ctr(sock, "run", "-d", BUSYBOX, cid, "sleep", "1000").returncode == 0
    try:
        for term in run_pty(cli(sock, "tasks", "exec", "-t", "--exec-id", "x1", cid, "sh")):
            term.expect(b"# ")
            term.send(b"echo $((6*7)); tty; exit 4\n")
            term.expect(b"/dev/pts/")
            assert term.wait() == 4, term.seen
            assert b"42\r\n" in term.seen
        piped = subprocess.run(cli(sock, "tasks", "exec", "--exec-id", "x2", cid, "cat"),
                               input="in\n", capture_output=True, text=True, env=ENV,
                               timeout=DEADLINE)
        assert (piped.returncode, piped.stdout) == (0, "in\n"), piped.stderr
    finally:
        ctr(sock, "tasks", "rm", "-f", cid)
        ctr(sock, "containers", "rm", cid)


def test_attach_to_a_running_task(sock: str) -> None:
    cid = f"a{secrets.token_hex(3)}"
    assert ctr(sock, "run", "-d", "-t", BUSYBOX, cid, "cat").returncode == 0
    try:
        for term in run_pty(cli(sock, "tasks", "attach", cid)):
            # until the attach is there, what is typed may be lost: type until seen
            deadline = time.monotonic() + DEADLINE
            while b"abc\r\nabc\r\n" not in term.seen:
                assert time.monotonic() < deadline, term.seen
                term.send(b"abc\n")
                try:
                    term.expect(b"abc\r\nabc\r\n", timeout=0.5)
                except AssertionError:
                    continue
            term.send(b"\x04")  # ^D on the task's pty: cat reads its end
            assert term.wait() == 0, term.seen
        assert "STOPPED" in ctr(sock, "tasks", "ls").stdout
    finally:
        ctr(sock, "tasks", "rm", "-f", cid)
        ctr(sock, "containers", "rm", cid)
