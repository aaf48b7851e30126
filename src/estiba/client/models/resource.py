"""What every object kind shares: ``Model`` (the inspect JSON as ``attrs``, an id, a
reload) and ``Collection`` (get, prune), the filters' keyword form, and the low-level
client seen through ``typed_calls`` (its ``DockerError`` raised as the typed errors)."""

from __future__ import annotations

from estiba.client.docker import DockerError
from estiba.client.models.errors import api_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Self

    from estiba.client.docker import APIClient
    from estiba.client.models.client import Client


class _TypedCalls:
    def __init__(self, api: APIClient) -> None:
        self._api = api

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._api, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except DockerError as err:
                raise api_error(err) from err

        return call


def typed_calls(api: APIClient) -> APIClient:
    """``api``'s methods, raising ``NotFound``/``Conflict``/``APIError`` instead of a
    bare ``DockerError`` (an error found while a returned stream is read stays a
    ``DockerError``: it leaves the call before the stream is read)."""
    return _TypedCalls(api)  # type: ignore[return-value]  # same methods, typed errors


def merge_filters(filters: Mapping[str, Any] | None, more: Mapping[str, Any]
                  ) -> dict[str, list[str]]:
    """Docker's filters from a dict and keywords: ``is_task=True`` is ``is-task``
    (Python names have no hyphen), booleans are ``true``/``false``, a lone value is a
    list of one; ``None`` leaves a filter out."""
    merged: dict[str, list[str]] = {}
    for source, keyword in ((filters or {}, False), (more, True)):
        for key, value in source.items():
            if value is None:
                continue
            name = key.replace("_", "-") if keyword else key
            values = value if isinstance(value, list | tuple | set) else [value]
            merged.setdefault(name, []).extend(_filter_value(v) for v in values)
    return merged


def _filter_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Model:
    """An object of the daemon as last inspected: ``attrs`` is the inspect JSON."""

    def __init__(self, attrs: dict[str, Any], client: Client) -> None:
        self.attrs = attrs
        self.client = client

    def _inspect(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def id(self) -> str:
        return self.attrs["Id"]

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def name(self) -> str:
        return self.attrs.get("Name") or ""

    @property
    def labels(self) -> dict[str, str]:
        return self.attrs.get("Labels") or {}

    def reload(self) -> Self:
        """Inspect again: ``attrs`` as the daemon has it now."""
        self.attrs = self._inspect()
        return self

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.id == self.id  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.short_id}>"


class Collection:
    """The objects of one kind on the daemon."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @property
    def api(self) -> APIClient:
        return self.client.calls

    def _all_inspected(self, ids: list[str], inspect: Callable[[str], dict[str, Any]]
                       ) -> list[dict[str, Any]]:
        """The inspect JSON of each listed object still there (one removed since the
        list is left out, as it would have been a moment later)."""
        from estiba.client.models.errors import NotFound

        found = []
        for id in ids:
            try:
                found.append(inspect(id))
            except NotFound:
                continue
        return found
