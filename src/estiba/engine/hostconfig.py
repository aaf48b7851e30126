"""Docker's HostConfig into the OCI spec: what ``docker run``'s host options (limits,
mounts, capabilities, privileges, namespaces, init) change in config.json.

``apply`` is pure: the host facts it needs (whether a path exists, a device node's
numbers, the host's devices for ``--privileged``, where the init binary is) come from a
``Host``; ``LocalHost`` reads them from this machine. It returns the new spec and the
host directories a ``-v`` bind names that do not exist yet (Docker creates them);
``make_directories`` creates them. Messages are Docker's where it has one.
"""

from __future__ import annotations

import copy
import os
import stat
from dataclasses import dataclass
from typing import Any, Protocol

from estiba.engine.etcfiles import FILES
from estiba.engine.jsontypes import fits, mismatch
from estiba.errors import FailedPrecondition, InvalidArgument, Unimplemented
from estiba.kernel.capabilities import NAMES as ALL_CAPABILITIES
from estiba.oci.defaults import linux_mounts

MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses less (linuxMinMemory)
CPU_PERIOD = 100_000  # µs: the period --cpus sets, as Docker
INIT_PATH = "/sbin/docker-init"  # where Docker puts its init in the container
HOST_INIT = "/usr/bin/tini-static"  # Debian's tini, static: it runs in any rootfs
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
ULIMITS = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
           "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack")
# sysctls that live in a namespace of the container (runc's rule)
_NAMESPACED_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                       "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                       "kernel.shm_rmid_forced", "kernel.domainname", "kernel.hostname")
# host /dev entries a privileged container does not get (runc's HostDevices skips them)
_SKIPPED_DEV = ("pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev", "console")


@dataclass(frozen=True)
class HostDevice:
    """A device node of the host: ``type`` c or b, its numbers, mode bits and owner."""

    path: str
    type: str
    major: int
    minor: int
    mode: int
    uid: int
    gid: int


class Host(Protocol):
    """What ``apply`` needs to know about the host."""

    def exists(self, path: str) -> bool: ...

    def device(self, path: str) -> HostDevice | None:
        """The device node at ``path``; None when it is missing or not a device."""

    def devices(self) -> list[HostDevice]:
        """Every device node under /dev that a privileged container gets."""

    def init(self) -> str | None:
        """The host path of the init binary of ``--init``, None when missing."""

    def capabilities(self) -> tuple[str, ...]:
        """The capabilities the daemon may give (its bounding set): what
        ``--privileged`` and ``--cap-add ALL`` mean, as in Docker."""


class LocalHost:
    """This machine."""

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def device(self, path: str) -> HostDevice | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        if stat.S_ISCHR(st.st_mode):
            kind = "c"
        elif stat.S_ISBLK(st.st_mode):
            kind = "b"
        else:
            return None
        return HostDevice(path=path, type=kind, major=os.major(st.st_rdev),
                          minor=os.minor(st.st_rdev), mode=stat.S_IMODE(st.st_mode),
                          uid=st.st_uid, gid=st.st_gid)

    def devices(self) -> list[HostDevice]:
        found: list[HostDevice] = []
        for root, dirs, files in os.walk("/dev"):
            if root == "/dev":
                dirs[:] = [d for d in dirs if d not in _SKIPPED_DEV]
            for name in sorted(files):
                if root == "/dev" and name in _SKIPPED_DEV:
                    continue
                path = os.path.join(root, name)
                if os.path.islink(path):
                    continue
                node = self.device(path)
                if node is not None:
                    found.append(node)
        return found

    def init(self) -> str | None:
        return HOST_INIT if os.path.isfile(HOST_INIT) else None

    def capabilities(self) -> tuple[str, ...]:
        try:
            with open("/proc/self/status") as f:
                line = next(x for x in f if x.startswith("CapBnd:"))
        except (OSError, StopIteration):
            return ALL_CAPABILITIES
        bits = int(line.split()[1], 16)
        return tuple(c for n, c in enumerate(ALL_CAPABILITIES) if bits >> n & 1)


def make_directories(paths: tuple[str, ...] | list[str]) -> None:
    """Create the missing bind sources ``apply`` listed, as Docker does for ``-v``."""
    for path in paths:
        os.makedirs(path, mode=0o755, exist_ok=True)


