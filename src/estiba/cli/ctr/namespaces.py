"""``ctr namespaces ls|create|rm``."""

from __future__ import annotations

from estiba.cli.args import Option, UsageError, count, parse
from estiba.cli.ctr.main import verb
from estiba.cli.tables import labels, tabwrite


def table(namespaces: list[dict]) -> str:
    rows = [["NAME", "LABELS"]]
    rows += [[n["name"], labels(n.get("labels"))] for n in namespaces]
    return tabwrite(rows)


def ls(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, (Option("-q", "--quiet"),))
    count(positional, 0, 0, "ctr namespaces ls [-q]")
    namespaces = ctx.client.namespaces()
    if opts["quiet"]:
        ctx.out.write("".join(n["name"] + "\n" for n in namespaces))
    else:
        ctx.out.write(table(namespaces))
    return 0


def create(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 1, None, "ctr namespaces create NAME [KEY=VALUE...]")
    pairs = {}
    for item in positional[1:]:
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"label {item!r}: expected KEY=VALUE")
        pairs[key] = value
    ctx.client.create_namespace(positional[0], pairs)
    return 0


def rm(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 1, None, "ctr namespaces rm NAME...")
    for name in positional:
        ctx.client.delete_namespace(name)
        ctx.out.write(name + "\n")
    return 0


VERBS = {"ls": ls, "list": ls, "create": create, "c": create, "rm": rm, "remove": rm}


def main(ctx, argv: list[str]) -> int:
    fn, rest = verb(VERBS, argv, "namespaces")
    return fn(ctx, rest)
