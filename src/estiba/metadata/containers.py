"""Container records: what a container is made of (image, runtime, snapshot, OCI spec),
as containerd's ``containers`` bucket holds them. A record, not a process: the running
process is the core's task, and lives with its shim.

Schema (version 5, see ``db.MIGRATIONS``):

    containers(namespace REFERENCES namespaces(name),
               id,                                  -- [a-zA-Z0-9][a-zA-Z0-9_.-]*, <= 76
               image,                               -- normalised image name, or ""
               runtime,                             -- a configured runtime's name, or ""
               snapshotter, snapshot_key,           -- the rootfs snapshot, or "" and ""
               spec JSON NULL,                      -- the OCI runtime config
               labels JSON,
               created_at, updated_at,
               PRIMARY KEY(namespace, id))

For the garbage collector a container is a root: it keeps its snapshot (in its
snapshotter), the target of its image while that image is recorded, and what its
``containerd.io/gc.ref.*`` labels name (``every_root``, read by ``metadata/gc.py``).
"""

from __future__ import annotations

import json

from estiba.errors import AlreadyExists, InvalidArgument, NotFound
from estiba.metadata.content import check_labels
from estiba.oci.record import Record
from estiba.oci.state import timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

    from estiba.metadata.db import Database

MAX_ID = 76
_ID_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ID_REST = _ID_FIRST | frozenset("_.-")
_COLUMNS = ("id, image, runtime, snapshotter, snapshot_key, spec, labels, created_at, "
            "updated_at")


class ContainerRecord(Record):
    namespace: str
    id: str
    image: str = ""
    runtime: str = ""
    snapshotter: str = ""
    snapshot_key: str = ""
    spec: dict | None = None
    labels: tuple[tuple[str, str], ...] = ()
    created_at: str = ""
    updated_at: str = ""


class ContainerRoot(Record):
    """One container as the garbage collector sees it."""

    namespace: str
    id: str
    snapshotter: str = ""
    snapshot_key: str = ""
    image_target: str = ""  # the digest its image record points at, "" without one
    labels: tuple[tuple[str, str], ...] = ()


def check_id(container_id: str) -> None:
    """Docker's and containerd's rule: ``[a-zA-Z0-9][a-zA-Z0-9_.-]*``, at most 76."""
    ok = (isinstance(container_id, str) and 0 < len(container_id) <= MAX_ID
          and container_id[0] in _ID_FIRST and _ID_REST.issuperset(container_id))
    if not ok:
        raise InvalidArgument(
            f"invalid container id {container_id!r}: use letters, digits, _ . and - "
            f"(starting with a letter or digit), at most {MAX_ID} characters")


def _now() -> str:
    """RFC 3339 with nanoseconds: containers made in the same second keep their order."""
    return timestamp()


