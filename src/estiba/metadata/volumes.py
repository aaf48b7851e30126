"""Volume records: a namespace's volumes, their driver and options (as ``docker volume
create -o`` gives them), labels and whether they were made anonymous (for a container's
path, pruned by default). The data lives under the volume service's root; who uses a
volume is its users' to say (the engine's containers).

Schema (version 7, see ``db.MIGRATIONS``):

    volumes(namespace REFERENCES namespaces(name), name, driver, options JSON,
            labels JSON, anonymous, created_at, PRIMARY KEY(namespace, name))
"""

from __future__ import annotations

import json

from estiba.errors import AlreadyExists, NotFound
from estiba.oci.record import Record
from estiba.oci.state import timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.metadata.db import Database

_COLUMNS = "name, driver, options, labels, anonymous, created_at"


class VolumeRecord(Record):
    namespace: str
    name: str
    driver: str = "local"
    options: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    anonymous: bool = False
    created_at: str = ""


class Volumes:
    """The volume records of one namespace (which must exist to be written)."""

    def __init__(self, db: Database, namespace: str) -> None:
        self.db = db
        self.namespace = namespace

    def create(self, record: VolumeRecord) -> VolumeRecord:
        now = timestamp()
        with self.db.transaction() as conn:
            if not conn.execute("SELECT 1 FROM namespaces WHERE name = ?",
                                (self.namespace,)).fetchone():
                raise NotFound(f"volume {record.name}: namespace {self.namespace} does "
                               "not exist")
            if conn.execute("SELECT 1 FROM volumes WHERE namespace = ? AND name = ?",
                            (self.namespace, record.name)).fetchone():
                raise AlreadyExists(f"volume {record.name}: already exists")
            conn.execute(
                f"INSERT INTO volumes (namespace, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.namespace, record.name, record.driver,
                 json.dumps(dict(record.options), sort_keys=True),
                 json.dumps(dict(record.labels), sort_keys=True), int(record.anonymous),
                 now))
        return record.replace(namespace=self.namespace, created_at=now)

    def get(self, name: str) -> VolumeRecord:
        row = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM volumes WHERE namespace = ? AND name = ?",
            (self.namespace, name)).fetchone()
        if row is None:
            raise NotFound(f"get {name}: no such volume")
        return self._record(row)

    def list(self) -> list[VolumeRecord]:
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM volumes WHERE namespace = ? ORDER BY name",
            (self.namespace,)).fetchall()
        return [self._record(row) for row in rows]

    def delete(self, name: str) -> VolumeRecord:
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM volumes WHERE namespace = ? AND name = ?",
                (self.namespace, name)).fetchone()
            if row is None:
                raise NotFound(f"get {name}: no such volume")
            conn.execute("DELETE FROM volumes WHERE namespace = ? AND name = ?",
                         (self.namespace, name))
        return self._record(row)

    def _record(self, row: tuple) -> VolumeRecord:
        return VolumeRecord(namespace=self.namespace, name=row[0], driver=row[1],
                            options=tuple(sorted(json.loads(row[2]).items())),
                            labels=tuple(sorted(json.loads(row[3]).items())),
                            anonymous=bool(row[4]), created_at=row[5])