def apply(spec: dict, host_config: dict, host: Host) -> tuple[dict, tuple[str, ...]]:
    """(``spec`` with ``host_config`` applied, the host directories to create for its
    binds); neither input is changed. Invalid values raise InvalidArgument."""
    if not isinstance(host_config, dict):
        raise InvalidArgument("HostConfig: not an object")
    hc = copy.deepcopy(host_config)
    spec = copy.deepcopy(spec)
    spec.setdefault("linux", {})
    spec["linux"].setdefault("resources", {})
    _namespaces(spec, hc)
    _resources(spec, hc)
    _process(spec, hc)
    _security(spec, hc, host)
    directories = _mounts(spec, hc, host)
    _init(spec, hc, host)
    return spec, directories


# --- values ----------------------------------------------------------------------------

def _field(hc: dict, key: str, go_type: str, empty: Any) -> Any:
    """``hc[key]``, ``empty`` when absent or null; of ``go_type`` or refused in Go's
    words."""
    value = hc.get(key)
    if value is None:
        return empty
    if not fits(value, go_type):
        raise mismatch(value, f"HostConfig.{key}", go_type)
    return value


def _int(hc: dict, key: str, default: int = 0) -> int:
    return _field(hc, key, "int64", default)


def _str(hc: dict, key: str) -> str:
    return _field(hc, key, "string", "")


def _list(hc: dict, key: str) -> list:
    return _field(hc, key, "array", [])


def _dict(hc: dict, key: str) -> dict:
    return _field(hc, key, "map", {})


# --- namespaces ------------------------------------------------------------------------

def _mode(hc: dict, key: str, allowed: tuple[str, ...]) -> str:
    mode = _str(hc, key)
    if mode.startswith("container:"):
        raise Unimplemented(f"{key} {mode!r}: joining another container's namespace is "
                            "not supported yet")
    if mode not in allowed:
        raise InvalidArgument(f"invalid {key}: {mode}")
    return mode


def _namespaces(spec: dict, hc: dict) -> None:
    dropped = set()
    if _str(hc, "NetworkMode") == "host":
        dropped.add("network")
    if _mode(hc, "PidMode", ("", "private", "host")) == "host":
        dropped.add("pid")
    if _mode(hc, "UTSMode", ("", "private", "host")) == "host":
        dropped.add("uts")
        spec.pop("hostname", None)  # the host's name shows
    ipc = _mode(hc, "IpcMode", ("", "private", "shareable", "host", "none"))
    if ipc == "host":
        dropped.add("ipc")
        _replace_mount(spec, {"destination": "/dev/shm", "type": "bind",
                              "source": "/dev/shm", "options": ["rbind", "rprivate"]})
    elif ipc == "none":
        spec["mounts"] = [m for m in spec.get("mounts", []) if m["destination"] != "/dev/shm"]
    spec["linux"]["namespaces"] = [n for n in spec["linux"].get("namespaces", [])
                                   if n.get("type") not in dropped]


# --- resources -------------------------------------------------------------------------

def _resources(spec: dict, hc: dict) -> None:
    spec["linux"]["resources"].update(resources(hc))


def resources(hc: dict) -> dict:
    """The OCI ``linux.resources`` (memory, cpu, pids, blockIO) of a HostConfig's
    limits: what create sets and ``docker update`` changes."""
    resources: dict = {}
    memory = _memory(hc)
    if memory:
        resources["memory"] = memory
    cpu = _cpu(hc)
    if cpu:
        resources["cpu"] = cpu
    if hc.get("PidsLimit") is not None:
        pids = _int(hc, "PidsLimit")
        resources["pids"] = {"limit": pids if pids > 0 else -1}
    weight = _int(hc, "BlkioWeight")
    if weight:
        if not 10 <= weight <= 1000:
            raise InvalidArgument("Range of blkio weight is from 10 to 1000")
        resources["blockIO"] = {"weight": weight}
    return resources


