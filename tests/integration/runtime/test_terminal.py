"""``process.terminal``: the runtime makes a pty inside the container and hands its
master to the caller over ``--console-socket`` (as containerd's shim receives it); the
process has the slave as its stdin, stdout, stderr and controlling terminal, with the
configured size, and what the caller writes to the master reaches it."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.bundle import Bundle, set_args, set_user
from support.leaks import CGROUP_ROOT
from support.paths import runtime_binary

pytestmark = pytest.mark.root

Runtime = Callable[..., subprocess.CompletedProcess[str]]

# What the process reports about its terminal, one NAME=value per line, then it waits
# for a line of input. $$ is the shell: a $(...) would list its own pipe as fd 1.
REPORT = """\
echo "tty=$(tty)"
for i in 0 1 2; do echo "fd$i=$(readlink /proc/$$/fd/$i)"; done
[ -c /dev/console ] && echo "console=char"
echo hello > /dev/tty && echo "ctty=ok"
echo "size=$(stty size)"
echo "ready=yes"
read line
echo "got=$line"
"""

USER_REPORT = """\
echo "uid=$(id -u)"
echo "owner=$(stat -c %u "$(tty)")"
echo again > "$(tty)" && echo "reopen=ok"
echo "ready=yes"
"""


class ConsoleSocket:
    """A listening unix socket, as containerd's shim makes for ``--console-socket``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)
        self.masters: list[int] = []

    def receive_master(self, timeout: float = 10.0) -> int:
        """Accept the runtime's connection and take the pty master it sends."""
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(timeout)
            _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        assert len(fds) == 1, "no descriptor came over the console socket"
        self.masters.append(fds[0])
        return fds[0]

    def close(self) -> None:
        for fd in self.masters:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.sock.close()


@pytest.fixture
def console(runtime_root: Path) -> Iterator[ConsoleSocket]:
    """A console socket under the runtime root: a short path (unix sockets take 108
    bytes at most)."""
    made = ConsoleSocket(runtime_root / "console.sock")
    yield made
    made.close()


def _terminal_bundle(bundle: Bundle, *args: str, rows: int = 30, cols: int = 100) -> Bundle:
    set_args(bundle.config, *args)
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["consoleSize"] = {"height": rows, "width": cols}
    bundle.config["process"]["env"].append("TERM=xterm")
    bundle.write()
    return bundle


