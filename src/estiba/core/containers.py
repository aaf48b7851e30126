"""The container service: container records (``metadata.containers``) as the core's
``Container`` values. A record only: making its snapshot and spec is
``Core.new_container``'s, running it is the task service's."""

from __future__ import annotations

from estiba.core.records import Container
from estiba.metadata.containers import ContainerRecord
from estiba.metadata.containers import Containers as ContainerRecords

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.core.interfaces import Publish
    from estiba.metadata.db import Database


def to_record(container: Container) -> ContainerRecord:
    return ContainerRecord(**{name: getattr(container, name)
                              for name in ContainerRecord.__fields__})


def from_record(record: ContainerRecord) -> Container:
    return Container(**{name: getattr(record, name) for name in Container.__fields__})


class Containers:
    def __init__(self, db: Database, publish: Publish | None = None) -> None:
        self.db = db
        self._publish = publish

    def create(self, container: Container) -> Container:
        """Record ``container``; AlreadyExists when its id is taken in its namespace."""
        made = ContainerRecords(self.db, container.namespace).create(to_record(container))
        self._event("/containers/create", made)
        return from_record(made)

    def get(self, namespace: str, id: str) -> Container:
        return from_record(ContainerRecords(self.db, namespace).get(id))

    def list(self, namespace: str) -> list[Container]:
        return [from_record(r) for r in ContainerRecords(self.db, namespace).list()]

    def update(self, container: Container) -> Container:
        """Replace the record of ``container.id`` (all fields but ``created_at``)."""
        updated = ContainerRecords(self.db, container.namespace).update(to_record(container))
        self._event("/containers/update", updated)
        return from_record(updated)

    def delete(self, namespace: str, id: str) -> None:
        """Drop the record only: its snapshot goes with ``Core.remove_container`` or,
        unreferenced from then on, with the next collection."""
        gone = ContainerRecords(self.db, namespace).delete(id)
        self._event("/containers/delete", gone)

    def _event(self, topic: str, record: ContainerRecord) -> None:
        if self._publish is not None:
            self._publish(topic, record.namespace, {"id": record.id, "image": record.image,
                                                    "runtime": record.runtime})