def _memory(hc: dict) -> dict:
    limit = _int(hc, "Memory")
    swap = _int(hc, "MemorySwap")
    reservation = _int(hc, "MemoryReservation")
    if limit != 0 and limit < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if limit > 0 and swap > 0 and swap < limit:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory "
                              "limit, see usage")
    if limit == 0 and swap > 0:
        raise InvalidArgument("You should always set the Memory limit when using "
                              "Memoryswap limit, see usage")
    if swap < -1:
        raise InvalidArgument(f"invalid memory swap limit {swap}: -1 (unlimited) or more")
    if reservation < 0 or 0 < reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if limit > 0 and reservation > limit:
        raise InvalidArgument("Minimum memory limit can not be less than memory "
                              "reservation limit, see usage")
    memory: dict[str, Any] = {}
    if limit:
        memory["limit"] = limit
        # Docker's default: as much swap again as memory
        memory["swap"] = swap if swap else 2 * limit
    elif swap == -1:
        memory["swap"] = -1
    if reservation:
        memory["reservation"] = reservation
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and _int(hc, "MemorySwappiness") != -1:
        if not 0 <= swappiness <= 100:
            raise InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness "
                                  "range is 0-100")
        memory["swappiness"] = swappiness
    oom_kill_disable = hc.get("OomKillDisable")
    if oom_kill_disable is not None:
        if not isinstance(oom_kill_disable, bool):
            raise InvalidArgument("json: cannot unmarshal into Go struct field "
                                  "HostConfig.OomKillDisable of type bool")
        if oom_kill_disable:
            memory["disableOOMKiller"] = True
    return memory


def _cpu(hc: dict) -> dict:
    nano = _int(hc, "NanoCpus")
    quota = _int(hc, "CpuQuota")
    period = _int(hc, "CpuPeriod")
    shares = _int(hc, "CpuShares")
    if nano < 0:
        raise InvalidArgument("Range of CPUs is from 0.01 to the number of CPUs")
    if nano and period:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both "
                              "be set")
    if nano and quota:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both "
                              "be set")
    if period and not 1000 <= period <= 1_000_000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or "
                              "larger than 1s (i.e. 1000000)")
    if 0 < quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if shares < 0:
        raise InvalidArgument(f"invalid CPU shares {shares}: must not be negative")
    cpu: dict[str, Any] = {}
    if shares:
        cpu["shares"] = shares
    if nano:
        cpu["period"] = CPU_PERIOD
        cpu["quota"] = nano * CPU_PERIOD // 1_000_000_000
    if quota:
        cpu["quota"] = quota
    if period:
        cpu["period"] = period
    for key, field in (("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
        value = _str(hc, key)
        if value:
            _check_cpuset(key, value)
            cpu[field] = value
    return cpu


def _check_cpuset(key: str, value: str) -> None:
    """``0-3,5``: Docker's list syntax."""
    for part in value.split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and (not high.isdigit() or int(high) < int(low))):
            what = "cpus" if key == "CpusetCpus" else "mems"
            raise InvalidArgument(f"Invalid value {value} for cpuset {what}")


# --- the process -----------------------------------------------------------------------

def _process(spec: dict, hc: dict) -> None:
    process = spec.setdefault("process", {})
    oom = _int(hc, "OomScoreAdj")
    if not -1000 <= oom <= 1000:
        raise InvalidArgument(f"Invalid value {oom}, range for oom score adj is "
                              "[-1000, 1000]")
    if oom:
        # left unset at 0: a process here may not lower what it inherits
        process["oomScoreAdj"] = oom
    groups = []
    for group in _list(hc, "GroupAdd"):
        if not isinstance(group, str | int) or not str(group).isdigit():
            raise InvalidArgument(f"group {group!r}: only numeric group ids for now "
                                  "(names need the container's /etc/group)")
        groups.append(int(group))
    if groups:
        user = process.setdefault("user", {"uid": 0, "gid": 0})
        user["additionalGids"] = list(dict.fromkeys(
            [*user.get("additionalGids", []), *groups]))
    rlimits = {r["type"]: r for r in process.get("rlimits", [])}
    for ulimit in _list(hc, "Ulimits"):
        if not isinstance(ulimit, dict):
            raise InvalidArgument(f"invalid ulimit: {ulimit!r}")
        name = ulimit.get("Name")
        soft, hard = ulimit.get("Soft"), ulimit.get("Hard")
        if name not in ULIMITS:
            raise InvalidArgument(f"invalid ulimit type: {name}")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (soft, hard)):
            raise InvalidArgument(f"invalid ulimit {name}: Soft and Hard must be integers")
        if soft > hard:
            raise InvalidArgument("ulimit soft limit must be less than or equal to hard "
                                  f"limit: {soft} > {hard}")
        kind = "RLIMIT_" + name.upper()
        rlimits[kind] = {"type": kind, "hard": hard, "soft": soft}
    if rlimits:
        process["rlimits"] = list(rlimits.values())


