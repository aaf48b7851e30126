"""``collect`` against a real content store and SQLite, with a recording snapshotter
(the real snapshotters are collected in tests/integration/images/test_gc.py)."""

from __future__ import annotations

import time

import pytest

from estiba.content.store import ContentStore
from estiba.errors import Conflict, InvalidArgument
from estiba.metadata.content import ContentLabels
from estiba.metadata.gc import LABEL_ROOT, collect
from estiba.metadata.images import Images
from estiba.metadata.leases import Leases, delete_expired, held
from estiba.metadata.snapshots import SnapshotRecords
from estiba.snapshots import Usage

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


class RecordingSnapshots:
    """Removes records only (no directories); refuses what a test marks busy."""

    def __init__(self, db, namespace: str, removed: list, busy: set) -> None:
        self.records = SnapshotRecords(db, namespace)
        self.db, self.namespace, self.removed, self.busy = db, namespace, removed, busy

    def usage(self, key: str) -> Usage:
        self.records.get(key)
        return Usage(size=100, inodes=1)

    def remove(self, key: str) -> None:
        if key in self.busy:
            raise Conflict(f"remove snapshot {key}: busy")
        with self.db.transaction() as conn:
            self.records.delete(conn, key)
        self.removed.append((self.namespace, key))


@pytest.fixture
def store(tmp_path):
    return ContentStore(str(tmp_path / "content"))


def _snapshotters(db, removed, busy=frozenset()):
    return {"overlayfs": lambda ns: RecordingSnapshots(db, ns, removed, set(busy))}


def _add_snapshot(db, namespace, key, parent="", commit_as=""):
    records = SnapshotRecords(db, namespace)
    with db.transaction() as conn:
        records.insert(conn, "active", key, parent)
        if commit_as:
            records.commit(conn, commit_as, key)


def test_collect_keeps_what_an_image_reaches_and_frees_the_rest(db, store):
    layer = store.write_blob(b"layer")
    config = store.write_blob(b"{}")
    manifest = store.write_blob(b'{"m": 1}')
    stray = store.write_blob(b"stray bytes")
    labels = ContentLabels(db, "docker")
    labels.set(manifest, {"containerd.io/gc.ref.content.config": config,
                          "containerd.io/gc.ref.content.l.0": layer})
    labels.set(config, {"containerd.io/gc.ref.snapshot.overlayfs": "top"})
    labels.set(stray, {"note": "x"})
    Images(db, "docker").create("app", manifest, OCI_INDEX, 8)
    _add_snapshot(db, "docker", "x1", commit_as="base")
    _add_snapshot(db, "docker", "x2", parent="base", commit_as="top")
    _add_snapshot(db, "docker", "y1", commit_as="old")
    _add_snapshot(db, "docker", "container", parent="old")
    removed: list = []

    result = collect(db, store, _snapshotters(db, removed))
    assert result.blobs_removed == (stray,)
    assert result.blob_bytes == len(b"stray bytes")
    assert removed == [("docker", "container"), ("docker", "old")]
    assert result.snapshot_bytes == 200
    assert result.bytes_freed == len(b"stray bytes") + 200
    assert result.labels_dropped == 1 and labels.get(stray) == {}
    assert {b.digest for b in store.list()} == {layer, config, manifest}

    Images(db, "docker").delete("app")
    result = collect(db, store, _snapshotters(db, removed))
    assert set(result.blobs_removed) == {layer, config, manifest}
    assert result.snapshots_removed == (("docker", "top"), ("docker", "base"))
    assert store.list() == [] and labels.list() == {}


def test_expired_leases_are_deleted_and_stop_protecting(db, store):
    blob = store.write_blob(b"leased")
    leases = Leases(db, "docker")
    leases.create("short", expires_in=60)
    leases.add_resource("short", "content", blob)
    assert held(db) == [("docker", "content", blob)]
    assert collect(db, store).blobs_removed == ()
    result = collect(db, store, now=time.time() + 120)
    assert result.leases_expired == (("docker", "short"),)
    assert result.blobs_removed == (blob,)
    assert leases.list() == []
    assert delete_expired(db) == []


def test_a_gc_root_label_keeps_a_blob(db, store):
    blob = store.write_blob(b"pinned")
    ContentLabels(db, "other").set(blob, {LABEL_ROOT: "2026-01-01T00:00:00Z"})
    assert collect(db, store).blobs_removed == ()
    assert store.exists(blob)


def test_ingests_leased_held_or_fresh_are_kept(db, store):
    for ref in ("idle", "leased", "held", "fresh"):
        w = store.writer(ref)
        w.write(b"partial")
        if ref != "held":
            w.close()
        else:
            writer = w
    leases = Leases(db, "docker")
    leases.create("pull")
    leases.add_resource("pull", "ingest", "leased")
    result = collect(db, store, ingest_grace=3600, now=time.time())
    assert result.ingests_aborted == ()
    result = collect(db, store, ingest_grace=0)
    assert result.ingests_aborted == ("fresh", "idle")
    assert result.ingest_bytes == 2 * len(b"partial")
    assert any("ingest held" in s for s in result.skipped)
    writer.close()
    assert sorted(i.ref for i in store.ingests()) == ["held", "leased"]


def test_a_snapshot_refused_during_the_sweep_is_skipped(db, store):
    _add_snapshot(db, "docker", "a")
    removed: list = []
    result = collect(db, store, _snapshotters(db, removed, busy={"a"}))
    assert result.snapshots_removed == ()
    assert result.skipped and "busy" in result.skipped[0]


def test_without_a_snapshotter_snapshots_are_kept(db, store):
    _add_snapshot(db, "docker", "a")
    assert collect(db, store).snapshots_removed == ()
    assert [r.key for r in SnapshotRecords(db, "docker").list()] == ["a"]


def test_one_snapshotter_at_most(db, store):
    with pytest.raises(InvalidArgument, match="snapshotters"):
        collect(db, store, {"a": lambda ns: None, "b": lambda ns: None})

