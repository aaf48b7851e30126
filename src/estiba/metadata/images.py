"""Image records: a name (``docker.io/library/busybox:latest``) pointing at a target
descriptor (a manifest or an index) in the content store, as containerd's images are.

Schema (version 3, see ``db.MIGRATIONS``):

    images(namespace REFERENCES namespaces(name),
           name,
           target_digest, target_media_type, target_size,
           created_at, updated_at, labels JSON,
           PRIMARY KEY(namespace, name))

Only the record is here: the bytes it names live in ``estiba.content``, and the
unpacked layers in ``estiba.snapshots``.
"""

from __future__ import annotations

import json
import time

from estiba.errors import AlreadyExists, InvalidArgument, NotFound
from estiba.oci.digest import parse as parse_digest
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

    from estiba.metadata.db import Database

_COLUMNS = ("name, target_digest, target_media_type, target_size, created_at, "
            "updated_at, labels")


class Image(Record):
    name: str
    target_digest: str
    target_media_type: str
    target_size: int
    created_at: str = ""
    updated_at: str = ""
    labels: tuple[tuple[str, str], ...] = ()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _check(name: str, target_digest: str, target_media_type: str, target_size: int) -> None:
    if not name or "\0" in name:
        raise InvalidArgument(f"invalid image name {name!r}")
    parse_digest(target_digest)
    if not target_media_type:
        raise InvalidArgument(f"image {name}: target media type is empty")
    if target_size < 0:
        raise InvalidArgument(f"image {name}: target size {target_size} is negative")


class Images:
    """The image records of one namespace (which must exist)."""

    def __init__(self, db: Database, namespace: str) -> None:
        self.db = db
        self.namespace = namespace

    def create(self, name: str, target_digest: str, target_media_type: str,
               target_size: int, labels: dict[str, str] | None = None) -> Image:
        _check(name, target_digest, target_media_type, target_size)
        now = _now()
        with self.db.transaction() as conn:
            if not conn.execute("SELECT 1 FROM namespaces WHERE name = ?",
                                (self.namespace,)).fetchone():
                raise NotFound(f"image {name}: namespace {self.namespace} does not exist")
            if self._row(conn, name) is not None:
                raise AlreadyExists(f"image {name}: already exists")
            conn.execute(
                f"INSERT INTO images (namespace, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self.namespace, name, target_digest, target_media_type, target_size,
                 now, now, json.dumps(labels or {}, sort_keys=True)))
        return Image(name=name, target_digest=target_digest,
                     target_media_type=target_media_type, target_size=target_size,
                     created_at=now, updated_at=now,
                     labels=tuple(sorted((labels or {}).items())))

    def update(self, name: str, target_digest: str, target_media_type: str,
               target_size: int, labels: dict[str, str] | None = None) -> Image:
        """Re-point ``name`` at another target; ``labels``, when given, replace the old
        ones. ``created_at`` is kept."""
        _check(name, target_digest, target_media_type, target_size)
        now = _now()
        with self.db.transaction() as conn:
            row = self._row(conn, name)
            if row is None:
                raise NotFound(f"image {name}: not found")
            encoded = row[6] if labels is None else json.dumps(labels, sort_keys=True)
            conn.execute(
                "UPDATE images SET target_digest = ?, target_media_type = ?, "
                "target_size = ?, updated_at = ?, labels = ? "
                "WHERE namespace = ? AND name = ?",
                (target_digest, target_media_type, target_size, now, encoded,
                 self.namespace, name))
        return _image((name, target_digest, target_media_type, target_size, row[4], now,
                       encoded))

    def get(self, name: str) -> Image:
        row = self._row(self.db.conn, name)
        if row is None:
            raise NotFound(f"image {name}: not found")
        return _image(row)

    def list(self) -> list[Image]:
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM images WHERE namespace = ? ORDER BY name",
            (self.namespace,)).fetchall()
        return [_image(row) for row in rows]

    def delete(self, name: str) -> None:
        with self.db.transaction() as conn:
            cursor = conn.execute("DELETE FROM images WHERE namespace = ? AND name = ?",
                                  (self.namespace, name))
            if cursor.rowcount == 0:
                raise NotFound(f"image {name}: not found")

    def _row(self, conn: sqlite3.Connection, name: str) -> tuple | None:
        return conn.execute(
            f"SELECT {_COLUMNS} FROM images WHERE namespace = ? AND name = ?",
            (self.namespace, name)).fetchone()


def _image(row: tuple) -> Image:
    return Image(name=row[0], target_digest=row[1], target_media_type=row[2],
                 target_size=row[3], created_at=row[4], updated_at=row[5],
                 labels=tuple(sorted(json.loads(row[6]).items())))
