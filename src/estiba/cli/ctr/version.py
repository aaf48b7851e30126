"""``ctr version``."""

from __future__ import annotations

import sys

from estiba import __version__
from estiba.cli.args import count, parse


def render(server: dict) -> str:
    py = ".".join(str(v) for v in sys.version_info[:3])
    return (f"Client:\n  Version:  {__version__}\n  Revision: \n  Python version: {py}\n\n"
            f"Server:\n  Version:  {server.get('version', '')}\n"
            f"  Revision: {server.get('revision', '')}\n"
            f"  API version: {server.get('api_version', '')}\n")


def main(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 0, 0, "ctr version")
    ctx.out.write(render(ctx.client.version()))
    return 0
