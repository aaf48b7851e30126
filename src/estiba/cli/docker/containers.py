"""``estiba ps`` and ``estiba rm``: docker's ``container ls`` and ``container rm``."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, UsageError, count, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cli.docker.context import Context

PS_USAGE = "ps [OPTIONS]"
PS_FLAGS = (Flag("all", "a"), Flag("quiet", "q"), Flag("last", "n", value=True),
            Flag("latest", "l"), Flag("no-trunc"), Flag("size", "s"),
            Flag("filter", "f", repeat=True), Flag("format", value=True))
RM_USAGE = "rm [OPTIONS] CONTAINER [CONTAINER...]"
RM_FLAGS = (Flag("force", "f"), Flag("volumes", "v"), Flag("link", "l"))

_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t" \
         "{{.Ports}}\t{{.Names}}"


def ps_format(fmt: str, quiet: bool, size: bool) -> str:
    """formatter.NewContainerFormat: the template ``ps`` renders its rows with."""
    if fmt in ("", "table"):
        return "{{.ID}}" if quiet else _TABLE + ("\t{{.Size}}" if size else "")
    return "{{.ID}}" if quiet else fmt


def ps(ctx: Context, argv: list[str]) -> int:
    import time

    from estiba.cli.docker.context import filters, render_rows
    from estiba.cli.docker.output import CONTAINER_HEADERS, ContainerRow

    opts, positional = parse(argv, PS_FLAGS)
    count("ps", positional, 0, 0)
    last = -1
    if opts["last"] is not None:
        try:
            last = int(str(opts["last"]))
        except ValueError:
            raise UsageError(f'invalid argument "{opts["last"]}" for "-n, --last" flag: '
                             f'strconv.ParseInt: parsing "{opts["last"]}": invalid syntax'
                             ) from None
    if opts["latest"] and last == -1:
        last = 1
    fmt = ps_format(str(opts["format"] or ""), bool(opts["quiet"]), bool(opts["size"]))
    size = bool(opts["size"]) or ".Size" in fmt
    found = ctx.client.containers(all=bool(opts["all"]), limit=last if last > 0 else None,
                                  size=size, filters=filters(opts["filter"]))  # type: ignore[arg-type]
    now = time.time()
    trunc = not opts["no_trunc"]
    rows = [ContainerRow(c, now, trunc) for c in found]
    ctx.out.write(render_rows(fmt, rows, CONTAINER_HEADERS))
    return 0


def rm(ctx: Context, argv: list[str]) -> int:
    from estiba.client.docker import DockerError

    opts, names = parse(argv, RM_FLAGS)
    count("rm", names, 1, None)
    failed = []
    for name in names:
        try:
            ctx.client.remove_container(name, force=bool(opts["force"]),
                                        volumes=bool(opts["volumes"]))
        except DockerError as err:
            failed.append(f"Error response from daemon: {err.message}")
            continue
        ctx.out.write(name + "\n")
    if failed:
        ctx.err.write("\n".join(failed) + "\n")
        return 1
    return 0
