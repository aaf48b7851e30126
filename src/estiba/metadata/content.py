"""Content labels: what a namespace says about a blob, as containerd's content ``Info``
labels are. The bytes are shared by every namespace (one content store); the labels are
not: each namespace keeps its own on the same digest.

Schema (version 4, see ``db.MIGRATIONS``):

    content_labels(namespace REFERENCES namespaces(name),
                   digest,
                   labels JSON,                     -- never empty: no labels, no row
                   updated_at,
                   PRIMARY KEY(namespace, digest))

The labels the garbage collector follows (``containerd.io/gc.ref.content.*``,
``containerd.io/gc.ref.snapshot.<snapshotter>``, ``containerd.io/gc.root``) are named in
``metadata/gc.py``. A blob need not exist to carry labels (a loader may label before it
commits, and a label outlives its blob until the collector drops it), so the digest is
only checked for shape.
"""

from __future__ import annotations

import json
import time

from estiba.errors import InvalidArgument, NotFound
from estiba.oci.digest import parse as parse_digest

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Iterator, Mapping

    from estiba.metadata.db import Database

# containerd's limit: a label's key and value together
MAX_LABEL_BYTES = 4096


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def check_labels(labels: Mapping[str, str]) -> None:
    for key, value in labels.items():
        if not isinstance(key, str) or not key or "\0" in key:
            raise InvalidArgument(f"invalid label key {key!r}")
        if not isinstance(value, str) or "\0" in value:
            raise InvalidArgument(f"label {key}: invalid value {value!r}")
        if len(key.encode()) + len(value.encode()) > MAX_LABEL_BYTES:
            raise InvalidArgument(
                f"label {key}: key and value exceed {MAX_LABEL_BYTES} bytes")


class ContentLabels:
    """The content labels of one namespace (which must exist to be written)."""

    def __init__(self, db: Database, namespace: str) -> None:
        self.db = db
        self.namespace = namespace

    def get(self, digest: str) -> dict[str, str]:
        """The labels of ``digest`` in this namespace ({} when it has none)."""
        parse_digest(digest)
        return self._get(self.db.conn, digest)

    def set(self, digest: str, labels: Mapping[str, str]) -> dict[str, str]:
        """Replace every label of ``digest`` with ``labels``."""
        parse_digest(digest)
        check_labels(labels)
        with self.db.transaction() as conn:
            self._check_namespace(conn, digest)
            self._put(conn, digest, dict(labels))
        return dict(sorted(labels.items()))

    def update(self, digest: str, changes: Mapping[str, str | None]) -> dict[str, str]:
        """Set the labels of ``changes`` whose value is a string, remove those whose
        value is None or ""; the others stay. Returns the labels afterwards."""
        parse_digest(digest)
        check_labels({key: value or "" for key, value in changes.items()})
        with self.db.transaction() as conn:
            self._check_namespace(conn, digest)
            labels = self._get(conn, digest)
            for key, value in changes.items():
                if value:
                    labels[key] = value
                else:
                    labels.pop(key, None)
            self._put(conn, digest, labels)
        return dict(sorted(labels.items()))

    def delete(self, digest: str) -> None:
        """Forget every label of ``digest`` here (nothing to do when it has none)."""
        parse_digest(digest)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM content_labels WHERE namespace = ? AND digest = ?",
                         (self.namespace, digest))

    def list(self) -> dict[str, dict[str, str]]:
        """digest -> labels, for every labelled digest of this namespace."""
        rows = self.db.conn.execute(
            "SELECT digest, labels FROM content_labels WHERE namespace = ? ORDER BY digest",
            (self.namespace,)).fetchall()
        return {row[0]: json.loads(row[1]) for row in rows}

    def _check_namespace(self, conn: sqlite3.Connection, digest: str) -> None:
        if not conn.execute("SELECT 1 FROM namespaces WHERE name = ?",
                            (self.namespace,)).fetchone():
            raise NotFound(f"label content {digest}: namespace {self.namespace} does not "
                           "exist")

    def _get(self, conn: sqlite3.Connection, digest: str) -> dict[str, str]:
        row = conn.execute(
            "SELECT labels FROM content_labels WHERE namespace = ? AND digest = ?",
            (self.namespace, digest)).fetchone()
        return {} if row is None else json.loads(row[0])

    def _put(self, conn: sqlite3.Connection, digest: str, labels: dict[str, str]) -> None:
        if not labels:
            conn.execute("DELETE FROM content_labels WHERE namespace = ? AND digest = ?",
                         (self.namespace, digest))
            return
        conn.execute(
            "INSERT INTO content_labels (namespace, digest, labels, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (namespace, digest) DO UPDATE SET "
            "labels = excluded.labels, updated_at = excluded.updated_at",
            (self.namespace, digest, json.dumps(labels, sort_keys=True), _now()))


def every_label(db: Database) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(namespace, digest, labels) of every labelled blob of every namespace."""
    rows = db.conn.execute(
        "SELECT namespace, digest, labels FROM content_labels "
        "ORDER BY namespace, digest").fetchall()
    for namespace, digest, labels in rows:
        yield namespace, digest, json.loads(labels)


def forget(db: Database, nodes: Iterable[tuple[str, str]]) -> int:
    """Drop the labels of each (namespace, digest) of ``nodes`` (what the collector
    found unreferenced there); returns the rows dropped."""
    dropped = 0
    with db.transaction() as conn:
        for namespace, digest in sorted(nodes):
            dropped += conn.execute(
                "DELETE FROM content_labels WHERE namespace = ? AND digest = ?",
                (namespace, digest)).rowcount
    return dropped
