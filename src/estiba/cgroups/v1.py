"""A container's cgroup on cgroup v1: one directory in each controller's hierarchy.

Kernel docs: admin-guide/cgroup-v1/ (cgroups.rst, cpusets.rst, memory.rst, devices.rst,
freezer-subsystem.rst, pids.rst). The v1 quirks handled here: a new cpuset has empty
``cpuset.cpus``/``cpuset.mems`` and refuses processes until they are set, so they are
copied down from the parent; ``memory.limit_in_bytes`` may never exceed
``memory.memsw.limit_in_bytes``, so the two are written in an order that keeps it so;
freezing is asynchronous (``freezer.state`` reads FREEZING until every task stopped).
"""

from __future__ import annotations

import os
import time

from estiba.cgroups import cgroupfs
from estiba.cgroups.cgroupfs import CgroupFS, read_file, read_optional, write_file
from estiba.errors import EstibaError, Internal, Unavailable, from_oserror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.oci.runtime_config import Resources

# Where the process list is read: any hierarchy holds every process of the container.
_PROCS_FROM = ("pids", "freezer", "memory", "cpu", "devices", "cpuset", "blkio")


class CgroupV1:
    """The cgroup ``paths`` names: controller → directory, one per mounted hierarchy
    (co-mounted controllers share one). Implements ``estiba.cgroups.CgroupManager``."""

    version = 1

    def __init__(self, paths: dict[str, str], *, fs: CgroupFS | None = None) -> None:
        self._paths = dict(paths)
        self._fs = fs if fs is not None else CgroupFS()
        dirs: list[str] = []
        for d in self._paths.values():
            if d not in dirs:
                dirs.append(d)
        self._dirs = dirs

    @classmethod
    def from_paths(cls, paths: dict[str, str], *, fs: CgroupFS | None = None) -> CgroupV1:
        """Reopen a cgroup from the ``paths()`` a runtime stored in its state."""
        return cls(paths, fs=fs)

    def __repr__(self) -> str:
        return f"CgroupV1({self._paths!r})"

    def paths(self) -> dict[str, str]:
        return dict(self._paths)

    def exists(self) -> bool:
        return any(self._fs.exists(d) for d in self._dirs)

    def create(self) -> None:
        cpuset = self._paths.get("cpuset")
        for d in self._dirs:
            if d == cpuset:
                self._create_cpuset(d)
            else:
                cgroupfs.makedirs(self._fs, d)

    def _create_cpuset(self, directory: str) -> None:
        # Walk up to the nearest cpuset with cpus and mems set (the hierarchy's root at
        # the latest), then create and fill in every directory below it, top down.
        fs = self._fs
        chain: list[str] = []
        d = directory
        while not (fs.exists(d) and self._cpuset_filled(d)):
            chain.append(d)
            parent = os.path.dirname(d)
            if parent == d:
                raise Internal(f"create cgroup {directory}: no parent cpuset has cpus and mems")
            d = parent
        for d in reversed(chain):
            if not fs.exists(d):
                try:
                    fs.mkdir(d)
                except FileExistsError:
                    pass
                except OSError as err:
                    raise from_oserror(f"create cgroup {d}", err) from err
            parent = os.path.dirname(d)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not read_file(fs, d, name).strip():
                    write_file(fs, d, name, read_file(fs, parent, name).strip())

    def _cpuset_filled(self, d: str) -> bool:
        cpus = read_optional(self._fs, d, "cpuset.cpus")
        mems = read_optional(self._fs, d, "cpuset.mems")
        return bool(cpus and cpus.strip() and mems and mems.strip())

    def apply(self, resources: Resources) -> None:
        # Imported here: most runtime calls open a cgroup only to read or join it.
        from estiba.cgroups.resources import order_v1, plan_v1

        plan = plan_v1(resources)
        memory = self._paths.get("memory")
        files = {w.file for w in plan}
        if memory and {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} <= files:
            current = read_optional(self._fs, memory, "memory.memsw.limit_in_bytes")
            if current is not None:
                plan = order_v1(plan, int(current))
        for w in plan:
            d = self._paths.get(w.controller)
            if d is None:
                if w.optional:
                    continue
                raise Unavailable(
                    f"write {w.file}: the {w.controller} cgroup controller is not mounted")
            cgroupfs.apply_write(self._fs, d, w, f"the kernel lacks this {w.controller} setting")

    def join(self, pid: int) -> None:
        for d in self._dirs:
            cgroupfs.join(self._fs, d, pid)

    def join_self(self) -> None:
        """Move the calling process, which must have one thread, into the cgroup.

        Why not ``join(os.getpid())``: moving a whole thread group takes the kernel's
        threadgroup lock for writing, whose first use after a quiet spell waits for an
        RCU grace period (~10 ms here, the largest single cost of starting a
        container); moving one thread by writing 0 to ``tasks`` does not take it.
        """
        for d in self._dirs:
            cgroupfs.join_calling_thread(self._fs, d)

    def pids(self) -> list[int]:
        for controller in _PROCS_FROM:
            if controller in self._paths:
                return cgroupfs.procs(self._fs, self._paths[controller])
        return cgroupfs.procs(self._fs, self._dirs[0]) if self._dirs else []

    def _freezer(self) -> str:
        d = self._paths.get("freezer")
        if d is None:
            raise Unavailable("freeze: the freezer cgroup controller is not mounted")
        return d

    def freeze(self, timeout: float = 5.0) -> None:
        d = self._freezer()
        fs = self._fs
        write_file(fs, d, "freezer.state", "FROZEN")

        def frozen() -> bool:
            if read_file(fs, d, "freezer.state").strip() == "FROZEN":
                return True
            # FREEZING: some task did not stop yet (one in vfork, say); writing FROZEN
            # again makes the kernel retry the tasks left.
            write_file(fs, d, "freezer.state", "FROZEN")
            return False

        try:
            cgroupfs.wait_for(frozen, time.monotonic() + timeout, f"freeze cgroup {d}")
        except EstibaError:
            write_file(fs, d, "freezer.state", "THAWED")  # do not leave it half frozen
            raise

    def thaw(self, timeout: float = 5.0) -> None:
        d = self._freezer()
        write_file(self._fs, d, "freezer.state", "THAWED")
        cgroupfs.wait_for(
            lambda: read_file(self._fs, d, "freezer.state").strip() == "THAWED",
            time.monotonic() + timeout, f"thaw cgroup {d}",
        )

    def frozen(self) -> bool:
        d = self._paths.get("freezer")
        if d is None:
            return False
        return read_file(self._fs, d, "freezer.state").strip() == "FROZEN"

    def destroy(self, timeout: float = 1.0) -> None:
        deadline = time.monotonic() + timeout
        first: EstibaError | None = None
        for d in self._dirs:
            try:
                cgroupfs.remove_tree(self._fs, d, deadline)
            except EstibaError as err:
                first = first or err  # remove what can be removed, report the first failure
        if first is not None:
            raise first

    def stats(self) -> dict[str, dict[str, object]]:
        fs = self._fs
        out: dict[str, dict[str, object]] = {}
        memory = self._paths.get("memory")
        if memory is not None:
            out["memory"] = {
                "usage": int(read_file(fs, memory, "memory.usage_in_bytes")),
                "limit": cgroupfs.parse_int(read_file(fs, memory, "memory.limit_in_bytes")),
                "max_usage": int(read_file(fs, memory, "memory.max_usage_in_bytes")),
                "stat": cgroupfs.parse_keyed(read_file(fs, memory, "memory.stat")),
                "oom_kills": cgroupfs.parse_keyed(read_optional(
                    fs, memory, "memory.oom_control") or "").get("oom_kill", 0),
            }
        cpuacct = self._paths.get("cpuacct")
        if cpuacct is not None:
            cpu: dict[str, object] = {
                "usage_ns": int(read_file(fs, cpuacct, "cpuacct.usage")),
            }
            user = read_optional(fs, cpuacct, "cpuacct.usage_user")
            system = read_optional(fs, cpuacct, "cpuacct.usage_sys")
            if user is not None and system is not None:
                cpu["user_ns"] = int(user)
                cpu["system_ns"] = int(system)
            out["cpu"] = cpu
        pids = self._paths.get("pids")
        if pids is not None:
            out["pids"] = {
                "current": int(read_file(fs, pids, "pids.current")),
                "limit": cgroupfs.parse_int(read_file(fs, pids, "pids.max")),
            }
        else:
            out["pids"] = {"current": len(self.pids()), "limit": None}
        return out
