"""Leases protect resources from garbage collection until deleted or expired."""

from __future__ import annotations

import time

import pytest

from estiba.errors import AlreadyExists, InvalidArgument, NotFound
from estiba.metadata.leases import Leases, protected

BLOB = "sha256:" + "ab" * 32


def test_a_lease_protects_its_resources_until_deleted(db):
    leases = Leases(db, "docker")
    leases.create("pull-1", labels={"ref": "busybox"})
    leases.add_resource("pull-1", "content", BLOB)
    leases.add_resource("pull-1", "content", BLOB)  # idempotent
    leases.add_resource("pull-1", "snapshot", "layer-1")
    assert leases.resources("pull-1") == [("content", BLOB), ("snapshot", "layer-1")]
    assert protected(db, "content") == {BLOB}
    leases.delete("pull-1")
    assert protected(db, "content") == set()
    assert leases.resources("pull-1") == []


def test_an_expired_lease_protects_nothing(db):
    leases = Leases(db, "docker")
    leases.create("short", expires_in=60)
    leases.add_resource("short", "content", BLOB)
    assert protected(db, "content") == {BLOB}
    assert protected(db, "content", now=time.time() + 120) == set()


def test_leases_are_namespaced(db):
    Leases(db, "docker").create("x")
    Leases(db, "other").create("x")  # the same id elsewhere is another lease
    assert [lease.id for lease in Leases(db, "docker").list()] == ["x"]
    Leases(db, "other").delete("x")
    assert [lease.id for lease in Leases(db, "docker").list()] == ["x"]


def test_errors(db):
    leases = Leases(db, "docker")
    leases.create("a")
    with pytest.raises(AlreadyExists):
        leases.create("a")
    with pytest.raises(NotFound):
        leases.delete("b")
    with pytest.raises(NotFound):
        leases.add_resource("b", "content", BLOB)
    with pytest.raises(InvalidArgument):
        leases.add_resource("a", "blob", BLOB)
    with pytest.raises(NotFound, match="namespace nope does not exist"):
        Leases(db, "nope").create("a")
