"""``estiba inspect [--type T] [-f FORMAT] NAME...``: the daemon's objects as JSON (an
array indented as docker's), or a template rendered per object; ``container inspect``
and ``image inspect``, the same for one kind of object."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, UsageError, count, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.cli.docker.context import Context
    from estiba.cli.gotemplate import Template
    from estiba.client.docker import APIClient

USAGE = "inspect [OPTIONS] NAME|ID [NAME|ID...]"
_FORMAT = Flag("format", "f", value=True,
               help="How to print each object:\n"
                    "'json':             JSON on one line\n"
                    "'TEMPLATE':         the Go template")
FLAGS = (_FORMAT, Flag("type", value=True, help="Look among objects of this type only"),
         Flag("size", "s", help="Add the size of a container's files"))
CONTAINER_FLAGS = (_FORMAT, Flag("size", "s", help="Add the size of the container's files"))
IMAGE_FLAGS = (_FORMAT,)
FLAGS_OF = {"main": FLAGS, "container": CONTAINER_FLAGS, "image": IMAGE_FLAGS}
TYPES = ("container", "image", "network", "volume")


def _getter(client: APIClient, kind: str) -> Callable[[str], object]:
    return {"container": client.inspect_container, "image": client.inspect_image,
            "network": client.inspect_network, "volume": client.inspect_volume}[kind]


def main(ctx: Context, argv: list[str]) -> int:
    from estiba.cli import gotemplate
    from estiba.client.docker import DockerError

    opts, names = parse(argv, FLAGS)
    count("inspect", names, 1, None)
    kind = str(opts["type"] or "")
    if kind and kind not in TYPES:
        raise UsageError(f'"{kind}" is not a valid value for --type')
    fmt = str(opts["format"] or "")
    template = gotemplate.parse(fmt) if fmt and fmt != "json" else None
    found: list[object] = []
    failed: list[str] = []
    for name in names:
        if kind:
            try:
                found.append(_getter(ctx.client, kind)(name))
            except DockerError as err:
                failed.append(f"Error response from daemon: {err.message}")
            continue
        for each in TYPES:  # docker's order: the first kind that knows the name
            try:
                found.append(_getter(ctx.client, each)(name))
                break
            except DockerError as err:
                if err.status != 404:
                    failed.append(f"Error response from daemon: {err.message}")
                    break
        else:
            failed.append(f"Error: No such object: {name}")
    return _report(ctx, found, failed, template, compact=False)


def _report(ctx: Context, found: list[object], failed: list[str],
            template: Template | None, compact: bool) -> int:
    """The objects found (the template rendered per object, else a JSON array:
    indented, or on one line if ``compact``), then each failure on stderr, status 1."""
    from estiba.cli.tables import indent_json

    if template is not None:
        ctx.out.write("".join(template.render(obj) + "\n" for obj in found) or "\n")
    elif compact:
        import json

        from estiba.cli.docker.context import html_escape

        ctx.out.write(html_escape(json.dumps(found, separators=(",", ":"),
                                             ensure_ascii=False)) + "\n")
    else:
        ctx.out.write(indent_json(found) + "\n")
    if failed:
        ctx.err.write("\n".join(failed) + "\n")
        return 1
    return 0


def inspect_each(ctx: Context, names: list[str], get: Callable[[str], object],
                 fmt: str) -> int:
    """What docker's ``network inspect``, ``volume inspect`` (one kind of object) print:
    the objects found as an indented JSON array, a compact one for ``json``, else the
    template rendered per object; each failure as its own line on stderr, status 1. A
    template that does not parse is status 64, as docker exits."""
    from estiba.cli import gotemplate
    from estiba.client.docker import DockerError

    template = None
    if fmt and fmt != "json":
        try:
            template = gotemplate.parse(fmt)
        except gotemplate.TemplateError as err:
            ctx.err.write(f"template parsing error: {err}\n")
            return 64
    found: list[object] = []
    failed: list[str] = []
    for name in names:
        try:
            found.append(get(name))
        except DockerError as err:
            failed.append(f"Error response from daemon: {err.message}")
    return _report(ctx, found, failed, template, compact=fmt == "json")


def container(ctx: Context, argv: list[str]) -> int:
    """``container inspect``; ``-s`` is accepted, the sizes are the daemon's to give."""
    opts, names = parse(argv, CONTAINER_FLAGS)
    count("container inspect", names, 1, None)
    return inspect_each(ctx, names, ctx.client.inspect_container, str(opts["format"] or ""))


def image(ctx: Context, argv: list[str]) -> int:
    opts, names = parse(argv, IMAGE_FLAGS)
    count("image inspect", names, 1, None)
    return inspect_each(ctx, names, ctx.client.inspect_image, str(opts["format"] or ""))
