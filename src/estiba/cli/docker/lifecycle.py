"""The container verbs that change or read one state: ``stop``, ``restart``, ``kill``,
``pause``, ``unpause``, ``wait``, ``rename``, ``update``, ``port`` and
``container prune``, as docker's ``container`` commands do them.

A verb naming several containers acts on each in the order given, prints each name as
given once done, and reports the daemon's refusals after the names, exiting 1 if any.
The pure parts (flag values as pflag reads them, ``update``'s request, ``port``'s
lines, ``prune``'s report) are functions of their inputs, unit-tested."""

from __future__ import annotations

from estiba.cli.docker.flags import ArgumentsError, Flag, UsageError, count, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from estiba.cli.docker.context import Context

_TIMEOUT = Flag("timeout", "t", help="Seconds to wait before killing the container",
                kind="int")
# docker keeps the old name of -t as a hidden, deprecated alias
_TIME = Flag("time", help="Seconds to wait before killing the container (deprecated)",
             kind="int")
_SIGNAL = Flag("signal", "s", help="Signal to send to the container", kind="string")
STOP_FLAGS = (_TIMEOUT, _TIME, _SIGNAL)
KILL_FLAGS = (_SIGNAL,)
UPDATE_FLAGS = (
    Flag("blkio-weight", help="Block IO weight, 10 to 1000, or 0 to disable",
         kind="uint16"),
    Flag("cpu-period", help="CPU CFS period", kind="int"),
    Flag("cpu-quota", help="CPU CFS quota", kind="int"),
    Flag("cpu-rt-period", help="CPU real-time period in microseconds", kind="int"),
    Flag("cpu-rt-runtime", help="CPU real-time runtime in microseconds", kind="int"),
    Flag("cpu-shares", "c", help="CPU shares (relative weight)", kind="int"),
    Flag("cpus", help="Number of CPUs", kind="decimal"),
    Flag("cpuset-cpus", help="CPUs the container may run on (0-3, 0,1)", kind="string"),
    Flag("cpuset-mems", help="Memory nodes the container may use (0-3, 0,1)",
         kind="string"),
    Flag("memory", "m", help="Memory limit", kind="bytes"),
    Flag("memory-reservation", help="Memory soft limit", kind="bytes"),
    Flag("memory-swap", help="Memory plus swap limit; -1 for unlimited swap",
         kind="bytes"),
    Flag("pids-limit", help="Process limit (-1 for unlimited)", kind="int"),
    Flag("restart", help="Restart policy once the container exits", kind="string"),
)
PRUNE_FLAGS = (Flag("filter", repeat=True, help='Filter values (e.g. "until=<timestamp>")',
                    kind="filter"),
               Flag("force", "f", help="Remove without asking for confirmation"))

FLAGS_OF = {"stop": STOP_FLAGS, "restart": STOP_FLAGS, "kill": KILL_FLAGS, "pause": (),
            "unpause": (), "wait": (), "rename": (), "update": UPDATE_FLAGS, "port": (),
            "prune": PRUNE_FLAGS}


# --- arguments as pflag and cobra read them ------------------------------------------

def arity(command: str, args: list[str], least: int, most: int) -> None:
    """cobra's ExactArgs and RangeArgs, worded as docker words them (``count`` words
    MinimumNArgs)."""
    if least <= len(args) <= most:
        return
    if least == most:
        plural = "s" if least != 1 else ""
        raise ArgumentsError(f"'estiba {command}' requires {least} argument{plural}", "Run")
    raise ArgumentsError(f"'estiba {command}' requires at least {least} and at most "
                         f"{most} arguments", "Run")


def flag_label(flag: Flag) -> str:
    return f"-{flag.short}, --{flag.name}" if flag.short else f"--{flag.name}"


