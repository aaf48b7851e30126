"""Typed access to decoded JSON objects, naming the JSON path of whatever is wrong:
the one helper every parser of ``oci/`` builds its records with."""

from __future__ import annotations

from estiba.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_UINT64_MAX = (1 << 64) - 1


class Fields:
    """Typed access to one JSON object, naming the path of whatever is wrong."""

    __slots__ = ("data", "path")

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise InvalidArgument(f"{path or 'config'}: expected an object, got {kind(data)}")
        self.data = data
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def obj(self, key: str, required: bool = False) -> Fields | None:
        value = self.required(key) if required else self.data.get(key)
        return None if value is None else Fields(value, self.at(key))

    def required(self, key: str) -> Any:
        if key not in self.data or self.data[key] is None:
            raise InvalidArgument(f"{self.at(key)}: required")
        return self.data[key]

    def str(self, key: str, default: str = "", required: bool = False) -> str:
        value = self.required(key) if required else self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str):
            raise InvalidArgument(f"{self.at(key)}: expected a string, got {kind(value)}")
        return value

    def bool(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidArgument(f"{self.at(key)}: expected a boolean, got {kind(value)}")
        return value

    def int(
        self, key: str, default: int | None = None, required: bool = False,
        low: int = -(1 << 63), high: int = _UINT64_MAX,
    ) -> Any:
        value = self.required(key) if required else self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidArgument(f"{self.at(key)}: expected an integer, got {kind(value)}")
        if not low <= value <= high:
            raise InvalidArgument(f"{self.at(key)}: {value} is out of range")
        return value

    def strings(self, key: str, required: bool = False) -> tuple[str, ...]:
        value = self.required(key) if required else self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise InvalidArgument(f"{self.at(key)}: expected an array, got {kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise InvalidArgument(f"{self.at(key)}[{i}]: expected a string, got {kind(item)}")
        return tuple(value)

    def ints(self, key: str) -> tuple[int, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise InvalidArgument(f"{self.at(key)}: expected an array, got {kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                raise InvalidArgument(f"{self.at(key)}[{i}]: expected an unsigned integer")
        return tuple(value)

    def items(self, key: str, required: bool = False) -> list[Fields]:
        value = self.required(key) if required else self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidArgument(f"{self.at(key)}: expected an array, got {kind(value)}")
        return [Fields(item, f"{self.at(key)}[{i}]") for i, item in enumerate(value)]

    def string_map(self, key: str) -> tuple[tuple[str, str], ...]:
        return tuple(self._map(key, str, "a string").items())

    def keys(self, key: str) -> tuple[str, ...]:
        """The keys of a map of empty objects (``ExposedPorts``, ``Volumes``)."""
        return tuple(self._map(key, dict, "an object"))

    def _map(self, key: str, value_type: type, expected: str) -> dict[str, Any]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise InvalidArgument(f"{self.at(key)}: expected an object, got {kind(value)}")
        for k, v in value.items():
            if not isinstance(v, value_type):
                raise InvalidArgument(f"{self.at(key)}.{k}: expected {expected}, got {kind(v)}")
        return value


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
