"""``Core`` without root: namespaces, leases, content, images imported without unpacking,
container records and removal rules, the collector lock and garbage collection of blobs.
(Unpacking and snapshots run as root in tests/integration/core.)"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
import time

import pytest

from estiba.content.store import ContentStore
from estiba.core.images import untagged_name
from estiba.core.leases import CollectorLock
from estiba.core.records import RUNNING, Container, Task
from estiba.core.services import Core
from estiba.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from estiba.images.archive import save_archive
from estiba.images.base import build_busybox

BUSYBOX = "docker.io/library/busybox:latest"
needs_busybox = pytest.mark.skipif(not os.access("/bin/busybox", os.X_OK),
                                   reason="no /bin/busybox")


@pytest.fixture
def core(tmp_path):
    made = Core(str(tmp_path / "root"))
    yield made
    made.close()


def _drain(sub) -> list[tuple[str, str]]:
    out = []
    while (event := sub.get(0)) is not None:
        out.append((event.topic, event.namespace))
    return out


@pytest.fixture(scope="module")
def busybox_archive(tmp_path_factory) -> bytes:
    root = tmp_path_factory.mktemp("busybox")
    store = ContentStore(str(root / "content"))
    built = build_busybox(store, applets=["sh", "ls", "true"])
    out = io.BytesIO()
    save_archive(store, [(["busybox:latest"], built.manifest_digest)], out)
    return out.getvalue()


def _untagged_archive() -> bytes:
    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    layer = layer_buf.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    files = {f"{config_hex}.json": config, "l1/layer.tar": layer,
             "manifest.json": json.dumps([{"Config": f"{config_hex}.json", "RepoTags": [],
                                           "Layers": ["l1/layer.tar"]}]).encode()}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_the_layout_under_root(core, tmp_path):
    root = tmp_path / "root"
    assert (root / "metadata.db").is_file()
    assert core.store.root == str(root / "content")
    assert core.snapshotter("docker").dir == str(root / "snapshots")
    assert core.snapshotter("docker") is core.snapshotter("docker")


def test_namespaces(core):
    sub = core.events.subscribe(["/namespaces/*"])
    core.namespaces.create("a", {"team": "x"})
    with pytest.raises(AlreadyExists):
        core.namespaces.create("a")
    assert [(n.name, dict(n.labels)) for n in core.namespaces.list()] == [("a", {"team": "x"})]
    core.leases.create("a", "hold")
    with pytest.raises(FailedPrecondition, match="leases"):
        core.namespaces.delete("a")
    core.leases.delete("a", "hold")
    core.namespaces.delete("a")
    assert core.namespaces.list() == []
    assert _drain(sub) == [("/namespaces/create", "a"), ("/namespaces/delete", "a")]


def test_leases(core):
    core.namespaces.create("a")
    made = core.leases.create("a", "", expires_in=60)
    assert len(made.id) == 32 and made.expires_at > time.time()
    core.leases.create("a", "mine")
    assert sorted(lease.id for lease in core.leases.list("a")) == sorted([made.id, "mine"])
    with pytest.raises(AlreadyExists):
        core.leases.create("a", "mine")
    with pytest.raises(NotFound):
        core.leases.create("nowhere", "x")
    core.leases.delete("a", "mine")
    with pytest.raises(NotFound):
        core.leases.delete("a", "mine")


def test_content_with_the_namespace_labels(core):
    core.namespaces.create("a")
    core.namespaces.create("b")
    digest = core.store.write_blob(b"hello")
    core.content.update("a", digest, {"x": "1"})
    assert [(i.digest, labels) for i, labels in core.content.list("a")] == [(digest, {"x": "1"})]
    assert [labels for _, labels in core.content.list("b")] == [{}]
    info, labels = core.content.info("a", digest)
    assert info.size == 5 and labels == {"x": "1"}
    core.content.delete("a", digest)
    assert not core.store.exists(digest)
    assert core.content.list("a") == []
    with pytest.raises(NotFound):
        core.content.delete("a", digest)
    with pytest.raises(NotFound):
        core.content.info("a", digest)


def test_snapshots_of_a_missing_namespace(core):
    with pytest.raises(NotFound, match="namespace nowhere"):
        core.snapshots.list("nowhere")
    assert [n.name for n in core.namespaces.list()] == []


@needs_busybox
def test_import_tag_export_delete_without_unpacking(core, busybox_archive):
    sub = core.events.subscribe(["/images/*"], namespace="a")
    (image,) = core.images.import_archive("a", io.BytesIO(busybox_archive), unpack=False)
    assert image.name == BUSYBOX
    assert core.images.get("a", "busybox") == image
    assert [i.name for i in core.images.list("a")] == [BUSYBOX]
    config = core.images.config("a", "busybox")
    assert config["rootfs"]["type"] == "layers" and "Env" in config["config"]
    tagged = core.images.tag("a", "busybox", "mine:1")
    assert tagged.name == "docker.io/library/mine:1"
    assert tagged.target_digest == image.target_digest
    out = io.BytesIO()
    core.images.export_archive("a", ["busybox", "mine:1"], out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        (entry,) = json.loads(tar.extractfile("manifest.json").read())
    assert sorted(entry["RepoTags"]) == ["busybox:latest", "mine:1"]
    again = core.images.import_archive("b", io.BytesIO(out.getvalue()), unpack=False)
    assert {i.target_digest for i in again} == {image.target_digest}
    assert sorted(i.name for i in core.images.list("b")) == [
        BUSYBOX, "docker.io/library/mine:1"]
    core.images.delete("a", "mine:1")
    with pytest.raises(NotFound):
        core.images.get("a", "mine:1")
    with pytest.raises(NotFound):
        core.images.delete("a", "mine:1")
    assert _drain(sub) == [("/images/create", "a"), ("/images/create", "a"),
                           ("/images/delete", "a")]


def test_untagged_images_take_the_tag_or_a_digest_name(core):
    (tagged,) = core.images.import_archive("a", io.BytesIO(_untagged_archive()),
                                           tag="hello:2", unpack=False)
    assert tagged.name == "docker.io/library/hello:2"
    (named,) = core.images.import_archive("a", io.BytesIO(_untagged_archive()),
                                          unpack=False)
    assert named.name == untagged_name(tagged.target_digest)
    assert named.name.startswith("docker.io/library/import-") \
        and named.name.endswith("@" + tagged.target_digest)


def test_a_failed_import_leaves_no_lease(core):
    with pytest.raises(InvalidArgument):
        core.images.import_archive("a", io.BytesIO(b"not a tar" * 100), unpack=False)
    assert core.leases.list("a") == []


@needs_busybox
def test_garbage_collection_frees_an_imported_image_once_deleted(core, busybox_archive):
    (image,) = core.images.import_archive("a", io.BytesIO(busybox_archive), unpack=False)
    blobs = {b.digest for b in core.store.list()}
    assert len(blobs) == 3
    assert core.collect_garbage().blobs_removed == ()
    core.containers.create(Container(namespace="a", id="c1", image=image.name))
    core.images.delete("a", image.name)
    # a container keeps nothing once its image record is gone but what it names
    assert set(core.collect_garbage().blobs_removed) == blobs


class _Tasks:
    def __init__(self, running: set[str]) -> None:
        self.running = running
        self.logs_removed: list[str] = []

    def remove_log(self, namespace: str, id: str) -> None:
        self.logs_removed.append(id)

    def get(self, namespace: str, id: str) -> Task:
        if id not in self.running:
            raise NotFound(f"task {id}: not found")
        return Task(namespace=namespace, id=id, status=RUNNING)


def test_remove_container_is_refused_while_a_task_exists(core):
    core.namespaces.create("a")
    core.tasks = _Tasks({"busy"})
    core.containers.create(Container(namespace="a", id="busy"))
    core.containers.create(Container(namespace="a", id="idle"))
    with pytest.raises(FailedPrecondition, match="has a task"):
        core.remove_container("a", "busy")
    core.remove_container("a", "idle")
    assert [c.id for c in core.containers.list("a")] == ["busy"]
    assert core.tasks.logs_removed == ["idle"]
    with pytest.raises(NotFound):
        core.remove_container("a", "idle")


def test_new_container_checks_before_it_works(core):
    with pytest.raises(InvalidArgument):
        core.new_container("a", "bad/id", "busybox")
    with pytest.raises(NotFound):
        core.new_container("a", "c1", "alpine")  # busybox would be provided


def test_the_collector_lock_lets_works_share_and_a_collection_wait():
    lock = CollectorLock()
    order: list[str] = []
    with lock.shared(), lock.shared():  # works run side by side
        def collect() -> None:
            with lock.exclusive():
                order.append("collect")

        collector = threading.Thread(target=collect)
        collector.start()
        time.sleep(0.05)
        order.append("work done")
    collector.join(5)
    assert order == ["work done", "collect"]


def test_recover_drops_the_daemons_work_leases_and_what_they_held(core) -> None:
    from estiba.metadata.leases import temporary

    core.namespaces.create("ns")
    core.leases.create("ns", "client-lease")
    blob = core.store.write_blob(b"left by a crashed import")  # held by a work lease alone
    with temporary(core.db, "ns", "import") as hold:
        hold("content", blob)
        os.makedirs(os.path.join(core.tmp_dir, "estiba-load-x"))  # a temporary copy
        # the daemon restarted (nothing in flight): its own leases go, a client's stays
        dropped, collected = core.recover()
    assert [ns for ns, _ in dropped] == ["ns"]
    assert [lease.id for lease in core.leases.list("ns")] == ["client-lease"]
    assert blob in collected.blobs_removed and not core.store.exists(blob)
    assert os.listdir(core.tmp_dir) == []
