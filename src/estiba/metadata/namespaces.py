"""Namespaces: the first key of every object, as in containerd. Docker-level objects
live in ``docker``; a name is a lower-case label (letters, digits, ``-``, ``_``, ``.``).
"""

from __future__ import annotations

import json
import time

from estiba.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.metadata.db import Database

DOCKER = "docker"


class Namespace(Record):
    name: str
    created_at: str
    labels: tuple[tuple[str, str], ...] = ()


def check_name(name: str) -> None:
    ok = 0 < len(name) <= 76 and name[0].isalnum() and all(
        ch.isascii() and (ch.islower() or ch.isdigit() or ch in "-_.") for ch in name)
    if not ok:
        raise InvalidArgument(f"invalid namespace name {name!r}: use lower-case letters, "
                              "digits, - _ and . (starting with a letter or digit)")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Namespaces:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, name: str, labels: dict[str, str] | None = None) -> Namespace:
        check_name(name)
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM namespaces WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"namespace {name} already exists")
            created = _now()
            conn.execute("INSERT INTO namespaces (name, created_at, labels) VALUES (?, ?, ?)",
                         (name, created, json.dumps(labels or {}, sort_keys=True)))
        return Namespace(name=name, created_at=created,
                         labels=tuple(sorted((labels or {}).items())))

    def ensure(self, name: str) -> Namespace:
        """The namespace, made if missing (what every front end does on first use)."""
        try:
            return self.get(name)
        except NotFound:
            try:
                return self.create(name)
            except AlreadyExists:  # made meanwhile by another writer
                return self.get(name)

    def get(self, name: str) -> Namespace:
        row = self.db.conn.execute(
            "SELECT name, created_at, labels FROM namespaces WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"namespace {name} does not exist")
        return _namespace(row)

    def list(self) -> list[Namespace]:
        rows = self.db.conn.execute(
            "SELECT name, created_at, labels FROM namespaces ORDER BY name").fetchall()
        return [_namespace(row) for row in rows]

    def delete(self, name: str) -> None:
        """Only an empty namespace can go: what it holds would be lost otherwise."""
        with self.db.transaction() as conn:
            if not conn.execute("SELECT 1 FROM namespaces WHERE name = ?", (name,)).fetchone():
                raise NotFound(f"namespace {name} does not exist")
            for table in ("leases", "snapshots", "images", "containers", "content_labels"):
                if conn.execute(f"SELECT 1 FROM {table} WHERE namespace = ? LIMIT 1",
                                (name,)).fetchone():
                    raise FailedPrecondition(f"namespace {name} is not empty: it holds {table}")
            conn.execute("DELETE FROM namespaces WHERE name = ?", (name,))


def _namespace(row: tuple) -> Namespace:
    return Namespace(name=row[0], created_at=row[1],
                     labels=tuple(sorted(json.loads(row[2]).items())))
