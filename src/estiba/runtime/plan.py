"""From a container's config to the ordered steps its init performs: pure, no syscalls.

``plan_init`` decides which namespaces to create or join, the mounts (with the cgroup
mount expanded into binds of the container's own cgroup directories), the device nodes
and the default ``/dev`` symlinks, what to mask and make read-only, and the process to
start (``plan_process``, also used by ``exec``, with the container-wide personality and
memory policy that every process of the container gets). The executor in ``init.py`` applies it.
"""

from __future__ import annotations

import os

from estiba.errors import InvalidArgument
from estiba.kernel import capabilities as caps
from estiba.kernel import consts as k
from estiba.oci.record import Record
from estiba.runtime.mounts import parse_options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.oci.runtime_config import Device, IDMapping, Mount, Process, Seccomp, Spec


class MountStep(Record):
    destination: str  # inside the container
    source: str
    fstype: str
    flags: int
    data: str = ""
    remount: int = 0  # when set, a bind remount with these flags follows the mount
    propagation: tuple[int, ...] = ()
    host_source: bool = False  # source is a host path (bind): it must exist
    cgroup: bool = False  # needs the container's cgroup made (a bind of it, or cgroup2)


class DeviceNode(Record):
    path: str
    type: str  # c, b, u, p
    major: int
    minor: int
    mode: int
    uid: int
    gid: int
    bind: bool = False  # in a user namespace mknod is refused: the host's node is bound


class ProcessPlan(Record):
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    umask: int | None
    caps: tuple[int, int, int, int, int] | None  # bounding, effective, permitted, inh., ambient
    rlimits: tuple[tuple[str, int, int], ...]
    no_new_privs: bool
    seccomp: Seccomp | None
    oom_score_adj: int | None
    terminal: bool
    console_size: tuple[int, int] | None  # rows, columns
    io_priority: tuple[int, int] | None = None  # IOPRIO_CLASS_* number, level
    personality: int | None = None  # linux.personality's domain, as personality(2) takes it
    memory_policy: tuple[int, tuple[int, ...]] | None = None  # MPOL_* | MPOL_F_*, nodes
    scheduler: tuple[int, int, int] | None = None  # SCHED_* number, priority, nice


class InitPlan(Record):
    rootfs: str
    pid_namespace: str  # "new", "host", or the path of one to join
    # "new", "host", or the path of one to join; a new one maps the ids below
    user_namespace: str
    uid_mappings: tuple[IDMapping, ...]
    gid_mappings: tuple[IDMapping, ...]
    join: tuple[tuple[int, str], ...]  # (CLONE_NEW* flag, path), joined before unsharing
    unshare: int  # CLONE_NEW* flags of namespaces to create (pid excluded)
    mount_namespace: bool
    root_propagation: int
    mounts: tuple[MountStep, ...]
    devices: tuple[DeviceNode, ...]
    symlinks: tuple[tuple[str, str], ...]  # (target, link path)
    no_pivot: bool
    session_keyring: str | None  # the name of a new session keyring, or None to keep ours
    hostname: str | None
    domainname: str | None
    sysctl: tuple[tuple[str, str], ...]
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    readonly_root: bool
    process: ProcessPlan


DEFAULT_DEVICES = (
    ("/dev/null", "c", 1, 3),
    ("/dev/zero", "c", 1, 5),
    ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8),
    ("/dev/urandom", "c", 1, 9),
    ("/dev/tty", "c", 5, 0),
)

DEFAULT_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
)

# Device-cgroup rules for the nodes every container gets, added after the config's own
# rules (as runc does) so that a "deny all" config still has a working /dev.
DEFAULT_DEVICE_RULES = (
    ("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 1, 8), ("c", 1, 9), ("c", 5, 0),
    ("c", 5, 1), ("c", 5, 2), ("c", 136, None),
)

_DEVICE_MODE = {"c": 0o020000, "u": 0o020000, "b": 0o060000, "p": 0o010000}

# linux/ioprio.h
IO_PRIORITY_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
# linux/personality.h: the execution domains of linux.personality.domain
PERSONALITY_DOMAINS = {"LINUX": 0x0000, "LINUX32": 0x0008}
# linux/mempolicy.h: linux.memoryPolicy's modes, and the flags or-ed into them
MEMORY_POLICY_MODES = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2,
                       "MPOL_INTERLEAVE": 3, "MPOL_LOCAL": 4, "MPOL_PREFERRED_MANY": 5,
                       "MPOL_WEIGHTED_INTERLEAVE": 6}
