"""A private dockerd for the end-to-end tests: Debian's dockerd (with the containerd it
starts and manages) on short paths of its own, its own bridge and subnet, no iptables
rules, and estiba-runtime registered as a runtime, so ``docker run --runtime estiba``
drives the runtime the way Docker users do.

Two dockerds on one host fight over docker0 and over the host's containerd, so this one
gets its own everything: ``/run/es-e2e/<rand>`` (socket, exec-root, pid file, log),
``/var/lib/es-e2e-<rand>`` (data-root), the bridge ``es-d<rand>`` with an address in a
free /24 of 10.213.0.0/16, its own containerd namespaces, and an empty daemon.json. The
docker CLI talks to it through ``DOCKER_HOST``; every call has a timeout.

``stop`` undoes all of it, each step by pid or by path: containers removed, dockerd
and its containerd (and any shim left) stopped by pid, mounts left under its roots
unmounted deepest first, the directories and the bridge removed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import pty
import secrets
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

from support.leaks import mounts_under
from support.runtime import remove_tree

DOCKERD = "/usr/sbin/dockerd"  # Debian's docker.io
DOCKER = "/usr/bin/docker"  # its CLI (20.10, like the daemon)
RUN_PARENT = Path("/run/es-e2e")
DATA_PARENT = Path("/var/lib")
POOL = ipaddress.ip_network("10.213.0.0/16")
CGROUP_ROOT = Path("/sys/fs/cgroup")
DEFAULT_TIMEOUT = 60.0


class DockerdError(Exception):
    """The private dockerd could not be started."""


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)


def used_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks of the host's addresses and routes."""
    found = []
    addrs = _ip("-j", "-4", "addr", "show")
    for link in json.loads(addrs.stdout or "[]"):
        for info in link.get("addr_info", []):
            found.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}",
                                              strict=False))
    routes = _ip("-j", "-4", "route", "show", "table", "all")
    for route in json.loads(routes.stdout or "[]"):
        dst = route.get("dst", "")
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                found.append(ipaddress.ip_network(dst, strict=False))
    return found


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 10.213.0.0/16 that no address or route of the host overlaps."""
    used = used_networks()
    candidates = list(POOL.subnets(new_prefix=24))
    start = secrets.randbelow(len(candidates))
    for net in candidates[start:] + candidates[:start]:
        if not any(net.overlaps(u) for u in used):
            return net
    raise DockerdError(f"no free /24 left in {POOL}")


def _pid_alive(pid: int, marker: str) -> bool:
    """pid is alive and its command line names marker (so a reused pid is left alone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().decode(errors="replace")
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z" and marker in cmdline


def _stop_pid(pid: int, marker: str, grace: float) -> None:
    """SIGTERM, wait up to grace seconds, then SIGKILL and wait again."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if not _pid_alive(pid, marker):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _pid_alive(pid, marker):
            time.sleep(0.05)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class Dockerd:
    """A dockerd of our own; ``docker(...)`` runs the docker CLI against it."""

    def __init__(self, runtimes: dict[str, str], token: str | None = None) -> None:
        self.token = token or secrets.token_hex(3)
        self.run_dir = RUN_PARENT / self.token
        self.exec_root = self.run_dir / "exec"
        self.socket = self.run_dir / "docker.sock"
        self.pidfile = self.run_dir / "dockerd.pid"
        self.log_path = self.run_dir / "dockerd.log"
        self.data_root = DATA_PARENT / f"es-e2e-{self.token}"
        self.config_dir = self.run_dir / "cli"
        self.bridge = f"es-d{self.token}"
        self.subnet = free_subnet()
        self.gateway = self.subnet.network_address + 1
        self.runtimes = dict(runtimes)
        self.host = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None
        self._cgroup_parents_before = {str(p) for p in CGROUP_ROOT.glob("*/docker")}

    # --- the CLI ---------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_HOST=self.host, DOCKER_CONFIG=str(self.config_dir))
        return env

    def docker(self, *args: str, input: str | bytes | None = None,
               timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """``docker ARGS...``, output captured as text; stdin is input or nothing."""
        data = input.encode() if isinstance(input, str) else input
        result = subprocess.run(
            [DOCKER, *args], input=data, stdin=None if data is not None else
            subprocess.DEVNULL, capture_output=True, timeout=timeout, env=self.env,
        )
        return subprocess.CompletedProcess(
            result.args, result.returncode, result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"))

    def docker_tty(self, *args: str, input: bytes = b"",
                   timeout: float = DEFAULT_TIMEOUT) -> tuple[int, str]:
        """``docker ARGS...`` with a pseudo-terminal as its stdin, stdout and stderr (as
        in an interactive shell), input typed at once; returns its exit status and
        everything it wrote."""
        with self.docker_pty(*args) as session:
            if input:
                session.send(input)
            code = session.wait(timeout)
            return code, session.text

    def docker_pty(self, *args: str) -> PtySession:
        """``docker ARGS...`` on a pseudo-terminal, driven step by step (a with block
        kills it if it is still running at the end)."""
        return PtySession([DOCKER, *args], self.env)

    def inspect(self, container: str, template: str) -> str:
        result = self.docker("inspect", "-f", template, container)
        if result.returncode != 0:
            raise AssertionError(f"docker inspect {container}: {result.stderr}")
        return result.stdout.strip()

    # --- start -------------------------------------------------------------------------

    def start(self, deadline: float = 60.0) -> None:
        self.run_dir.mkdir(parents=True, mode=0o700)
        self.exec_root.mkdir(mode=0o700)
        self.config_dir.mkdir(mode=0o700)
        self.data_root.mkdir(mode=0o710)
        config = self.run_dir / "daemon.json"  # not the host's /etc/docker/daemon.json
        config.write_text("{}\n")
        self._make_bridge()
        argv = [
            DOCKERD, "--config-file", str(config),
            "-H", self.host, "--exec-root", str(self.exec_root),
            "--data-root", str(self.data_root), "--pidfile", str(self.pidfile),
            "--bridge", self.bridge, "--iptables=false", "--ip-masq=false",
            "--ip-forward=false", "--storage-driver", "overlay2",
            "--containerd-namespace", f"es-e2e-{self.token}",
            "--containerd-plugins-namespace", f"es-e2e-{self.token}-plugins",
            "--log-level", "debug",
        ]
        for name, path in self.runtimes.items():
            argv += ["--add-runtime", f"{name}={path}"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, start_new_session=True)
        self._wait_ready(deadline)

    def _make_bridge(self) -> None:
        for args in (("link", "add", self.bridge, "type", "bridge"),
                     ("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}",
                      "dev", self.bridge),
                     ("link", "set", self.bridge, "up")):
            result = _ip(*args)
            if result.returncode != 0:
                raise DockerdError(f"ip {' '.join(args)}: {result.stderr.strip()}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise DockerdError(f"dockerd exited {self.process.returncode}:\n"
                                   + self.log_tail())
            try:
                result = self.docker("version", "--format", "{{.Server.Version}}",
                                     timeout=10)
            except subprocess.TimeoutExpired:
                last = "docker version timed out"
                continue
            if result.returncode == 0:
                return
            last = result.stderr
            time.sleep(0.1)
        raise DockerdError(f"dockerd did not answer within {timeout} s: {last}\n"
                           + self.log_tail())

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no dockerd log)"

    # --- stop --------------------------------------------------------------------------

    def stop(self, keep_log: Path | None = None) -> list[str]:
        """Undo everything start did; return what could not be undone. keep_log: where
        to copy dockerd's log (debug level) before its directory goes."""
        problems: list[str] = []
        if self.process is not None and self.process.poll() is None:
            problems += self._remove_containers()
        self._stop_daemons()
        if keep_log is not None and self.log_path.exists():
            shutil.copyfile(self.log_path, keep_log)
        for target in mounts_at_or_under(self.data_root, self.exec_root):
            result = subprocess.run(["umount", "-l", target], capture_output=True,
                                    text=True, timeout=20)
            if result.returncode != 0:
                problems.append(f"umount {target}: {result.stderr.strip()}")
        for path in (self.data_root, self.run_dir):
            remove_tree(path)
        with contextlib.suppress(OSError):
            RUN_PARENT.rmdir()
        if (Path("/sys/class/net") / self.bridge).exists():
            result = _ip("link", "del", self.bridge)
            if result.returncode != 0:
                problems.append(f"ip link del {self.bridge}: {result.stderr.strip()}")
        for parent in CGROUP_ROOT.glob("*/docker"):
            if str(parent) not in self._cgroup_parents_before:
                with contextlib.suppress(OSError):
                    parent.rmdir()  # only once empty: a container's cgroup keeps it
        return problems

    def _remove_containers(self) -> list[str]:
        try:
            listed = self.docker("ps", "-aq", timeout=30)
        except subprocess.TimeoutExpired:
            return ["docker ps -aq: timed out"]
        ids = listed.stdout.split()
        if not ids:
            return []
        try:
            result = self.docker("rm", "-f", *ids, timeout=60)
        except subprocess.TimeoutExpired:
            return [f"docker rm -f {' '.join(ids)}: timed out"]
        return [] if result.returncode == 0 else [f"docker rm -f: {result.stderr.strip()}"]

    def _stop_daemons(self) -> None:
        containerd_pid = _read_pid(self.exec_root / "containerd" / "containerd.pid")
        if self.process is not None:
            _stop_pid(self.process.pid, DOCKERD, grace=20.0)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        if containerd_pid is not None:
            _stop_pid(containerd_pid, "containerd", grace=10.0)
        # shims that outlived their containerd: they name its address on their command line
        for pid in _pids_naming(str(self.exec_root)):
            _stop_pid(pid, str(self.exec_root), grace=5.0)
        reap_adopted()


class PtySession:
    """A command whose stdin, stdout and stderr are a pseudo-terminal's slave, as when
    a person types it; ``expect`` what it writes, ``send`` what is typed."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        try:
            self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                         env=env, start_new_session=True)
        finally:
            os.close(slave)
        self.output = b""
        self._seen = 0  # where the next expect starts looking
        self._eof = False

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def _read(self, wait: float) -> None:
        if self._eof:
            time.sleep(min(wait, 0.05))
            return
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: no slave descriptor is open any more
            chunk = b""
        if chunk:
            self.output += chunk
        else:
            self._eof = True

    def expect(self, text: str, timeout: float = 30.0) -> None:
        """Read until text appears (after what earlier expects matched)."""
        wanted = text.encode()
        deadline = time.monotonic() + timeout
        while True:
            found = self.output.find(wanted, self._seen)
            if found >= 0:
                self._seen = found + len(wanted)
                return
            left = deadline - time.monotonic()
            if left <= 0 or (self._eof and self.proc.poll() is not None):
                raise AssertionError(f"{text!r} not seen within {timeout} s; output:\n"
                                     f"{self.text}")
            self._read(min(left, 0.2))

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Read everything until the command exits; return its exit status."""
        deadline = time.monotonic() + timeout
        while not (self._eof or self.proc.poll() is not None):
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(self.proc.args, timeout, self.output)
            self._read(min(left, 0.2))
        code = self.proc.wait(max(deadline - time.monotonic(), 1.0))
        while not self._eof:  # what it wrote just before exiting
            before = len(self.output)
            self._read(0.05)
            if len(self.output) == before:
                break
        return code

    def __enter__(self) -> PtySession:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.master)


