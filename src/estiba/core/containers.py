"""The container service: container records (``metadata.containers``) as the core's
``Container`` values. A record only: making its snapshot and spec is
``Core.new_container``'s, running it is the task service's.

Records are kept decoded in memory once read: decoding a record's spec (several KB of
JSON) is most of the cost of a list, and the Docker API lists a namespace's containers
for nearly every request (to resolve a name). This service is the only writer of its
database's container records, so its own writes keep the memory right: a written record
is read again on its next use, a deleted one is dropped. The values are shared between
callers: copy a spec before changing it (as every caller does)."""

from __future__ import annotations

import threading

from estiba.core.records import Container
from estiba.errors import NotFound
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
        self._lock = threading.Lock()
        # namespace -> id -> its container, None when written since (read it again);
        # a namespace is here once listed whole
        self._known: dict[str, dict[str, Container | None]] = {}
        self._writes = 0  # counts writes: a read begun before one is not kept

    def create(self, container: Container) -> Container:
        """Record ``container``; AlreadyExists when its id is taken in its namespace."""
        made = ContainerRecords(self.db, container.namespace).create(to_record(container))
        self._written(made.namespace, made.id, gone=False)
        self._event("/containers/create", made)
        return from_record(made)

    def get(self, namespace: str, id: str) -> Container:
        with self._lock:
            known = self._known.get(namespace)
            value = None if known is None else known.get(id)
            writes = self._writes
        if value is not None:
            return value
        value = from_record(ContainerRecords(self.db, namespace).get(id))
        self._keep(namespace, {id: value}, writes, whole=False)
        return value

    def list(self, namespace: str) -> list[Container]:
        with self._lock:
            known = self._known.get(namespace)
            values = None if known is None else dict(known)
            writes = self._writes
        records = ContainerRecords(self.db, namespace)
        if values is None:
            values = {r.id: from_record(r) for r in records.list()}
            self._keep(namespace, values, writes, whole=True)
        else:
            stale: dict[str, Container] = {}
            for id in [id for id, value in values.items() if value is None]:
                try:
                    stale[id] = from_record(records.get(id))
                except NotFound:  # deleted meanwhile
                    del values[id]
            values.update(stale)
            self._keep(namespace, stale, writes, whole=False)
        return [values[id] for id in sorted(values)]  # type: ignore[misc]

    def update(self, container: Container) -> Container:
        """Replace the record of ``container.id`` (all fields but ``created_at``)."""
        updated = ContainerRecords(self.db, container.namespace).update(to_record(container))
        self._written(updated.namespace, updated.id, gone=False)
        self._event("/containers/update", updated)
        return from_record(updated)

    def delete(self, namespace: str, id: str) -> None:
        """Drop the record only: its snapshot goes with ``Core.remove_container`` or,
        unreferenced from then on, with the next collection."""
        try:
            gone = ContainerRecords(self.db, namespace).delete(id)
        finally:
            self._written(namespace, id, gone=True)
        self._event("/containers/delete", gone)

    def _written(self, namespace: str, id: str, gone: bool) -> None:
        with self._lock:
            self._writes += 1
            known = self._known.get(namespace)
            if known is None:
                return
            if gone:
                known.pop(id, None)
            else:
                known[id] = None

    def _keep(self, namespace: str, values: dict[str, Container], writes: int,
              whole: bool) -> None:
        """Keep what was read, unless a write came meanwhile (it may be older)."""
        with self._lock:
            if self._writes != writes:
                return
            known = self._known.get(namespace)
            if whole:
                self._known[namespace] = dict(values)
            elif known is not None:
                known.update(values)

    def _event(self, topic: str, record: ContainerRecord) -> None:
        if self._publish is not None:
            self._publish(topic, record.namespace, {"id": record.id, "image": record.image,
                                                    "runtime": record.runtime})
