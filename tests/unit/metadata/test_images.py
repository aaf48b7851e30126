"""Image records: names pointing at target descriptors, per namespace."""

from __future__ import annotations

import pytest

from estiba.errors import AlreadyExists, InvalidArgument, NotFound
from estiba.metadata.db import Database
from estiba.metadata.images import Image, Images

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ONE = "sha256:" + "ab" * 32
TWO = "sha256:" + "cd" * 32


def test_create_then_get_returns_the_record(db):
    images = Images(db, "docker")
    made = images.create("busybox:latest", ONE, MANIFEST, 123, labels={"a": "b"})
    assert isinstance(made, Image)
    got = images.get("busybox:latest")
    assert got == made
    assert (got.target_digest, got.target_media_type, got.target_size) == (ONE, MANIFEST, 123)
    assert got.labels == (("a", "b"),)
    assert got.created_at == got.updated_at != ""


def test_a_name_is_unique_per_namespace(db):
    Images(db, "docker").create("busybox:latest", ONE, MANIFEST, 1)
    with pytest.raises(AlreadyExists, match="image busybox:latest: already exists"):
        Images(db, "docker").create("busybox:latest", TWO, MANIFEST, 2)
    Images(db, "other").create("busybox:latest", TWO, MANIFEST, 2)
    assert Images(db, "docker").get("busybox:latest").target_digest == ONE
    assert Images(db, "other").get("busybox:latest").target_digest == TWO


def test_get_of_a_missing_name_is_not_found(db):
    with pytest.raises(NotFound, match="^image nope: not found$"):
        Images(db, "docker").get("nope")


def test_update_repoints_a_name_and_keeps_created_at(db):
    images = Images(db, "docker")
    made = images.create("app:1", ONE, MANIFEST, 10, labels={"k": "v"})
    updated = images.update("app:1", TWO, INDEX, 20)
    assert (updated.target_digest, updated.target_media_type, updated.target_size) == (
        TWO, INDEX, 20)
    assert updated.created_at == made.created_at
    assert updated.labels == (("k", "v"),)  # kept when not given
    assert images.get("app:1") == updated
    relabelled = images.update("app:1", TWO, INDEX, 20, labels={})
    assert relabelled.labels == ()


def test_update_of_a_missing_name_is_not_found(db):
    with pytest.raises(NotFound, match="image app:1: not found"):
        Images(db, "docker").update("app:1", ONE, MANIFEST, 1)


def test_list_is_sorted_by_name_and_per_namespace(db):
    images = Images(db, "docker")
    images.create("z:1", ONE, MANIFEST, 1)
    images.create("a:1", TWO, MANIFEST, 2)
    Images(db, "other").create("m:1", ONE, MANIFEST, 1)
    assert [image.name for image in images.list()] == ["a:1", "z:1"]
    assert [image.name for image in Images(db, "other").list()] == ["m:1"]


def test_delete_removes_the_record(db):
    images = Images(db, "docker")
    images.create("a:1", ONE, MANIFEST, 1)
    images.delete("a:1")
    assert images.list() == []
    with pytest.raises(NotFound, match="image a:1: not found"):
        images.delete("a:1")


@pytest.mark.parametrize(("name", "digest", "media_type", "size"), [
    ("", ONE, MANIFEST, 1),
    ("a:1", "sha256:short", MANIFEST, 1),
    ("a:1", ONE, "", 1),
    ("a:1", ONE, MANIFEST, -1),
])
def test_a_malformed_record_is_refused(db, name, digest, media_type, size):
    with pytest.raises(InvalidArgument):
        Images(db, "docker").create(name, digest, media_type, size)


def test_a_missing_namespace_is_not_found(db):
    with pytest.raises(NotFound, match="namespace nope does not exist"):
        Images(db, "nope").create("a:1", ONE, MANIFEST, 1)


def test_records_survive_reopening(tmp_path, db):
    Images(db, "docker").create("a:1", ONE, MANIFEST, 1)
    again = Database(db.path)
    try:
        assert Images(again, "docker").get("a:1").target_digest == ONE
    finally:
        again.close()