MEMORY_POLICY_FLAGS = {"MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14,
                       "MPOL_F_STATIC_NODES": 1 << 15}
# linux/sched.h: the policies sched_setscheduler(2) sets. SCHED_DEADLINE needs
# sched_setattr(2) and SCHED_ISO is not in mainline Linux: validate refuses both.
SCHEDULER_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3,
                      "SCHED_IDLE": 5}


def bundle_rootfs(bundle: str, root_path: str) -> str:
    path = root_path if root_path.startswith("/") else os.path.join(bundle, root_path)
    return os.path.normpath(path)


def plan_init(
    spec: Spec,
    rootfs: str,
    cgroup_paths: dict[str, str],
    cgroups_path: str,
    no_pivot: bool = False,
    session_keyring: str | None = None,
) -> InitPlan:
    linux = spec.linux
    namespaces = {ns.type: ns.path for ns in linux.namespaces} if linux else {}
    pid_ns = "host"
    if "pid" in namespaces:
        pid_ns = namespaces["pid"] or "new"
    user_ns = "host"
    if "user" in namespaces:
        user_ns = namespaces["user"] or "new"
    join: list[tuple[int, str]] = []
    unshare = 0
    for ns_type, path in namespaces.items():
        if ns_type in ("pid", "user"):  # made before the init exists (create.py)
            continue
        flag = k.NAMESPACE_FLAGS[ns_type]
        if path:
            join.append((flag, path))
        else:
            unshare |= flag
    # The cgroup namespace is joined/created last: after the cgroup is joined.
    join.sort(key=lambda item: item[0] == k.CLONE_NEWCGROUP)
    mount_ns = "mount" in namespaces

    propagation = k.MS_SLAVE | k.MS_REC
    if linux and linux.rootfs_propagation:
        flags = parse_options([linux.rootfs_propagation]).propagation
        if not flags:
            raise InvalidArgument(f"invalid rootfsPropagation {linux.rootfs_propagation!r}")
        propagation = flags[0]

    cgroup_ns = "cgroup" in namespaces
    # sysfs may be mounted in a user namespace only with a network namespace it owns:
    # a new one; with the host's or a joined one, the host's /sys is bound instead
    bind_sysfs = user_ns != "host" and namespaces.get("network", "host") != ""
    steps: list[MountStep] = []
    for mount in spec.mounts:
        if bind_sysfs and mount.type == "sysfs":
            mount = mount.replace(type="bind", source="/sys",
                                  options=(*mount.options, "rbind"))
        steps.extend(_plan_mount(mount, cgroup_paths, cgroups_path, cgroup_ns))

    uts = "uts" in namespaces
    return InitPlan(
        rootfs=rootfs,
        pid_namespace=pid_ns,
        user_namespace=user_ns,
        uid_mappings=linux.uid_mappings if linux else (),
        gid_mappings=linux.gid_mappings if linux else (),
        join=tuple(join),
        unshare=unshare,
        mount_namespace=mount_ns,
        root_propagation=propagation,
        mounts=tuple(steps),
        devices=_plan_devices(linux.devices if linux else (), bind=user_ns != "host"),
        symlinks=DEFAULT_SYMLINKS,
        no_pivot=no_pivot,
        session_keyring=session_keyring,
        hostname=spec.hostname if uts else None,
        domainname=spec.domainname if uts else None,
        sysctl=linux.sysctl if linux else (),
        masked_paths=linux.masked_paths if linux else (),
        readonly_paths=linux.readonly_paths if linux else (),
        readonly_root=bool(spec.root and spec.root.readonly),
        process=plan_process(spec.process, linux.seccomp if linux else None,
                             personality=plan_personality(spec),
                             memory_policy=plan_memory_policy(spec)),
    )