def _read_until(master: int, wanted: bytes, timeout: float = 10.0) -> bytes:
    """Read the master until ``wanted`` shows (or the slave side is closed: EIO)."""
    data = b""
    deadline = time.monotonic() + timeout
    while wanted not in data:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {wanted!r}; read {data!r}"
        ready, _, _ = select.select([master], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError as err:
            if err.errno == errno.EIO:
                break
            raise
        if not chunk:
            break
        data += chunk
    return data


def _values(output: bytes) -> dict[str, str]:
    """NAME=value lines of the output (the terminal turns \\n into \\r\\n)."""
    out = {}
    for line in output.decode(errors="replace").replace("\r", "").splitlines():
        name, eq, value = line.partition("=")
        if eq and name.isidentifier():
            out[name] = value
    return out


def _status(runtime: Runtime, cid: str) -> str:
    return json.loads(runtime("state", cid).stdout)["status"]


def _wait_status(runtime: Runtime, cid: str, wanted: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (status := _status(runtime, cid)) != wanted:
        assert time.monotonic() < deadline, f"{cid} is {status}, not {wanted}"
        time.sleep(0.02)


def _cgroup_dirs(cgroups_path: str) -> list[Path]:
    rel = cgroups_path.strip("/")
    return [p for p in (CGROUP_ROOT / rel, *CGROUP_ROOT.glob(f"*/{rel}")) if p.exists()]


def test_terminal_container(
    bundle: Bundle, runtime: Runtime, console: ConsoleSocket, tmp_path: Path,
) -> None:
    _terminal_bundle(bundle, "/bin/sh", "-c", REPORT, rows=30, cols=100)
    runtime("create", "--bundle", bundle.path, "--console-socket", console.path, "tty",
            output_dir=tmp_path / "io")
    master = console.receive_master()
    assert os.isatty(master)
    runtime("start", "tty")

    seen = _values(_read_until(master, b"ready=yes"))
    assert seen["tty"] == "/dev/pts/0"
    assert [seen["fd0"], seen["fd1"], seen["fd2"]] == ["/dev/pts/0"] * 3
    assert seen["console"] == "char"
    assert seen["ctty"] == "ok"  # /dev/tty opens: the pty is the controlling terminal
    assert seen["size"] == "30 100"

    os.write(master, b"ping from the host\n")
    assert _values(_read_until(master, b"got="))["got"] == "ping from the host"
    _wait_status(runtime, "tty", "stopped")
    runtime("delete", "tty")


def test_terminal_of_a_user(
    bundle: Bundle, runtime: Runtime, console: ConsoleSocket, tmp_path: Path,
) -> None:
    """The terminal belongs to the process's user, who can open it again by name (as
    runc's fixStdioPermissions makes it)."""
    _terminal_bundle(bundle, "/bin/sh", "-c", USER_REPORT)
    set_user(bundle.config, 1000, 1000)
    bundle.write()
    runtime("create", "--bundle", bundle.path, "--console-socket", console.path, "user",
            output_dir=tmp_path / "io")
    master = console.receive_master()
    runtime("start", "user")
    seen = _values(_read_until(master, b"ready=yes"))
    assert seen["uid"] == "1000"
    assert seen["owner"] == "1000"
    assert seen["reopen"] == "ok"
    _wait_status(runtime, "user", "stopped")
    runtime("delete", "user")


@pytest.mark.parametrize("how", ["flags", "process-file"])
def test_exec_with_a_terminal(
    bundle: Bundle, runtime: Runtime, console: ConsoleSocket, runtime_root: Path,
    tmp_path: Path, how: str,
) -> None:
    _terminal_bundle(bundle, "/bin/sleep", "600")
    runtime("create", "--bundle", bundle.path, "--console-socket", console.path, "host",
            output_dir=tmp_path / "io")
    console.receive_master()
    runtime("start", "host")

    second = ConsoleSocket(runtime_root / "exec.sock")
    try:
        if how == "flags":
            command: tuple[str | Path, ...] = ("--tty", "host", "/bin/sh", "-c", REPORT)
        else:
            process = tmp_path / "process.json"
            process.write_text(json.dumps({
                "terminal": True, "consoleSize": {"height": 40, "width": 120},
                "user": {"uid": 0, "gid": 0}, "args": ["/bin/sh", "-c", REPORT],
                "env": bundle.config["process"]["env"], "cwd": "/",
            }))
            command = ("--process", process, "host")
        runtime("exec", "--detach", "--console-socket", second.path, *command,
                output_dir=tmp_path / "exec-io")
        master = second.receive_master()
        seen = _values(_read_until(master, b"ready=yes"))
        assert seen["tty"].startswith("/dev/pts/")
        assert seen["tty"] != "/dev/pts/0"  # the init's terminal is pts/0
        assert [seen["fd0"], seen["fd1"], seen["fd2"]] == [seen["tty"]] * 3
        assert seen["ctty"] == "ok"
        if how == "process-file":
            assert seen["size"] == "40 120"
        os.write(master, b"exec input\n")
        assert _values(_read_until(master, b"got="))["got"] == "exec input"
    finally:
        second.close()
    assert _status(runtime, "host") == "running"
    runtime("delete", "--force", "host")


def test_terminal_without_console_socket(
    bundle: Bundle, runtime: Runtime, runtime_root: Path, tmp_path: Path,
) -> None:
    _terminal_bundle(bundle, "/bin/true")
    result = runtime("create", "--bundle", bundle.path, "notty", check=False,
                     output_dir=tmp_path / "io")
    assert result.returncode == 1
    assert "console socket" in result.stderr
    assert os.listdir(runtime_root) == []
    assert _cgroup_dirs(bundle.config["linux"]["cgroupsPath"]) == []


def test_console_socket_nobody_listens_on(
    bundle: Bundle, runtime: Runtime, runtime_root: Path, tmp_path: Path,
) -> None:
    _terminal_bundle(bundle, "/bin/true")
    missing = runtime_root / "nobody.sock"
    result = runtime("create", "--bundle", bundle.path, "--console-socket", missing,
                     "deaf", check=False, output_dir=tmp_path / "io")
    assert result.returncode == 1
    assert str(missing) in result.stderr
    assert os.listdir(runtime_root) == []
    assert _cgroup_dirs(bundle.config["linux"]["cgroupsPath"]) == []


def test_exec_tty_without_console_socket(
    bundle: Bundle, runtime: Runtime, tmp_path: Path,
) -> None:
    set_args(bundle.config, "/bin/sleep", "600")
    bundle.write()
    runtime("create", "--bundle", bundle.path, "plain", output_dir=tmp_path / "io")
    runtime("start", "plain")
    result = runtime("exec", "--tty", "plain", "/bin/true", check=False)
    assert result.returncode == 1
    assert "console socket" in result.stderr
    assert _status(runtime, "plain") == "running"
    runtime("delete", "--force", "plain")


def test_run_relays_its_own_terminal(
    bundle: Bundle, runtime_root: Path,
) -> None:
    """`run` of a terminal container without --console-socket uses the runtime's own
    terminal, as runc does: here a pty the test holds the master of."""
    _terminal_bundle(bundle, "sh", "-c", REPORT)
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [str(runtime_binary()), "--root", str(runtime_root), "run", "--bundle",
             str(bundle.path), "relayed"],
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        )
        os.close(slave)
        slave = -1
        output = _read_until(master, b"ready=yes")
        os.write(master, b"typed here\r")
        output += _read_until(master, b"got=")
        output += _read_until(master, b"\n")
        assert proc.wait(timeout=10) == 0
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    values = _values(output)
    assert values["tty"] == "/dev/pts/0"
    assert values["got"].strip() == "typed here"


def test_detached_run_needs_a_console_socket(
    bundle: Bundle, runtime: Runtime, runtime_root: Path, tmp_path: Path,
) -> None:
    _terminal_bundle(bundle, "/bin/true")
    result = runtime("run", "-d", "--bundle", bundle.path, "notty", check=False,
                     output_dir=tmp_path / "io")
    assert result.returncode == 1 and "console socket" in result.stderr
    assert os.listdir(runtime_root) == []
