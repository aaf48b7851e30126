"""Network records: the networks of a namespace and their endpoints — the containers
attached to them now, each holding one address of its network (the IPAM lease).

Schema (version 6, see ``db.MIGRATIONS``):

    networks(namespace REFERENCES namespaces(name),
             id,                       -- 64 hex digits
             name,                     -- unique in the namespace
             driver,                   -- "bridge", "host", "null"
             config JSON,              -- subnet, gateway, ip_range, bridge, internal ...
             labels JSON, created_at,
             PRIMARY KEY(namespace, id), UNIQUE(namespace, name))
    endpoints(namespace, network_id,   -- REFERENCES networks: a network with endpoints
              container_id,            --   cannot be deleted
              address, mac,            -- "" on networks without addresses
              config JSON,             -- interface names, aliases, published ports
              created_at,
              PRIMARY KEY(namespace, network_id, container_id),
              UNIQUE(namespace, network_id, address))

An endpoint lives while its container's task does: it is made when the task is, and
deleted when the task ends, which frees its address. A network's members, as Docker keeps
them while a container is stopped, are the engine's to remember.
"""

from __future__ import annotations

import json
import sqlite3

from estiba.errors import AlreadyExists, FailedPrecondition, NotFound
from estiba.oci.record import Record
from estiba.oci.state import timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.metadata.db import Database

_NETWORK_COLUMNS = "id, name, driver, config, labels, created_at"
_ENDPOINT_COLUMNS = "network_id, container_id, address, mac, config, created_at"


class NetworkRecord(Record):
    namespace: str
    id: str
    name: str
    driver: str = "bridge"
    config: dict | None = None
    labels: tuple[tuple[str, str], ...] = ()
    created_at: str = ""

    def option(self, key: str, default: object = None) -> object:
        return (self.config or {}).get(key, default)


class EndpointRecord(Record):
    namespace: str
    network_id: str
    container_id: str
    address: str = ""
    mac: str = ""
    config: dict | None = None
    created_at: str = ""


