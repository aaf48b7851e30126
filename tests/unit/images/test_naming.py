"""naming.py: images named in a namespace keep their blobs through garbage collection;
busybox provided to several namespaces is stored once; names are normalised."""

from __future__ import annotations

import os

import pytest

from estiba.content.store import ContentStore
from estiba.errors import InvalidArgument
from estiba.images.archive import load_archive
from estiba.images.naming import BUSYBOX, name_image, provide_busybox
from estiba.metadata.db import Database
from estiba.metadata.gc import collect
from estiba.metadata.images import Images
from estiba.metadata.leases import Leases

needs_busybox = pytest.mark.skipif(not os.access("/bin/busybox", os.X_OK),
                                   reason="no /bin/busybox")


@pytest.fixture
def store(tmp_path) -> ContentStore:
    return ContentStore(str(tmp_path / "content"))


@pytest.fixture
def db(tmp_path):
    database = Database(str(tmp_path / "metadata.db"))
    yield database
    database.close()


def _digests(store: ContentStore) -> set[str]:
    return {blob.digest for blob in store.list()}


@needs_busybox
def test_busybox_in_two_namespaces_is_stored_once_and_kept_while_named(store, db) -> None:
    first = provide_busybox(store, db, "docker")
    stored = _digests(store)
    assert len(stored) == 3  # manifest, config, layer
    second = provide_busybox(store, db, "default")
    assert _digests(store) == stored
    assert first.name == second.name == BUSYBOX
    assert first.target_digest == second.target_digest
    assert Leases(db, "docker").list() == [] == Leases(db, "default").list()

    assert collect(db, store).blobs_removed == ()
    Images(db, "docker").delete(BUSYBOX)
    assert collect(db, store).blobs_removed == ()  # still named in "default"
    Images(db, "default").delete(BUSYBOX)
    assert set(collect(db, store).blobs_removed) == stored
    assert _digests(store) == set()


@needs_busybox
def test_a_loaded_archive_named_short_is_normalised_and_kept(store, db,
                                                                        tmp_path) -> None:
    from estiba.images.archive import save_archive
    from estiba.images.base import build_busybox

    built = build_busybox(store)
    archive = tmp_path / "busybox.tar"
    save_archive(store, [(["busybox:1"], built.manifest_digest)], str(archive))
    other = ContentStore(str(tmp_path / "other"))
    (loaded,) = load_archive(other, str(archive))
    image = name_image(other, db, "docker", "busybox:1", loaded.manifest_digest)
    assert image.name == "docker.io/library/busybox:1"
    assert image.target_size == other.info(loaded.manifest_digest).size
    assert collect(db, other).blobs_removed == ()


def test_a_bad_name_is_refused_and_records_nothing(store, db) -> None:
    digest = store.write_blob(b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"'
                              + b"sha256:" + b"0" * 64 + b'","size":1},"layers":[]}')
    with pytest.raises(InvalidArgument):
        name_image(store, db, "docker", "Not A Name", digest)
    assert Images(db, "docker").list() == []