def _plan_mount(
    mount: Mount, cgroup_paths: dict[str, str], cgroups_path: str, cgroup_ns: bool
) -> list[MountStep]:
    opts = parse_options(mount.options)
    if mount.type == "cgroup" or mount.type == "cgroup2":
        return _plan_cgroup_mount(mount, opts.flags, cgroup_paths, cgroups_path, cgroup_ns)
    if opts.is_bind or mount.type == "bind":
        flags = opts.flags | k.MS_BIND
        # The first bind ignores every flag but MS_REC: the others need a remount.
        extra = flags & ~(k.MS_BIND | k.MS_REC | k.MS_REMOUNT)
        return [MountStep(
            destination=mount.destination, source=mount.source, fstype="",
            flags=flags & (k.MS_BIND | k.MS_REC),
            remount=(k.MS_BIND | k.MS_REMOUNT | extra) if extra else 0,
            propagation=opts.propagation, host_source=True,
        )]
    return [MountStep(
        destination=mount.destination, source=mount.source or mount.type,
        fstype=mount.type, flags=opts.flags, data=opts.data, propagation=opts.propagation,
    )]


def _plan_cgroup_mount(
    mount: Mount, flags: int, cgroup_paths: dict[str, str], cgroups_path: str,
    cgroup_ns: bool,
) -> list[MountStep]:
    """The container sees only its own cgroups: on v2 a cgroup2 mount (inside a cgroup
    namespace) or a bind of its directory; on v1 a tmpfs holding one bind per hierarchy,
    named like the host's mount points, made read-only at the end if asked."""
    bind_flags = flags & ~(k.MS_BIND | k.MS_REC | k.MS_REMOUNT)
    if "" in cgroup_paths:  # unified hierarchy
        if cgroup_ns:
            return [MountStep(destination=mount.destination, source="cgroup2",
                              fstype="cgroup2", flags=flags, cgroup=True)]
        return [MountStep(
            destination=mount.destination, source=cgroup_paths[""], fstype="",
            flags=k.MS_BIND | k.MS_REC,
            remount=k.MS_BIND | k.MS_REMOUNT | bind_flags, host_source=True, cgroup=True,
        )]
    steps = [MountStep(
        destination=mount.destination, source="tmpfs", fstype="tmpfs",
        flags=flags & ~k.MS_RDONLY, data="mode=755",
    )]
    suffix = "/" + cgroups_path.strip("/") if cgroups_path.strip("/") else ""
    for _controller, path in sorted(cgroup_paths.items()):
        hierarchy = path[: len(path) - len(suffix)] if suffix and path.endswith(suffix) else path
        name = os.path.basename(hierarchy.rstrip("/"))
        steps.append(MountStep(
            destination=mount.destination.rstrip("/") + "/" + name, source=path, fstype="",
            flags=k.MS_BIND | k.MS_REC,
            remount=k.MS_BIND | k.MS_REMOUNT | bind_flags, host_source=True, cgroup=True,
        ))
    if flags & k.MS_RDONLY:
        steps.append(MountStep(
            destination=mount.destination, source="", fstype="",
            flags=k.MS_REMOUNT | k.MS_BIND | bind_flags,
        ))
    return steps


def _plan_devices(devices: tuple[Device, ...], bind: bool = False
                  ) -> tuple[DeviceNode, ...]:
    out: dict[str, DeviceNode] = {}
    for path, type_, major, minor in DEFAULT_DEVICES:
        out[path] = DeviceNode(path=path, type=type_, major=major, minor=minor,
                               mode=0o666, uid=0, gid=0, bind=bind)
    for d in devices:
        if d.type not in _DEVICE_MODE:
            raise InvalidArgument(f"device {d.path}: unknown type {d.type!r}")
        out[d.path] = DeviceNode(
            path=d.path, type=d.type, major=d.major, minor=d.minor,
            mode=0o666 if d.file_mode is None else d.file_mode,
            uid=d.uid or 0, gid=d.gid or 0, bind=bind,
        )
    return tuple(out.values())


def device_mode(node: DeviceNode) -> int:
    return _DEVICE_MODE[node.type] | (node.mode & 0o7777)


def plan_personality(spec: Spec) -> int | None:
    """linux.personality's domain as personality(2) takes it; the init and every
    ``exec`` set it (validate refuses an unknown domain and any flag)."""
    personality = spec.linux.personality if spec.linux else None
    if personality is None or not personality.domain:
        return None
    return PERSONALITY_DOMAINS[personality.domain]


