"""The values every part of the template engine shares: its error, and Go's "no value"."""

from __future__ import annotations

from estiba.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs ~8 ms to import; only type checkers need it
if TYPE_CHECKING:
    from typing import Any


class TemplateError(InvalidArgument):
    """A format that does not parse, or that fails while it runs; Go's messages."""


class _Missing:
    # Go's "invalid value": a missing map key, or nil once a pipeline stage is done.
    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"


_MISSING = _Missing()
_NOFINAL = object()  # first command of a pipeline: nothing piped in


class _FuncError(Exception):
    """A function's own failure: reported as ``error calling NAME: ...``."""


class _ArgError(Exception):
    """An argument of the wrong type: reported as it stands."""


def _plain(value: object) -> Any:
    # What a function receives: Go hands "no value" over as nil.
    return None if value is _MISSING else value


def _truth(value: object) -> bool:
    if value is _MISSING or value is None:
        return False
    if isinstance(value, str | int | float | list | tuple | dict):
        return bool(value)
    return True


def _go_type(value: object) -> str:
    if value is None or value is _MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def _sorted_items(mapping: dict) -> list[tuple[Any, Any]]:
    try:
        return sorted(mapping.items(), key=lambda kv: kv[0])
    except TypeError:
        return sorted(mapping.items(), key=lambda kv: str(kv[0]))