def go_int(flag: Flag, text: str, bits: int = 64, unsigned: bool = False) -> int:
    """pflag's int/uint value: strconv.Parse(U)Int with base 0 (``0x10`` is 16)."""
    func = "ParseUint" if unsigned else "ParseInt"
    signed = text[:1] in ("+", "-")
    try:
        if not text or text != text.strip() or (unsigned and signed):
            raise ValueError(text)
        value = int(text, 0)
    except ValueError:
        raise UsageError(f'invalid argument "{text}" for "{flag_label(flag)}" flag: '
                         f'strconv.{func}: parsing "{text}": invalid syntax') from None
    half = 1 << (bits - 1)
    low, high = (0, (1 << bits) - 1) if unsigned else (-half, half - 1)
    if not low <= value <= high:
        raise UsageError(f'invalid argument "{text}" for "{flag_label(flag)}" flag: '
                         f'strconv.{func}: parsing "{text}": value out of range')
    return value


def _flag(flags: tuple[Flag, ...], key: str) -> Flag:
    return next(f for f in flags if f.key == key)


class CommandError(Exception):
    """The command cannot go on; ``str()`` is docker's line (status 1)."""


def each(ctx: Context, names: list[str], act: Callable[[str], object]) -> int:
    """Act on each container; its name as given once done, the daemon's refusals
    after all of them."""
    from estiba.client.docker import DockerError

    failed = []
    for name in names:
        try:
            act(name)
        except DockerError as err:
            failed.append(f"Error response from daemon: {err.message}")
            continue
        ctx.out.write(name + "\n")
        ctx.out.flush()
    if failed:
        ctx.err.write("\n".join(failed) + "\n")
        return 1
    return 0


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
            timeout = go_int(_flag(STOP_FLAGS, key), str(opts[key]))
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
    from estiba.client.docker import DockerError

    _, names = parse(argv, ())
    count("wait", names, 1, None)
    failed = []
    for name in names:  # one after the other, as docker waits
        try:
            result = ctx.client.wait(name)
        except DockerError as err:
            failed.append(f"Error response from daemon: {err.message}")
            continue
        ctx.out.write(f"{result.get('StatusCode', 0)}\n")
        ctx.out.flush()
    if failed:
        ctx.err.write("\n".join(failed) + "\n")
        return 1
    return 0


def rename(ctx: Context, argv: list[str]) -> int:
    from estiba.client.docker import DockerError

    _, args = parse(argv, ())
    arity("rename", args, 2, 2)
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

def _bytes_value(flag: Flag, text: str, swap: bool = False) -> int:
    from estiba.units import ram_in_bytes

    if swap and text == "-1":  # docker's MemSwapBytes: -1 is unlimited swap
        return -1
    try:
        return ram_in_bytes(text)
    except ValueError:
        raise UsageError(f'invalid argument "{text}" for "{flag_label(flag)}" flag: '
                         f"invalid size: '{text}'") from None


def nano_cpus(text: str) -> int:
    """``--cpus``: a rational number of CPUs (``1.5``, ``3/4``) in billionths."""
    from fractions import Fraction

    label = '"--cpus" flag'
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise UsageError(f'invalid argument "{text}" for {label}: failed to parse '
                         f"{text} as a rational number") from None
    nano = value * 1_000_000_000
    if nano.denominator != 1:
        raise UsageError(f'invalid argument "{text}" for {label}: value is too precise')
    return int(nano)


def restart_policy(text: str) -> dict[str, object]:
    """``--restart NAME[:MAX_RETRIES]`` as the API's RestartPolicy; the daemon judges
    the name."""
    name, colon, retries = text.partition(":")
    policy: dict[str, object] = {"Name": name}
    if colon:
        try:
            policy["MaximumRetryCount"] = int(retries)
        except ValueError:
            raise CommandError("invalid restart policy format: maximum retry count must "
                               "be an integer") from None
    return policy


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
    body: dict[str, object] = {}
    for key, field in _RESOURCES.items():
        text = opts.get(key)
        if text is None:
            continue
        flag = _flag(UPDATE_FLAGS, key)
        text = str(text)
        if flag.kind == "int":
            body[field] = go_int(flag, text)
        elif flag.kind == "uint16":
            body[field] = go_int(flag, text, 16, unsigned=True)
        elif flag.kind == "bytes":
            body[field] = _bytes_value(flag, text, swap=key == "memory_swap")
        elif flag.kind == "decimal":
            body[field] = nano_cpus(text)
        else:
            body[field] = text
    if opts.get("restart") is not None:
        body["RestartPolicy"] = restart_policy(str(opts["restart"]))
    return body