def mounts_at_or_under(*roots: Path) -> list[str]:
    """Mount points at or under roots, deepest first (the order to unmount them in);
    dockerd bind-mounts its data-root on itself."""
    found = set()
    for root in roots:
        found.update(mounts_under(str(root)))
        if any(t == str(root) for t in mounts_under(str(root.parent))):
            found.add(str(root))
    return sorted(found, key=lambda t: (t.count("/"), t), reverse=True)


def reap_adopted(comms: tuple[str, ...] = ("containerd", "dockerd")) -> list[int]:
    """Reap our zombie children whose command name starts with one of comms: with the
    session a child subreaper, the shims containerd starts (and containerd itself, when
    dockerd dies first) are reparented to it when their parent goes."""
    me = str(os.getpid())
    reaped = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                head, _, tail = f.read().rpartition(")")
        except OSError:
            continue
        fields = tail.split()
        comm = head.partition("(")[2]
        if fields[:2] == ["Z", me] and comm.startswith(comms):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(entry), os.WNOHANG)
                reaped.append(int(entry))
    return reaped


def _pids_naming(text: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _pid_alive(int(entry), text):
            found.append(int(entry))
    return found


def busybox_tar(rootfs: Path, dest: Path) -> Path:
    """A tar of rootfs, for ``docker import``."""
    result = subprocess.run(["tar", "-C", str(rootfs), "-cf", str(dest), "."],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise DockerdError(f"tar {rootfs}: {result.stderr.strip()}")
    return dest


def dockerd_missing() -> str | None:
    """Why the dockerd tests cannot run here, or None."""
    for tool in (DOCKERD, DOCKER):
        if not os.access(tool, os.X_OK):
            return f"{tool} is not installed (apt-get install docker.io)"
    if shutil.which("ip") is None:
        return "ip(8) is not installed (iproute2)"
    return None
