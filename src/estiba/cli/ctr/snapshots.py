"""``ctr snapshots ls|info|usage|tree``."""

from __future__ import annotations

from estiba.cli.args import count, parse
from estiba.cli.ctr.main import verb
from estiba.cli.tables import binary_size, indent_json, tabwrite


def table(snapshots: list[dict]) -> str:
    rows = [["KEY", "PARENT", "KIND"]]
    rows += [[s["name"], s.get("parent") or "", s.get("kind", "")] for s in snapshots]
    return tabwrite(rows)


def usage_table(usages: list[tuple[str, dict]]) -> str:
    rows = [["KEY", "SIZE", "INODES"]]
    rows += [[key, binary_size(int(u.get("size", 0))), str(u.get("inodes", 0))]
             for key, u in usages]
    return tabwrite(rows)


def tree(snapshots: list[dict]) -> str:
    """ctr's tree: a root at `` name``, each child two spaces deeper with ``\\_``."""
    names = {s["name"] for s in snapshots}
    children: dict[str, list[str]] = {}
    roots = []
    for s in sorted(snapshots, key=lambda s: s["name"]):
        parent = s.get("parent") or ""
        if parent and parent in names:
            children.setdefault(parent, []).append(s["name"])
        else:
            roots.append(s["name"])
    lines: list[str] = []

    def node(name: str, level: int) -> None:
        prefix = "  " * level + ("\\_" if level else "")
        lines.append(f"{prefix} {name}")
        for child in children.get(name, ()):
            node(child, level + 1)

    for root in roots:
        node(root, 0)
    return "".join(line + "\n" for line in lines)


def ls(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 0, 0, "ctr snapshots ls")
    ctx.out.write(table(ctx.client.snapshots()))
    return 0


def info(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 1, 1, "ctr snapshots info KEY")
    ctx.out.write(indent_json(ctx.client.snapshot(positional[0])) + "\n")
    return 0


def usage(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 0, 1, "ctr snapshots usage [KEY]")
    keys = positional or [s["name"] for s in ctx.client.snapshots()]
    ctx.out.write(usage_table([(k, ctx.client.snapshot_usage(k)) for k in keys]))
    return 0


def tree_(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 0, 0, "ctr snapshots tree")
    ctx.out.write(tree(ctx.client.snapshots()))
    return 0


VERBS = {"ls": ls, "list": ls, "info": info, "usage": usage, "tree": tree_}


def main(ctx, argv: list[str]) -> int:
    fn, rest = verb(VERBS, argv, "snapshots")
    return fn(ctx, rest)
