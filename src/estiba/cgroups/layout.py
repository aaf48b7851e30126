"""Where the cgroup hierarchies are, and where a container's cgroup goes in them (pure).

cgroup v1 mounts one hierarchy per controller or group of controllers (``cpu,cpuacct``
co-mounted is common), usually as directories of a tmpfs at /sys/fs/cgroup; cgroup v2 is
one hierarchy, mounted at /sys/fs/cgroup on a pure-v2 host. proc(5) describes the
mountinfo lines parsed here.
"""

from __future__ import annotations

from estiba.errors import InvalidArgument, Unimplemented
from estiba.oci.record import Record

# The v1 controllers a container's cgroup is created in (runc's list); name=systemd is a
# named hierarchy with no controller, joined so that systemd tools see the container.
V1_CONTROLLERS = (
    "cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "blkio", "pids", "hugetlb",
    "net_cls", "net_prio", "perf_event", "rdma", "misc", "name=systemd",
)


class MountInfo(Record):
    """One line of /proc/<pid>/mountinfo, the fields this package needs."""

    root: str  # the directory of the filesystem mounted (a cgroup when a namespace hides)
    mount_point: str
    fstype: str
    super_options: tuple[str, ...]


def parse_mountinfo(text: str) -> list[MountInfo]:
    """Parse mountinfo; lines that do not have its shape are skipped."""
    out: list[MountInfo] = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        if len(fields) < sep + 4:
            continue
        out.append(MountInfo(
            root=_unescape(fields[3]),
            mount_point=_unescape(fields[4]),
            fstype=fields[sep + 1],
            super_options=tuple(fields[sep + 3].split(",")),
        ))
    return out


def _unescape(field: str) -> str:
    # the kernel writes space, tab, newline and backslash as \ooo octal escapes
    if "\\" not in field:
        return field
    out: list[str] = []
    i = 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def v1_hierarchies(mounts: list[MountInfo], root: str) -> dict[str, str]:
    """controller → mount point of each cgroup v1 hierarchy mounted under ``root``.

    Co-mounted controllers map to the same directory. The first mount of a controller
    wins (later ones are bind mounts of the same hierarchy).
    """
    root = root.rstrip("/") or "/"
    prefix = root if root.endswith("/") else root + "/"
    out: dict[str, str] = {}
    for m in mounts:
        if m.fstype != "cgroup":
            continue
        if m.mount_point != root and not m.mount_point.startswith(prefix):
            continue
        for option in m.super_options:
            if option in V1_CONTROLLERS and option not in out:
                out[option] = m.mount_point
    return {c: out[c] for c in V1_CONTROLLERS if c in out}


def clean_cgroups_path(cgroups_path: str) -> str:
    """The OCI ``linux.cgroupsPath`` as a relative path below a hierarchy's root.

    Absolute and relative paths both go under the root of each hierarchy; the systemd form
    ``slice:prefix:name`` is refused, as are ``..`` and the root cgroup itself.
    """
    if not cgroups_path:
        raise InvalidArgument("cgroups path: empty")
    if not cgroups_path.startswith("/") and cgroups_path.count(":") == 2:
        raise Unimplemented(f"systemd cgroup paths are not supported: {cgroups_path}")
    parts = [p for p in cgroups_path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"cgroups path {cgroups_path}: must not contain ..")
    if "\0" in cgroups_path:
        raise InvalidArgument(f"cgroups path {cgroups_path!r}: contains a nul byte")
    if not parts:
        raise InvalidArgument(f"cgroups path {cgroups_path}: names the root cgroup")
    return "/".join(parts)
