"""Where a Docker container's own state lives: the core container's labels
(``estiba.docker.*``), their keys and the readers of their JSON (pure). Every module of
the engine reads them here."""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PREFIX = "estiba.docker."
NAME = PREFIX + "name"  # "/name"
IMAGE = PREFIX + "image"  # the image as the client named it
CONFIG = PREFIX + "config"  # the Config as inspect shows it (JSON)
HOST_CONFIG = PREFIX + "host-config"  # the HostConfig as given (JSON)
STARTED_AT = PREFIX + "started-at"  # RFC 3339, the last start
STOPPED_BY_USER = PREFIX + "stopped-by-user"  # "1": no restart by its policy
RESTART_COUNT = PREFIX + "restart-count"  # restarts by its policy
NETWORKS = PREFIX + "networks"  # {network name: EndpointSettings as given} (JSON)
VOLUMES = PREFIX + "volumes"  # [{Name, Destination, RW, Anonymous}] it mounts (JSON)


def config_of(container: Any) -> dict:
    """The container's Config (an empty one when it has none)."""
    return json.loads(dict(container.labels).get(CONFIG) or "{}")


def host_config_of(container: Any) -> dict:
    """The container's HostConfig (an empty one when it has none)."""
    return json.loads(dict(container.labels).get(HOST_CONFIG) or "{}")