# --- security --------------------------------------------------------------------------

def _capability(name: Any, field: str) -> str:
    if not isinstance(name, str):
        raise InvalidArgument(f"invalid {field}: unknown capability: {name!r}")
    cap = name.upper()
    if cap == "ALL":
        return cap
    if not cap.startswith("CAP_"):
        cap = "CAP_" + cap
    if cap not in ALL_CAPABILITIES:
        raise InvalidArgument(f'invalid {field}: unknown capability: "{cap}"')
    return cap


def capabilities(base: list[str], add: list, drop: list, privileged: bool,
                 available: tuple[str, ...] = ALL_CAPABILITIES) -> list[str]:
    """Docker's capability set: ``base`` less ``drop`` plus ``add`` (either may name
    ``ALL``, with or without ``CAP_``, in any case); ``available`` (what the daemon
    may give) when privileged or for ``ALL``."""
    adds = [_capability(c, "CapAdd") for c in add]
    drops = [_capability(c, "CapDrop") for c in drop]
    if privileged:
        return list(available)
    if "ALL" in adds:
        caps = [c for c in available if c not in drops]
    elif "ALL" in drops:
        caps = [c for c in adds if c != "ALL"]
    else:
        caps = [c for c in base if c not in drops] + adds
    return list(dict.fromkeys(caps))


def _security(spec: dict, hc: dict, host: Host) -> None:
    process = spec["process"]
    linux = spec["linux"]
    privileged = hc.get("Privileged") or False
    if not isinstance(privileged, bool):
        raise InvalidArgument("json: cannot unmarshal into Go struct field "
                              "HostConfig.Privileged of type bool")
    current = process.get("capabilities") or {}
    caps = capabilities(list(current.get("bounding") or []), _list(hc, "CapAdd"),
                        _list(hc, "CapDrop"), privileged, host.capabilities())
    process["capabilities"] = {**current, "bounding": caps, "effective": list(caps),
                               "permitted": list(caps)}
    for opt in _list(hc, "SecurityOpt"):
        _security_opt(spec, opt)
    sysctls = _dict(hc, "Sysctls")
    for key, value in sysctls.items():
        if not isinstance(value, str):
            raise InvalidArgument(f"sysctl {key!r}: the value must be a string")
        if not (key.startswith(("net.", "fs.mqueue.")) or key in _NAMESPACED_SYSCTLS):
            raise InvalidArgument(f"sysctl {key!r} is not in a separate kernel namespace")
        if key.startswith("net.") and _str(hc, "NetworkMode") == "host":
            raise InvalidArgument(f"sysctl {key!r} not allowed in host network namespace")
    if sysctls:
        linux["sysctl"] = {**linux.get("sysctl", {}), **sysctls}
    rules = linux["resources"].setdefault("devices", [])
    devices = linux.setdefault("devices", [])
    if privileged:
        linux["maskedPaths"] = []
        linux["readonlyPaths"] = []
        for mount in spec.get("mounts", []):
            if mount.get("type") in ("sysfs", "cgroup", "cgroup2"):
                mount["options"] = [o for o in mount.get("options", []) if o != "ro"]
        devices.extend(_spec_device(d, d.path) for d in host.devices())
        rules.append({"allow": True, "access": "rwm"})
    for entry in _list(hc, "Devices"):
        node, target, access = _device(entry, host)
        devices.append(_spec_device(node, target))
        rules.append({"allow": True, "type": node.type, "major": node.major,
                      "minor": node.minor, "access": access})
    seen: dict[str, dict] = {}
    for device in devices:
        seen[device["path"]] = device  # a --device names a path the host list had too
    linux["devices"] = list(seen.values())
    if not linux["devices"]:
        del linux["devices"]


