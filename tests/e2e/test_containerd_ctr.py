"""Debian's containerd as a second consumer of estiba-runtime: ``ctr run --runc-binary``
runs containers of an image imported into a containerd of the test's own (output, exit
statuses, a terminal, exec, kill), through containerd's runc shim. ``ES_CTR_RUNTIME``
names another runtime binary to run the same tests with (runc: to check the tests)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.paths import runtime_binary
from support.reaper import zombie_children

pytestmark = [pytest.mark.e2e, pytest.mark.root]

IMAGE = "docker.io/library/busybox:latest"
CONFIG = """version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{d}/c.sock"
[ttrpc]
  address = "{d}/c.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"""


class Containerd:
    def __init__(self, base: Path) -> None:
        self.dir = base
        self.sock = base / "c.sock"
        self.runc_root = base / "runc"
        self.namespace = f"es-ctr-{secrets.token_hex(3)}"
        self.cgroup = f"/estiba-test/ctr-{secrets.token_hex(3)}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        (self.dir / "config.toml").write_text(CONFIG.format(d=self.dir))
        log = open(self.dir / "containerd.log", "wb")  # noqa: SIM115 - the daemon's
        self.proc = subprocess.Popen(["containerd", "--config", str(self.dir / "config.toml")],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while self.ctr("version", check=False).returncode != 0:
            assert self.proc.poll() is None, (self.dir / "containerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "containerd did not start"
            time.sleep(0.05)

    def ctr(self, *args: str, check: bool = True, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(["ctr", "-a", str(self.sock), "-n", self.namespace, *args],
                                capture_output=True, text=True, timeout=timeout,
                                input=input, stdin=None if input is not None
                                else subprocess.DEVNULL)
        if check:
            assert result.returncode == 0, (args, result.stderr)
        return result

    def run_args(self, name: str) -> list[str]:
        """``ctr run``'s flags that make estiba-runtime the runtime, its state in ours."""
        return ["run", "--runc-binary", os.environ.get("ES_CTR_RUNTIME") or runtime_binary(),
                "--runc-root", str(self.runc_root), "--fifo-dir", str(self.dir / "fifo"),
                "--cgroup", f"{self.cgroup}/{name}"]

    def stop(self) -> None:
        for line in self.ctr("task", "ls", "-q", check=False).stdout.split():
            self.ctr("task", "kill", "-s", "KILL", line, check=False)
            self.ctr("task", "delete", "-f", line, check=False)
        for line in self.ctr("container", "ls", "-q", check=False).stdout.split():
            self.ctr("container", "delete", line, check=False)
        self.ctr("image", "rm", IMAGE, check=False)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in zombie_children("containerd-shim"):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        # what containerd mounted and left: its snapshots' and the shims' mounts
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if str(self.dir) in line.split()[4]]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        cgroup = self.cgroup.lstrip("/")
        for parent in Path("/sys/fs/cgroup").glob(f"*/{cgroup}"):
            for child in parent.iterdir():
                if child.is_dir():
                    with contextlib.suppress(OSError):
                        child.rmdir()
            with contextlib.suppress(OSError):
                parent.rmdir()
        with contextlib.suppress(OSError):
            Path(f"/sys/fs/cgroup/{cgroup}").rmdir()


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    if shutil.which("containerd") is None or shutil.which("ctr") is None:
        pytest.skip("containerd is not installed (apt-get install containerd)")
    from estiba.content.store import ContentStore
    from estiba.images.archive import save_archive
    from estiba.images.base import build_busybox

    base = Path(f"/tmp/es-ctr-{secrets.token_hex(3)}")  # the socket path must stay short
    base.mkdir(mode=0o700)
    d = Containerd(base)
    try:
        d.start()
        store = ContentStore(str(base / "content"))
        built = build_busybox(store)
        save_archive(store, [([IMAGE], built.manifest_digest)], str(base / "busybox.tar"))
        d.ctr("image", "import", str(base / "busybox.tar"))
        yield d
    finally:
        d.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_output_and_exit_statuses(containerd: Containerd) -> None:
    ran = containerd.ctr(*containerd.run_args("out"), "--rm", IMAGE, "out",
                         "sh", "-c", "echo hello; id -u; echo err >&2")
    assert ran.stdout == "hello\n0\n" and "err" in ran.stderr
    for code in (0, 3, 42):
        done = containerd.ctr(*containerd.run_args(f"x{code}"), "--rm", IMAGE, f"x{code}",
                              "sh", "-c", f"exit {code}", check=False)
        assert done.returncode == code, done.stderr


def test_the_container_sees_its_own_namespaces_and_root(containerd: Containerd) -> None:
    ran = containerd.ctr(*containerd.run_args("ns"), "--rm", IMAGE, "ns", "sh", "-c",
                         "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; echo $$; "
                         "cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /bin/busybox")
    lines = ran.stdout.splitlines()
    assert lines[0] != os.readlink("/proc/self/ns/pid")
    assert lines[1] != os.readlink("/proc/self/ns/mnt")
    assert lines[2] == "1" and lines[3].startswith("sh -c readlink"), ran.stdout
    assert lines[4] == "/bin/busybox"


def test_stdin_reaches_the_container(containerd: Containerd) -> None:
    ran = containerd.ctr(*containerd.run_args("in"), "--rm", IMAGE, "in", "sh", "-c",
                         "read line; echo got $line", input="word\n")
    assert ran.stdout == "got word\n"


# ctr 1.6 gives no consoleSize: it sizes the terminal once the task has started (and
# busybox's stty prints nothing for a 0x0 one), so the container polls for the size
_TTY_SCRIPT = ("tty; for i in $(seq 100); do s=$(stty size 2>/dev/null); "
               "[ -n \"$s\" ] && [ \"$s\" != '0 0' ] && break; sleep 0.05; done; "
               "echo \"size $s\"; exit 7")


def test_a_terminal(containerd: Containerd) -> None:
    import fcntl
    import pty
    import select
    import struct
    import termios

    argv = ["ctr", "-a", str(containerd.sock), "-n", containerd.namespace,
            *containerd.run_args("tty"), "--rm", "-t", IMAGE, "tty",
            "sh", "-c", _TTY_SCRIPT]
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        os.execvp(argv[0], argv)
    out = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7, out
    assert b"/dev/pts/0" in out and b"size 33 101" in out


def test_exec_and_kill_of_a_detached_task(containerd: Containerd) -> None:
    containerd.ctr(*containerd.run_args("bg"), "-d", IMAGE, "bg",
                   "sh", "-c", "trap 'exit 9' TERM; while :; do sleep 0.1; done")
    try:
        listed = containerd.ctr("task", "ls").stdout
        assert "bg" in listed and "RUNNING" in listed
        ran = containerd.ctr("task", "exec", "--exec-id", "e1", "bg", "sh", "-c",
                             "echo from exec; exit 5", check=False)
        assert ran.returncode == 5 and ran.stdout == "from exec\n"
        pids = containerd.ctr("task", "ps", "bg").stdout
        assert len(pids.splitlines()) >= 2  # a header and the init at least
        containerd.ctr("task", "kill", "-s", signal.SIGTERM.name, "bg")
        deadline = time.monotonic() + 20
        while "STOPPED" not in containerd.ctr("task", "ls").stdout:
            assert time.monotonic() < deadline, "the task did not stop"
            time.sleep(0.05)
        deleted = containerd.ctr("task", "delete", "bg").stdout
        assert "9" in deleted or deleted == ""  # ctr prints the exit status when it can
    finally:
        containerd.ctr("task", "delete", "-f", "bg", check=False)
        containerd.ctr("container", "delete", "bg", check=False)