class Networks:
    """The network and endpoint records of one namespace (which must exist)."""

    def __init__(self, db: Database, namespace: str) -> None:
        self.db = db
        self.namespace = namespace

    # --- networks ----------------------------------------------------------------------

    def create(self, record: NetworkRecord) -> NetworkRecord:
        now = timestamp()
        labels = dict(record.labels)
        with self.db.transaction() as conn:
            if not conn.execute("SELECT 1 FROM namespaces WHERE name = ?",
                                (self.namespace,)).fetchone():
                raise NotFound(f"network {record.name}: namespace {self.namespace} does "
                               "not exist")
            if self._network_row(conn, "name", record.name) is not None:
                raise AlreadyExists(f"network with name {record.name} already exists")
            if self._network_row(conn, "id", record.id) is not None:
                raise AlreadyExists(f"network {record.id}: already exists")
            conn.execute(
                f"INSERT INTO networks (namespace, {_NETWORK_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.namespace, record.id, record.name, record.driver,
                 json.dumps(record.config or {}, sort_keys=True),
                 json.dumps(labels, sort_keys=True), now))
        return record.replace(namespace=self.namespace, created_at=now,
                              labels=tuple(sorted(labels.items())))

    def get(self, network_id: str) -> NetworkRecord:
        row = self._network_row(self.db.conn, "id", network_id)
        if row is None:
            raise NotFound(f"network {network_id} not found")
        return self._network(row)

    def by_name(self, name: str) -> NetworkRecord | None:
        row = self._network_row(self.db.conn, "name", name)
        return None if row is None else self._network(row)

    def list(self) -> list[NetworkRecord]:
        rows = self.db.conn.execute(
            f"SELECT {_NETWORK_COLUMNS} FROM networks WHERE namespace = ? "
            "ORDER BY created_at, id", (self.namespace,)).fetchall()
        return [self._network(row) for row in rows]

    def delete(self, network_id: str) -> NetworkRecord:
        """Drop a network without endpoints (FailedPrecondition while it has some)."""
        with self.db.transaction() as conn:
            row = self._network_row(conn, "id", network_id)
            if row is None:
                raise NotFound(f"network {network_id} not found")
            users = conn.execute(
                "SELECT container_id FROM endpoints WHERE namespace = ? AND network_id = ?",
                (self.namespace, network_id)).fetchall()
            if users:
                raise FailedPrecondition(
                    f"error while removing network: network {row[1]} id {network_id} has "
                    "active endpoints")
            conn.execute("DELETE FROM networks WHERE namespace = ? AND id = ?",
                         (self.namespace, network_id))
        return self._network(row)

    def _network_row(self, conn: sqlite3.Connection, column: str, value: str) -> tuple | None:
        return conn.execute(
            f"SELECT {_NETWORK_COLUMNS} FROM networks WHERE namespace = ? AND {column} = ?",
            (self.namespace, value)).fetchone()

    def _network(self, row: tuple) -> NetworkRecord:
        return NetworkRecord(namespace=self.namespace, id=row[0], name=row[1],
                             driver=row[2], config=json.loads(row[3]),
                             labels=tuple(sorted(json.loads(row[4]).items())),
                             created_at=row[5])

    # --- endpoints ---------------------------------------------------------------------

    def add_endpoint(self, record: EndpointRecord,
                     allocate: Callable[[set[str]], tuple[str, str]] | None = None
                     ) -> EndpointRecord:
        """Record an endpoint. ``allocate(used addresses)`` gives its (address, mac),
        inside the transaction, so two endpoints made at once never get the same one."""
        now = timestamp()
        with self.db.transaction() as conn:
            if self._network_row(conn, "id", record.network_id) is None:
                raise NotFound(f"network {record.network_id} not found")
            if self._endpoint_row(conn, record.network_id, record.container_id):
                raise AlreadyExists(f"endpoint with name {record.container_id} already "
                                    "exists in network")
            address, mac = record.address, record.mac
            if allocate is not None:
                used = {row[0] for row in conn.execute(
                    "SELECT address FROM endpoints WHERE namespace = ? AND network_id = ? "
                    "AND address != ''", (self.namespace, record.network_id))}
                address, mac = allocate(used)
            conn.execute(
                f"INSERT INTO endpoints (namespace, {_ENDPOINT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.namespace, record.network_id, record.container_id, address, mac,
                 json.dumps(record.config or {}, sort_keys=True), now))
        return record.replace(namespace=self.namespace, address=address, mac=mac,
                              created_at=now)

    def endpoints(self, network_id: str = "", container_id: str = "") -> list[EndpointRecord]:
        """The endpoints of a network, of a container, or (neither given) all of them."""
        where, args = ["namespace = ?"], [self.namespace]
        if network_id:
            where.append("network_id = ?")
            args.append(network_id)
        if container_id:
            where.append("container_id = ?")
            args.append(container_id)
        rows = self.db.conn.execute(
            f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints WHERE {' AND '.join(where)} "
            "ORDER BY created_at, container_id", args).fetchall()
        return [self._endpoint(row) for row in rows]

    def delete_endpoint(self, network_id: str, container_id: str) -> EndpointRecord | None:
        """Drop an endpoint (its address is free again); None when there was none."""
        with self.db.transaction() as conn:
            row = self._endpoint_row(conn, network_id, container_id)
            if row is None:
                return None
            conn.execute("DELETE FROM endpoints WHERE namespace = ? AND network_id = ? "
                         "AND container_id = ?", (self.namespace, network_id, container_id))
        return self._endpoint(row)

    def _endpoint_row(self, conn: sqlite3.Connection, network_id: str,
                      container_id: str) -> tuple | None:
        return conn.execute(
            f"SELECT {_ENDPOINT_COLUMNS} FROM endpoints WHERE namespace = ? AND "
            "network_id = ? AND container_id = ?",
            (self.namespace, network_id, container_id)).fetchone()

    def _endpoint(self, row: tuple) -> EndpointRecord:
        return EndpointRecord(namespace=self.namespace, network_id=row[0],
                              container_id=row[1], address=row[2], mac=row[3],
                              config=json.loads(row[4]), created_at=row[5])


def every_endpoint(db: Database) -> list[tuple[NetworkRecord, EndpointRecord]]:
    """Every endpoint of every namespace with its network: what the firewall is made of."""
    rows = db.conn.execute(
        "SELECT n.namespace, n.id, n.name, n.driver, n.config, n.labels, n.created_at, "
        "e.container_id, e.address, e.mac, e.config, e.created_at FROM endpoints e "
        "JOIN networks n ON n.namespace = e.namespace AND n.id = e.network_id "
        "ORDER BY n.namespace, n.id, e.container_id").fetchall()
    out = []
    for r in rows:
        network = NetworkRecord(namespace=r[0], id=r[1], name=r[2], driver=r[3],
                                config=json.loads(r[4]),
                                labels=tuple(sorted(json.loads(r[5]).items())),
                                created_at=r[6])
        out.append((network, EndpointRecord(namespace=r[0], network_id=r[1],
                                            container_id=r[7], address=r[8], mac=r[9],
                                            config=json.loads(r[10]), created_at=r[11])))
    return out


def every_network(db: Database) -> list[NetworkRecord]:
    rows = db.conn.execute(
        f"SELECT namespace, {_NETWORK_COLUMNS} FROM networks ORDER BY namespace, created_at"
    ).fetchall()
    return [NetworkRecord(namespace=r[0], id=r[1], name=r[2], driver=r[3],
                          config=json.loads(r[4]),
                          labels=tuple(sorted(json.loads(r[5]).items())), created_at=r[6])
            for r in rows]
