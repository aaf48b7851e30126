"""The OCI runtime spec's config.json as typed records, and its parser.

Spec: opencontainers/runtime-spec config.md and config-linux.md (schema in
``specs/oci-runtime-schema``). ``parse_config`` checks the shape the schema gives (types,
required fields) and reports the first problem with its JSON path; the rules between
fields (absolute paths, known namespace types ...) are checked by the runtime's
validation, which knows what this host supports.
"""

from __future__ import annotations

from estiba.errors import InvalidArgument
from estiba.oci.json_fields import Fields, kind
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ConsoleSize(Record):
    height: int
    width: int


class User(Record):
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: tuple[int, ...] = ()
    username: str = ""


class Capabilities(Record):
    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


class IOPriority(Record):
    class_: str  # IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE
    priority: int = 0


class Scheduler(Record):
    policy: str  # SCHED_OTHER ...
    nice: int = 0
    priority: int = 0
    flags: tuple[str, ...] = ()
    runtime: int = 0
    deadline: int = 0
    period: int = 0


class ExecCPUAffinity(Record):
    initial: str = ""
    final: str = ""


class Rlimit(Record):
    type: str
    hard: int
    soft: int


class Process(Record):
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    cwd: str = "/"
    terminal: bool = False
    console_size: ConsoleSize | None = None
    user: User = User()
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    oom_score_adj: int | None = None
    apparmor_profile: str = ""
    selinux_label: str = ""
    io_priority: IOPriority | None = None
    scheduler: Scheduler | None = None
    exec_cpu_affinity: ExecCPUAffinity | None = None


class Root(Record):
    path: str
    readonly: bool = False


