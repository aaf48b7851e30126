"""``Client``: the daemon as collections of objects, over the low-level ``APIClient``
(kept as ``.api`` for what the objects do not cover)."""

from __future__ import annotations

from estiba.client.docker import APIClient
from estiba.client.models.containers import ContainerCollection
from estiba.client.models.images import ImageCollection
from estiba.client.models.networks import NetworkCollection
from estiba.client.models.resource import merge_filters, typed_calls
from estiba.client.models.volumes import VolumeCollection

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any


class Client:
    """``host`` as the command line takes it: ``unix:///path`` or ``tcp://HOST:PORT``; ``""`` is
    ``$ESTIBA_HOST``, then ``$DOCKER_HOST``, then estibad's socket. ``version``
    ``""``: negotiated with the daemon. ``timeout`` bounds every read (None: none)."""

    def __init__(self, host: str = "", *, version: str = "",
                 timeout: float | None = None) -> None:
        self.api = APIClient(host, version=version, timeout=timeout)
        self.calls = typed_calls(self.api)
        self.containers = ContainerCollection(self)
        self.images = ImageCollection(self)
        self.networks = NetworkCollection(self)
        self.volumes = VolumeCollection(self)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> dict[str, str]:
        """What the daemon says it is (Api-Version, OSType ...)."""
        return self.calls.ping()

    def version(self) -> dict[str, Any]:
        return self.calls.version()

    def info(self) -> dict[str, Any]:
        return self.calls.info()

    def df(self) -> dict[str, Any]:
        return self.calls.df()

    def events(self, since: str | float | None = None, until: str | float | None = None,
               filters: Mapping[str, Any] | None = None, **more_filters: Any
               ) -> Iterator[dict[str, Any]]:
        """The daemon's events as they happen (without ``until``: until closed)."""
        return self.calls.events(since, until, merge_filters(filters, more_filters))
