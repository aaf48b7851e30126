"""The metadata database: schema versions, migrations, namespaces."""

from __future__ import annotations

import sqlite3

import pytest

from estiba.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from estiba.metadata.db import SCHEMA_VERSION, Database
from estiba.metadata.namespaces import DOCKER, Namespaces


@pytest.fixture
def db(tmp_path):
    database = Database(str(tmp_path / "meta" / "metadata.db"))
    yield database
    database.close()


def test_a_new_database_is_at_the_current_version_in_wal_mode(db):
    assert db.version == SCHEMA_VERSION
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_the_data_and_migrates_nothing_twice(tmp_path):
    path = str(tmp_path / "metadata.db")
    first = Database(path)
    Namespaces(first).create("a")
    first.close()
    again = Database(path)
    assert [n.name for n in Namespaces(again).list()] == ["a"]
    assert again.version == SCHEMA_VERSION
    again.close()


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    path = str(tmp_path / "metadata.db")
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(FailedPrecondition, match="newer than this estiba knows"):
        Database(path)


def test_a_failed_transaction_changes_nothing(db):
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO namespaces (name, created_at) VALUES ('x', 'now')")
        raise RuntimeError("midway")
    assert Namespaces(db).list() == []


def test_namespaces(db):
    spaces = Namespaces(db)
    made = spaces.create(DOCKER, {"owner": "engine"})
    assert made.name == "docker" and dict(made.labels) == {"owner": "engine"}
    assert spaces.get("docker") == made
    with pytest.raises(AlreadyExists):
        spaces.create("docker")
    assert spaces.ensure("docker") == made
    assert spaces.ensure("default").name == "default"
    assert [n.name for n in spaces.list()] == ["default", "docker"]
    spaces.delete("default")
    with pytest.raises(NotFound, match="namespace default does not exist"):
        spaces.get("default")


@pytest.mark.parametrize("bad", ["", "Docker", "a b", "-x", "../x", "é", "x" * 77])
def test_namespace_names(db, bad):
    with pytest.raises(InvalidArgument):
        Namespaces(db).create(bad)


def test_a_namespace_with_leases_cannot_be_deleted(db):
    spaces = Namespaces(db)
    spaces.create("k8s.io")
    with db.transaction() as conn:
        conn.execute("INSERT INTO leases (namespace, id, created_at) "
                     "VALUES ('k8s.io', 'pull-1', 'now')")
    with pytest.raises(FailedPrecondition, match="not empty"):
        spaces.delete("k8s.io")


def test_a_namespace_with_snapshots_cannot_be_deleted(db):
    from estiba.metadata.snapshots import SnapshotRecords

    Namespaces(db).create("docker")
    records = SnapshotRecords(db, "docker")
    assert records.list() == []
    with db.transaction() as conn:
        conn.execute("INSERT INTO snapshots (namespace, key, kind, created_at, updated_at) "
                     "VALUES ('docker', 'layer-1', 'committed', 'now', 'now')")
    with pytest.raises(FailedPrecondition, match="holds snapshots"):
        Namespaces(db).delete("docker")
