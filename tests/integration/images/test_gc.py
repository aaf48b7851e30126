"""Garbage collection over a real content store, SQLite and overlay snapshotter, as
root: images unpacked through an index under a lease keep their blobs and snapshots
while recorded, and lose them once not; leases, shared blobs, parents of live
snapshots and namespaces sharing a blob."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.errors import NotFound
from estiba.images.references import label_references
from estiba.images.unpack import unpack
from estiba.metadata.content import ContentLabels
from estiba.metadata.db import Database
from estiba.metadata.gc import LABEL_ROOT, collect
from estiba.metadata.images import Images
from estiba.metadata.leases import Leases
from estiba.metadata.namespaces import Namespaces
from estiba.oci.digest import chain_ids, parse
from estiba.snapshots.overlay import OverlaySnapshotter

pytestmark = pytest.mark.root

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
SNAPSHOTTER = "overlayfs"


def _tar(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.size, info.mode = 1_600_000_000, len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


BASE = _tar([("base", b"base\n")])
TOP = _tar([("top", b"top\n")])


def _diff_id(layer: bytes) -> str:
    return "sha256:" + hashlib.sha256(layer).hexdigest()


def _chains(layers: list[bytes]) -> list[str]:
    return [str(c) for c in chain_ids(parse(_diff_id(layer)) for layer in layers)]


class Image:
    def __init__(self, index: str, manifest: str, config: str, layers: list[str],
                 chains: list[str]) -> None:
        self.index, self.manifest, self.config = index, manifest, config
        self.layers, self.chains = layers, chains

    @property
    def blobs(self) -> set[str]:
        return {self.index, self.manifest, self.config, *self.layers}


class Env:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = ContentStore(str(root / "content"))
        self.db = Database(str(root / "metadata.db"))
        for namespace in ("a", "b"):
            Namespaces(self.db).create(namespace)
        self._snapshotters: dict[str, OverlaySnapshotter] = {}

    def snapshotter(self, namespace: str) -> OverlaySnapshotter:
        if namespace not in self._snapshotters:
            self._snapshotters[namespace] = OverlaySnapshotter(
                str(self.root / "snap"), self.db, namespace)
        return self._snapshotters[namespace]

    def collect(self, **kwargs: object):
        return collect(self.db, self.store, {SNAPSHOTTER: self.snapshotter}, **kwargs)

    def write_image(self, layers: list[bytes], tag: str = "") -> Image:
        """Blobs of an index (linux/amd64 and a missing arm64 manifest) -> manifest ->
        config + ``layers``."""
        layer_digests = [self.store.write_blob(layer) for layer in layers]
        config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag,
                             "rootfs": {"type": "layers",
                                        "diff_ids": [_diff_id(x) for x in layers]}}).encode()
        config_digest = self.store.write_blob(config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                       "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": len(x)}
                       for d, x in zip(layer_digests, layers, strict=True)],
        }).encode()
        manifest_digest = self.store.write_blob(manifest)
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "0" * 64, "size": 1,
             "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest),
             "platform": {"os": "linux", "architecture": "amd64"}},
        ]}).encode()
        return Image(self.store.write_blob(index), manifest_digest, config_digest,
                     layer_digests, _chains(layers))

    def pull(self, namespace: str, name: str, layers: list[bytes], tag: str = "") -> Image:
        """What a pull does: blobs, references, unpack (leased), then the record."""
        image = self.write_image(layers, tag)
        label_references(self.store, self.db, namespace, image.index)
        top = unpack(self.store, self.snapshotter(namespace), image.index, db=self.db,
                     namespace=namespace, snapshotter_name=SNAPSHOTTER)
        assert top == image.chains[-1]
        Images(self.db, namespace).create(name, image.index, OCI_INDEX, 1)
        return image

    def blobs(self) -> set[str]:
        return {info.digest for info in self.store.list()}

    def snapshots(self, namespace: str) -> set[str]:
        return {info.name for info in self.snapshotter(namespace).walk()}

    def snapshot_dirs(self) -> list[str]:
        return sorted(n for n in os.listdir(self.root / "snap" / "snapshots") if n != "l")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    made = Env(tmp_path)
    yield made
    made.db.close()


def test_a_kept_image_keeps_everything_and_a_deleted_one_loses_it(env: Env) -> None:
    image = env.pull("a", "app:1", [BASE, TOP])
    stray = env.store.write_blob(b"nobody refers to me")
    env.snapshotter("a").prepare("stray", parent=image.chains[0])  # no lease, no label
    assert ContentLabels(env.db, "a").get(image.config) == {
        f"containerd.io/gc.ref.snapshot.{SNAPSHOTTER}": image.chains[-1]}
    assert Leases(env.db, "a").list() == []  # unpack's temporary lease is gone

    result = env.collect()
    assert result.blobs_removed == (stray,)
    assert result.snapshots_removed == (("a", "stray"),)
    assert env.blobs() == image.blobs
    assert env.snapshots("a") == set(image.chains)
    assert len(env.snapshot_dirs()) == 2

    Images(env.db, "a").delete("app:1")
    result = env.collect()
    assert set(result.blobs_removed) == image.blobs
    assert result.snapshots_removed == (("a", image.chains[1]), ("a", image.chains[0]))
    assert result.bytes_freed > 0
    assert env.blobs() == set() and env.snapshots("a") == set()
    assert env.snapshot_dirs() == []
    assert os.listdir(env.root / "snap" / "snapshots" / "l") == []
    assert ContentLabels(env.db, "a").list() == {}


def test_a_lease_keeps_a_blob_and_a_snapshot_until_deleted_or_expired(env: Env) -> None:
    leases = Leases(env.db, "a")
    blob = env.store.write_blob(b"being pulled")
    leases.create("pull")
    leases.add_resource("pull", "content", blob)
    leases.add_resource("pull", "snapshot", "work")
    env.snapshotter("a").prepare("work")
    leases.create("short", expires_in=60)
    leases.add_resource("short", "snapshot", "quick")
    env.snapshotter("a").prepare("quick")

    result = env.collect()
    assert result.blobs_removed == () and result.snapshots_removed == ()
    result = env.collect(now=time.time() + 120)
    assert result.leases_expired == (("a", "short"),)
    assert result.snapshots_removed == (("a", "quick"),)
    leases.delete("pull")
    result = env.collect()
    assert result.blobs_removed == (blob,)
    assert result.snapshots_removed == (("a", "work"),)


def test_a_blob_shared_by_two_images_survives_deleting_one(env: Env) -> None:
    small = env.pull("a", "small", [BASE], tag="small")
    big = env.pull("a", "big", [BASE, TOP], tag="big")
    assert small.layers[0] == big.layers[0]
    Images(env.db, "a").delete("big")
    result = env.collect()
    assert set(result.blobs_removed) == big.blobs - small.blobs
    assert result.snapshots_removed == (("a", big.chains[1]),)
    assert env.blobs() == small.blobs
    assert env.snapshots("a") == {small.chains[0]}


def test_a_live_active_snapshot_keeps_its_parent_chain(env: Env) -> None:
    image = env.write_image([BASE, TOP])
    leases = Leases(env.db, "a")
    leases.create("run")
    leases.add_resource("run", "snapshot", "container-1")
    top = unpack(env.store, env.snapshotter("a"), image.index, db=env.db, namespace="a",
                 snapshotter_name=SNAPSHOTTER)
    env.snapshotter("a").prepare("container-1", parent=top)
    env.snapshotter("a").prepare("container-2", parent=top,
                                 labels={LABEL_ROOT: "pinned"})

    result = env.collect()
    assert result.snapshots_removed == ()
    assert env.snapshots("a") == {*image.chains, "container-1", "container-2"}
    assert result.blobs_removed  # no image record: the blobs themselves were not kept

    leases.delete("run")
    assert env.collect().snapshots_removed == (("a", "container-1"),)
    env.snapshotter("a").remove("container-2")
    result = env.collect()
    assert result.snapshots_removed == (("a", image.chains[1]), ("a", image.chains[0]))


def test_two_namespaces_share_a_blob(env: Env) -> None:
    first = env.pull("a", "app", [BASE, TOP])
    second = env.pull("b", "app", [BASE, TOP])
    assert first.blobs == second.blobs  # the same bytes, stored once
    assert env.snapshots("a") == env.snapshots("b") == set(first.chains)
    assert len(env.snapshot_dirs()) == 4  # snapshots are per namespace

    Images(env.db, "a").delete("app")
    result = env.collect()
    assert result.blobs_removed == ()
    assert {ns for ns, _ in result.snapshots_removed} == {"a"}
    assert env.snapshots("b") == set(first.chains)
    assert ContentLabels(env.db, "a").list() == {}
    assert ContentLabels(env.db, "b").get(first.manifest)

    Images(env.db, "b").delete("app")
    result = env.collect()
    assert set(result.blobs_removed) == first.blobs
    assert env.snapshot_dirs() == []


def test_unpack_under_the_callers_lease_keeps_its_work_until_released(env: Env) -> None:
    image = env.write_image([BASE, TOP])
    leases = Leases(env.db, "a")
    leases.create("pull")
    for digest in image.blobs:
        leases.add_resource("pull", "content", digest)
    unpack(env.store, env.snapshotter("a"), image.manifest, db=env.db, namespace="a",
           lease="pull")
    result = env.collect()
    assert result.blobs_removed == () and result.snapshots_removed == ()
    assert [lease.id for lease in leases.list()] == ["pull"]  # the caller's: kept
    leases.delete("pull")
    result = env.collect()
    assert set(result.blobs_removed) == image.blobs
    assert len(result.snapshots_removed) == 2


def test_an_index_without_the_host_platform_is_refused(env: Env) -> None:
    manifest = env.write_image([BASE]).manifest
    index = env.store.write_blob(json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": manifest, "size": 1,
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}
    ).encode())
    with pytest.raises(NotFound, match=r"no image for linux/amd64 .*linux/arm64/v8"):
        unpack(env.store, env.snapshotter("a"), index, db=env.db, namespace="a")
    assert env.snapshots("a") == set()
    assert Leases(env.db, "a").list() == []


class _CollectingSnapshotter:
    """The overlay snapshotter, with a garbage collection after every prepare and
    commit: what a collection running in the middle of an unpack would see."""

    def __init__(self, env: Env, namespace: str) -> None:
        self.env, self.inner, self.results = env, env.snapshotter(namespace), []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def prepare(self, key: str, parent: str = "", labels: dict[str, str] | None = None):
        mounts = self.inner.prepare(key, parent, labels)
        self.results.append(self.env.collect(ingest_grace=0))
        return mounts

    def commit(self, name: str, key: str) -> None:
        self.inner.commit(name, key)
        self.results.append(self.env.collect(ingest_grace=0))


def test_a_collection_during_unpack_takes_nothing_of_it(env: Env) -> None:
    image = env.write_image([BASE, TOP])
    snapshotter = _CollectingSnapshotter(env, "a")
    top = unpack(env.store, snapshotter, image.index,  # type: ignore[arg-type]
                 db=env.db, namespace="a", snapshotter_name=SNAPSHOTTER)
    assert len(snapshotter.results) == 4  # two layers: prepare and commit each
    for result in snapshotter.results:
        assert result.blobs_removed == () and result.snapshots_removed == ()
    assert top == image.chains[-1]
    assert env.snapshots("a") == set(image.chains)
