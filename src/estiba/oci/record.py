"""Immutable records: the typed values passed between modules past the parsing edge.

Why not ``dataclasses``: importing it costs about 13 ms (it pulls in ``inspect``), a third
of the start-up budget of ``estiba-runtime``, which is started once per OCI operation.
This base gives the part we use — keyword construction with defaults, immutability,
equality, ``repr`` and ``replace`` — at no import cost. Fields are the class's annotated
names; a class attribute of the same name is the default (defaults must be immutable).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~8 ms to import; it is needed by type checkers only
if TYPE_CHECKING:
    from typing import Any

_MISSING = object()


class Record:
    __fields__: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: list[str] = []
        for klass in reversed(cls.__mro__):
            for name in klass.__dict__.get("__annotations__", {}):
                if not name.startswith("_") and name not in fields:
                    fields.append(name)
        cls.__fields__ = tuple(fields)

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        for name in cls.__fields__:
            value = values.pop(name, _MISSING)
            if value is _MISSING:
                value = getattr(cls, name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{cls.__name__}: missing field {name!r}")
            object.__setattr__(self, name, value)
        if values:
            raise TypeError(f"{cls.__name__}: unknown fields {sorted(values)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__fields__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__fields__)
        return f"{type(self).__name__}({inner})"

    def replace(self, **changes: Any) -> Any:
        values = {name: getattr(self, name) for name in self.__fields__}
        values.update(changes)
        return type(self)(**values)
