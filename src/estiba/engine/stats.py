"""``docker stats`` and ``docker top`` (pure): a container's cgroup counters as Docker's
stats JSON (the CLI computes CPU % from ``cpu_stats`` against ``precpu_stats`` and the
host's ``system_cpu_usage``, memory as usage less inactive file pages), and ``ps``
output cut down to the container's processes."""

from __future__ import annotations

from estiba.errors import InvalidArgument

ZERO_TIME = "0001-01-01T00:00:00Z"
CLOCK_TICKS = 100  # USER_HZ: /proc/stat counts in 1/100 s on Linux


def system_cpu_ns(proc_stat: str) -> int:
    """The host's CPU time (ns) from /proc/stat's ``cpu`` line: user to steal, as
    Docker counts it."""
    for line in proc_stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            return sum(int(f) for f in fields[1:9]) * (1_000_000_000 // CLOCK_TICKS)
    raise InvalidArgument("/proc/stat: no cpu line")


def mem_total(meminfo: str) -> int:
    """MemTotal of /proc/meminfo, in bytes: the limit shown when there is none."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def empty_cpu() -> dict:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                          "usage_in_usermode": 0},
            "system_cpu_usage": 0, "online_cpus": 0,
            "throttling_data": {"periods": 0, "throttled_periods": 0,
                                "throttled_time": 0}}


def sample(metrics: dict | None, *, name: str, id: str, read: str, system_cpu: int,
           online_cpus: int, memory_total: int, previous: dict | None = None) -> dict:
    """One stats object; ``metrics`` the task's (``tasks.metrics``: the cgroup's
    counters), None for a container that is not running (zeros, as Docker);
    ``previous`` the last object sent on this stream (its ``cpu_stats`` become
    ``precpu_stats``)."""
    pre = previous or {}
    out: dict = {
        "read": read if metrics is not None else ZERO_TIME,
        "preread": pre.get("read") or ZERO_TIME,
        "pids_stats": {}, "blkio_stats": {"io_service_bytes_recursive": None,
                                          "io_serviced_recursive": None,
                                          "io_queue_recursive": None,
                                          "io_service_time_recursive": None,
                                          "io_wait_time_recursive": None,
                                          "io_merged_recursive": None,
                                          "io_time_recursive": None,
                                          "sectors_recursive": None},
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": empty_cpu(), "precpu_stats": pre.get("cpu_stats") or empty_cpu(),
        "memory_stats": {}, "name": name, "id": id,
    }
    if metrics is None:
        return out
    cpu = metrics.get("cpu") or {}
    out["cpu_stats"] = {
        "cpu_usage": {"total_usage": cpu.get("usage_ns", 0),
                      "usage_in_kernelmode": cpu.get("system_ns", 0),
                      "usage_in_usermode": cpu.get("user_ns", 0)},
        "system_cpu_usage": system_cpu, "online_cpus": online_cpus,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }
    pids = metrics.get("pids") or {}
    out["pids_stats"] = {"current": pids.get("current", 0)}
    if pids.get("limit") is not None:
        out["pids_stats"]["limit"] = pids["limit"]
    memory = metrics.get("memory")
    if memory is not None:
        limit = memory.get("limit")
        out["memory_stats"] = {
            "usage": memory.get("usage", 0),
            "stats": dict(memory.get("stat") or {}),
            "limit": limit if limit is not None and limit < memory_total else memory_total,
        }
        if memory.get("max_usage") is not None:
            out["memory_stats"]["max_usage"] = memory["max_usage"]
    return out


def top(ps_output: str, pids: set[int]) -> dict:
    """``{"Titles", "Processes"}`` of ``ps`` output (a header, then a row per process)
    keeping the rows of ``pids``; InvalidArgument when it has no PID column (Docker's
    "Couldn't find PID field in ps output")."""
    lines = [line for line in ps_output.splitlines() if line.strip()]
    if not lines:
        raise InvalidArgument("ps: no output")
    titles = lines[0].split()
    try:
        column = titles.index("PID")
    except ValueError as err:
        raise InvalidArgument("Couldn't find PID field in ps output") from err
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        try:
            pid = int(fields[column])
        except (IndexError, ValueError):
            continue
        if pid in pids:
            processes.append(fields)
    return {"Titles": titles, "Processes": processes}
