"""The Docker API's routes of exec instances (``docker exec``):
create, start (hijacked), inspect, resize."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

ROUTES: list[tuple[str, str, Callable[..., Any], str]] = []
