"""``events``: a container's resource usage and OOM kills as a stream of JSON lines, in
runc's shape (``{"type": "stats"|"oom", "id": ..., "data": ...}``).

``stats_event`` turns the cgroup's counters (``CgroupManager.stats``) into runc's stats
document; ``watch`` polls the cgroup: a stats line every interval, an ``oom`` line as
soon as the OOM killer's count grows, until the container stops.
"""

from __future__ import annotations

import time

from estiba.errors import FailedPrecondition
from estiba.oci import state as oci_state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.runtime.container import Container

# how often the OOM counter is read between two stats lines
OOM_POLL = 0.1


def stats_data(stats: dict[str, dict[str, object]]) -> dict[str, object]:
    """runc's ``types.Stats`` from the cgroup's counters (absent controllers: absent
    sections; limits the cgroup does not set: left out, as runc's omitempty does)."""
    data: dict[str, object] = {}
    cpu = stats.get("cpu")
    if cpu is not None:
        usage: dict[str, object] = {"total": cpu.get("usage_ns", 0)}
        if "user_ns" in cpu:
            usage["kernel"] = cpu.get("system_ns", 0)
            usage["user"] = cpu["user_ns"]
        data["cpu"] = {"usage": usage, "throttling": {}}
    memory = stats.get("memory")
    if memory is not None:
        raw = dict(memory.get("stat") or {})  # type: ignore[call-overload]
        entry: dict[str, object] = {"usage": memory.get("usage", 0)}
        if memory.get("max_usage") is not None:
            entry["max"] = memory["max_usage"]
        if memory.get("limit") is not None:
            entry["limit"] = memory["limit"]
        # v1 names its page cache "cache", v2 "file"
        data["memory"] = {"cache": raw.get("cache", raw.get("file", 0)), "usage": entry,
                          "raw": raw}
    pids = stats.get("pids")
    if pids is not None:
        entry = {"current": pids.get("current", 0)}
        if pids.get("limit") is not None:
            entry["limit"] = pids["limit"]
        data["pids"] = entry
    data["blkio"] = {}
    data["hugetlb"] = {}
    return data


def stats_event(container_id: str, stats: dict[str, dict[str, object]]) -> dict[str, object]:
    return {"type": "stats", "id": container_id, "data": stats_data(stats)}


def oom_kills(stats: dict[str, dict[str, object]]) -> int:
    return int((stats.get("memory") or {}).get("oom_kills", 0))  # type: ignore[call-overload]


def watch(container: Container, interval: float, emit: Callable[[dict], None], *,
          once: bool = False, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> None:
    """Emit stats every ``interval`` seconds (once, with ``once``) and an ``oom`` event
    when the container's OOM-kill count grows, until it stops."""
    if container.status() == oci_state.STOPPED:
        raise FailedPrecondition(f"container {container.id} is not running")
    cgroup = container.cgroup()
    stats = cgroup.stats()
    if once:
        emit(stats_event(container.id, stats))
        return
    kills = oom_kills(stats)
    due = clock()
    while True:
        if clock() >= due:
            emit(stats_event(container.id, stats))
            due += interval
        sleep(min(OOM_POLL, max(0.0, due - clock())))
        if container.status() == oci_state.STOPPED:
            return
        stats = cgroup.stats()
        now = oom_kills(stats)
        if now > kills:
            emit({"type": "oom", "id": container.id})
        kills = now
