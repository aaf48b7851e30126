"""OCI ``linux.resources`` → the ordered cgroupfs file writes that set them (pure).

The managers execute these plans; nothing here touches the filesystem, so every rule of
the conversion is unit tested without root. Sources: runtime-spec config-linux.md
("Control groups" and its cgroup v2 conversion notes), the kernel's
admin-guide/cgroup-v1/*.rst and admin-guide/cgroup-v2.rst.

Conventions of the OCI config kept here: a field that is ``None`` is not written; as runc
does, ``0`` means "unset" for cpu shares, quota and period, for blkio weights and for the
memory limit, swap and reservation (Docker sends 0 for "not given": ``docker update
--pids-limit 5`` sends a memory limit of 0); ``-1`` means unlimited for memory values.
"""

from __future__ import annotations

from estiba.errors import InvalidArgument, Unavailable
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.oci.runtime_config import BlockIO, Cpu, DeviceRule, Memory, Resources


class Write(Record):
    """One write of ``value`` to ``file`` in the cgroup's directory of ``controller``.

    ``controller`` is the v1 hierarchy (by controller name) the file lives in; for v2 it
    is the controller the file belongs to, or ``""`` for the core ``cgroup.*`` files (there
    is one directory). ``optional``: skip it when the host lacks the file (swap accounting
    off). ``fallback``: a file written instead when ``file`` is missing (blkio weights live
    in ``blkio.bfq.*`` with the BFQ scheduler, in ``blkio.*`` with the old CFQ).
    """

    controller: str
    file: str
    value: str
    optional: bool = False
    fallback: str = ""


# v1 reports "unlimited" as the largest page-aligned counter; anything this large is it.
UNLIMITED_V1 = (1 << 63) - (1 << 20)

_V2_CONTROLLERS = ("cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc")


# --- cgroup v1 -----------------------------------------------------------------------


def plan_v1(resources: Resources) -> list[Write]:
    """The writes that apply ``resources`` to a v1 cgroup, in order.

    When both ``memory.limit_in_bytes`` and ``memory.memsw.limit_in_bytes`` are written,
    their order here is limit first; the executor calls ``order_v1`` with the current
    memsw limit to keep memsw >= limit at every step.
    """
    if resources.unified:
        raise InvalidArgument("unified resources need cgroup v2; this host uses cgroup v1")
    writes: list[Write] = []
    if resources.devices:
        writes.append(Write(controller="devices", file="devices.deny", value="a"))
        for rule in resources.devices:
            writes.append(Write(
                controller="devices",
                file="devices.allow" if rule.allow else "devices.deny",
                value=device_rule_v1(rule),
            ))
    if resources.memory is not None:
        writes += _memory_v1(resources.memory)
    if resources.cpu is not None:
        writes += _cpu_v1(resources.cpu)
    if resources.pids is not None:
        writes.append(Write(controller="pids", file="pids.max", value=_pids(resources.pids.limit)))
    if resources.block_io is not None:
        writes += _blkio_v1(resources.block_io)
    for hp in resources.hugepage_limits:
        size = _page_size(hp.page_size)
        writes.append(Write(controller="hugetlb", file=f"hugetlb.{size}.limit_in_bytes",
                            value=str(hp.limit)))
        writes.append(Write(controller="hugetlb", file=f"hugetlb.{size}.rsvd.limit_in_bytes",
                            value=str(hp.limit), optional=True))
    return writes


def device_rule_v1(rule: DeviceRule) -> str:
    """A rule as a line for devices.allow / devices.deny: ``c 1:5 rwm``, ``a``."""
    _check_device_rule(rule)
    if rule.type == "a":
        return "a"  # the kernel reads only the "a"; it means every device, every access
    return f"{rule.type} {_dev_number(rule.major)}:{_dev_number(rule.minor)} {rule.access}"


