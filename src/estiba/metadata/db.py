"""The metadata database: SQLite in WAL mode, with a versioned schema.

Schema (version 1):

    namespaces(name PRIMARY KEY, created_at, labels JSON)
    leases(namespace, id, created_at, expires_at NULL, labels JSON,
           PRIMARY KEY(namespace, id))
    lease_resources(namespace, lease, type, id,         -- type: content | snapshot | ...
                    PRIMARY KEY(namespace, lease, type, id))

Version 2 adds ``snapshots`` (see ``metadata/snapshots.py``, which draws it), version 3
``images`` (``metadata/images.py``), version 4 ``content_labels``
(``metadata/content.py``).

``MIGRATIONS[n]`` takes a database at version n to n + 1; opening a database applies what
is missing, in one transaction each, and refuses a database newer than this code knows
(an older Estiba must not write into a newer schema).
"""

from __future__ import annotations

import os
import sqlite3

from estiba.errors import FailedPrecondition, InvalidArgument, from_oserror

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE namespaces (
        name TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE leases (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        labels TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (namespace, id)
    );
    CREATE TABLE lease_resources (
        namespace TEXT NOT NULL,
        lease TEXT NOT NULL,
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (namespace, lease, type, id),
        FOREIGN KEY (namespace, lease) REFERENCES leases(namespace, id) ON DELETE CASCADE
    );
    """,
    # 1 -> 2: snapshots (estiba.metadata.snapshots); id names snapshots/<id>/ on disk and
    # is never reused (AUTOINCREMENT), so a stale directory is never mistaken for a new one
    """
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        key TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('view', 'active', 'committed')),
        parent INTEGER REFERENCES snapshots(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        UNIQUE (namespace, key)
    );
    CREATE INDEX snapshots_parent ON snapshots(parent);
    """,
    # 2 -> 3: images (estiba.metadata.images): a name pointing at a target descriptor
    """
    CREATE TABLE images (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        name TEXT NOT NULL,
        target_digest TEXT NOT NULL,
        target_media_type TEXT NOT NULL,
        target_size INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (namespace, name)
    );
    """,
    # 3 -> 4: content labels (estiba.metadata.content): a namespace's labels on a blob,
    # the gc.ref.* ones among them being what the garbage collector follows
    """
    CREATE TABLE content_labels (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        digest TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (namespace, digest)
    );
    CREATE INDEX content_labels_digest ON content_labels(digest);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """One connection to the metadata database at ``path`` (made if missing)."""

    def __init__(self, path: str) -> None:
        directory = os.path.dirname(path)
        if directory:
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            except OSError as err:
                raise from_oserror(f"make {directory}", err) from err
        self.path = path
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        except sqlite3.Error as err:
            raise InvalidArgument(f"open metadata {path}: {err}") from err
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.migrate()

    @property
    def version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        version = self.version
        if version > SCHEMA_VERSION:
            raise FailedPrecondition(
                f"metadata {self.path}: schema version {version} is newer than this "
                f"estiba knows ({SCHEMA_VERSION})")
        for target in range(version, SCHEMA_VERSION):
            # Statement by statement: executescript would commit the transaction first.
            with self.transaction() as conn:
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target + 1}")

    def transaction(self) -> _Transaction:
        """``with db.transaction():`` — one write transaction (BEGIN IMMEDIATE: writers
        queue at the start rather than fail at commit)."""
        return _Transaction(self.conn)

    def close(self) -> None:
        self.conn.close()


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
