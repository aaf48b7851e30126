"""Helpers of the cgroup tests: the probe child, root and feature checks, test cgroup
names and their cleanup. (A module of its own: test modules import it by name, which a
conftest.py cannot safely be, with tests/conftest.py above it.)"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

from estiba.cgroups.layout import parse_mountinfo, v1_hierarchies

# every test cgroup of this session lives under a parent with this prefix
SESSION_PREFIX = f"estiba-test-{secrets.token_hex(3)}-"


def is_root() -> bool:
    return os.geteuid() == 0


def mounts() -> tuple[dict[str, str], str | None]:
    """The host's v1 hierarchies under /sys/fs/cgroup, and its cgroup2 mount (or None)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        info = parse_mountinfo(f.read())
    v1 = v1_hierarchies(info, "/sys/fs/cgroup")
    v2 = next((m.mount_point for m in info
               if m.fstype == "cgroup2" and m.mount_point.startswith("/sys/fs/cgroup")), None)
    return v1, v2


def real_v1_reason() -> str:
    """Why real v1 tests cannot run here, or ""."""
    if not is_root():
        return "needs root to create cgroups"
    v1, _ = mounts()
    missing = [c for c in ("memory", "pids", "freezer", "cpuset", "devices") if c not in v1]
    return f"no cgroup v1 hierarchy for {', '.join(missing)}" if missing else ""


def real_v2_reason() -> str:
    if not is_root():
        return "needs root to create cgroups"
    _, v2 = mounts()
    if v2 is None:
        return "no cgroup2 mount under /sys/fs/cgroup"
    if tuple(int(x) for x in os.uname().release.split(".")[:2]) < (5, 2):
        return "the cgroup2 freezer needs linux 5.2"
    return ""


def new_parent() -> str:
    return SESSION_PREFIX + secrets.token_hex(3)


# --- the probe child -----------------------------------------------------------------

# Runs one command per line from stdin and answers one line: what the process sees from
# inside its cgroup. "spin" never answers (a busy loop, to see a freeze stop it).
PROBE = r"""
import errno, os, sys
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    try:
        if cmd == "open":
            os.close(os.open(arg, os.O_RDONLY))
        elif cmd == "fork":
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        elif cmd == "alloc":
            block = b"\x01" * (int(arg) << 20)
        elif cmd == "spin":
            while True:
                pass
        answer = "ok"
    except OSError as e:
        answer = errno.errorcode.get(e.errno, str(e.errno))
    print(answer, flush=True)
"""


class Probe:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PROBE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, bufsize=1,
        )
        self.pid = self.proc.pid

    def ask(self, command: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def send(self, command: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def stat(self) -> tuple[str, int]:
        """(state letter, utime + stime in ticks) from /proc/<pid>/stat."""
        with open(f"/proc/{self.pid}/stat", encoding="utf-8") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[11]) + int(fields[12])

    def kill(self) -> None:
        if self.proc.poll() is not None:
            return
        os.kill(self.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            thaw_cgroups_of(self.pid)  # a task frozen on v1 dies only once thawed
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()


def ticks_advance(probe: Probe, timeout: float = 10.0) -> bool:
    """Whether the probe gets CPU time: its utime + stime grow within ``timeout`` seconds.
    Polled, so a loaded machine makes it slower, not false."""
    _, before = probe.stat()
    deadline = time.monotonic() + timeout
    while probe.stat()[1] <= before:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def ticks_stay_put(probe: Probe, seconds: float = 0.3) -> bool:
    """Whether the probe gets no CPU time for ``seconds``: a frozen process must not,
    and there is no event to poll for, so this one watches a fixed time."""
    _, before = probe.stat()
    time.sleep(seconds)
    _, after = probe.stat()
    return after == before


def thaw_cgroups_of(pid: int) -> None:
    v1, v2 = mounts()
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "freezer" in controllers.split(",") and "freezer" in v1:
            target, value = f"{v1['freezer']}{path}/freezer.state", "THAWED"
        elif controllers == "" and v2:
            target, value = f"{v2}{path}/cgroup.freeze", "0"
        else:
            continue
        try:
            with open(target, "w") as f:
                f.write(value)
        except OSError:
            pass


def remove_cgroup_tree(path: str, timeout: float = 5.0) -> None:
    """Test cleanup: thaw, kill what is still inside (only our probes go there), rmdir."""
    if not os.path.isdir(path):
        return
    for d, _, _ in os.walk(path):
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            if os.path.exists(f"{d}/{name}"):
                with open(f"{d}/{name}", "w") as f:
                    f.write(value)
        with open(f"{d}/cgroup.procs") as f:
            for pid in f.read().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    deadline = time.monotonic() + timeout
    for d, _, _ in sorted(os.walk(path), key=lambda t: -t[0].count("/")):
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