def update(ctx: Context, argv: list[str]) -> int:
    from estiba.client.docker import DockerError

    opts, names = parse(argv, UPDATE_FLAGS)
    count("update", names, 1, None)
    try:
        body = update_body(opts)
    except CommandError as err:
        ctx.err.write(f"{err}\n")
        return 1
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

def join_host_port(host: str, port: str) -> str:
    """net.JoinHostPort: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def natural_key(text: str) -> list[tuple[int, object, int]]:
    """sortorder.NaturalLess as a key: runs of digits compared as numbers, the rest
    byte by byte."""
    key: list[tuple[int, object, int]] = []
    i = 0
    while i < len(text):
        j = i
        digits = text[i].isdigit()
        while j < len(text) and text[j].isdigit() == digits:
            j += 1
        chunk = text[i:j]
        if digits:
            key.append((0, int(chunk), len(chunk)))
        else:  # against digits, a chunk sorts by its first byte, as bytes compare
            key.append((1 if chunk[0] > "9" else -1, chunk, 0))
        i = j
    return key


def port_lines(ports: Mapping[str, list[Mapping[str, str]] | None] | None,
               container: str, wanted: str = "") -> list[str]:
    """``port``'s output for a container's NetworkSettings.Ports: every mapping as
    ``80/tcp -> 0.0.0.0:8080``, or the host addresses of ``wanted`` (``80``,
    ``80/udp``), in natural order."""
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
    arity("port", args, 1, 2)
    found = ctx.client.inspect_container(args[0])
    try:
        lines = port_lines((found.get("NetworkSettings") or {}).get("Ports"), args[0],
                           args[1] if len(args) > 1 else "")
    except CommandError as err:
        ctx.err.write(f"{err}\n")
        return 1
    if lines:
        ctx.out.write("\n".join(lines) + "\n")
    return 0


# --- container prune -------------------------------------------------------------------

PRUNE_WARNING = ("WARNING! This will remove all stopped containers.\n"
                 "Are you sure you want to continue? [y/N] ")


def confirmed(answer: str) -> bool:
    """command.PromptForConfirmation: only ``y`` or ``Y`` goes on."""
    return answer.strip() in ("y", "Y")


def prune_report(report: Mapping[str, object]) -> str:
    from estiba.units import human_size

    text = ""
    deleted = report.get("ContainersDeleted") or []
    space = 0
    if deleted:
        text = "Deleted Containers:\n" + "".join(f"{i}\n" for i in deleted) + "\n"  # type: ignore[union-attr]
        space = int(report.get("SpaceReclaimed") or 0)  # type: ignore[call-overload]
    return text + f"Total reclaimed space: {human_size(space)}\n"


def prune_filters(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f'invalid argument "{item}" for "--filter" flag: bad format '
                             "of filter (expected name=value)")
        out.setdefault(key.strip().lower(), []).append(value)
    return out


def prune(ctx: Context, argv: list[str]) -> int:
    import sys

    opts, args = parse(argv, PRUNE_FLAGS)
    count("container prune", args, 0, 0)
    wanted = prune_filters(opts["filter"])  # type: ignore[arg-type]
    if not opts["force"]:
        ctx.out.write(PRUNE_WARNING)
        ctx.out.flush()
        if not confirmed(sys.stdin.readline()):
            return 0
    ctx.out.write(prune_report(ctx.client.prune_containers(wanted) or {}))
    return 0
