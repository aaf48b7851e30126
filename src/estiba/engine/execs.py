"""``docker exec``: exec instances of a running Docker container."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from estiba.engine.containers import Containers


class Execs:
    def __init__(self, core: Any, namespace: str, containers: Containers) -> None:
        self.core = core
        self.ns = namespace
        self.containers = containers
