"""The core's storage services on the real kernel, as root: a ``docker save`` archive of
busybox imported and unpacked into overlay, listed, tagged, exported and imported again
in another namespace; containers made on it; garbage collection around containers; 20
threads creating and removing containers at once."""

from __future__ import annotations

import io
import os
import random
import threading
from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.core.services import Core
from estiba.errors import AlreadyExists, NotFound
from estiba.images.archive import save_archive
from estiba.images.base import build_busybox
from estiba.images.references import snapshot_label
from estiba.oci.digest import chain_ids, parse
from support.mounting import MountPoints

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not os.access("/bin/busybox", os.X_OK),
                                 reason="no /bin/busybox")]

BUSYBOX = "docker.io/library/busybox:latest"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[bytes, str]:
    """busybox as ``docker save`` writes it, and its top chain id."""
    root = tmp_path_factory.mktemp("bb")
    built = build_busybox(ContentStore(str(root / "content")))
    out = io.BytesIO()
    save_archive(ContentStore(str(root / "content")),
                 [(["busybox:latest"], built.manifest_digest)], out)
    return out.getvalue(), str(chain_ids([parse(built.diff_id)])[-1])


@pytest.fixture
def core(tmp_path):
    made = Core(str(tmp_path / "r"))
    yield made
    made.close()


def _committed(core: Core, namespace: str) -> list[str]:
    return [i.name for i in core.snapshots.list(namespace) if i.kind == "committed"]


def test_import_unpack_tag_export_and_import_elsewhere(core, archive):
    data, top = archive
    (image,) = core.images.import_archive("a", io.BytesIO(data))
    assert image.name == BUSYBOX
    assert _committed(core, "a") == [top]
    config_digest = str(core.images.manifest("a", "busybox")[0].config.digest)
    _, labels = core.content.info("a", config_digest)
    assert labels[snapshot_label("overlayfs")] == top
    assert core.leases.list("a") == []  # the import's lease is gone
    assert core.images.unpack("a", "busybox") == top  # already there: reused
    core.images.tag("a", "busybox", "registry.local:5000/tools/bb:1")
    assert [i.name for i in core.images.list("a")] == [
        BUSYBOX, "registry.local:5000/tools/bb:1"]
    out = io.BytesIO()
    core.images.export_archive("a", ["registry.local:5000/tools/bb:1"], out)
    (again,) = core.images.import_archive("b", io.BytesIO(out.getvalue()))
    assert again.name == "registry.local:5000/tools/bb:1"
    assert again.target_digest == image.target_digest
    assert _committed(core, "b") == [top]
    assert core.collect_garbage().blobs_removed == ()


def test_new_container_prepares_its_snapshot(core, archive, tmp_path):
    data, top = archive
    core.images.import_archive("a", io.BytesIO(data))
    made = core.new_container("a", "c1", "busybox", args=["sh", "-c", "echo hi"],
                              env=["A=1"], cwd="/tmp", labels={"app": "x"})
    assert made.image == BUSYBOX and made.snapshot_key == "c1"
    assert made.snapshotter == "overlayfs" and dict(made.labels) == {"app": "x"}
    assert made.spec["process"]["args"] == ["sh", "-c", "echo hi"]
    assert "A=1" in made.spec["process"]["env"] and made.spec["process"]["cwd"] == "/tmp"
    info = core.snapshots.info("a", "c1")
    assert info.kind == "active" and info.parent == top
    assert core.containers.get("a", "c1") == made
    with pytest.raises(AlreadyExists):
        core.new_container("a", "c1", "busybox")
    assert core.leases.list("a") == []
    points = MountPoints(tmp_path / "mnt")
    (tmp_path / "mnt").mkdir()
    try:
        rootfs = points.mount(core.snapshots.mounts("a", "c1"), "rootfs")
        assert (rootfs / "bin" / "busybox").is_file()
        (rootfs / "written").write_text("mine")
    finally:
        points.unmount_all()
    core.remove_container("a", "c1")
    with pytest.raises(NotFound):
        core.snapshots.info("a", "c1")
    with pytest.raises(NotFound):
        core.containers.get("a", "c1")


def test_garbage_collection_keeps_a_container_and_its_image(core, archive):
    data, top = archive
    (image,) = core.images.import_archive("a", io.BytesIO(data))
    core.new_container("a", "c1", "busybox")
    blobs = {b.digest for b in core.store.list()}
    result = core.collect_garbage()
    assert result.blobs_removed == () and result.snapshots_removed == ()
    # the image's record gone, the container still keeps its snapshot and its parents
    core.images.tag("a", "busybox", "kept:1")
    core.images.delete("a", "busybox")
    result = core.collect_garbage()
    assert result.blobs_removed == () and result.snapshots_removed == ()
    core.images.delete("a", "kept:1")
    result = core.collect_garbage()
    assert result.snapshots_removed == ()
    assert set(result.blobs_removed) == blobs  # a container keeps no blob by name
    assert {i.name for i in core.snapshots.list("a")} == {"c1", top}
    core.remove_container("a", "c1")
    result = core.collect_garbage()
    assert result.snapshots_removed == (("a", top),)
    assert core.snapshots.list("a") == [] and core.store.list() == []
    assert image.name == BUSYBOX


def test_twenty_threads_creating_and_removing_containers(core, archive):
    data, top = archive
    core.images.import_archive("a", io.BytesIO(data))
    ids = [f"c{n}" for n in range(6)]
    unexpected: list[BaseException] = []
    done: list[str] = []  # list.append is atomic
    stop = threading.Event()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(12):
                container = rng.choice(ids)
                try:
                    if rng.random() < 0.55:
                        core.new_container("a", container, "busybox")
                        done.append("create")
                    else:
                        core.remove_container("a", container)
                        done.append("remove")
                except (AlreadyExists, NotFound):
                    pass
        except BaseException as err:  # noqa: BLE001 - reported below
            unexpected.append(err)

    def collect() -> None:
        try:
            while not stop.is_set():
                core.collect_garbage()
        except BaseException as err:  # noqa: BLE001 - reported below
            unexpected.append(err)

    collector = threading.Thread(target=collect)
    collector.start()
    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    collector.join()
    assert unexpected == []
    assert done.count("create") >= 6 and done.count("remove") >= 1

    records = {c.id: c for c in core.containers.list("a")}
    core.collect_garbage()
    snapshots = {i.name: i for i in core.snapshots.list("a")}
    for container in records.values():
        assert snapshots[container.snapshot_key].kind == "active"
        assert snapshots[container.snapshot_key].parent == top
    active = {name for name, info in snapshots.items() if info.kind == "active"}
    assert active == set(records)  # no snapshot without its container
    assert core.leases.list("a") == []
    on_disk = sorted(p.name for p in (Path(core.root) / "snapshots").iterdir()
                     if p.name != "l")
    assert len(on_disk) == len(snapshots)

    for id in records:
        core.remove_container("a", id)
    core.images.delete("a", "busybox")
    core.collect_garbage()
    assert core.snapshots.list("a") == [] and core.store.list() == []
