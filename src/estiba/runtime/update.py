"""``update``: change a container's cgroup limits, from a LinuxResources JSON (file or
stdin, which is how dockerd sends them) and/or runc's flags, and keep the new values in
the container's state so later calls see them."""

from __future__ import annotations

from estiba.errors import FailedPrecondition, InvalidArgument
from estiba.oci import state as oci_state
from estiba.oci.runtime_config import parse_resources
from estiba.runtime.validate import validate_resources

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.runtime.container import Container

_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

# runc's update flags: flag → (section, key, kind)
FLAGS = {
    "blkio_weight": ("blockIO", "weight", "int"),
    "cpu_period": ("cpu", "period", "int"),
    "cpu_quota": ("cpu", "quota", "int"),
    "cpu_rt_period": ("cpu", "realtimePeriod", "int"),
    "cpu_rt_runtime": ("cpu", "realtimeRuntime", "int"),
    "cpu_share": ("cpu", "shares", "int"),
    "cpuset_cpus": ("cpu", "cpus", "str"),
    "cpuset_mems": ("cpu", "mems", "str"),
    "memory": ("memory", "limit", "size"),
    "memory_reservation": ("memory", "reservation", "size"),
    "memory_swap": ("memory", "swap", "size"),
    "pids_limit": ("pids", "limit", "int"),
}


def parse_size(text: str) -> int:
    """Bytes from ``64m``, ``1g``, ``512k``, ``100`` or ``-1`` (unlimited)."""
    value = text.strip().lower()
    if value == "-1":
        return -1
    if value.endswith("b") and len(value) > 1 and value[-2] in _UNITS:
        value = value[:-1]
    unit = 1
    if value and value[-1] in _UNITS:
        unit = _UNITS[value[-1]]
        value = value[:-1]
    try:
        number = float(value)
    except ValueError:
        raise InvalidArgument(f"invalid size {text!r}") from None
    if number < 0:
        raise InvalidArgument(f"invalid size {text!r}")
    return int(number * unit)


def merge(base: dict, flags: dict[str, str]) -> dict:
    """The resources JSON with runc-style flags applied over it."""
    out = {key: dict(value) if isinstance(value, dict) else value for key, value in base.items()}
    for name, text in flags.items():
        if text is None:
            continue
        section, key, kind = FLAGS[name]
        if kind == "str":
            value: object = text
        elif kind == "size":
            value = parse_size(text)
        else:
            try:
                value = int(text)
            except ValueError:
                raise InvalidArgument(f"invalid value for --{name.replace('_', '-')}: "
                                      f"{text!r}") from None
        out.setdefault(section, {})[key] = value
    return out


def update(container: Container, resources_json: dict) -> None:
    container.require(oci_state.RUNNING, oci_state.PAUSED, oci_state.CREATED,
                      action="update")
    resources = parse_resources(resources_json)
    validate_resources(resources, "resources")
    cgroup = container.cgroup()
    memory = resources.memory
    if memory is not None and memory.check_before_update and memory.limit \
            and memory.limit > 0:
        usage = cgroup.stats().get("memory", {}).get("usage")
        if isinstance(usage, int) and usage > memory.limit:
            raise FailedPrecondition(
                f"resources.memory.limit {memory.limit}: below the container's memory "
                f"usage {usage} (resources.memory.checkBeforeUpdate)")
    cgroup.apply(resources)
    linux = container.config.setdefault("linux", {})
    stored = linux.setdefault("resources", {})
    for key, value in resources_json.items():
        if isinstance(value, dict) and isinstance(stored.get(key), dict):
            stored[key].update(value)
        else:
            stored[key] = value
    container.save()
