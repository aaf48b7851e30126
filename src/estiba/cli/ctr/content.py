"""``ctr content ls``."""

from __future__ import annotations

import time

from estiba.cli.args import Option, count, parse
from estiba.cli.ctr.main import verb
from estiba.cli.tables import epoch, human_duration, human_size, labels, tabwrite


def table(blobs: list[dict], now: float) -> str:
    rows = [["DIGEST", "SIZE", "AGE", "LABELS"]]
    for b in blobs:
        created = epoch(b.get("created_at") or "")
        age = human_duration(now - created) if created is not None else "-"
        rows.append([b["digest"], human_size(b["size"]), age, labels(b.get("labels"), "-")])
    return tabwrite(rows, terminated=False)


def ls(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, (Option("-q", "--quiet"),))
    count(positional, 0, 0, "ctr content ls [-q]")
    blobs = ctx.client.content()
    if opts["quiet"]:
        ctx.out.write("".join(b["digest"] + "\n" for b in blobs))
    else:
        ctx.out.write(table(blobs, time.time()))
    return 0


VERBS = {"ls": ls, "list": ls}


def main(ctx, argv: list[str]) -> int:
    fn, rest = verb(VERBS, argv, "content")
    return fn(ctx, rest)
