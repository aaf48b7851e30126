"""Clients of the daemon's APIs, over HTTP on its unix sockets or TCP: what the command lines,
compose and the dashboard use; they never import the core. ``core.py`` speaks the core
API (``estiba ctr``); ``docker.py`` is the low-level Docker API client, one method per
endpoint (it works against any Docker-compatible daemon); ``models/`` its objects
(``Client`` with containers, images, networks and volumes). ``connection.py`` is the
small HTTP/1.1 client both use, ``streams.py`` Docker's multiplexed stream frames.

``Client`` and the object layer's errors are exported here but imported only when
first named, so that ``import estiba.client.core`` stays as cheap as it was.

May import ``estiba.errors``, ``estiba.oci`` and ``estiba.units`` only.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.client.models import (
        APIError,
        Client,
        Conflict,
        Container,
        ContainerError,
        Image,
        Network,
        NotFound,
        Volume,
    )

__all__ = ["APIError", "Client", "Conflict", "Container", "ContainerError", "Image",
           "Network", "NotFound", "Volume"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from estiba.client import models

        return getattr(models, name)
    raise AttributeError(f"module 'estiba.client' has no attribute {name!r}")
