"""Control groups: a container's cgroup, on cgroup v1 or v2.

Owns: finding the hierarchies (``layout``), turning OCI ``linux.resources`` into cgroupfs
file writes (``resources``, pure), compiling device rules into a cgroup v2 eBPF device
program (``devicefilter``, pure), and the managers that create, configure, join, freeze
and remove a container's cgroup (``v1.CgroupV1``, ``v2.CgroupV2``), all behind the
``CgroupManager`` interface. File access goes through ``cgroupfs.CgroupFS``, which tests
replace.

May import: ``estiba.oci`` and ``estiba.errors``; ``estiba.kernel`` (for loading the v2
device program only). The runtime imports this package on every OCI operation, so its
import path stays cheap: no typing, dataclasses, re, enum, json, pathlib, subprocess,
shutil or logging.

Implements: runtime-spec config-linux.md ("Control groups"), the kernel's
admin-guide/cgroup-v1/ and admin-guide/cgroup-v2.rst.
"""

from __future__ import annotations

from estiba.errors import InvalidArgument, Unavailable, from_oserror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cgroups.cgroupfs import CgroupFS
    from estiba.kernel.bpf import Bpf
    from estiba.oci.runtime_config import Resources


class CgroupManager:
    """What the runtime needs from a container's cgroup (a protocol: ``CgroupV1`` and
    ``CgroupV2`` implement it without inheriting; the conformance suite checks both).

    Errors are those of ``estiba.errors``, naming what failed on which path.
    """

    version: int
    """1 or 2."""

    def create(self) -> None:
        """Create the cgroup's directories (mkdir -p; creating an existing cgroup is fine)
        and make them usable: v1 cpusets get cpus and mems, v2 ancestors enable the
        controllers their children need."""
        raise NotImplementedError

    def apply(self, resources: Resources) -> None:
        """Set ``resources`` (at create and on ``update``). A setting the host cannot make
        raises Unavailable; a config that breaks the spec's rules, InvalidArgument."""
        raise NotImplementedError

    def join_self(self) -> None:
        """Move the calling single-threaded process into the cgroup; on v1 without the
        kernel's threadgroup lock (see CgroupV1.join_self)."""
        raise NotImplementedError

    def join(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the cgroup."""
        raise NotImplementedError

    def pids(self) -> list[int]:
        """The processes in the cgroup and its descendants, sorted."""
        raise NotImplementedError

    def freeze(self) -> None:
        """Stop every process of the cgroup; return once the kernel reports them frozen."""
        raise NotImplementedError

    def thaw(self) -> None:
        """Let the processes run again; return once the kernel reports them thawed."""
        raise NotImplementedError

    def frozen(self) -> bool:
        """Whether the cgroup is frozen."""
        raise NotImplementedError

    def destroy(self) -> None:
        """Remove the cgroup and any cgroups made below it, deepest first. It must have no
        processes left; a cgroup that is gone already is fine. The parents named by the
        cgroups path stay."""
        raise NotImplementedError

    def paths(self) -> dict[str, str]:
        """Controller (v1; "name=systemd" for the named hierarchy) or "" (v2) → directory:
        what a runtime stores to reopen the cgroup with ``cgroup_from_paths``."""
        raise NotImplementedError

    def exists(self) -> bool:
        """Whether the cgroup's directory exists (in any hierarchy, on v1)."""
        raise NotImplementedError

    def stats(self) -> dict[str, dict[str, object]]:
        """Usage counters, for ``docker stats``::

            {"memory": {"usage": bytes, "limit": bytes or None (unlimited),
                        "max_usage": bytes or None, "stat": {memory.stat key: int},
                        "oom_kills": processes the OOM killer killed in it},
             "cpu": {"usage_ns": int, "user_ns": int, "system_ns": int},
             "pids": {"current": int, "limit": int or None}}

        A section is left out when its controller is not there ("memory" on a v2 cgroup
        without the memory controller); "pids" is always there (counted when no pids
        controller); "user_ns"/"system_ns" may be missing on old v1 kernels.
        """
        raise NotImplementedError


def open_cgroup(
    cgroups_path: str,
    *,
    root: str = "/sys/fs/cgroup",
    mountinfo: str = "/proc/self/mountinfo",
    fs: CgroupFS | None = None,
    bpf: Bpf | None = None,
) -> CgroupManager:
    """The manager of the cgroup that OCI ``linux.cgroupsPath`` names (nothing created).

    The layout is detected at ``root``: a cgroup2 mount there (``cgroup.controllers``
    exists) means v2; otherwise the v1 hierarchies mounted below ``root`` are read from
    ``mountinfo``. The path goes below the root of each hierarchy, absolute or relative;
    the systemd form ``slice:prefix:name`` raises Unimplemented.
    """
    from estiba.cgroups import cgroupfs
    from estiba.cgroups.layout import clean_cgroups_path

    relative = clean_cgroups_path(cgroups_path)
    fs = fs if fs is not None else cgroupfs.CgroupFS()
    root = root.rstrip("/") or "/"
    if fs.exists(f"{root}/cgroup.controllers"):
        from estiba.cgroups.v2 import CgroupV2

        return CgroupV2(f"{root}/{relative}", root=root, fs=fs, bpf=bpf)  # type: ignore[return-value]

    from estiba.cgroups.layout import parse_mountinfo, v1_hierarchies
    from estiba.cgroups.v1 import CgroupV1

    try:
        with open(mountinfo, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise from_oserror(f"read {mountinfo}", err) from err
    hierarchies = v1_hierarchies(parse_mountinfo(text), root)
    if not hierarchies:
        raise Unavailable(f"open cgroup {cgroups_path}: no cgroup v2 or v1 hierarchy at {root}")
    return CgroupV1(  # type: ignore[return-value]
        {c: f"{mount}/{relative}" for c, mount in hierarchies.items()}, fs=fs)


def cgroup_from_paths(
    paths: dict[str, str], *, fs: CgroupFS | None = None, bpf: Bpf | None = None,
) -> CgroupManager:
    """Reopen the cgroup whose ``paths()`` a runtime stored: no mountinfo is read."""
    if not paths:
        raise InvalidArgument("cgroup paths: empty")
    if "" in paths:
        from estiba.cgroups.v2 import CgroupV2

        return CgroupV2.from_paths(paths, fs=fs, bpf=bpf)  # type: ignore[return-value]
    from estiba.cgroups.v1 import CgroupV1

    return CgroupV1.from_paths(paths, fs=fs)  # type: ignore[return-value]


def prime_migration(root: str = "/sys/fs/cgroup", own: str = "/proc/self/cgroup") -> None:
    """Pay ahead of time the wait of the next cgroup migration; best effort, silent.

    The first process moved between cgroups after a quiet spell makes the kernel wait
    for an RCU grace period (the threadgroup lock switches to its slow mode), ~10 ms
    here; moves in the next grace period are cheap. Moving this process into the cgroup
    it is already in, from a thread started while the runtime still has work to do
    before it moves the container's init, takes that wait off the init's path.
    """
    import os

    try:
        with open(own, encoding="utf-8") as f:
            lines = f.read().splitlines()
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if controllers == "":  # unified: at the root (v2) or beside v1 (hybrid)
                base = root if os.path.exists(f"{root}/cgroup.controllers") \
                    else f"{root}/unified"
            elif controllers.startswith("name="):
                continue
            else:
                base = f"{root}/{controllers}"
            target = f"{base}{path.rstrip('/')}/cgroup.procs"
            if os.path.exists(target):
                fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.write(fd, str(os.getpid()).encode())
                finally:
                    os.close(fd)
                return
    except (OSError, ValueError):
        return
