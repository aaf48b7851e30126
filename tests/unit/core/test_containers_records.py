"""Container records: the metadata table, the core's service over it, ids, the
namespace rule, the collector's roots, and the database used from many threads."""

from __future__ import annotations

import threading

import pytest

from estiba.core.containers import Containers
from estiba.core.events import Events
from estiba.core.records import Container
from estiba.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from estiba.metadata import gc
from estiba.metadata.containers import ContainerRoot, check_id, every_root
from estiba.metadata.db import SCHEMA_VERSION, Database
from estiba.metadata.images import Images
from estiba.metadata.namespaces import Namespaces

DIGEST = "sha256:" + "a" * 64
SPEC = {"ociVersion": "1.0.2", "process": {"args": ["sh"]}, "root": {"path": "rootfs"}}


@pytest.fixture
def db(tmp_path):
    database = Database(str(tmp_path / "metadata.db"))
    Namespaces(database).create("docker")
    Namespaces(database).create("other")
    yield database
    database.close()


def _container(id: str = "web", namespace: str = "docker", **fields) -> Container:
    values = {"image": "docker.io/library/busybox:latest", "runtime": "runc",
              "snapshotter": "overlayfs", "snapshot_key": id, "spec": SPEC,
              "labels": (("app", "web"),)}
    values.update(fields)
    return Container(namespace=namespace, id=id, **values)


def test_the_schema_has_the_containers_table(db):
    assert SCHEMA_VERSION >= 5
    columns = [row[1] for row in db.conn.execute("PRAGMA table_info(containers)")]
    assert columns == ["namespace", "id", "image", "runtime", "snapshotter",
                       "snapshot_key", "spec", "labels", "created_at", "updated_at"]


@pytest.mark.parametrize("good", ["a", "web-1", "A.b_c-9", "0" * 76, "f" * 64])
def test_good_ids(good):
    check_id(good)


@pytest.mark.parametrize("bad", ["", "-x", ".x", "_x", "a/b", "a b", "é", "x" * 77, "a:b"])
def test_bad_ids(bad):
    with pytest.raises(InvalidArgument, match="invalid container id"):
        check_id(bad)


def test_create_get_list_update_delete(db):
    events = Events()
    sub = events.subscribe(["/containers/*"])
    service = Containers(db, events.publish)
    made = service.create(_container())
    assert made.created_at and made.created_at == made.updated_at
    assert service.get("docker", "web") == made
    assert made.spec == SPEC and dict(made.labels) == {"app": "web"}
    with pytest.raises(AlreadyExists):
        service.create(_container())
    service.create(_container("web", "other"))  # ids are per namespace
    service.create(_container("api"))
    assert [c.id for c in service.list("docker")] == ["api", "web"]
    changed = service.update(made.replace(labels=(("app", "v2"),), runtime="estiba"))
    assert changed.created_at == made.created_at
    assert service.get("docker", "web").runtime == "estiba"
    assert dict(service.get("docker", "web").labels) == {"app": "v2"}
    service.delete("docker", "web")
    with pytest.raises(NotFound):
        service.get("docker", "web")
    with pytest.raises(NotFound):
        service.delete("docker", "web")
    with pytest.raises(NotFound):
        service.update(made)
    topics = []
    while (event := sub.get(0)) is not None:
        topics.append((event.topic, event.namespace, dict(event.attributes)["id"]))
    assert topics == [("/containers/create", "docker", "web"),
                      ("/containers/create", "other", "web"),
                      ("/containers/create", "docker", "api"),
                      ("/containers/update", "docker", "web"),
                      ("/containers/delete", "docker", "web")]


def test_a_container_without_spec_or_image(db):
    made = Containers(db).create(Container(namespace="docker", id="bare"))
    assert made.spec is None and made.image == "" and made.snapshot_key == ""


