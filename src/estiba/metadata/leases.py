"""Leases: what protects work in progress from garbage collection, as containerd's do.

A pull writes blobs and snapshots before any image refers to them; it takes a lease and
adds each resource to it, and the collector keeps whatever an unexpired lease holds.
Deleting the lease (or letting it expire) hands its resources back to the collector.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time

from estiba.errors import AlreadyExists, InvalidArgument, NotFound
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from estiba.metadata.db import Database

RESOURCE_TYPES = ("content", "snapshot", "ingest", "image")


class Lease(Record):
    namespace: str
    id: str
    created_at: float
    expires_at: float | None = None
    labels: tuple[tuple[str, str], ...] = ()


class Leases:
    def __init__(self, db: Database, namespace: str) -> None:
        self.db = db
        self.namespace = namespace

    def create(self, lease_id: str, expires_in: float | None = None,
               labels: dict[str, str] | None = None) -> Lease:
        if not lease_id or "/" in lease_id:
            raise InvalidArgument(f"invalid lease id {lease_id!r}")
        now = time.time()
        expires = None if expires_in is None else now + expires_in
        with self.db.transaction() as conn:
            if not conn.execute("SELECT 1 FROM namespaces WHERE name = ?",
                                (self.namespace,)).fetchone():
                raise NotFound(f"namespace {self.namespace} does not exist")
            if conn.execute("SELECT 1 FROM leases WHERE namespace = ? AND id = ?",
                            (self.namespace, lease_id)).fetchone():
                raise AlreadyExists(f"lease {lease_id} already exists")
            conn.execute(
                "INSERT INTO leases (namespace, id, created_at, expires_at, labels) "
                "VALUES (?, ?, ?, ?, ?)",
                (self.namespace, lease_id, repr(now), None if expires is None else repr(expires),
                 json.dumps(labels or {}, sort_keys=True)))
        return Lease(namespace=self.namespace, id=lease_id, created_at=now, expires_at=expires,
                     labels=tuple(sorted((labels or {}).items())))

    def list(self) -> list[Lease]:
        rows = self.db.conn.execute(
            "SELECT id, created_at, expires_at, labels FROM leases WHERE namespace = ? "
            "ORDER BY id", (self.namespace,)).fetchall()
        return [Lease(namespace=self.namespace, id=r[0], created_at=float(r[1]),
                      expires_at=None if r[2] is None else float(r[2]),
                      labels=tuple(sorted(json.loads(r[3]).items()))) for r in rows]

    def delete(self, lease_id: str) -> None:
        with self.db.transaction() as conn:
            gone = conn.execute("DELETE FROM leases WHERE namespace = ? AND id = ?",
                                (self.namespace, lease_id)).rowcount
        if not gone:
            raise NotFound(f"lease {lease_id} does not exist")

    def add_resource(self, lease_id: str, kind: str, resource_id: str) -> None:
        if kind not in RESOURCE_TYPES:
            raise InvalidArgument(f"unknown lease resource type {kind!r}")
        with self.db.transaction() as conn:
            if not conn.execute("SELECT 1 FROM leases WHERE namespace = ? AND id = ?",
                                (self.namespace, lease_id)).fetchone():
                raise NotFound(f"lease {lease_id} does not exist")
            conn.execute("INSERT OR IGNORE INTO lease_resources (namespace, lease, type, id) "
                         "VALUES (?, ?, ?, ?)", (self.namespace, lease_id, kind, resource_id))

    def remove_resource(self, lease_id: str, kind: str, resource_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM lease_resources WHERE namespace = ? AND lease = ? "
                         "AND type = ? AND id = ?",
                         (self.namespace, lease_id, kind, resource_id))

    def resources(self, lease_id: str) -> list[tuple[str, str]]:
        return [tuple(r) for r in self.db.conn.execute(
            "SELECT type, id FROM lease_resources WHERE namespace = ? AND lease = ? "
            "ORDER BY type, id", (self.namespace, lease_id)).fetchall()]


def protected(db: Database, kind: str, now: float | None = None) -> set[str]:
    """The ids of ``kind`` that an unexpired lease of any namespace holds: what the
    garbage collector must keep."""
    now = time.time() if now is None else now
    rows = db.conn.execute(
        "SELECT r.id FROM lease_resources r JOIN leases l "
        "ON l.namespace = r.namespace AND l.id = r.lease "
        "WHERE r.type = ? AND (l.expires_at IS NULL OR CAST(l.expires_at AS REAL) > ?)",
        (kind, now)).fetchall()
    return {r[0] for r in rows}


def held(db: Database, now: float | None = None) -> list[tuple[str, str, str]]:
    """(namespace, type, id) of every resource an unexpired lease holds: the roots the
    garbage collector takes from leases."""
    now = time.time() if now is None else now
    rows = db.conn.execute(
        "SELECT r.namespace, r.type, r.id FROM lease_resources r JOIN leases l "
        "ON l.namespace = r.namespace AND l.id = r.lease "
        "WHERE l.expires_at IS NULL OR CAST(l.expires_at AS REAL) > ? "
        "ORDER BY r.namespace, r.type, r.id", (now,)).fetchall()
    return [tuple(r) for r in rows]


def delete_expired(db: Database, now: float | None = None) -> list[tuple[str, str]]:
    """Delete every lease (of any namespace) expired at ``now``, its resources with it;
    return their (namespace, id)."""
    now = time.time() if now is None else now
    with db.transaction() as conn:
        rows = conn.execute(
            "SELECT namespace, id FROM leases WHERE expires_at IS NOT NULL "
            "AND CAST(expires_at AS REAL) <= ? ORDER BY namespace, id", (now,)).fetchall()
        for namespace, lease_id in rows:
            conn.execute("DELETE FROM leases WHERE namespace = ? AND id = ?",
                         (namespace, lease_id))
    return [tuple(r) for r in rows]


# a temporary lease of work that crashed is freed by the collector after this long
TEMPORARY_EXPIRY = 24 * 3600.0


@contextlib.contextmanager
def temporary(db: Database, namespace: str, what: str,
              expires_in: float = TEMPORARY_EXPIRY) -> Iterator[Callable[[str, str], None]]:
    """A lease of ``namespace`` (which must exist) for the block, deleted at its end: the
    block adds what it writes with ``hold(kind, id)`` until a record refers to it."""
    leases = Leases(db, namespace)
    lease = f"{what}-{secrets.token_hex(8)}"
    leases.create(lease, expires_in=expires_in, labels={"estiba.work": what})

    def hold(kind: str, ident: str) -> None:
        leases.add_resource(lease, kind, ident)

    try:
        yield hold
    finally:
        with contextlib.suppress(NotFound):
            leases.delete(lease)
