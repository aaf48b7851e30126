"""The namespace service: list, create and delete the namespaces of the metadata
database (``metadata.namespaces``); a namespace that still holds images, containers,
leases, snapshots or content labels is refused deletion there."""

from __future__ import annotations

from estiba.metadata.namespaces import Namespaces as NamespaceRecords

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from estiba.core.interfaces import Publish
    from estiba.metadata.db import Database
    from estiba.metadata.namespaces import Namespace


class Namespaces:
    def __init__(self, db: Database, publish: Publish | None = None) -> None:
        self.records = NamespaceRecords(db)
        self._publish = publish

    def list(self) -> list[Namespace]:
        return self.records.list()

    def get(self, name: str) -> Namespace:
        return self.records.get(name)

    def create(self, name: str, labels: Mapping[str, str] | None = None) -> Namespace:
        made = self.records.create(name, dict(labels or {}))
        if self._publish is not None:
            self._publish("/namespaces/create", name, {"name": name})
        return made

    def delete(self, name: str) -> None:
        self.records.delete(name)
        if self._publish is not None:
            self._publish("/namespaces/delete", name, {"name": name})