def _check_device_rule(rule: DeviceRule) -> None:
    if rule.type not in ("a", "b", "c"):
        raise InvalidArgument(f"device rule {rule.type!r}: type must be a, b or c")
    if not rule.access or rule.access.strip("rwm"):
        raise InvalidArgument(f"device rule access {rule.access!r}: must be made of r, w, m")


def _dev_number(n: int | None) -> str:
    return "*" if n is None or n < 0 else str(n)


def _given(m: Memory) -> Memory:
    """m with the limit, swap and reservation of 0 (not given) made None."""
    zero = {name: None for name in ("limit", "swap", "reservation") if getattr(m, name) == 0}
    return m.replace(**zero) if zero else m


def _memory_v1(m: Memory) -> list[Write]:
    out: list[Write] = []
    m = _given(m)
    swap = m.swap
    if m.limit == -1 and swap is None:
        # "unlimited memory" means unlimited memory+swap too, or the kernel refuses to
        # raise the limit above a memsw limit set earlier (runc does the same).
        swap = -1
    if m.limit is not None:
        out.append(Write(controller="memory", file="memory.limit_in_bytes", value=str(m.limit)))
    if swap is not None:
        out.append(Write(controller="memory", file="memory.memsw.limit_in_bytes",
                         value=str(swap), optional=True))
    if m.reservation is not None:
        out.append(Write(controller="memory", file="memory.soft_limit_in_bytes",
                         value=str(m.reservation)))
    if m.swappiness is not None:
        if not 0 <= m.swappiness <= 100:
            raise InvalidArgument(f"memory swappiness {m.swappiness}: must be 0 to 100")
        out.append(Write(controller="memory", file="memory.swappiness", value=str(m.swappiness)))
    if m.disable_oom_killer is not None:
        out.append(Write(controller="memory", file="memory.oom_control",
                         value="1" if m.disable_oom_killer else "0"))
    # kernel and kernel_tcp (memory.kmem.*) are deprecated and ignored, as runc does.
    return out


def memsw_first(current_memsw: int, limit: int) -> bool:
    """Whether memory.memsw.limit_in_bytes must be written before memory.limit_in_bytes.

    The kernel refuses any write that would leave limit > memsw. Writing the limit first
    is safe when the new limit fits under the current memsw limit; otherwise the new limit
    is above the current memsw >= current limit, so the new memsw (>= new limit) is above
    the current limit and writing memsw first is safe. -1 is unlimited.
    """
    return _v1_value(limit) > _v1_value(current_memsw)


def _v1_value(n: int) -> int:
    return UNLIMITED_V1 if n < 0 or n > UNLIMITED_V1 else n


def order_v1(writes: list[Write], current_memsw: int) -> list[Write]:
    """``writes`` with memory.limit_in_bytes and memory.memsw.limit_in_bytes in the order
    ``memsw_first`` picks for a cgroup whose memsw limit is ``current_memsw``."""
    files = [w.file for w in writes]
    if "memory.limit_in_bytes" not in files or "memory.memsw.limit_in_bytes" not in files:
        return list(writes)
    i = files.index("memory.limit_in_bytes")
    j = files.index("memory.memsw.limit_in_bytes")
    limit, memsw = writes[i], writes[j]
    if memsw_first(current_memsw, int(limit.value)) != (j < i):
        writes = list(writes)
        writes[i], writes[j] = memsw, limit
    return list(writes)


def _cpu_v1(c: Cpu) -> list[Write]:
    out: list[Write] = []
    if c.shares:
        out.append(Write(controller="cpu", file="cpu.shares", value=str(c.shares)))
    # the period first: the kernel checks a new quota against the period in force
    if c.period:
        out.append(Write(controller="cpu", file="cpu.cfs_period_us", value=str(c.period)))
    if c.quota:
        out.append(Write(controller="cpu", file="cpu.cfs_quota_us",
                         value=str(c.quota if c.quota > 0 else -1)))
    if c.realtime_period is not None:
        out.append(Write(controller="cpu", file="cpu.rt_period_us", value=str(c.realtime_period)))
    if c.realtime_runtime is not None:
        out.append(Write(controller="cpu", file="cpu.rt_runtime_us",
                         value=str(c.realtime_runtime)))
    if c.idle is not None:
        out.append(Write(controller="cpu", file="cpu.idle", value=str(c.idle)))
    if c.cpus:
        out.append(Write(controller="cpuset", file="cpuset.cpus", value=c.cpus))
    if c.mems:
        out.append(Write(controller="cpuset", file="cpuset.mems", value=c.mems))
    return out


