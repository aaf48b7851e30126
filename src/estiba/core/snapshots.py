"""The snapshot service: a namespace's snapshots in the core's snapshotter (one per
namespace, given by ``snapshotter_for``), with the verbs the front ends use."""

from __future__ import annotations

from estiba.metadata.namespaces import Namespaces

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.metadata.db import Database
    from estiba.snapshots import Info, Mount, Snapshotter, Usage


class Snapshots:
    def __init__(self, db: Database, snapshotter_for: Callable[[str], Snapshotter],
                 name: str) -> None:
        self.db = db
        self.snapshotter_for = snapshotter_for
        self.name = name  # the snapshotter's name, as containers and gc labels carry it

    def _existing(self, namespace: str) -> Snapshotter:
        # reading must not make the namespace (a snapshotter ensures its namespace)
        Namespaces(self.db).get(namespace)
        return self.snapshotter_for(namespace)

    def list(self, namespace: str) -> list[Info]:
        return self._existing(namespace).walk()

    def info(self, namespace: str, key: str) -> Info:
        return self._existing(namespace).stat(key)

    def usage(self, namespace: str, key: str) -> Usage:
        return self._existing(namespace).usage(key)

    def prepare(self, namespace: str, key: str, parent: str = "",
                labels: dict[str, str] | None = None) -> list[Mount]:
        return self.snapshotter_for(namespace).prepare(key, parent, labels)

    def view(self, namespace: str, key: str, parent: str = "",
             labels: dict[str, str] | None = None) -> list[Mount]:
        return self.snapshotter_for(namespace).view(key, parent, labels)

    def commit(self, namespace: str, name: str, key: str) -> None:
        self._existing(namespace).commit(name, key)

    def mounts(self, namespace: str, key: str) -> list[Mount]:
        return self._existing(namespace).mounts(key)

    def remove(self, namespace: str, key: str) -> None:
        self._existing(namespace).remove(key)
