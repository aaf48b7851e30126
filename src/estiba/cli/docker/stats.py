"""``estiba top`` and ``estiba stats``: a container's processes as its ``ps`` lists
them, and the resource usage table of docker's ``container stats``.

A stats row is computed from one sample of ``GET /containers/{id}/stats`` as docker's
client computes it: CPU % from the change of the container's and the system's CPU time
between ``precpu_stats`` and ``cpu_stats``, times the online CPUs; memory without the
inactive file cache (``total_inactive_file`` on cgroup v1, ``inactive_file`` on v2);
network and block I/O summed over interfaces and devices."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from estiba.cli.docker.context import Context

STATS_FLAGS = (Flag("all", "a", help="Show all containers (default: the running ones)"),
               Flag("format", help="Format output with a template: table, table TEMPLATE, "
                                   "json or TEMPLATE", kind="string"),
               Flag("no-stream", help="Print the first sample and exit"),
               Flag("no-trunc", help="Print values in full, untruncated"))
FLAGS_OF = {"top": (), "stats": STATS_FLAGS}

TABLE = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
         "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")
HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME",
           "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
           "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
FRAME_SECONDS = 0.5  # docker redraws its live table twice a second
STALE_SECONDS = 2.0  # a container without a sample for this long shows dashes


# --- top -------------------------------------------------------------------------------

def tabulate(rows: list[list[str]], minwidth: int = 20, padding: int = 3) -> str:
    """text/tabwriter as ``top`` sets it up (minimum width 20, padding 3): each cell
    but a line's last padded to its column's width."""
    widths: list[int] = []
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            width = max(minwidth, len(cell) + padding)
            if i == len(widths):
                widths.append(width)
            elif width > widths[i]:
                widths[i] = width
    return "".join("".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1]))
                   + (row[-1] if row else "") + "\n" for row in rows)


def top(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.flags import count

    # what follows the container is ps's, flags included
    _, args = parse(argv, (), interspersed=False)
    count("top", args, 1, None)
    found = ctx.client.top(args[0], " ".join(args[1:]))
    rows = [list(found.get("Titles") or [])] + [list(p) for p in found.get("Processes") or ()]
    ctx.out.write(tabulate(rows))
    return 0


# --- stats -----------------------------------------------------------------------------

def cpu_percent(sample: Mapping) -> float:
    cpu = sample.get("cpu_stats") or {}
    pre = sample.get("precpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    cpu_delta = float(usage.get("total_usage") or 0) - float(
        (pre.get("cpu_usage") or {}).get("total_usage") or 0)
    system_delta = float(cpu.get("system_cpu_usage") or 0) - float(
        pre.get("system_cpu_usage") or 0)
    cpus = float(cpu.get("online_cpus") or 0) or float(len(usage.get("percpu_usage") or ()))
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * cpus * 100.0
    return 0.0


def memory_usage(memory: Mapping) -> float:
    """The usage without the inactive file cache, as docker counts it."""
    usage = int(memory.get("usage") or 0)
    stats = memory.get("stats") or {}
    if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:  # v1
        return float(usage - stats["total_inactive_file"])
    inactive = int(stats.get("inactive_file") or 0)
    if inactive < usage:
        return float(usage - inactive)
    return float(usage)


def block_io(blkio: Mapping) -> tuple[int, int]:
    read = written = 0
    for entry in blkio.get("io_service_bytes_recursive") or ():
        op = str(entry.get("op") or "")[:1]
        if op in ("r", "R"):
            read += int(entry.get("value") or 0)
        elif op in ("w", "W"):
            written += int(entry.get("value") or 0)
    return read, written


def network_io(networks: Mapping | None) -> tuple[int, int]:
    rx = tx = 0
    for counters in (networks or {}).values():
        rx += int(counters.get("rx_bytes") or 0)
        tx += int(counters.get("tx_bytes") or 0)
    return rx, tx


class StatsRow:
    """One line of ``stats``: the fields docker's stats formatter offers a template,
    in the order its ``json`` prints them."""

    __fields__ = ("BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name",
                  "NetIO", "PIDs")

    def __init__(self, container: str, sample: Mapping, trunc: bool = True,
                 valid: bool = True) -> None:
        from estiba.units import bytes_size, human_size

        self.Container = container
        cid = str(sample.get("id") or "")
        self.ID = cid[:12] if trunc else cid
        name = str(sample.get("name") or "")
        self.Name = name[1:] if len(name) > 1 else "--"
        if not valid:  # no sample of late: docker shows dashes, not stale numbers
            self.CPUPerc = self.MemPerc = self.NetIO = self.BlockIO = self.PIDs = "--"
            self.MemUsage = "-- / --"
            return
        self.CPUPerc = f"{cpu_percent(sample):.2f}%"
        memory = sample.get("memory_stats") or {}
        used = memory_usage(memory)
        limit = float(memory.get("limit") or 0)
        self.MemUsage = f"{bytes_size(used)} / {bytes_size(limit)}"
        self.MemPerc = f"{used / limit * 100.0 if limit else 0.0:.2f}%"
        rx, tx = network_io(sample.get("networks"))
        self.NetIO = f"{human_size(rx, 3)} / {human_size(tx, 3)}"
        read, written = block_io(sample.get("blkio_stats") or {})
        self.BlockIO = f"{human_size(read, 3)} / {human_size(written, 3)}"
        self.PIDs = str(int((sample.get("pids_stats") or {}).get("current") or 0))


StatsRow.__name__ = "*container.statsContext"  # the type docker's template errors name


def stats_format(fmt: str) -> str:
    return TABLE if fmt in ("", "table") else fmt


def render(fmt: str, rows: list[StatsRow]) -> str:
    from estiba.cli.docker.context import render_rows

    return render_rows(stats_format(fmt), rows, HEADERS)


def frame(table: str) -> str:
    """One redraw of the live table, byte for byte as docker 28 writes it: home, the
    table, then home and the table again with each line erased to its end (its
    println puts a space before the escape), then the rest of the screen erased."""
    text = "\033[H" + table
    return text + "".join(line + " \033[K\n" for line in text.split("\n")) + "\033[J"


def _targets(ctx: Context, names: list[str], all: bool) -> list[str]:
    if names:
        return names
    return [c["Id"][:12] for c in ctx.client.containers(all=all)]


def _sample(ctx: Context, name: str) -> dict:
    return ctx.client.stats(name, stream=False)  # type: ignore[return-value]


def stats(ctx: Context, argv: list[str]) -> int:
    from estiba.client.docker import DockerError

    opts, names = parse(argv, STATS_FLAGS)
    fmt = str(opts["format"] or "")
    trunc = not opts["no_trunc"]
    if opts["no_stream"]:
        rows: list[StatsRow] = []
        failed: list[str] = []
        for name in _targets(ctx, names, bool(opts["all"])):
            try:
                rows.append(StatsRow(name, _sample(ctx, name), trunc))
            except DockerError as err:
                failed.append(f"Error response from daemon: {err.message}")
        if failed:
            ctx.err.write("\n".join(failed) + "\n")
            return 1
        ctx.out.write(render(fmt, rows))
        return 0
    return _live(ctx, names, bool(opts["all"]), fmt, trunc)


def _live(ctx: Context, names: list[str], all: bool, fmt: str, trunc: bool) -> int:
    """Redraw the table twice a second from each container's stream of samples, read
    by a thread per container, until interrupted (or, without names or ``-a``, no
    container is left running). A container whose stream ended or fell silent for
    two seconds shows dashes, as with docker."""
    import threading
    import time

    from estiba.client.docker import DockerError

    latest: dict[str, dict] = {}  # the last sample of each container
    since: dict[str, float] = {}  # when it came (or the stream started)
    ended: set[str] = set()
    errors: dict[str, str] = {}
    lock = threading.Lock()

    def follow(name: str) -> None:
        try:
            for sample in ctx.client.stats(name, stream=True):  # type: ignore[union-attr]
                with lock:
                    latest[name] = sample
                    since[name] = time.monotonic()
        except DockerError as err:
            with lock:
                errors[name] = f"Error response from daemon: {err.message}"
        except Exception:  # noqa: BLE001 - the stream broke: shown as dashes
            pass
        with lock:
            ended.add(name)

    def watch(name: str) -> None:
        since[name] = time.monotonic()
        threading.Thread(target=follow, args=(name,), daemon=True).start()

    ctx.client.api_version  # noqa: B018 - negotiated once, before the threads ask
    watched = list(dict.fromkeys(_targets(ctx, names, all)))
    for name in watched:
        watch(name)
    try:
        while True:
            time.sleep(FRAME_SECONDS)
            now = time.monotonic()
            with lock:
                # docker draws once each container has a sample or has kept it
                # waiting too long
                if any(n not in latest and n not in ended and now - since[n] < STALE_SECONDS
                       for n in watched):
                    continue
                if names and errors:
                    ctx.err.write("\n".join(errors[n] for n in watched if n in errors)
                                  + "\n")
                    return 1
                rows = [StatsRow(n, latest.get(n, {}), trunc,
                                 valid=n not in ended and now - since[n] < STALE_SECONDS)
                        for n in watched]
            ctx.out.write(frame(render(fmt, rows)))
            ctx.out.flush()
            if not names:
                current = _targets(ctx, [], all)
                for name in current:
                    if name not in watched:
                        watch(name)
                watched = current
                if not watched and not all:
                    return 0
    except KeyboardInterrupt:
        return 130
