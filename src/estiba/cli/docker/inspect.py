"""``estiba inspect [--type T] [-f FORMAT] NAME...``: the daemon's objects as JSON (an
array indented as docker's), or a template rendered per object."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, UsageError, count, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.cli.docker.context import Context
    from estiba.client.docker import APIClient

USAGE = "inspect [OPTIONS] NAME|ID [NAME|ID...]"
FLAGS = (Flag("format", "f", value=True), Flag("type", value=True), Flag("size", "s"))
TYPES = ("container", "image", "network", "volume")


def _getter(client: APIClient, kind: str) -> Callable[[str], object]:
    return {"container": client.inspect_container, "image": client.inspect_image,
            "network": client.inspect_network, "volume": client.inspect_volume}[kind]


def main(ctx: Context, argv: list[str]) -> int:
    from estiba.cli import gotemplate
    from estiba.cli.tables import indent_json
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
    if template is None:
        ctx.out.write(indent_json(found) + "\n")
    elif found:
        ctx.out.write("".join(template.render(obj) + "\n" for obj in found))
    else:
        ctx.out.write("\n")
    if failed:
        ctx.err.write("\n".join(failed) + "\n")
        return 1
    return 0
