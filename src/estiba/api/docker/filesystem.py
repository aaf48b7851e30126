"""The Docker API's routes of containers' filesystems: archive (``docker cp``),
export, changes (``docker diff``), commit."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

ROUTES: list[tuple[str, str, Callable[..., Any], str]] = []