class Mount(Record):
    destination: str
    type: str = ""
    source: str = ""
    options: tuple[str, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()  # an id-mapped mount
    gid_mappings: tuple[IDMapping, ...] = ()


class Hook(Record):
    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None


class Hooks(Record):
    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()


class Namespace(Record):
    type: str
    path: str = ""


class IDMapping(Record):
    container_id: int
    host_id: int
    size: int


class Device(Record):
    type: str
    path: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


class DeviceRule(Record):
    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"


class Memory(Record):
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = None
    swappiness: int | None = None
    disable_oom_killer: bool | None = None
    use_hierarchy: bool | None = None
    check_before_update: bool | None = None


class Cpu(Record):
    shares: int | None = None
    quota: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str = ""
    mems: str = ""
    idle: int | None = None
    burst: int | None = None


class Pids(Record):
    limit: int


class WeightDevice(Record):
    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


class ThrottleDevice(Record):
    major: int
    minor: int
    rate: int


class BlockIO(Record):
    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: tuple[WeightDevice, ...] = ()
    throttle_read_bps_device: tuple[ThrottleDevice, ...] = ()
    throttle_write_bps_device: tuple[ThrottleDevice, ...] = ()
    throttle_read_iops_device: tuple[ThrottleDevice, ...] = ()
    throttle_write_iops_device: tuple[ThrottleDevice, ...] = ()


class HugepageLimit(Record):
    page_size: str
    limit: int


class InterfacePriority(Record):
    name: str
    priority: int


class Network(Record):
    class_id: int | None = None
    priorities: tuple[InterfacePriority, ...] = ()


class Rdma(Record):
    hca_handles: int | None = None
    hca_objects: int | None = None


class Resources(Record):
    devices: tuple[DeviceRule, ...] = ()
    memory: Memory | None = None
    cpu: Cpu | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = None
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    network: Network | None = None
    rdma: tuple[tuple[str, Rdma], ...] = ()  # device name → limits
    unified: tuple[tuple[str, str], ...] = ()


class SeccompArg(Record):
    index: int
    value: int
    op: str
    value_two: int = 0


class SeccompRule(Record):
    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[SeccompArg, ...] = ()


class Seccomp(Record):
    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    listener_path: str = ""
    listener_metadata: str = ""
    syscalls: tuple[SeccompRule, ...] = ()


class Personality(Record):
    domain: str = ""  # LINUX or LINUX32; "" leaves the caller's
    flags: tuple[str, ...] = ()


class TimeOffset(Record):
    clock: str  # boottime or monotonic
    secs: int = 0
    nanosecs: int = 0


class MemoryPolicy(Record):
    mode: str = ""
    nodes: str = ""
    flags: tuple[str, ...] = ()


class Linux(Record):
    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    devices: tuple[Device, ...] = ()
    cgroups_path: str = ""
    resources: Resources | None = None
    rootfs_propagation: str = ""
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    mount_label: str = ""
    sysctl: tuple[tuple[str, str], ...] = ()
    seccomp: Seccomp | None = None
    personality: Personality | None = None
    intel_rdt: bool = False
    net_devices: tuple[tuple[str, str], ...] = ()  # host interface → name inside ("": same)
    time_offsets: tuple[TimeOffset, ...] = ()
    memory_policy: MemoryPolicy | None = None


class Spec(Record):
    oci_version: str
    root: Root | None = None
    process: Process | None = None
    hostname: str = ""
    domainname: str = ""
    mounts: tuple[Mount, ...] = ()
    hooks: Hooks = Hooks()
    annotations: tuple[tuple[str, str], ...] = ()
    linux: Linux | None = None


# --- parsing -------------------------------------------------------------------------

def parse_config(data: Any) -> Spec:
    """Parse a decoded config.json into a ``Spec``; raise ``InvalidArgument`` naming the
    JSON path of the first problem."""
    f = Fields(data, "")
    hooks = f.obj("hooks")
    root = f.obj("root")
    process = f.obj("process")
    linux = f.obj("linux")
    return Spec(
        oci_version=f.str("ociVersion", required=True),
        root=Root(path=root.str("path", required=True), readonly=root.bool("readonly"))
        if root else None,
        process=_process(process) if process else None,
        hostname=f.str("hostname"),
        domainname=f.str("domainname"),
        mounts=tuple(_mount(m) for m in f.items("mounts")),
        hooks=_hooks(hooks) if hooks else Hooks(),
        annotations=f.string_map("annotations"),
        linux=_linux(linux) if linux else None,
    )


def parse_process(data: Any, path: str = "process") -> Process:
    """Parse a process object, as ``exec --process`` receives it."""
    return _process(Fields(data, path))


def parse_resources(data: Any, path: str = "resources") -> Resources:
    """Parse a LinuxResources object, as ``update --resources`` receives it."""
    return _resources(Fields(data, path))


def _process(f: Fields) -> Process:
    user = f.obj("user")
    caps = f.obj("capabilities")
    size = f.obj("consoleSize")
    ioprio = f.obj("ioPriority")
    sched = f.obj("scheduler")
    affinity = f.obj("execCPUAffinity")
    return Process(
        args=f.strings("args"),
        env=f.strings("env"),
        cwd=f.str("cwd", required=True),
        terminal=f.bool("terminal"),
        console_size=ConsoleSize(
            height=size.int("height", required=True, low=0),
            width=size.int("width", required=True, low=0),
        ) if size else None,
        user=User(
            uid=user.int("uid", 0, low=0, high=0xFFFFFFFF),
            gid=user.int("gid", 0, low=0, high=0xFFFFFFFF),
            umask=user.int("umask", None, low=0, high=0o7777),
            additional_gids=user.ints("additionalGids"),
            username=user.str("username"),
        ) if user else User(),
        capabilities=Capabilities(
            bounding=caps.strings("bounding"),
            effective=caps.strings("effective"),
            inheritable=caps.strings("inheritable"),
            permitted=caps.strings("permitted"),
            ambient=caps.strings("ambient"),
        ) if caps else None,
        rlimits=tuple(
            Rlimit(
                type=r.str("type", required=True),
                hard=r.int("hard", required=True, low=0),
                soft=r.int("soft", required=True, low=0),
            )
            for r in f.items("rlimits")
        ),
        no_new_privileges=f.bool("noNewPrivileges"),
        oom_score_adj=f.int("oomScoreAdj", None, low=-1000, high=1000),
        apparmor_profile=f.str("apparmorProfile"),
        selinux_label=f.str("selinuxLabel"),
        io_priority=IOPriority(
            class_=ioprio.str("class", required=True),
            priority=ioprio.int("priority", 0, low=-(1 << 31), high=(1 << 31) - 1),
        ) if ioprio else None,
        scheduler=Scheduler(
            policy=sched.str("policy", required=True),
            nice=sched.int("nice", 0, low=-(1 << 31), high=(1 << 31) - 1),
            priority=sched.int("priority", 0, low=-(1 << 31), high=(1 << 31) - 1),
            flags=sched.strings("flags"),
            runtime=sched.int("runtime", 0, low=0),
            deadline=sched.int("deadline", 0, low=0),
            period=sched.int("period", 0, low=0),
        ) if sched else None,
        exec_cpu_affinity=ExecCPUAffinity(
            initial=affinity.str("initial"), final=affinity.str("final"),
        ) if affinity else None,
    )


def _mount(f: Fields) -> Mount:
    return Mount(
        destination=f.str("destination", required=True),
        type=f.str("type"),
        source=f.str("source"),
        options=f.strings("options"),
        uid_mappings=_id_mappings(f, "uidMappings"),
        gid_mappings=_id_mappings(f, "gidMappings"),
    )


def _hook_list(f: Fields, key: str) -> tuple[Hook, ...]:
    return tuple(
        Hook(
            path=h.str("path", required=True),
            args=h.strings("args"),
            env=h.strings("env"),
            timeout=h.int("timeout", None, low=1),
        )
        for h in f.items(key)
    )


def _hooks(f: Fields) -> Hooks:
    return Hooks(
        prestart=_hook_list(f, "prestart"),
        create_runtime=_hook_list(f, "createRuntime"),
        create_container=_hook_list(f, "createContainer"),
        start_container=_hook_list(f, "startContainer"),
        poststart=_hook_list(f, "poststart"),
        poststop=_hook_list(f, "poststop"),
    )


def _id_mappings(f: Fields, key: str) -> tuple[IDMapping, ...]:
    return tuple(
        IDMapping(
            container_id=m.int("containerID", required=True, low=0, high=0xFFFFFFFF),
            host_id=m.int("hostID", required=True, low=0, high=0xFFFFFFFF),
            size=m.int("size", required=True, low=0, high=0xFFFFFFFF),
        )
        for m in f.items(key)
    )


def _linux(f: Fields) -> Linux:
    resources = f.obj("resources")
    seccomp = f.obj("seccomp")
    personality = f.obj("personality")
    memory_policy = f.obj("memoryPolicy")
    return Linux(
        namespaces=tuple(
            Namespace(type=n.str("type", required=True), path=n.str("path"))
            for n in f.items("namespaces")
        ),
        uid_mappings=_id_mappings(f, "uidMappings"),
        gid_mappings=_id_mappings(f, "gidMappings"),
        devices=tuple(
            Device(
                type=d.str("type", required=True),
                path=d.str("path", required=True),
                major=d.int("major", 0),
                minor=d.int("minor", 0),
                file_mode=d.int("fileMode", None, low=0, high=0o7777),
                uid=d.int("uid", None, low=0, high=0xFFFFFFFF),
                gid=d.int("gid", None, low=0, high=0xFFFFFFFF),
            )
            for d in f.items("devices")
        ),
        cgroups_path=f.str("cgroupsPath"),
        resources=_resources(resources) if resources else None,
        rootfs_propagation=f.str("rootfsPropagation"),
        masked_paths=f.strings("maskedPaths"),
        readonly_paths=f.strings("readonlyPaths"),
        mount_label=f.str("mountLabel"),
        sysctl=f.string_map("sysctl"),
        seccomp=_seccomp(seccomp) if seccomp else None,
        personality=Personality(domain=personality.str("domain"),
                                flags=personality.strings("flags")) if personality else None,
        intel_rdt=f.has("intelRdt"),
        net_devices=tuple((name, d.str("name")) for name, d in _object_map(f, "netDevices")),
        time_offsets=tuple(
            TimeOffset(clock=clock, secs=t.int("secs", 0),
                       nanosecs=t.int("nanosecs", 0, low=0, high=0xFFFFFFFF))
            for clock, t in _object_map(f, "timeOffsets")
        ),
        memory_policy=MemoryPolicy(
            mode=memory_policy.str("mode"),
            nodes=memory_policy.str("nodes"),
            flags=memory_policy.strings("flags"),
        ) if memory_policy else None,
    )


def _resources(f: Fields) -> Resources:
    memory = f.obj("memory")
    cpu = f.obj("cpu")
    pids = f.obj("pids")
    block_io = f.obj("blockIO")
    network = f.obj("network")
    return Resources(
        devices=tuple(
            DeviceRule(
                allow=_required_bool(d, "allow"),
                type=d.str("type", "a") or "a",
                major=d.int("major", None),
                minor=d.int("minor", None),
                access=d.str("access", "rwm") or "rwm",
            )
            for d in f.items("devices")
        ),
        memory=Memory(
            limit=memory.int("limit"),
            reservation=memory.int("reservation"),
            swap=memory.int("swap"),
            kernel=memory.int("kernel"),
            kernel_tcp=memory.int("kernelTCP"),
            swappiness=memory.int("swappiness", None, low=0),
            disable_oom_killer=_optional_bool(memory, "disableOOMKiller"),
            use_hierarchy=_optional_bool(memory, "useHierarchy"),
            check_before_update=_optional_bool(memory, "checkBeforeUpdate"),
        ) if memory else None,
        cpu=Cpu(
            shares=cpu.int("shares", None, low=0),
            quota=cpu.int("quota"),
            period=cpu.int("period", None, low=0),
            realtime_runtime=cpu.int("realtimeRuntime"),
            realtime_period=cpu.int("realtimePeriod", None, low=0),
            cpus=cpu.str("cpus"),
            mems=cpu.str("mems"),
            idle=cpu.int("idle"),
            burst=cpu.int("burst", None, low=0),
        ) if cpu else None,
        pids=Pids(limit=pids.int("limit", required=True)) if pids else None,
        block_io=BlockIO(
            weight=block_io.int("weight", None, low=0, high=1000),
            leaf_weight=block_io.int("leafWeight", None, low=0, high=1000),
            weight_device=tuple(
                WeightDevice(
                    major=w.int("major", required=True),
                    minor=w.int("minor", required=True),
                    weight=w.int("weight", None, low=0, high=1000),
                    leaf_weight=w.int("leafWeight", None, low=0, high=1000),
                )
                for w in block_io.items("weightDevice")
            ),
            throttle_read_bps_device=_throttle(block_io, "throttleReadBpsDevice"),
            throttle_write_bps_device=_throttle(block_io, "throttleWriteBpsDevice"),
            throttle_read_iops_device=_throttle(block_io, "throttleReadIOPSDevice"),
            throttle_write_iops_device=_throttle(block_io, "throttleWriteIOPSDevice"),
        ) if block_io else None,
        hugepage_limits=tuple(
            HugepageLimit(page_size=h.str("pageSize", required=True),
                          limit=h.int("limit", required=True))
            for h in f.items("hugepageLimits")
        ),
        network=Network(
            class_id=network.int("classID", None, low=0, high=0xFFFFFFFF),
            priorities=tuple(
                InterfacePriority(name=p.str("name", required=True),
                                  priority=p.int("priority", required=True, low=0,
                                                 high=0xFFFFFFFF))
                for p in network.items("priorities")
            ),
        ) if network else None,
        rdma=tuple(
            (device, Rdma(
                hca_handles=limits.int("hcaHandles", None, low=0, high=0xFFFFFFFF),
                hca_objects=limits.int("hcaObjects", None, low=0, high=0xFFFFFFFF),
            ))
            for device, limits in _object_map(f, "rdma")
        ),
        unified=f.string_map("unified"),
    )


def _throttle(f: Fields, key: str) -> tuple[ThrottleDevice, ...]:
    return tuple(
        ThrottleDevice(
            major=t.int("major", required=True),
            minor=t.int("minor", required=True),
            rate=t.int("rate", required=True, low=0),
        )
        for t in f.items(key)
    )


def _object_map(f: Fields, key: str) -> list[tuple[str, Fields]]:
    """The entries of a map whose values are objects (``netDevices``, ``rdma`` ...)."""
    value = f.obj(key)
    if value is None:
        return []
    return [(name, Fields(item, value.at(name))) for name, item in value.data.items()]


def _optional_bool(f: Fields, key: str) -> bool | None:
    return f.bool(key) if f.has(key) else None


def _required_bool(f: Fields, key: str) -> bool:
    value = f.required(key)
    if not isinstance(value, bool):
        raise InvalidArgument(f"{f.at(key)}: expected a boolean, got {kind(value)}")
    return value


def _seccomp(f: Fields) -> Seccomp:
    return Seccomp(
        default_action=f.str("defaultAction", required=True),
        default_errno_ret=f.int("defaultErrnoRet", None, low=0),
        architectures=f.strings("architectures"),
        flags=f.strings("flags"),
        listener_path=f.str("listenerPath"),
        listener_metadata=f.str("listenerMetadata"),
        syscalls=tuple(
            SeccompRule(
                names=s.strings("names") or _missing_names(s),
                action=s.str("action", required=True),
                errno_ret=s.int("errnoRet", None, low=0),
                args=tuple(
                    SeccompArg(
                        index=a.int("index", required=True, low=0, high=5),
                        value=a.int("value", required=True, low=0),
                        value_two=a.int("valueTwo", 0, low=0),
                        op=a.str("op", required=True),
                    )
                    for a in s.items("args")
                ),
            )
            for s in f.items("syscalls")
        ),
    )


def _missing_names(f: Fields) -> tuple[str, ...]:
    raise InvalidArgument(f"{f.at('names')}: required, with at least one syscall")
