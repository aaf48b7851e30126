"""``ctr containers ls|create|info|rm``."""

from __future__ import annotations

from estiba.cli.args import Option, count, parse
from estiba.cli.ctr.main import verb
from estiba.cli.tables import indent_json, tabwrite

CREATE_OPTIONS = (Option("--runtime", value=True), Option("-t", "--tty"),
                  Option("--env", value=True, repeat=True), Option("--cwd", value=True),
                  Option("--label", value=True, repeat=True))


def table(containers: list[dict]) -> str:
    rows = [["CONTAINER", "IMAGE", "RUNTIME"]]
    rows += [[c["id"], c.get("image") or "-", c.get("runtime") or ""] for c in containers]
    return tabwrite(rows, minwidth=4, padding=4)


def create_from(ctx, opts: dict, positional: list[str]) -> dict:
    """Create the container ``IMAGE ID [CMD...]`` names (shared with ``run``)."""
    image, cid, args = positional[0], positional[1], positional[2:]
    labels = dict(item.partition("=")[::2] for item in opts.get("label") or [])
    return ctx.client.create_container(
        cid, image, runtime=opts.get("runtime") or None, args=args or None,
        env=list(opts.get("env") or []) or None, cwd=opts.get("cwd") or None,
        terminal=bool(opts.get("tty")), labels=labels or None)


def ls(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, (Option("-q", "--quiet"),))
    count(positional, 0, 0, "ctr containers ls [-q]")
    containers = ctx.client.containers()
    if opts["quiet"]:
        ctx.out.write("".join(c["id"] + "\n" for c in containers))
    else:
        ctx.out.write(table(containers))
    return 0


def create(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, CREATE_OPTIONS, interleave=False)
    count(positional, 2, None, "ctr containers create [--runtime R] [-t] IMAGE ID [CMD...]")
    create_from(ctx, opts, positional)
    return 0


def info(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 1, 1, "ctr containers info ID")
    ctx.out.write(indent_json(ctx.client.container(positional[0])) + "\n")
    return 0


def rm(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 1, None, "ctr containers rm ID...")
    for cid in positional:
        ctx.client.delete_container(cid)
    return 0


VERBS = {"ls": ls, "list": ls, "create": create, "info": info, "rm": rm, "remove": rm,
         "delete": rm, "del": rm}


def main(ctx, argv: list[str]) -> int:
    fn, rest = verb(VERBS, argv, "containers")
    return fn(ctx, rest)
