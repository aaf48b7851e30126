"""Docker's objects over the low-level client (``estiba.client.docker``): a ``Client``
with the collections ``containers``, ``images``, ``networks`` and ``volumes``; each
object (``Container``, ``Image``, ``Network``, ``Volume``) holds its inspect JSON as
``attrs`` and has the verbs of its kind. What the command line, compose and the
dashboard use; it works against estibad and against Docker.

Modules: ``client`` (the entry point), one per object kind, ``container_config`` (the
keywords of create/run as Docker's body: pure), ``resource`` (what the kinds share),
``errors`` (the daemon's refusals typed by status: ``NotFound``, ``Conflict``,
``BadRequest``, ``Forbidden``, ``APIError``; ``ContainerError`` for a failed ``run``).
"""

from __future__ import annotations

from estiba.client.models.client import Client
from estiba.client.models.containers import Container, ContainerCollection, ExecResult
from estiba.client.models.errors import (
    APIError,
    BadRequest,
    Conflict,
    ContainerError,
    Forbidden,
    NotFound,
)
from estiba.client.models.images import Image, ImageCollection
from estiba.client.models.networks import Network, NetworkCollection
from estiba.client.models.volumes import Volume, VolumeCollection

__all__ = [
    "APIError", "BadRequest", "Client", "Conflict", "Container", "ContainerCollection",
    "ContainerError", "ExecResult", "Forbidden", "Image", "ImageCollection", "Network",
    "NetworkCollection", "NotFound", "Volume", "VolumeCollection",
]