def _check(record: ContainerRecord) -> tuple[str | None, str]:
    """Validate ``record``; return its spec and labels encoded."""
    check_id(record.id)
    for field in ("image", "runtime", "snapshotter", "snapshot_key"):
        value = getattr(record, field)
        if not isinstance(value, str) or "\0" in value:
            raise InvalidArgument(f"container {record.id}: invalid {field} {value!r}")
    if record.snapshot_key and not record.snapshotter:
        raise InvalidArgument(
            f"container {record.id}: snapshot {record.snapshot_key} names no snapshotter")
    labels = dict(record.labels)
    check_labels(labels)
    if record.spec is not None and not isinstance(record.spec, dict):
        raise InvalidArgument(f"container {record.id}: the spec is not a JSON object")
    try:
        spec = None if record.spec is None else json.dumps(record.spec, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise InvalidArgument(f"container {record.id}: the spec is not JSON: {err}") from err
    return spec, json.dumps(labels, sort_keys=True)


class Containers:
    """The container records of one namespace (which must exist to be written)."""

    def __init__(self, db: Database, namespace: str) -> None:
        self.db = db
        self.namespace = namespace

    def create(self, record: ContainerRecord) -> ContainerRecord:
        """Record ``record`` (its namespace is this one; timestamps are set here)."""
        spec, labels = _check(record)
        now = _now()
        with self.db.transaction() as conn:
            if not conn.execute("SELECT 1 FROM namespaces WHERE name = ?",
                                (self.namespace,)).fetchone():
                raise NotFound(f"container {record.id}: namespace {self.namespace} does "
                               "not exist")
            if self._row(conn, record.id) is not None:
                raise AlreadyExists(f"container {record.id}: already exists")
            conn.execute(
                f"INSERT INTO containers (namespace, {_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.namespace, record.id, record.image, record.runtime,
                 record.snapshotter, record.snapshot_key, spec, labels, now, now))
        return record.replace(namespace=self.namespace, created_at=now, updated_at=now,
                              labels=tuple(sorted(dict(record.labels).items())))

    def update(self, record: ContainerRecord) -> ContainerRecord:
        """Replace every field of container ``record.id`` but ``created_at``."""
        spec, labels = _check(record)
        now = _now()
        with self.db.transaction() as conn:
            row = self._row(conn, record.id)
            if row is None:
                raise NotFound(f"container {record.id}: not found")
            conn.execute(
                "UPDATE containers SET image = ?, runtime = ?, snapshotter = ?, "
                "snapshot_key = ?, spec = ?, labels = ?, updated_at = ? "
                "WHERE namespace = ? AND id = ?",
                (record.image, record.runtime, record.snapshotter, record.snapshot_key,
                 spec, labels, now, self.namespace, record.id))
        return record.replace(namespace=self.namespace, created_at=row[7], updated_at=now,
                              labels=tuple(sorted(dict(record.labels).items())))

    def get(self, container_id: str) -> ContainerRecord:
        row = self._row(self.db.conn, container_id)
        if row is None:
            raise NotFound(f"container {container_id}: not found")
        return self._record(row)

    def list(self) -> list[ContainerRecord]:
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM containers WHERE namespace = ? ORDER BY id",
            (self.namespace,)).fetchall()
        return [self._record(row) for row in rows]

    def delete(self, container_id: str) -> ContainerRecord:
        """Drop the record; returns what it was."""
        with self.db.transaction() as conn:
            row = self._row(conn, container_id)
            if row is None:
                raise NotFound(f"container {container_id}: not found")
            conn.execute("DELETE FROM containers WHERE namespace = ? AND id = ?",
                         (self.namespace, container_id))
        return self._record(row)

    def _row(self, conn: sqlite3.Connection, container_id: str) -> tuple | None:
        return conn.execute(
            f"SELECT {_COLUMNS} FROM containers WHERE namespace = ? AND id = ?",
            (self.namespace, container_id)).fetchone()

    def _record(self, row: tuple) -> ContainerRecord:
        return ContainerRecord(
            namespace=self.namespace, id=row[0], image=row[1], runtime=row[2],
            snapshotter=row[3], snapshot_key=row[4],
            spec=None if row[5] is None else json.loads(row[5]),
            labels=tuple(sorted(json.loads(row[6]).items())),
            created_at=row[7], updated_at=row[8])


def every_root(db: Database) -> list[ContainerRoot]:
    """Every container of every namespace, with the target of its image when that image
    is recorded: what the garbage collector starts from."""
    rows = db.conn.execute(
        "SELECT c.namespace, c.id, c.snapshotter, c.snapshot_key, i.target_digest, "
        "c.labels FROM containers c LEFT JOIN images i "
        "ON i.namespace = c.namespace AND i.name = c.image AND c.image != '' "
        "ORDER BY c.namespace, c.id").fetchall()
    return [ContainerRoot(namespace=r[0], id=r[1], snapshotter=r[2], snapshot_key=r[3],
                          image_target=r[4] or "",
                          labels=tuple(sorted(json.loads(r[5]).items()))) for r in rows]
