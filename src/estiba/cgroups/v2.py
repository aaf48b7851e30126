"""A container's cgroup on cgroup v2: one directory in the unified hierarchy.

Kernel doc: admin-guide/cgroup-v2.rst. What differs from v1 and is handled here: a
controller's files appear in a cgroup only when its parent lists the controller in
``cgroup.subtree_control``, so ``create`` enables the controllers on the way down;
freezing is ``cgroup.freeze`` with the outcome reported in ``cgroup.events``; device
access is not a file but an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to
the cgroup (``devicefilter`` compiles it, ``estiba.kernel.bpf`` loads and attaches it).
"""

from __future__ import annotations

import os
import time

from estiba.cgroups import cgroupfs
from estiba.cgroups.cgroupfs import CgroupFS, read_file, read_optional
from estiba.errors import EstibaError, InvalidArgument, Unavailable, from_oserror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.kernel.bpf import Bpf
    from estiba.oci.runtime_config import DeviceRule, Resources

# The controllers create() enables on the way down, when the parent has them.
CONTROLLERS = ("cpu", "cpuset", "io", "memory", "pids", "hugetlb")


class CgroupV2:
    """The cgroup at directory ``path`` of a cgroup2 mount whose root is ``root`` (found
    by walking up when not given). Implements ``estiba.cgroups.CgroupManager``.

    ``bpf`` loads and attaches device programs (``estiba.kernel.bpf.Bpf``, made when first
    needed if not given; tests pass a recording fake).
    """

    version = 2

    def __init__(
        self, path: str, *, root: str = "", fs: CgroupFS | None = None, bpf: Bpf | None = None,
    ) -> None:
        self._path = path.rstrip("/")
        self._root = root.rstrip("/")
        self._fs = fs if fs is not None else CgroupFS()
        self._bpf = bpf

    @classmethod
    def from_paths(
        cls, paths: dict[str, str], *, fs: CgroupFS | None = None, bpf: Bpf | None = None,
    ) -> CgroupV2:
        """Reopen a cgroup from the ``paths()`` a runtime stored in its state."""
        if set(paths) != {""}:
            raise InvalidArgument(f"cgroup v2 paths {paths!r}: expected one path, keyed \"\"")
        return cls(paths[""], fs=fs, bpf=bpf)

    def __repr__(self) -> str:
        return f"CgroupV2({self._path!r})"

    def paths(self) -> dict[str, str]:
        return {"": self._path}

    def exists(self) -> bool:
        return self._fs.exists(self._path)

    def _hierarchy_root(self) -> str:
        if self._root:
            return self._root
        fs = self._fs
        d = os.path.dirname(self._path)
        while not fs.exists(d):
            d = os.path.dirname(d)
        if not fs.exists(f"{d}/cgroup.controllers"):
            raise Unavailable(f"create cgroup {self._path}: {d} is not a cgroup v2 directory")
        while True:
            parent = os.path.dirname(d)
            if parent == d or not fs.exists(f"{parent}/cgroup.controllers"):
                return d
            d = parent

    def create(self) -> None:
        root = self._hierarchy_root()
        if not self._path.startswith(root + "/"):
            raise InvalidArgument(f"create cgroup {self._path}: not below {root}")
        d = root
        for name in self._path[len(root) + 1:].split("/"):
            self._enable_controllers(d)
            d = f"{d}/{name}"
            if self._fs.exists(d):
                continue
            try:
                self._fs.mkdir(d)
            except FileExistsError:
                pass
            except OSError as err:
                raise from_oserror(f"create cgroup {d}", err) from err

    def _enable_controllers(self, d: str) -> None:
        fs = self._fs
        available = read_file(fs, d, "cgroup.controllers").split()
        enabled = read_file(fs, d, "cgroup.subtree_control").split()
        for c in CONTROLLERS:
            if c in available and c not in enabled:
                try:
                    fs.write(f"{d}/cgroup.subtree_control", f"+{c}")
                except OSError:
                    # EBUSY when d holds processes (no internal processes in v2), or the
                    # controller is busy as a threaded one: apply() then reports the
                    # controller's files missing if the config needs them.
                    continue

    def apply(self, resources: Resources) -> None:
        # Imported here: most runtime calls open a cgroup only to read or join it.
        from estiba.cgroups.resources import plan_v2

        for w in plan_v2(resources):
            lacking = (f"the {w.controller} controller is not enabled for this cgroup"
                       if w.controller else "the kernel lacks this file")
            cgroupfs.apply_write(self._fs, self._path, w, lacking)
        if resources.devices:
            self._apply_devices(resources.devices)

    def _apply_devices(self, rules: tuple[DeviceRule, ...]) -> None:
        from estiba.cgroups import devicefilter

        program = devicefilter.assemble(devicefilter.compile_rules(rules))
        if self._bpf is None:
            from estiba.kernel.bpf import Bpf

            self._bpf = Bpf()
        self._bpf.replace_cgroup_device_program(self._path, program)

    def join(self, pid: int) -> None:
        cgroupfs.join(self._fs, self._path, pid)

    def join_self(self) -> None:
        """Move the calling process in. v2 has no cheaper per-thread move for a domain
        cgroup, so this is ``join`` of ourselves (pid 0: the writer)."""
        cgroupfs.join(self._fs, self._path, 0)

    def pids(self) -> list[int]:
        return cgroupfs.procs(self._fs, self._path)

    def _events(self) -> dict[str, int]:
        return cgroupfs.parse_keyed(read_file(self._fs, self._path, "cgroup.events"))

    def _set_freeze(self, value: str) -> None:
        try:
            self._fs.write(f"{self._path}/cgroup.freeze", value)
        except FileNotFoundError as err:
            if not self._fs.exists(self._path):
                raise from_oserror(f"write cgroup.freeze in {self._path}", err) from err
            raise Unavailable(
                f"write cgroup.freeze in {self._path}: no such file "
                "(the cgroup v2 freezer needs linux 5.2 or later)") from err
        except OSError as err:
            raise from_oserror(f"write cgroup.freeze in {self._path}", err) from err

    def freeze(self, timeout: float = 5.0) -> None:
        self._set_freeze("1")
        try:
            cgroupfs.wait_for(lambda: self._events().get("frozen") == 1,
                              time.monotonic() + timeout, f"freeze cgroup {self._path}")
        except EstibaError:
            self._set_freeze("0")  # do not leave it half frozen
            raise

    def thaw(self, timeout: float = 5.0) -> None:
        self._set_freeze("0")
        cgroupfs.wait_for(lambda: self._events().get("frozen") == 0,
                          time.monotonic() + timeout, f"thaw cgroup {self._path}")

    def frozen(self) -> bool:
        return self._events().get("frozen") == 1

    def destroy(self, timeout: float = 1.0) -> None:
        cgroupfs.remove_tree(self._fs, self._path, time.monotonic() + timeout)

    def stats(self) -> dict[str, dict[str, object]]:
        fs = self._fs
        d = self._path
        out: dict[str, dict[str, object]] = {}
        current = read_optional(fs, d, "memory.current")
        if current is not None:
            peak = read_optional(fs, d, "memory.peak")  # linux 5.19+
            out["memory"] = {
                "usage": int(current),
                "limit": cgroupfs.parse_int(read_file(fs, d, "memory.max")),
                "max_usage": int(peak) if peak is not None else None,
                "stat": cgroupfs.parse_keyed(read_file(fs, d, "memory.stat")),
                "oom_kills": cgroupfs.parse_keyed(read_optional(
                    fs, d, "memory.events") or "").get("oom_kill", 0),
            }
        cpu = cgroupfs.parse_keyed(read_file(fs, d, "cpu.stat"))  # a core file: always there
        out["cpu"] = {
            "usage_ns": cpu.get("usage_usec", 0) * 1000,
            "user_ns": cpu.get("user_usec", 0) * 1000,
            "system_ns": cpu.get("system_usec", 0) * 1000,
        }
        pids = read_optional(fs, d, "pids.current")
        if pids is not None:
            out["pids"] = {
                "current": int(pids),
                "limit": cgroupfs.parse_int(read_file(fs, d, "pids.max")),
            }
        else:
            out["pids"] = {"current": len(self.pids()), "limit": None}
        return out

