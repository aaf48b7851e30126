"""``ctr events``: one line per event, ``TIMESTAMP NAMESPACE TOPIC ATTRIBUTES``, as
ctr prints them, until interrupted."""

from __future__ import annotations

from estiba.cli.args import count, parse
from estiba.oci.json_codec import dumps


def line(event: dict) -> str:
    return (f"{event.get('timestamp', '')} {event.get('namespace', '')} "
            f"{event.get('topic', '')} {dumps(event.get('attributes') or {})}\n")


def main(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 0, None, "ctr events [TOPIC...]")
    # every namespace's, as ctr prints them
    for event in ctx.client.events(positional, all_namespaces=True):
        ctx.out.write(line(event))
        ctx.out.flush()
    return 0
