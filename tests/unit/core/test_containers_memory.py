"""The container service keeps records decoded in memory: its own writes keep that
memory right (a written record is read again, a deleted one dropped), and a read that a
write overtook is not kept."""

from __future__ import annotations

import pytest

from estiba.core.containers import Containers
from estiba.core.records import Container
from estiba.errors import NotFound
from estiba.metadata.db import Database
from estiba.metadata.namespaces import Namespaces

SPEC = {"ociVersion": "1.0.2", "process": {"args": ["sh"]}, "root": {"path": "rootfs"}}


@pytest.fixture
def db(tmp_path):
    database = Database(str(tmp_path / "metadata.db"))
    Namespaces(database).create("docker")
    yield database
    database.close()


def _container(id: str, **fields) -> Container:
    values = {"image": "busybox", "runtime": "runc", "snapshotter": "overlayfs",
              "snapshot_key": id, "spec": SPEC, "labels": (("app", id),)}
    values.update(fields)
    return Container(namespace="docker", id=id, **values)


def _decodes(monkeypatch) -> list[str]:
    """The ids whose record is decoded from the database from now on."""
    from estiba.core import containers as module

    seen: list[str] = []
    real = module.from_record

    def counting(record):
        seen.append(record.id)
        return real(record)

    monkeypatch.setattr(module, "from_record", counting)
    return seen


def test_a_listed_namespace_is_not_decoded_again(db, monkeypatch):
    service = Containers(db)
    for id in ("b", "a", "c"):
        service.create(_container(id))
    assert [c.id for c in service.list("docker")] == ["a", "b", "c"]
    seen = _decodes(monkeypatch)
    assert [c.id for c in service.list("docker")] == ["a", "b", "c"]
    assert service.get("docker", "b").labels == (("app", "b"),)
    assert seen == []


def test_writes_are_seen_and_only_the_written_record_is_read_again(db, monkeypatch):
    service = Containers(db)
    service.create(_container("a"))
    service.create(_container("b"))
    service.list("docker")
    service.update(_container("a", labels=(("app", "new"),)))
    service.create(_container("c"))
    service.delete("docker", "b")
    seen = _decodes(monkeypatch)
    listed = service.list("docker")
    assert [(c.id, c.labels) for c in listed] == [("a", (("app", "new"),)),
                                                  ("c", (("app", "c"),))]
    assert sorted(seen) == ["a", "c"]
    with pytest.raises(NotFound):
        service.get("docker", "b")


def test_a_read_overtaken_by_a_write_is_not_kept(db):
    service = Containers(db)
    service.create(_container("a"))
    writes = service._writes
    old = {"a": service.get("docker", "a")}
    service.update(_container("a", labels=(("app", "new"),)))
    service._keep("docker", old, writes, whole=True)  # the read that lost the race
    assert service.get("docker", "a").labels == (("app", "new"),)
    assert [c.labels for c in service.list("docker")] == [(("app", "new"),)]


def test_another_service_on_the_same_database_reads_it_fresh(db):
    writer, reader = Containers(db), Containers(db)
    writer.create(_container("a"))
    assert [c.id for c in reader.list("docker")] == ["a"]
    assert reader.get("docker", "a") == writer.get("docker", "a")
