"""Snapshot records: which snapshot keys a namespace holds, of what kind, on which parent.

Schema (version 2, see ``db.MIGRATIONS``):

    snapshots(id INTEGER PRIMARY KEY AUTOINCREMENT,   -- names snapshots/<id>/ on disk
              namespace REFERENCES namespaces(name),
              key,                                    -- the key, or the name once committed
              kind,                                   -- view | active | committed
              parent REFERENCES snapshots(id) NULL,   -- always a committed snapshot
              created_at, updated_at, labels JSON,
              UNIQUE(namespace, key))

Keys are namespaced (docker's ``sha256:...`` and another client's never collide); the
bytes live under the snapshotter's root, named by ``id``. Only the records are here: the
snapshotters in ``estiba.snapshots`` decide what happens on disk.
"""

from __future__ import annotations

import json
import time

from estiba.errors import AlreadyExists, Conflict, FailedPrecondition, InvalidArgument, NotFound
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

    from estiba.metadata.db import Database

KINDS = ("view", "active", "committed")

_COLUMNS = ("s.id, s.key, s.kind, s.parent, p.key, s.created_at, s.updated_at, s.labels "
            "FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent")


class SnapshotRecord(Record):
    id: int
    namespace: str
    key: str
    kind: str
    parent_id: int | None = None
    parent: str = ""  # the parent's name ("" without one)
    created_at: str = ""
    updated_at: str = ""
    labels: tuple[tuple[str, str], ...] = ()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def check_key(key: str) -> None:
    if not key or "\0" in key:
        raise InvalidArgument(f"invalid snapshot key {key!r}")


class SnapshotRecords:
    """The snapshot records of one namespace (which must exist)."""

    def __init__(self, db: Database, namespace: str) -> None:
        self.db = db
        self.namespace = namespace

    def get(self, key: str, conn: sqlite3.Connection | None = None) -> SnapshotRecord:
        row = (conn or self.db.conn).execute(
            f"SELECT {_COLUMNS} WHERE s.namespace = ? AND s.key = ?",
            (self.namespace, key)).fetchone()
        if row is None:
            raise NotFound(f"snapshot {key} does not exist")
        return self._record(row)

    def list(self) -> list[SnapshotRecord]:
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} WHERE s.namespace = ? ORDER BY s.id",
            (self.namespace,)).fetchall()
        return [self._record(row) for row in rows]

    def chain(self, snapshot_id: int | None) -> list[int]:
        """The ids from ``snapshot_id`` down to the base layer (empty for None)."""
        if snapshot_id is None:
            return []
        rows = self.db.conn.execute(
            "WITH RECURSIVE chain(id, parent, depth) AS ("
            " SELECT id, parent, 0 FROM snapshots WHERE id = ?"
            " UNION ALL SELECT s.id, s.parent, c.depth + 1"
            " FROM snapshots s JOIN chain c ON s.id = c.parent)"
            " SELECT id FROM chain ORDER BY depth", (snapshot_id,)).fetchall()
        return [row[0] for row in rows]

    def insert(self, conn: sqlite3.Connection, kind: str, key: str, parent: str,
               labels: dict[str, str] | None = None) -> SnapshotRecord:
        """Add a ``view`` or ``active`` snapshot, inside the caller's transaction (which
        then places its directory, named by the returned id)."""
        if kind not in ("view", "active"):
            raise InvalidArgument(f"snapshot {key}: cannot create a {kind} snapshot")
        check_key(key)
        if conn.execute("SELECT 1 FROM snapshots WHERE namespace = ? AND key = ?",
                        (self.namespace, key)).fetchone():
            raise AlreadyExists(f"snapshot {key} already exists")
        parent_id = None
        if parent:
            base = self.get(parent, conn)
            if base.kind != "committed":
                raise FailedPrecondition(
                    f"snapshot {key}: parent {parent} is {base.kind}, not committed")
            parent_id = base.id
        now = _now()
        encoded = json.dumps(labels or {}, sort_keys=True)
        cursor = conn.execute(
            "INSERT INTO snapshots (namespace, key, kind, parent, created_at, updated_at, "
            "labels) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.namespace, key, kind, parent_id, now, now, encoded))
        return SnapshotRecord(
            id=cursor.lastrowid, namespace=self.namespace, key=key, kind=kind,
            parent_id=parent_id, parent=parent, created_at=now, updated_at=now,
            labels=tuple(sorted((labels or {}).items())))

    def commit(self, conn: sqlite3.Connection, name: str, key: str) -> SnapshotRecord:
        """Turn active ``key`` into committed ``name`` (same id, so the same directory)."""
        check_key(name)
        record = self.get(key, conn)
        if record.kind != "active":
            raise FailedPrecondition(f"commit {key}: snapshot is {record.kind}, not active")
        if conn.execute("SELECT 1 FROM snapshots WHERE namespace = ? AND key = ?",
                        (self.namespace, name)).fetchone():
            raise AlreadyExists(f"commit {key}: snapshot {name} already exists")
        now = _now()
        conn.execute("UPDATE snapshots SET key = ?, kind = 'committed', updated_at = ? "
                     "WHERE id = ?", (name, now, record.id))
        return record.replace(key=name, kind="committed", updated_at=now)

    def delete(self, conn: sqlite3.Connection, key: str) -> SnapshotRecord:
        """Drop the record of ``key``; one that is the parent of another is refused."""
        record = self.get(key, conn)
        children = conn.execute("SELECT count(*) FROM snapshots WHERE parent = ?",
                                (record.id,)).fetchone()[0]
        if children:
            raise Conflict(f"remove snapshot {key}: it is the parent of {children} "
                           "snapshot(s)")
        conn.execute("DELETE FROM snapshots WHERE id = ?", (record.id,))
        return record

    def _record(self, row: tuple) -> SnapshotRecord:
        return SnapshotRecord(
            id=row[0], namespace=self.namespace, key=row[1], kind=row[2], parent_id=row[3],
            parent=row[4] or "", created_at=row[5], updated_at=row[6],
            labels=tuple(sorted(json.loads(row[7]).items())))
