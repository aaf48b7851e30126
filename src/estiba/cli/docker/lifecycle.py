"""The container verbs that change or read one state: ``stop``, ``restart``, ``kill``,
``pause``, ``unpause``, ``wait``, ``rename``, ``update``, ``port`` and
``container prune``, as docker's ``container`` commands do them.

A verb naming several containers acts on each in the order given, prints each name as
given once done, and reports the daemon's refusals after the names, exiting 1 if any.
The pure parts (flag values as pflag reads them, ``update``'s request, ``port``'s
lines, ``prune``'s report) are functions of their inputs, unit-tested."""

from __future__ import annotations

from estiba.cli.docker.context import each
from estiba.cli.docker.flags import (
    Flag,
    between,
    count,
    exact,
    filters,
    int_value,
    parse,
    value_error,
)
from estiba.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from estiba.cli.docker.context import Context

_TIMEOUT = Flag("timeout", "t", help="Seconds to allow before the container is killed",
                kind="int")
# docker keeps the old name of -t as a hidden, deprecated alias
_TIME = Flag("time", help="Seconds to allow before the container is killed (deprecated)",
             kind="int", hidden=True)
_SIGNAL = Flag("signal", "s", help="Signal the container receives", kind="string")
STOP_FLAGS = (_TIMEOUT, _TIME, _SIGNAL)
KILL_FLAGS = (_SIGNAL,)
UPDATE_FLAGS = (
    Flag("blkio-weight", help="Block IO weight, 10 to 1000, or 0 to disable",
         kind="uint16"),
    Flag("cpu-period", help="CPU CFS period", kind="int"),
    Flag("cpu-quota", help="CPU CFS quota", kind="int"),
    Flag("cpu-rt-period", help="Real-time CPU period (microseconds)", kind="int"),
    Flag("cpu-rt-runtime", help="Real-time CPU runtime (microseconds)", kind="int"),
    Flag("cpu-shares", "c", help="Relative CPU weight (shares)", kind="int"),
    Flag("cpus", help="How many CPUs the container may use", kind="decimal"),
    Flag("cpuset-cpus", help="CPUs the container may run on (0-3, 0,1)", kind="string"),
    Flag("cpuset-mems", help="Memory nodes the container may use (0-3, 0,1)",
         kind="string"),
    Flag("memory", "m", help="Hard memory limit", kind="bytes"),
    Flag("memory-reservation", help="Soft memory limit (reservation)", kind="bytes"),
    Flag("memory-swap", help="Memory plus swap limit; -1 for unlimited swap",
         kind="bytes"),
    Flag("pids-limit", help="Process limit (-1 for unlimited)", kind="int"),
    Flag("restart", help="Restart policy once the container exits", kind="string"),
)
PRUNE_FLAGS = (Flag("filter", repeat=True, help='Filter to apply (e.g. "until=<timestamp>")',
                    kind="filter"),
               Flag("force", "f", help="Remove without asking for confirmation"))

FLAGS_OF = {"stop": STOP_FLAGS, "restart": STOP_FLAGS, "kill": KILL_FLAGS, "pause": (),
            "unpause": (), "wait": (), "rename": (), "update": UPDATE_FLAGS, "port": (),
            "prune": PRUNE_FLAGS}


# --- flag values as pflag reads them -------------------------------------------------

def _flag(flags: tuple[Flag, ...], key: str) -> Flag:
    return next(f for f in flags if f.key == key)


def flag_value(flag: Flag, text: str) -> object:
    """A flag's text converted as ``run`` converts a flag of its kind (docker's
    ``update`` and ``stop`` share run's value types), pflag's error if it does not."""
    try:
        if flag.kind == "int":
            return int_value(flag, text)
        if flag.kind == "uint16":
            from estiba.cli.docker.gonumbers import go_uint

            return go_uint(text, 16)
        if flag.kind == "bytes":
            from estiba.units import ram_in_bytes

            if flag.name == "memory-swap" and text == "-1":  # MemSwapBytes: unlimited
                return -1
            return ram_in_bytes(text)
        if flag.kind == "decimal":
            from estiba.cli.docker.runvalues import nano_cpus

            return nano_cpus(text)
    except ValueError as err:
        raise value_error(flag, text, str(err)) from None
    return text


