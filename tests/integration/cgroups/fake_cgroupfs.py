"""A cgroupfs laid out in a temporary directory, with the kernel's part played in Python.

``FakeCgroupFS`` is the ``CgroupFS`` the managers are given in the no-root runs of the
conformance suite. The tree is real files; what the kernel does on its own is simulated
on the calls that would trigger it: mkdir fills a cgroup with its control files, rmdir
refuses a cgroup with processes or children, cgroup.procs moves a pid, cgroup.freeze and
freezer.state report the freeze as done, subtree_control makes controller files appear in
the children, and the v1 rules the managers must respect (empty cpusets refuse processes,
memory limit <= memsw limit, the v2 "no internal processes" rule) fail with the kernel's
errno. Only what the managers use is simulated.
"""

from __future__ import annotations

import errno
import os

from estiba.cgroups.cgroupfs import CgroupFS

UNLIMITED = 9223372036854771712  # v1's "unlimited" on 4 KiB pages

V2_CORE = {
    "cgroup.procs": "",
    "cgroup.subtree_control": "",
    "cgroup.freeze": "0",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.type": "domain",
    "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
}
V2_FILES = {
    "memory": {"memory.max": "max", "memory.low": "0", "memory.high": "max",
               "memory.swap.max": "max", "memory.current": "4096", "memory.peak": "8192",
               "memory.stat": "anon 4096\nfile 0\ninactive_file 0\n"},
    "cpu": {"cpu.weight": "100", "cpu.max": "max 100000", "cpu.idle": "0"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": "", "cpuset.cpus.effective": "0-1"},
    "io": {"io.weight": "default 100", "io.max": ""},
    "pids": {"pids.max": "max", "pids.current": "0"},
    "hugetlb": {"hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max"},
}

V1_CORE = {"cgroup.procs": "", "tasks": "", "notify_on_release": "0"}
V1_FILES = {
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "cpu": {"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1",
            "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0"},
    "cpuacct": {"cpuacct.usage": "1500000", "cpuacct.usage_user": "1000000",
                "cpuacct.usage_sys": "500000"},
    "memory": {"memory.limit_in_bytes": str(UNLIMITED),
               "memory.memsw.limit_in_bytes": str(UNLIMITED),
               "memory.soft_limit_in_bytes": str(UNLIMITED), "memory.swappiness": "60",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n",
               "memory.usage_in_bytes": "4096", "memory.max_usage_in_bytes": "8192",
               "memory.stat": "cache 0\nrss 4096\n"},
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
    "freezer": {"freezer.state": "THAWED"},
    "pids": {"pids.max": "max", "pids.current": "0"},
    "blkio": {"blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
              "blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": ""},
}
# the v1 hierarchies a fake lays out: directory name → controllers (cpu,cpuacct co-mounted)
V1_HIERARCHIES = {
    "cpu,cpuacct": ("cpu", "cpuacct"), "cpuset": ("cpuset",), "memory": ("memory",),
    "devices": ("devices",), "freezer": ("freezer",), "pids": ("pids",), "blkio": ("blkio",),
    "systemd": ("name=systemd",),
}


def _err(code: int, path: str) -> OSError:
    return OSError(code, os.strerror(code), path)


def _put(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _get(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


class FakeCgroupFS(CgroupFS):
    """Base: keeps the set of hierarchy roots; subclasses say how a cgroup is filled."""

    def __init__(self, roots: dict[str, tuple[str, ...]]) -> None:
        self.roots = roots  # hierarchy root → its controllers
        self.calls: list[tuple[str, str, str]] = []

    def hierarchy(self, path: str) -> str:
        for root in self.roots:
            if path == root or path.startswith(root + "/"):
                return root
        raise _err(errno.ENOENT, path)

    def cgroups(self, root: str) -> list[str]:
        out = []
        for d, _, _ in os.walk(root):
            out.append(d)
        return out

    def procs_of(self, d: str) -> list[str]:
        # a process that has exited (and was reaped) leaves its cgroup
        return [p for p in _get(f"{d}/cgroup.procs").split() if os.path.exists(f"/proc/{p}")]

    def read(self, path: str) -> str:
        if os.path.basename(path) == "cgroup.procs" and os.path.exists(path):
            return "".join(f"{p}\n" for p in self.procs_of(os.path.dirname(path)))
        return super().read(path)

    def mkdir(self, path: str) -> None:
        self.calls.append(("mkdir", path, ""))
        self.hierarchy(path)
        os.mkdir(path)
        for name, text in self.files_for(path).items():
            _put(f"{path}/{name}", text)

    def files_for(self, path: str) -> dict[str, str]:
        raise NotImplementedError

    def rmdir(self, path: str) -> None:
        self.calls.append(("rmdir", path, ""))
        if not os.path.isdir(path):
            raise _err(errno.ENOENT, path)
        if self.procs_of(path) or any(e.is_dir() for e in os.scandir(path)):
            raise _err(errno.EBUSY, path)
        for e in os.scandir(path):
            os.unlink(e.path)
        os.rmdir(path)

    def write(self, path: str, value: str) -> None:
        self.calls.append(("write", path, value))
        d, name = os.path.split(path)
        if not os.path.exists(path):
            raise _err(errno.ENOENT, path)
        handler = getattr(self, "write_" + name.replace(".", "_"), None)
        if handler is not None:
            handler(d, value)
        else:
            super().write(path, value)

    def move(self, d: str, value: str) -> None:
        """cgroup.procs: a pid leaves its cgroup of this hierarchy for ``d``."""
        pid = int(value)
        if pid == 0:
            pid = os.getpid()
        if not os.path.exists(f"/proc/{pid}"):
            raise _err(errno.ESRCH, d)
        root = self.hierarchy(d)
        for c in self.cgroups(root):
            pids = self.procs_of(c)
            if str(pid) in pids:
                pids.remove(str(pid))
                _put(f"{c}/cgroup.procs", "".join(f"{p}\n" for p in pids))
        _put(f"{d}/cgroup.procs", _get(f"{d}/cgroup.procs") + f"{pid}\n")
        for c in self.cgroups(root):
            if os.path.exists(f"{c}/pids.current"):
                count = sum(len(self.procs_of(x)) for x in self.cgroups(c))
                _put(f"{c}/pids.current", str(count))


class FakeV2(FakeCgroupFS):
    """A cgroup2 hierarchy at ``root`` offering ``controllers``."""

    def __init__(self, root: str, controllers: tuple[str, ...] = tuple(V2_FILES)) -> None:
        super().__init__({root: controllers})
        self.root = root
        os.makedirs(root, exist_ok=True)
        _put(f"{root}/cgroup.controllers", " ".join(controllers) + "\n")
        _put(f"{root}/cgroup.subtree_control", "")
        _put(f"{root}/cgroup.procs", "")
        _put(f"{root}/cpu.stat", V2_CORE["cpu.stat"])

    def files_for(self, path: str) -> dict[str, str]:
        parent = os.path.dirname(path)
        enabled = _get(f"{parent}/cgroup.subtree_control").split()
        files = dict(V2_CORE)
        files["cgroup.controllers"] = " ".join(enabled) + "\n"
        for c in enabled:
            files.update(V2_FILES[c])
        if parent != self.root and "frozen 1" in _get(f"{parent}/cgroup.events"):
            files["cgroup.events"] = "populated 0\nfrozen 1\n"  # born in a frozen parent
        return files

    def write_cgroup_subtree_control(self, d: str, value: str) -> None:
        available = _get(f"{d}/cgroup.controllers").split()
        enabled = _get(f"{d}/cgroup.subtree_control").split()
        for token in value.split():
            op, c = token[0], token[1:]
            if op not in "+-" or c not in available:
                raise _err(errno.EINVAL, d)
            if op == "+" and d != self.root and self.procs_of(d):
                raise _err(errno.EBUSY, d)  # no internal processes
            if op == "+" and c not in enabled:
                enabled.append(c)
            elif op == "-" and c in enabled:
                enabled.remove(c)
        _put(f"{d}/cgroup.subtree_control", " ".join(enabled) + "\n")
        for child in (e.path for e in os.scandir(d) if e.is_dir()):
            _put(f"{child}/cgroup.controllers", " ".join(enabled) + "\n")
            for c, files in V2_FILES.items():
                for name, text in files.items():
                    here = os.path.exists(f"{child}/{name}")
                    if c in enabled and not here:
                        _put(f"{child}/{name}", text)
                    elif c not in enabled and here:
                        os.unlink(f"{child}/{name}")

    def write_cgroup_procs(self, d: str, value: str) -> None:
        if d != self.root and _get(f"{d}/cgroup.subtree_control").split():
            raise _err(errno.EBUSY, d)  # no internal processes
        self.move(d, value)

    def write_cgroup_freeze(self, d: str, value: str) -> None:
        if value.strip() not in ("0", "1"):
            raise _err(errno.EINVAL, d)
        _put(f"{d}/cgroup.freeze", value.strip() + "\n")
        for c in self.cgroups(d):  # the freeze is done at once, descendants included
            _put(f"{c}/cgroup.events", f"populated 0\nfrozen {value.strip()}\n")

    def write_memory_max(self, d: str, value: str) -> None:
        if value != "max" and not value.isdigit():
            raise _err(errno.EINVAL, d)
        _put(f"{d}/memory.max", value + "\n")


def v1_mountinfo(root: str) -> str:
    lines = []
    for i, (name, controllers) in enumerate(V1_HIERARCHIES.items()):
        opts = ",".join(("rw", *controllers))
        lines.append(f"{100 + i} 99 0:{50 + i} / {root}/{name} rw,relatime - cgroup cgroup {opts}")
    lines.append(f"120 99 0:70 / {root}/unified rw,relatime - cgroup2 cgroup2 rw")
    return "\n".join(lines) + "\n"


class FakeV1(FakeCgroupFS):
    """v1 hierarchies under ``root`` as ``V1_HIERARCHIES`` lists, with a mountinfo file
    naming them at ``root``/mountinfo."""

    def __init__(self, root: str) -> None:
        super().__init__({f"{root}/{name}": cs for name, cs in V1_HIERARCHIES.items()})
        self.root = root
        for h, controllers in self.roots.items():
            os.makedirs(h)
            files = dict(V1_CORE)
            for c in controllers:
                files.update(V1_FILES.get(c, {}))
            files.pop("freezer.state", None)  # the root cgroup cannot be frozen
            if "cpuset" in controllers:
                files.update({"cpuset.cpus": "0-1\n", "cpuset.mems": "0\n"})
            for name, text in files.items():
                _put(f"{h}/{name}", text)
        os.makedirs(f"{root}/unified")
        self.mountinfo = f"{root}/mountinfo"
        _put(self.mountinfo, v1_mountinfo(root))

    def files_for(self, path: str) -> dict[str, str]:
        files = dict(V1_CORE)
        for c in self.roots[self.hierarchy(path)]:
            files.update(V1_FILES.get(c, {}))
        return files

    def write_cgroup_procs(self, d: str, value: str) -> None:
        if "cpuset" in self.roots[self.hierarchy(d)] and not (
            _get(f"{d}/cpuset.cpus").strip() and _get(f"{d}/cpuset.mems").strip()
        ):
            raise _err(errno.ENOSPC, d)  # an empty cpuset takes no process
        self.move(d, value)

    def _memory(self, d: str, name: str, value: str, check) -> None:
        n = int(value)
        n = UNLIMITED if n == -1 else n // 4096 * 4096
        if not check(n):
            raise _err(errno.EINVAL, d)
        _put(f"{d}/{name}", f"{n}\n")

    def write_memory_limit_in_bytes(self, d: str, value: str) -> None:
        swap_accounting = os.path.exists(f"{d}/memory.memsw.limit_in_bytes")
        memsw = int(_get(f"{d}/memory.memsw.limit_in_bytes")) if swap_accounting else UNLIMITED
        self._memory(d, "memory.limit_in_bytes", value, lambda n: n <= memsw)

    def write_memory_memsw_limit_in_bytes(self, d: str, value: str) -> None:
        limit = int(_get(f"{d}/memory.limit_in_bytes"))
        self._memory(d, "memory.memsw.limit_in_bytes", value, lambda n: n >= limit)

    def write_freezer_state(self, d: str, value: str) -> None:
        if value not in ("FROZEN", "THAWED"):
            raise _err(errno.EINVAL, d)
        for c in self.cgroups(d):
            _put(f"{c}/freezer.state", value + "\n")

    def write_devices_allow(self, d: str, value: str) -> None:
        self._devices(d, "allow", value)

    def write_devices_deny(self, d: str, value: str) -> None:
        self._devices(d, "deny", value)

    def _devices(self, d: str, verb: str, value: str) -> None:
        # the real kernel keeps a list; the fake keeps the log of writes
        with open(f"{d}/devices.{verb}", "a", encoding="utf-8") as f:
            f.write(value + "\n")


class FakeBpf:
    """Records the device programs the v2 manager would attach."""

    def __init__(self) -> None:
        self.programs: dict[str, bytes] = {}

    def replace_cgroup_device_program(self, cgroup_dir: str, program: bytes) -> None:
        self.programs[cgroup_dir] = program
