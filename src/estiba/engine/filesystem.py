"""A Docker container's files: archive (``docker cp``), export, changes, commit."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from estiba.engine.containers import Containers
    from estiba.engine.images import Images


class Filesystems:
    def __init__(self, core: Any, namespace: str, containers: Containers,
                 images: Images) -> None:
        self.core = core
        self.ns = namespace
        self.containers = containers
        self.images = images