class CommandError(InvalidArgument):
    """The command cannot go on; ``str()`` is docker's line, printed as it is, status 1
    (``context.run``)."""


# --- stop, restart, kill, pause, unpause, wait -----------------------------------------

def _stop_options(ctx: Context, argv: list[str], command: str
                  ) -> tuple[int | None, str, list[str]]:
    opts, names = parse(argv, STOP_FLAGS)
    if opts["time"] is not None:  # cobra warns on stdout as it parses, before any check
        ctx.out.write("Flag --time has been deprecated, use --timeout instead\n")
    count(command, names, 1, None)
    timeout = None
    for key in ("time", "timeout"):
        if opts[key] is not None:
            timeout = flag_value(_flag(STOP_FLAGS, key), str(opts[key]))  # type: ignore[assignment]
    return timeout, str(opts["signal"] or ""), names


def stop(ctx: Context, argv: list[str]) -> int:
    timeout, signal, names = _stop_options(ctx, argv, "stop")
    return each(ctx, names, lambda n: ctx.client.stop(n, timeout, signal))


def restart(ctx: Context, argv: list[str]) -> int:
    timeout, signal, names = _stop_options(ctx, argv, "restart")
    return each(ctx, names, lambda n: ctx.client.restart(n, timeout, signal))


def kill(ctx: Context, argv: list[str]) -> int:
    opts, names = parse(argv, KILL_FLAGS)
    count("kill", names, 1, None)
    signal = str(opts["signal"] or "")
    return each(ctx, names, lambda n: ctx.client.kill(n, signal))


def pause(ctx: Context, argv: list[str]) -> int:
    _, names = parse(argv, ())
    count("pause", names, 1, None)
    return each(ctx, names, ctx.client.pause)


def unpause(ctx: Context, argv: list[str]) -> int:
    _, names = parse(argv, ())
    count("unpause", names, 1, None)
    return each(ctx, names, ctx.client.unpause)


def wait(ctx: Context, argv: list[str]) -> int:
    _, names = parse(argv, ())
    count("wait", names, 1, None)
    # one after the other, as docker waits; each one's status rather than its name
    return each(ctx, names, ctx.client.wait,
                lambda _, result: str(result.get("StatusCode", 0)))  # type: ignore[attr-defined]


def rename(ctx: Context, argv: list[str]) -> int:
    from estiba.client.docker import DockerError

    _, args = parse(argv, ())
    exact("rename", args, 2)
    old, new = args[0].strip(), args[1].strip()
    if not old or not new:
        ctx.err.write("Error: Neither old nor new names may be empty\n")
        return 1
    try:
        ctx.client.rename(old, new)
    except DockerError as err:
        ctx.err.write(f"Error response from daemon: {err.message}\n"
                      f"Error: failed to rename container named {old}\n")
        return 1
    return 0


# --- update ----------------------------------------------------------------------------

_RESOURCES = {  # flag key -> the Resources field it sets
    "blkio_weight": "BlkioWeight", "cpu_period": "CpuPeriod", "cpu_quota": "CpuQuota",
    "cpu_rt_period": "CpuRealtimePeriod", "cpu_rt_runtime": "CpuRealtimeRuntime",
    "cpu_shares": "CpuShares", "cpus": "NanoCpus", "cpuset_cpus": "CpusetCpus",
    "cpuset_mems": "CpusetMems", "memory": "Memory",
    "memory_reservation": "MemoryReservation", "memory_swap": "MemorySwap",
    "pids_limit": "PidsLimit",
}


def update_body(opts: Mapping[str, object]) -> dict[str, object]:
    """The body of ``POST /containers/{id}/update`` for the flags given: only the
    fields they name, so that the daemon leaves the others as they are."""
    from estiba.cli.docker.runopts import ConfigError
    from estiba.cli.docker.runvalues import restart_policy

    body: dict[str, object] = {}
    for key, field in _RESOURCES.items():
        text = opts.get(key)
        if text is not None:
            body[field] = flag_value(_flag(UPDATE_FLAGS, key), str(text))
    if opts.get("restart") is not None:
        try:
            body["RestartPolicy"] = restart_policy(str(opts["restart"]))
        except ConfigError as err:
            raise CommandError(str(err)) from None
    return body


