"""``estiba ps`` and ``estiba rm``: docker's ``container ls`` and ``container rm``."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, count, int_value, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cli.docker.context import Context

PS_USAGE = "ps [OPTIONS]"
_FORMAT_HELP = ("How to print the rows:\n"
                "'table':            a table with a header line (the default)\n"
                "'table TEMPLATE':   a table of the Go template's columns\n"
                "'json':             one JSON object a line\n"
                "'TEMPLATE':         the Go template, once a row")
_LAST = Flag("last", "n", kind="int",
             help="List the n containers created last, whatever their state (default -1)")
PS_FLAGS = (
    Flag("all", "a", help="List every container (running ones only, by default)"),
    Flag("quiet", "q", help="Print the container IDs only"),
    _LAST,
    Flag("latest", "l", help="List the container created last, whatever its state"),
    Flag("no-trunc", help="Print whole IDs and commands"),
    Flag("size", "s", help="Add the size of each container's files"),
    Flag("filter", "f", repeat=True, kind="filter",
         help="Keep the containers that match a condition (key=value)"),
    Flag("format", value=True, help=_FORMAT_HELP),
)
RM_USAGE = "rm [OPTIONS] CONTAINER [CONTAINER...]"
RM_FLAGS = (
    Flag("force", "f", help="Remove a running container too (it is killed first)"),
    Flag("volumes", "v", help="Remove the container's anonymous volumes with it"),
    Flag("link", "l", help="Remove the named link (legacy links)"),
)
FLAGS_OF = {"ps": PS_FLAGS, "rm": RM_FLAGS}

_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t" \
         "{{.Ports}}\t{{.Names}}"


def ps_format(fmt: str, quiet: bool, size: bool) -> str:
    """formatter.NewContainerFormat: the template ``ps`` renders its rows with."""
    if fmt in ("", "table"):
        return "{{.ID}}" if quiet else _TABLE + ("\t{{.Size}}" if size else "")
    return "{{.ID}}" if quiet else fmt


def ps(ctx: Context, argv: list[str]) -> int:
    import time

    from estiba.cli.docker.context import PS_TEMPLATE_ERRORS, render_rows
    from estiba.cli.docker.flags import filters
    from estiba.cli.docker.output import CONTAINER_HEADERS, ContainerRow

    opts, positional = parse(argv, PS_FLAGS)
    count("ps", positional, 0, 0)
    last = -1
    if opts["last"] is not None:
        last = int_value(_LAST, str(opts["last"]))
    if opts["latest"] and last == -1:
        last = 1
    fmt = ps_format(str(opts["format"] or ""), bool(opts["quiet"]), bool(opts["size"]))
    size = bool(opts["size"]) or ".Size" in fmt
    found = ctx.client.containers(all=bool(opts["all"]), limit=last if last > 0 else None,
                                  size=size, filters=filters(opts["filter"]))  # type: ignore[arg-type]
    now = time.time()
    trunc = not opts["no_trunc"]
    rows = [ContainerRow(c, now, trunc) for c in found]
    ctx.out.write(render_rows(fmt, rows, CONTAINER_HEADERS, PS_TEMPLATE_ERRORS))
    return 0


def rm(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.context import each

    opts, names = parse(argv, RM_FLAGS)
    count("rm", names, 1, None)
    return each(ctx, names, lambda n: ctx.client.remove_container(
        n, force=bool(opts["force"]), volumes=bool(opts["volumes"])))
