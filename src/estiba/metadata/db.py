"""The metadata database: SQLite in WAL mode, with a versioned schema.

Schema (version 1):

    namespaces(name PRIMARY KEY, created_at, labels JSON)
    leases(namespace, id, created_at, expires_at NULL, labels JSON,
           PRIMARY KEY(namespace, id))
    lease_resources(namespace, lease, type, id,         -- type: content | snapshot | ...
                    PRIMARY KEY(namespace, lease, type, id))

Version 2 adds ``snapshots`` (see ``metadata/snapshots.py``, which draws it), version 3
``images`` (``metadata/images.py``), version 4 ``content_labels``
(``metadata/content.py``), version 5 ``containers`` (``metadata/containers.py``),
version 6 ``networks`` and ``endpoints`` (``metadata/networks.py``), version 7 ``volumes``
(``metadata/volumes.py``).

Threads: a ``Database`` may be used from any number of threads (the daemon calls the
services from a thread pool). Each thread gets its own connection, opened on first use
(``conn``), so a transaction is never shared: SQLite serialises the writers (BEGIN
IMMEDIATE waits up to ``timeout`` seconds for the write lock) and WAL lets readers run
beside them, each seeing committed data only.

``MIGRATIONS[n]`` takes a database at version n to n + 1; opening a database applies what
is missing, in one transaction each, and refuses a database newer than this code knows
(an older Estiba must not write into a newer schema).
"""

from __future__ import annotations

import os
import sqlite3
import threading

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
    # 4 -> 5: containers (estiba.metadata.containers): records, not processes
    """
    CREATE TABLE containers (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        id TEXT NOT NULL,
        image TEXT NOT NULL DEFAULT '',
        runtime TEXT NOT NULL DEFAULT '',
        snapshotter TEXT NOT NULL DEFAULT '',
        snapshot_key TEXT NOT NULL DEFAULT '',
        spec TEXT,
        labels TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (namespace, id)
    );
    """,
    # 5 -> 6: networks and their endpoints (estiba.metadata.networks); an endpoint's
    # address is unique in its network: the IPAM lease
    """
    CREATE TABLE networks (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        driver TEXT NOT NULL,
        config TEXT NOT NULL DEFAULT '{}',
        labels TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        PRIMARY KEY (namespace, id),
        UNIQUE (namespace, name)
    );
    CREATE TABLE endpoints (
        namespace TEXT NOT NULL,
        network_id TEXT NOT NULL,
        container_id TEXT NOT NULL,
        address TEXT NOT NULL DEFAULT '',
        mac TEXT NOT NULL DEFAULT '',
        config TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        PRIMARY KEY (namespace, network_id, container_id),
        FOREIGN KEY (namespace, network_id) REFERENCES networks(namespace, id)
    );
    CREATE UNIQUE INDEX endpoints_address ON endpoints(namespace, network_id, address)
        WHERE address != '';
    """,
    # 6 -> 7: volumes (estiba.metadata.volumes)
    """
    CREATE TABLE volumes (
        namespace TEXT NOT NULL REFERENCES namespaces(name),
        name TEXT NOT NULL,
        driver TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        labels TEXT NOT NULL DEFAULT '{}',
        anonymous INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        PRIMARY KEY (namespace, name)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """The metadata database at ``path`` (made if missing): one connection per thread."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        directory = os.path.dirname(path)
        if directory:
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            except OSError as err:
                raise from_oserror(f"make {directory}", err) from err
        self.path = path
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.migrate()

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise FailedPrecondition(f"metadata {self.path}: the database is closed")
            try:
                # check_same_thread off only so that close() may close every thread's
                # connection; each is otherwise used by the thread that opened it
                conn = sqlite3.connect(self.path, isolation_level=None,
                                       timeout=self.timeout, check_same_thread=False)
            except sqlite3.Error as err:
                raise InvalidArgument(f"open metadata {self.path}: {err}") from err
            try:
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as err:
                conn.close()
                raise InvalidArgument(f"open metadata {self.path}: {err}") from err
            self._connections.append(conn)
            return conn

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
        """Close every thread's connection; the database cannot be used afterwards."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