def _pids(limit: int) -> str:
    return "max" if limit <= 0 else str(limit)


def _blkio_v1(b: BlockIO) -> list[Write]:
    out: list[Write] = []
    if b.weight:
        out.append(Write(controller="blkio", file="blkio.bfq.weight", value=str(_weight(b.weight)),
                         fallback="blkio.weight"))
    if b.leaf_weight:
        out.append(Write(controller="blkio", file="blkio.leaf_weight",
                         value=str(_weight(b.leaf_weight))))
    for wd in b.weight_device:
        if wd.weight:
            out.append(Write(controller="blkio", file="blkio.bfq.weight_device",
                             value=f"{wd.major}:{wd.minor} {_weight(wd.weight)}",
                             fallback="blkio.weight_device"))
        if wd.leaf_weight:
            out.append(Write(controller="blkio", file="blkio.leaf_weight_device",
                             value=f"{wd.major}:{wd.minor} {_weight(wd.leaf_weight)}"))
    for name, devices in (
        ("read_bps_device", b.throttle_read_bps_device),
        ("write_bps_device", b.throttle_write_bps_device),
        ("read_iops_device", b.throttle_read_iops_device),
        ("write_iops_device", b.throttle_write_iops_device),
    ):
        for t in devices:
            # one device per write: the kernel parses a single rule; rate 0 removes it
            out.append(Write(controller="blkio", file=f"blkio.throttle.{name}",
                             value=f"{t.major}:{t.minor} {t.rate}"))
    return out


def _weight(w: int) -> int:
    if not 10 <= w <= 1000:
        raise InvalidArgument(f"blkio weight {w}: must be 10 to 1000")
    return w


def _page_size(size: str) -> str:
    if not size or "/" in size or size.startswith("."):
        raise InvalidArgument(f"hugepage size {size!r}: not a page size like 2MB")
    return size


# --- cgroup v2 -----------------------------------------------------------------------


def plan_v2(resources: Resources) -> list[Write]:
    """The writes that apply ``resources`` to a v2 cgroup, in order.

    Device rules are not file writes on v2 (they are an eBPF program, see
    ``devicefilter``) and are left out. ``unified`` entries come last, so they win over
    the same file set from a typed field, as the runtime spec says.
    """
    writes: list[Write] = []
    for rule in resources.devices:
        _check_device_rule(rule)
    if resources.memory is not None:
        writes += _memory_v2(resources.memory)
    if resources.cpu is not None:
        writes += _cpu_v2(resources.cpu)
    if resources.pids is not None:
        writes.append(Write(controller="pids", file="pids.max", value=_pids(resources.pids.limit)))
    if resources.block_io is not None:
        writes += _io_v2(resources.block_io)
    for hp in resources.hugepage_limits:
        size = _page_size(hp.page_size)
        writes.append(Write(controller="hugetlb", file=f"hugetlb.{size}.max", value=str(hp.limit)))
        writes.append(Write(controller="hugetlb", file=f"hugetlb.{size}.rsvd.max",
                            value=str(hp.limit), optional=True))
    for key, value in resources.unified:
        writes.append(Write(controller=unified_controller(key), file=key, value=value))
    return writes


def unified_controller(key: str) -> str:
    """The controller a ``unified`` key belongs to ("" for core files); rejects a key that
    is not a plain file name in the cgroup's directory."""
    if not key or "/" in key or ".." in key or key.startswith(".") or "\0" in key:
        raise InvalidArgument(f"unified resource {key!r}: not a cgroup file name")
    prefix = key.split(".", 1)[0]
    return prefix if prefix in _V2_CONTROLLERS else ""


