"""Rules between the fields of a config, checked before anything is made (runc's
``configs/validate``). Each failure names the field. A feature this runtime does not
offer is refused here (``Unimplemented``: "linux.X is not supported") rather than
silently ignored; tests/unit/runtime/test_config_fields.py holds every field of the
schema to that.

Accepted without effect, by definition: ``process.commandLine`` and
``process.user.username`` (Windows only), ``process.execCPUAffinity`` of the init (the
spec applies it to ``exec`` only), ``linux.resources.memory.kernel`` (deprecated; the
spec lets runtimes ignore it, as runc does, and cgroup v2 has no such limit),
``linux.resources.memory.useHierarchy: true`` (memory accounting is always hierarchical
since Linux 5.x, and on cgroup v2) and ``checkBeforeUpdate`` at create (a new cgroup has
no usage to check against; ``update`` checks it).
"""

from __future__ import annotations

from estiba.errors import InvalidArgument, Unimplemented
from estiba.kernel import capabilities
from estiba.kernel.consts import NAMESPACE_FLAGS
from estiba.kernel.linux import RLIMITS
from estiba.runtime.plan import (
    IO_PRIORITY_CLASSES,
    MEMORY_POLICY_FLAGS,
    MEMORY_POLICY_MODES,
    PERSONALITY_DOMAINS,
    SCHEDULER_POLICIES,
    parse_node_list,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.oci.runtime_config import (
        Linux,
        MemoryPolicy,
        Process,
        Resources,
        Scheduler,
        Spec,
    )

# Known to the spec, refused here: SCHED_DEADLINE needs sched_setattr(2), which this
# runtime does not call; SCHED_ISO is not in mainline Linux.
_UNSUPPORTED_POLICIES = frozenset(("SCHED_DEADLINE", "SCHED_ISO"))


def validate(spec: Spec, bundle: str) -> None:
    if spec.root is None:
        raise InvalidArgument("root: required")
    if spec.process is None:
        raise InvalidArgument("process: required")
    validate_process(spec.process, init=True)
    linux = spec.linux
    if linux is None:
        raise InvalidArgument("linux: required on this platform")
    seen: set[str] = set()
    for ns in linux.namespaces:
        if ns.type == "time":
            raise Unimplemented("linux.namespaces: time namespaces are not supported")
        if ns.type not in NAMESPACE_FLAGS:
            raise InvalidArgument(f"linux.namespaces: unknown namespace type {ns.type!r}")
        if ns.type in seen:
            raise InvalidArgument(f"linux.namespaces: duplicate namespace {ns.type!r}")
        seen.add(ns.type)
        if ns.path and not ns.path.startswith("/"):
            raise InvalidArgument(f"linux.namespaces: path of {ns.type} must be absolute")
    _validate_user_namespace(linux, seen)
    if "mount" not in seen:
        raise Unimplemented("a container without a mount namespace is not supported")
    if spec.hostname and "uts" not in seen:
        raise InvalidArgument("hostname: needs a private uts namespace")
    if spec.domainname and "uts" not in seen:
        raise InvalidArgument("domainname: needs a private uts namespace")
    for key, _ in linux.sysctl:
        if key.startswith("net.") and "network" not in seen:
            raise InvalidArgument(f"linux.sysctl: {key} needs a private network namespace")
        if "/" in key or ".." in key:
            raise InvalidArgument(f"linux.sysctl: invalid key {key!r}")
    for i, mount in enumerate(spec.mounts):
        if not mount.destination.startswith("/"):
            raise InvalidArgument(f"mounts[{i}].destination: must be absolute, "
                                  f"got {mount.destination!r}")
        if mount.uid_mappings or mount.gid_mappings:
            key = "uidMappings" if mount.uid_mappings else "gidMappings"
            raise Unimplemented(f"mounts[{i}].{key}: id-mapped mounts are not supported")
    _validate_linux_features(linux)
    if linux.resources is not None:
        validate_resources(linux.resources)
    if linux.cgroups_path and ":" in linux.cgroups_path:
        raise Unimplemented(f"systemd cgroup paths are not supported: {linux.cgroups_path}")
    hooks = spec.hooks
    for kind in hooks.__fields__:
        for hook in getattr(hooks, kind):
            if not hook.path.startswith("/"):
                raise InvalidArgument(f"hooks.{kind}: path must be absolute: {hook.path!r}")


def _validate_linux_features(linux: Linux) -> None:
    """What ``linux`` may ask that this runtime does not do."""
    personality = linux.personality
    if personality is not None and personality.flags:
        # the spec defines no flag yet
        raise Unimplemented("linux.personality.flags is not supported")
    if personality is not None and personality.domain \
            and personality.domain not in PERSONALITY_DOMAINS:
        raise InvalidArgument(f"linux.personality.domain: unknown domain "
                              f"{personality.domain!r}")
    if linux.intel_rdt:
        raise Unimplemented("linux.intelRdt is not supported")
    if linux.net_devices:
        raise Unimplemented("linux.netDevices is not supported")
    if linux.time_offsets:
        raise Unimplemented("linux.timeOffsets is not supported (nor time namespaces)")
    if linux.memory_policy is not None:
        _validate_memory_policy(linux.memory_policy)
    if linux.mount_label:
        raise Unimplemented("linux.mountLabel is not supported: no SELinux labels are set")
    seccomp = linux.seccomp
    if seccomp is not None and seccomp.listener_path:
        raise Unimplemented("linux.seccomp.listenerPath is not supported (seccomp notify)")
    if seccomp is not None and seccomp.listener_metadata:
        raise Unimplemented("linux.seccomp.listenerMetadata is not supported "
                            "(seccomp notify)")


def _validate_memory_policy(policy: MemoryPolicy) -> None:
    """The spec's rules and set_mempolicy(2)'s: which modes need nodes, which take none."""
    mode = policy.mode or "MPOL_DEFAULT"
    if mode not in MEMORY_POLICY_MODES:
        raise InvalidArgument(f"linux.memoryPolicy.mode: unknown mode {policy.mode!r}")
    for flag in policy.flags:
        if flag not in MEMORY_POLICY_FLAGS:
            raise InvalidArgument(f"linux.memoryPolicy.flags: unknown flag {flag!r}")
    nodes = parse_node_list(policy.nodes)
    if mode in ("MPOL_DEFAULT", "MPOL_LOCAL"):
        if nodes or policy.flags:
            raise InvalidArgument(f"linux.memoryPolicy: {mode} takes no nodes or flags")
    elif mode != "MPOL_PREFERRED" and not nodes:
        raise InvalidArgument(f"linux.memoryPolicy.nodes: {mode} needs nodes")
    if {"MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"} <= set(policy.flags):
        raise InvalidArgument("linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and "
                              "MPOL_F_RELATIVE_NODES exclude each other")


def validate_resources(resources: Resources, where: str = "linux.resources") -> None:
    """The resources this runtime's cgroup managers cannot set, refused by name (at
    create, and by ``update``). What one cgroup version alone lacks is refused when the
    manager plans its writes (``estiba.cgroups.resources``)."""
    memory = resources.memory
    if memory is not None:
        if memory.kernel_tcp:  # 0, as Docker sends for "not given", asks nothing
            raise Unimplemented(f"{where}.memory.kernelTCP is not supported")
        if memory.use_hierarchy is False:
            raise Unimplemented(f"{where}.memory.useHierarchy: false is not supported: "
                                "memory accounting is always hierarchical")
    if resources.cpu is not None and resources.cpu.burst:
        raise Unimplemented(f"{where}.cpu.burst is not supported")
    network = resources.network
    if network is not None and (network.class_id is not None or network.priorities):
        raise Unimplemented(f"{where}.network is not supported")
    if resources.rdma:
        raise Unimplemented(f"{where}.rdma is not supported")


def _validate_user_namespace(linux: Linux, seen: set[str]) -> None:
    """runc's rules: mappings need a new user namespace, a new one needs both."""
    namespaces = {ns.type: ns.path for ns in linux.namespaces}
    uids, gids = linux.uid_mappings, linux.gid_mappings
    if "user" not in seen:
        if uids or gids:
            raise InvalidArgument("linux.uidMappings: user namespaces are not enabled "
                                  "in linux.namespaces")
        return
    if namespaces["user"]:
        if uids or gids:
            raise InvalidArgument("linux.uidMappings: a joined user namespace has its "
                                  "own mappings")
        return
    if not uids or not gids:
        raise InvalidArgument("linux.uidMappings: user namespaces are enabled, but "
                              f"no {'uid' if not uids else 'gid'} mappings found")
    for name, mappings in (("uidMappings", uids), ("gidMappings", gids)):
        # the kernel takes 340 lines of a map (5 before linux 4.15) that must not overlap
        if len(mappings) > 340:
            raise InvalidArgument(f"linux.{name}: more than 340 mappings")
        inside = sorted((m.container_id, m.container_id + m.size) for m in mappings)
        outside = sorted((m.host_id, m.host_id + m.size) for m in mappings)
        for m in mappings:
            if m.size <= 0 or m.container_id < 0 or m.host_id < 0 \
                    or max(m.container_id, m.host_id) + m.size > 1 << 32:
                raise InvalidArgument(f"linux.{name}: invalid mapping {m.container_id} "
                                      f"{m.host_id} {m.size}")
        for ranges in (inside, outside):
            for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
                if start < end:
                    raise InvalidArgument(f"linux.{name}: mappings overlap")


def validate_process(process: Process, where: str = "process", *, init: bool = False) -> None:
    """``init``: the container's own process, rather than one ``exec`` starts."""
    if not process.args:
        raise InvalidArgument(f"{where}.args: must not be empty")
    if not process.cwd.startswith("/"):
        raise InvalidArgument(f"{where}.cwd: must be an absolute path, got {process.cwd!r}")
    if process.capabilities is not None:
        c = process.capabilities
        for name in (*c.bounding, *c.effective, *c.inheritable, *c.permitted, *c.ambient):
            capabilities.number(name)
    seen: set[str] = set()
    for r in process.rlimits:
        if r.type not in RLIMITS:
            raise InvalidArgument(f"{where}.rlimits: unknown limit {r.type!r}")
        if r.type in seen:
            raise InvalidArgument(f"{where}.rlimits: duplicate limit {r.type!r}")
        if r.soft > r.hard:
            raise InvalidArgument(f"{where}.rlimits: soft {r.type} is above the hard one")
        seen.add(r.type)
    for entry in process.env:
        if "=" not in entry:
            raise InvalidArgument(f"{where}.env: {entry!r} is not NAME=value")
    # "unconfined" asks for no profile, which is what every container gets
    if process.apparmor_profile not in ("", "unconfined"):
        raise Unimplemented(f"{where}.apparmorProfile is not supported: no AppArmor "
                            f"profile is applied ({process.apparmor_profile!r})")
    if process.selinux_label:
        raise Unimplemented(f"{where}.selinuxLabel is not supported: no SELinux labels "
                            "are set")
    io_priority = process.io_priority
    if io_priority is not None:
        if io_priority.class_ not in IO_PRIORITY_CLASSES:
            raise InvalidArgument(f"{where}.ioPriority.class: unknown class "
                                  f"{io_priority.class_!r}")
        if not 0 <= io_priority.priority <= 7:
            raise InvalidArgument(f"{where}.ioPriority.priority: {io_priority.priority} "
                                  "is not 0 to 7")
    if process.scheduler is not None:
        _validate_scheduler(process.scheduler, f"{where}.scheduler")
    if process.exec_cpu_affinity is not None and not init:
        affinity = process.exec_cpu_affinity
        if affinity.initial or affinity.final:
            raise Unimplemented(f"{where}.execCPUAffinity is not supported")


def _validate_scheduler(scheduler: Scheduler, where: str) -> None:
    policy = scheduler.policy
    if policy in _UNSUPPORTED_POLICIES:
        raise Unimplemented(f"{where}.policy: {policy} is not supported")
    if policy not in SCHEDULER_POLICIES:
        raise InvalidArgument(f"{where}.policy: unknown policy {policy!r}")
    if scheduler.flags:
        raise Unimplemented(f"{where}.flags is not supported")
    for name in ("runtime", "deadline", "period"):
        if getattr(scheduler, name):
            raise Unimplemented(f"{where}.{name} is not supported (it is for SCHED_DEADLINE)")
    if not -20 <= scheduler.nice <= 19:
        raise InvalidArgument(f"{where}.nice: {scheduler.nice} is not -20 to 19")
    realtime = policy in ("SCHED_FIFO", "SCHED_RR")
    if realtime and not 1 <= scheduler.priority <= 99:
        raise InvalidArgument(f"{where}.priority: {policy} needs 1 to 99, "
                              f"got {scheduler.priority}")
    if not realtime and scheduler.priority:
        raise InvalidArgument(f"{where}.priority: {policy} takes 0, "
                              f"got {scheduler.priority}")
