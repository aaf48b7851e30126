"""One Docker API call as a handler sees it: the request (query arguments) and its
decoded JSON body."""

from __future__ import annotations

from estiba import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    from estiba.api.core.http import Request


class Call:
    __slots__ = ("request", "body", "stream")

    def __init__(self, request: Request, body: dict, stream: BinaryIO | None = None) -> None:
        self.request = request
        self.body = body
        self.stream = stream  # a raw route's body, read as a blocking file

    def arg(self, name: str, default: str = "") -> str:
        return self.request.arg(name, default)

    def flag(self, name: str) -> bool:
        return self.request.flag(name)

    def number(self, name: str) -> int | None:
        text = self.arg(name)
        if not text:
            return None
        try:
            return int(text)
        except ValueError as err:
            raise errors.InvalidArgument(f"invalid value for {name}: {text!r}") from err


def served(engine: object, name: str) -> object:
    """The engine's ``name`` service (``networks``, ``volumes``); Unavailable when this
    daemon runs without it."""
    service = getattr(engine, name)
    if service is None:
        raise errors.Unavailable(f"this daemon runs without {name}")
    return service