def _security_opt(spec: dict, opt: Any) -> None:
    if not isinstance(opt, str):
        raise InvalidArgument(f"invalid --security-opt: {opt!r}")
    if opt == "no-new-privileges":
        spec["process"]["noNewPrivileges"] = True
        return
    key, sep, value = opt.partition("=")
    if not sep:
        key, sep, value = opt.partition(":")
    if not sep:
        raise InvalidArgument(f'invalid --security-opt 1: "{opt}"')
    if key == "no-new-privileges":
        if value not in ("true", "false"):
            raise InvalidArgument(f"invalid --security-opt 2: {opt!r}: no-new-privileges "
                                  "takes true or false")
        spec["process"]["noNewPrivileges"] = value == "true"
    elif key == "systempaths" and value == "unconfined":
        spec["linux"]["maskedPaths"] = []
        spec["linux"]["readonlyPaths"] = []
    elif key in ("seccomp", "apparmor", "label"):
        # no seccomp profile, AppArmor or SELinux label is applied yet: nothing to relax
        return
    else:
        raise InvalidArgument(f'invalid --security-opt 2: "{opt}"')


def _device(entry: Any, host: Host) -> tuple[HostDevice, str, str]:
    """(the host node, its path in the container, the cgroup access) of a --device."""
    if not isinstance(entry, dict):
        raise InvalidArgument(f"invalid device: {entry!r}")
    source = entry.get("PathOnHost") or ""
    target = entry.get("PathInContainer") or source
    access = entry.get("CgroupPermissions") or "rwm"
    if not isinstance(source, str) or not source.startswith("/"):
        raise InvalidArgument(f"invalid device path on host: {source!r}")
    if not isinstance(target, str) or not target.startswith("/"):
        raise InvalidArgument(f"{target} is not an absolute path")
    if not isinstance(access, str) or not set(access) <= set("rwm"):
        raise InvalidArgument(f"invalid device mode: {access}")
    node = host.device(source)
    if node is None:
        reason = "not a device node" if host.exists(source) else \
            "no such file or directory"
        raise InvalidArgument("error gathering device information while adding custom "
                              f'device "{source}": {reason}')
    return node, target, access


def _spec_device(node: HostDevice, target: str) -> dict:
    return {"path": target, "type": node.type, "major": node.major, "minor": node.minor,
            "fileMode": node.mode, "uid": node.uid, "gid": node.gid}


# --- mounts ----------------------------------------------------------------------------

# what every container has mounted: not a user's bind, tmpfs or volume
STANDARD_MOUNTS = frozenset(m["destination"] for m in linux_mounts()) | {
    f"/etc/{name}" for name in FILES}


def _replace_mount(spec: dict, mount: dict) -> None:
    mounts = spec.setdefault("mounts", [])
    for i, existing in enumerate(mounts):
        if existing["destination"] == mount["destination"]:
            mounts[i] = mount
            return
    mounts.append(mount)


def _clean(path: str) -> str:
    return os.path.normpath(path) if path.startswith("/") else path


def _bind(spec_value: str) -> tuple[str, str, list[str]]:
    """(source, destination, options) of a ``Binds`` entry ``/src:/dst[:mode]``."""
    parts = spec_value.split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise InvalidArgument(f"invalid volume specification: '{spec_value}'")
    source, target = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 else []
    if not target.startswith("/"):
        raise InvalidArgument(f'invalid mount config for type "bind": invalid mount path: '
                              f"'{target}' mount path must be absolute")
    read_only = False
    propagation = "rprivate"
    for mode in modes:
        if mode in ("ro", "rw"):
            read_only = mode == "ro"
        elif mode in PROPAGATIONS:
            propagation = mode
        elif mode in ("z", "Z", "nocopy", "consistent", "cached", "delegated"):
            continue  # SELinux relabels and volume copies: nothing to do for a bind
        else:
            raise InvalidArgument(f"invalid mode: {parts[2]}")
    options = ["rbind", "ro"] if read_only else ["rbind"]
    return _clean(source), _clean(target), [*options, propagation]