@pytest.mark.parametrize(("fields", "match"), [
    ({"id": "../x"}, "invalid container id"),
    ({"snapshotter": ""}, "names no snapshotter"),
    ({"spec": ["not", "an", "object"]}, "not a JSON object"),
    ({"spec": {"x": object()}}, "not JSON"),
    ({"labels": (("", "v"),)}, "invalid label key"),
])
def test_invalid_records_are_refused(db, fields, match):
    with pytest.raises(InvalidArgument, match=match):
        Containers(db).create(_container(**fields))


def test_a_missing_namespace(db):
    with pytest.raises(NotFound, match="namespace nowhere does not exist"):
        Containers(db).create(_container(namespace="nowhere"))


def test_a_namespace_with_containers_cannot_be_deleted(db):
    Containers(db).create(_container(namespace="other"))
    with pytest.raises(FailedPrecondition, match="containers"):
        Namespaces(db).delete("other")
    Containers(db).delete("other", "web")
    Namespaces(db).delete("other")


def test_every_root_joins_the_image_target(db):
    Images(db, "docker").create("docker.io/library/busybox:latest", DIGEST,
                                "application/vnd.oci.image.manifest.v1+json", 10)
    Containers(db).create(_container())
    Containers(db).create(_container("gone", image="docker.io/library/gone:latest"))
    Containers(db).create(Container(namespace="other", id="bare"))
    assert every_root(db) == [
        ContainerRoot(namespace="docker", id="gone", snapshotter="overlayfs",
                      snapshot_key="gone", labels=(("app", "web"),)),
        ContainerRoot(namespace="docker", id="web", snapshotter="overlayfs",
                      snapshot_key="web", image_target=DIGEST, labels=(("app", "web"),)),
        ContainerRoot(namespace="other", id="bare"),
    ]


def test_the_collector_keeps_what_a_container_refers_to():
    config = "sha256:" + "c" * 64
    label_ref = "sha256:" + "d" * 64
    state = gc.State(
        blobs=((DIGEST, 1), (config, 1), (label_ref, 1)),
        labels=(("docker", DIGEST, (("containerd.io/gc.ref.content.config", config),)),),
        snapshots=(gc.SnapshotEntry(namespace="docker", key="base"),
                   gc.SnapshotEntry(namespace="docker", key="web", parent="base"),
                   gc.SnapshotEntry(namespace="docker", key="other-snapshotter"),
                   gc.SnapshotEntry(namespace="docker", key="stray")),
        containers=(
            ContainerRoot(namespace="docker", id="web", snapshotter="overlayfs",
                          snapshot_key="web", image_target=DIGEST,
                          labels=(("containerd.io/gc.ref.content.x", label_ref),)),
            ContainerRoot(namespace="docker", id="x", snapshotter="native",
                          snapshot_key="other-snapshotter"),
        ))
    todo = gc.plan(state, "overlayfs", now=0.0)
    assert todo.blobs == ()
    assert todo.snapshots == (("docker", "other-snapshotter"), ("docker", "stray"))
    without = gc.plan(state.replace(containers=()), "overlayfs", now=0.0)
    assert set(without.blobs) == {DIGEST, config, label_ref}
    assert len(without.snapshots) == 4


def test_the_database_serves_many_threads(db):
    """One connection per thread: 16 threads writing and reading at once."""
    service = Containers(db)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(15):
                service.create(_container(f"c{n}-{i}"))
                assert service.get("docker", f"c{n}-{i}").id == f"c{n}-{i}"
                if i % 2:
                    service.delete("docker", f"c{n}-{i}")
                service.list("docker")
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(service.list("docker")) == 16 * 8


def test_a_closed_database_refuses_new_threads(tmp_path):
    database = Database(str(tmp_path / "m.db"))
    database.close()
    failed = []

    def use() -> None:
        try:
            database.conn  # noqa: B018 - opening is the test
        except FailedPrecondition as err:
            failed.append(err)

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    assert len(failed) == 1