def _max(n: int) -> str:
    return "max" if n < 0 else str(n)


def _memory_v2(m: Memory) -> list[Write]:
    out: list[Write] = []
    m = _given(m)
    if m.swappiness is not None:
        raise Unavailable("memory swappiness is not supported on cgroup v2")
    if m.disable_oom_killer:
        raise Unavailable("disabling the oom killer is not supported on cgroup v2")
    swap = swap_v2(m.limit, m.swap)
    if swap is not None:
        # without swap accounting the file is missing; "max" or "0" then changes nothing
        out.append(Write(controller="memory", file="memory.swap.max", value=swap,
                         optional=swap in ("max", "0")))
    if m.limit is not None:
        out.append(Write(controller="memory", file="memory.max", value=_max(m.limit)))
    if m.reservation is not None:
        out.append(Write(controller="memory", file="memory.low", value=_max(m.reservation)))
    return out


def swap_v2(limit: int | None, swap: int | None) -> str | None:
    """memory.swap.max for the OCI memory+swap value ``swap``: the runtime spec's v2
    conversion is swap - limit (v2 limits swap alone, v1 limited memory plus swap)."""
    if swap is None:
        return "max" if limit == -1 else None
    if swap == -1:
        return "max"
    if limit is None or limit == -1:
        raise InvalidArgument("memory swap limit: needs a memory limit on cgroup v2")
    if swap < limit:
        raise InvalidArgument(
            f"memory swap limit {swap}: must be at least the memory limit {limit}")
    return str(swap - limit)


def cpu_weight(shares: int) -> int:
    """cpu.weight (1-10000) for v1 cpu.shares (2-262144), the runtime spec's conversion."""
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def io_weight(weight: int) -> int:
    """io.weight (1-10000) for v1 blkio.weight (10-1000), the runtime spec's conversion."""
    return 1 + (_weight(weight) - 10) * 9999 // 990


def _cpu_v2(c: Cpu) -> list[Write]:
    out: list[Write] = []
    if c.realtime_period or c.realtime_runtime:
        raise Unavailable("realtime cpu scheduling is not supported on cgroup v2")
    if c.shares:
        out.append(Write(controller="cpu", file="cpu.weight", value=str(cpu_weight(c.shares))))
    if c.quota or c.period:
        quota = str(c.quota) if c.quota and c.quota > 0 else "max"
        # without a period the kernel keeps the one in force (100000 unless changed)
        out.append(Write(controller="cpu", file="cpu.max",
                         value=f"{quota} {c.period}" if c.period else quota))
    if c.idle is not None:
        out.append(Write(controller="cpu", file="cpu.idle", value=str(c.idle)))
    if c.cpus:
        out.append(Write(controller="cpuset", file="cpuset.cpus", value=c.cpus))
    if c.mems:
        out.append(Write(controller="cpuset", file="cpuset.mems", value=c.mems))
    return out


def _io_v2(b: BlockIO) -> list[Write]:
    out: list[Write] = []
    if b.leaf_weight or any(wd.leaf_weight for wd in b.weight_device):
        raise Unavailable("blkio leaf weights are not supported on cgroup v2")
    if b.weight:
        out.append(Write(controller="io", file="io.weight", value=f"default {io_weight(b.weight)}"))
    for wd in b.weight_device:
        if wd.weight:
            out.append(Write(controller="io", file="io.weight",
                             value=f"{wd.major}:{wd.minor} {io_weight(wd.weight)}"))
    for key, devices in (
        ("rbps", b.throttle_read_bps_device),
        ("wbps", b.throttle_write_bps_device),
        ("riops", b.throttle_read_iops_device),
        ("wiops", b.throttle_write_iops_device),
    ):
        for t in devices:
            out.append(Write(controller="io", file="io.max",
                             value=f"{t.major}:{t.minor} {key}={t.rate or 'max'}"))
    return out
