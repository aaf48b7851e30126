"""``estiba images [REPOSITORY[:TAG]]``: docker's ``image ls``."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, count, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cli.docker.context import Context

USAGE = "images [OPTIONS] [REPOSITORY[:TAG]]"
FLAGS = (Flag("all", "a"), Flag("quiet", "q"), Flag("no-trunc"), Flag("digests"),
         Flag("filter", "f", repeat=True), Flag("format", value=True), Flag("tree"))

_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t" \
         "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
_TABLE_DIGEST = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t" \
                "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"


def images_format(fmt: str, quiet: bool, digests: bool) -> str:
    """formatter.NewImageFormat."""
    if fmt in ("", "table"):
        return "{{.ID}}" if quiet else _TABLE_DIGEST if digests else _TABLE
    if fmt.startswith("table") and digests and "{{.Digest}}" not in fmt:
        return fmt + "\t{{.Digest}}"
    return fmt


def main(ctx: Context, argv: list[str]) -> int:
    import time

    from estiba.cli.docker.context import filters, render_rows
    from estiba.cli.docker.output import IMAGE_HEADERS, image_rows

    opts, positional = parse(argv, FLAGS)
    count("images", positional, 0, 1)
    wanted = filters(opts["filter"])  # type: ignore[arg-type]
    if positional:
        wanted.setdefault("reference", []).append(positional[0])
    fmt = images_format(str(opts["format"] or ""), bool(opts["quiet"]),
                        bool(opts["digests"]))
    found = ctx.client.images(all=bool(opts["all"]), filters=wanted)
    rows = image_rows(found, time.time(), trunc=not opts["no_trunc"],
                      digests=bool(opts["digests"]) or "{{.Digest}}" in fmt)
    ctx.out.write(render_rows(fmt, rows, IMAGE_HEADERS))
    return 0