def update(ctx: Context, argv: list[str]) -> int:
    from estiba.client.docker import DockerError

    opts, names = parse(argv, UPDATE_FLAGS)
    count("update", names, 1, None)
    body = update_body(opts)
    if not body:
        ctx.err.write("you must provide one or more flags when using this command\n")
        return 1
    failed: list[str] = []
    warnings: list[str] = []
    for name in names:
        try:
            reply = ctx.client.update_container(name, body) or {}
        except DockerError as err:
            failed.append(f"Error response from daemon: {err.message}")
            continue
        ctx.out.write(name + "\n")
        warnings.extend(reply.get("Warnings") or ())
    if warnings:
        ctx.out.write("\n".join(warnings) + "\n")
    if failed:
        ctx.err.write("\n".join(failed) + "\n")
        return 1
    return 0


# --- port ------------------------------------------------------------------------------

def port_lines(ports: Mapping[str, list[Mapping[str, str]] | None] | None,
               container: str, wanted: str = "") -> list[str]:
    """``port``'s output for a container's NetworkSettings.Ports: every mapping as
    ``80/tcp -> 0.0.0.0:8080``, or the host addresses of ``wanted`` (``80``,
    ``80/udp``), in natural order."""
    from estiba.cli.docker.output import join_host_port, natural_key

    ports = ports or {}
    lines: list[str] = []
    if wanted:
        number, _, proto = wanted.partition("/")
        try:
            value = int(number, 10) if number.isdigit() else int("x")
        except ValueError:
            raise CommandError(f"Error: invalid port ({number}): strconv.ParseUint: parsing "
                            f'"{number}": invalid syntax') from None
        if value > 65535:
            raise CommandError(f"Error: invalid port ({number}): strconv.ParseUint: parsing "
                            f'"{number}": value out of range')
        bindings = ports.get(f"{number}/{proto or 'tcp'}") or []
        if not bindings:
            raise CommandError(f"Error: No public port '{wanted}' published for {container}")
        lines = [join_host_port(b.get("HostIp", ""), b.get("HostPort", ""))
                 for b in bindings]
    else:
        for private, bindings in ports.items():
            lines.extend(f"{private} -> "
                         f"{join_host_port(b.get('HostIp', ''), b.get('HostPort', ''))}"
                         for b in bindings or ())
    return sorted(lines, key=natural_key)


def port(ctx: Context, argv: list[str]) -> int:
    _, args = parse(argv, ())
    between("port", args, 1, 2)
    found = ctx.client.inspect_container(args[0])
    lines = port_lines((found.get("NetworkSettings") or {}).get("Ports"), args[0],
                       args[1] if len(args) > 1 else "")
    if lines:
        ctx.out.write("\n".join(lines) + "\n")
    return 0


# --- container prune -------------------------------------------------------------------

PRUNE_WARNING = ("WARNING! This will remove all stopped containers.\n"
                 "Are you sure you want to continue?")


def prune_report(report: Mapping[str, object]) -> str:
    from estiba.cli.docker.pruning import deleted, reclaimed

    text = deleted("Deleted Containers:", report.get("ContainersDeleted") or ())  # type: ignore[arg-type]
    return text + reclaimed(int(report.get("SpaceReclaimed") or 0) if text else 0)  # type: ignore[call-overload]


def prune(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.pruning import confirm

    opts, args = parse(argv, PRUNE_FLAGS)
    count("container prune", args, 0, 0)
    wanted = filters(opts["filter"], "--filter")  # type: ignore[arg-type]
    if not opts["force"] and not confirm(ctx, PRUNE_WARNING):
        return 0
    ctx.out.write(prune_report(ctx.client.prune_containers(wanted) or {}))
    return 0