def plan_memory_policy(spec: Spec) -> tuple[int, tuple[int, ...]] | None:
    """linux.memoryPolicy as set_mempolicy(2) takes it (mode with its flags, node
    numbers); the init and every ``exec`` set it. None when it asks for nothing."""
    policy = spec.linux.memory_policy if spec.linux else None
    if policy is None or (policy.mode in ("", "MPOL_DEFAULT") and not policy.flags
                          and not policy.nodes):
        return None
    mode = MEMORY_POLICY_MODES[policy.mode or "MPOL_DEFAULT"]
    for flag in policy.flags:
        mode |= MEMORY_POLICY_FLAGS[flag]
    return mode, parse_node_list(policy.nodes)


def parse_node_list(text: str) -> tuple[int, ...]:
    """``0-3,7`` (the kernel's list format) as node numbers; "" is none."""
    nodes: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise InvalidArgument(f"linux.memoryPolicy.nodes: invalid list {text!r}")
        low, high = int(first), int(last) if dash else int(first)
        if high < low or high >= 1024:  # the kernel's largest MAX_NUMNODES
            raise InvalidArgument(f"linux.memoryPolicy.nodes: invalid range {part!r}")
        nodes.update(range(low, high + 1))
    return tuple(sorted(nodes))


def plan_process(process: Process | None, seccomp: Seccomp | None,
                 last_cap: int | None = None, personality: int | None = None,
                 memory_policy: tuple[int, tuple[int, ...]] | None = None) -> ProcessPlan:
    if process is None:
        raise InvalidArgument("config has no process")
    last = caps.last_cap() if last_cap is None else last_cap
    cap_masks = None
    if process.capabilities is not None:
        c = process.capabilities
        permitted = caps.mask(c.permitted, last)
        inheritable = caps.mask(c.inheritable, last)
        # The kernel raises an ambient capability only when it is both permitted and
        # inheritable; like runc, the others are left out rather than failing.
        cap_masks = (
            caps.mask(c.bounding, last), caps.mask(c.effective, last), permitted,
            inheritable, caps.mask(c.ambient, last) & permitted & inheritable,
        )
    user = process.user
    io_priority = process.io_priority
    scheduler = process.scheduler
    return ProcessPlan(
        args=process.args,
        env=process.env,
        cwd=process.cwd,
        uid=user.uid,
        gid=user.gid,
        groups=user.additional_gids,
        umask=user.umask,
        caps=cap_masks,
        rlimits=tuple((r.type, r.soft, r.hard) for r in process.rlimits),
        no_new_privs=process.no_new_privileges,
        seccomp=seccomp,
        oom_score_adj=process.oom_score_adj,
        terminal=process.terminal,
        console_size=(process.console_size.height, process.console_size.width)
        if process.console_size else None,
        io_priority=(IO_PRIORITY_CLASSES[io_priority.class_], io_priority.priority)
        if io_priority else None,
        scheduler=(SCHEDULER_POLICIES[scheduler.policy], scheduler.priority, scheduler.nice)
        if scheduler else None,
        personality=personality,
        memory_policy=memory_policy,
    )


def with_home(env: tuple[str, ...], uid: int, passwd: str) -> tuple[str, ...]:
    """runc's rule, which Docker users rely on: a process without a HOME gets the home
    directory of its uid in the container's /etc/passwd (the first entry for it), or /
    when there is none."""
    if any(e.startswith("HOME=") and len(e) > 5 for e in env):
        return env
    home = "/"
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) > 5 and fields[2].strip() == str(uid):
            home = fields[5]
            break
    return tuple(e for e in env if e != "HOME=") + (f"HOME={home}",)


def lookup_path(args0: str, env: tuple[str, ...], exists: Callable[[str], bool]) -> str | None:
    """Where ``args0`` is found in the container's $PATH, like execvp; ``exists`` says
    whether a path names an executable file."""
    if "/" in args0:
        return args0
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for entry in env:
        if entry.startswith("PATH="):
            path = entry[5:]
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", args0)
        if exists(candidate):
            return candidate
    return None