def _mount(entry: Any, host: Host) -> dict | None:
    """The spec mount of a ``Mounts`` entry (bind or tmpfs; a volume is the engine's:
    None)."""
    if not isinstance(entry, dict):
        raise InvalidArgument(f"invalid mount: {entry!r}")
    kind = entry.get("Type") or ""
    source = entry.get("Source") or ""
    target = entry.get("Target") or ""

    def invalid(reason: str) -> InvalidArgument:
        return InvalidArgument(f'invalid mount config for type "{kind}": {reason}')

    if kind == "volume":
        return None
    if kind not in ("bind", "tmpfs"):
        raise invalid("mount type unknown")
    if not target:
        raise invalid("field Target must not be empty")
    if not isinstance(target, str) or not target.startswith("/"):
        raise invalid(f"invalid mount path: '{target}' mount path must be absolute")
    read_only = bool(entry.get("ReadOnly"))
    if kind == "bind":
        if not source:
            raise invalid("field Source must not be empty")
        if not isinstance(source, str) or not source.startswith("/"):
            raise invalid(f"invalid mount path: '{source}' mount path must be absolute")
        if not host.exists(source):
            raise invalid(f"bind source path does not exist: {source}")
        bind_options = entry.get("BindOptions") or {}
        propagation = bind_options.get("Propagation") or "rprivate"
        if propagation not in PROPAGATIONS:
            raise invalid(f"invalid propagation mode: {propagation}")
        options = ["bind" if bind_options.get("NonRecursive") else "rbind"]
        if read_only:
            options.append("ro")
        return {"destination": _clean(target), "type": "bind", "source": _clean(source),
                "options": [*options, propagation]}
    if source:
        raise invalid("field Source must not be specified")
    tmpfs = entry.get("TmpfsOptions") or {}
    options = ["noexec", "nosuid", "nodev"]
    if read_only:
        options.append("ro")
    size, mode = tmpfs.get("SizeBytes") or 0, tmpfs.get("Mode") or 0
    if not isinstance(size, int) or size < 0:
        raise invalid(f"invalid tmpfs size: {size!r}")
    if not isinstance(mode, int) or not 0 <= mode <= 0o7777:
        raise invalid(f"invalid tmpfs mode: {mode!r}")
    if size:
        options.append(f"size={size}")
    if mode:
        options.append(f"mode={mode:o}")
    return {"destination": _clean(target), "type": "tmpfs", "source": "tmpfs",
            "options": options}


def _mounts(spec: dict, hc: dict, host: Host) -> tuple[str, ...]:
    shm = _int(hc, "ShmSize")
    if shm < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    if shm:
        for mount in spec.get("mounts", []):
            if mount["destination"] == "/dev/shm" and mount.get("type") == "tmpfs":
                mount["options"] = [o for o in mount.get("options", [])
                                    if not o.startswith("size=")] + [f"size={shm}"]
    if hc.get("ReadonlyRootfs"):
        spec.setdefault("root", {})["readonly"] = True
    wanted: list[dict] = []
    directories: list[str] = []
    for entry in _list(hc, "Binds"):
        if not isinstance(entry, str):
            raise InvalidArgument(f"invalid volume specification: {entry!r}")
        if not entry.startswith("/"):
            continue  # a named volume: the engine's (engine/volumes.py)
        source, target, options = _bind(entry)
        if not host.exists(source):
            directories.append(source)
        wanted.append({"destination": target, "type": "bind", "source": source,
                       "options": options})
    wanted.extend(m for m in (_mount(entry, host) for entry in _list(hc, "Mounts"))
                  if m is not None)
    for target, value in _dict(hc, "Tmpfs").items():
        if not target.startswith("/"):
            raise InvalidArgument(f"invalid mount path: '{target}' mount path must be "
                                  "absolute")
        if not isinstance(value, str):
            raise InvalidArgument(f"tmpfs {target}: the options must be a string")
        extra = [o for o in value.split(",") if o]
        wanted.append({"destination": _clean(target), "type": "tmpfs", "source": "tmpfs",
                       "options": ["noexec", "nosuid", "nodev", *extra]})
    seen: set[str] = set()
    for mount in wanted:
        if mount["destination"] == "/":
            raise InvalidArgument("invalid specification: destination can't be '/'")
        if mount["destination"] in seen:
            raise InvalidArgument(f"Duplicate mount point: {mount['destination']}")
        seen.add(mount["destination"])
    # a parent before what is mounted under it
    for mount in sorted(wanted, key=lambda m: m["destination"].count("/")):
        _replace_mount(spec, mount)
    return tuple(dict.fromkeys(directories))


# --- init ------------------------------------------------------------------------------

def _init(spec: dict, hc: dict, host: Host) -> None:
    if not hc.get("Init"):
        return
    path = host.init()
    if path is None:
        raise FailedPrecondition(f"--init: no init binary on the host ({HOST_INIT}: "
                                 "install Debian's tini package)")
    spec["mounts"].append({"destination": INIT_PATH, "type": "bind", "source": path,
                           "options": ["bind", "ro"]})
    process = spec["process"]
    process["args"] = [INIT_PATH, "--", *process.get("args", [])]
