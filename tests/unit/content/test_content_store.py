"""store.py: ingest, commit, read, resume, locking and the on-disk layout (tmp roots)."""

from __future__ import annotations

import hashlib
import os

import pytest

from estiba.content import BlobInfo, ContentStore, IngestStatus, check_digest
from estiba.errors import (
    AlreadyExists,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unimplemented,
)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def all_files(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


@pytest.fixture
def store(tmp_path) -> ContentStore:
    return ContentStore(str(tmp_path / "content"))


def test_write_commit_read_round_trip(store):
    data = b"hello, layer\n" * 1000
    w = store.writer("layer-1", expected=sha(data), total=len(data))
    w.write(data[:100])
    w.write(data[100:])
    assert w.offset == len(data)
    digest = w.commit()
    assert digest == sha(data)
    assert store.read(digest) == data
    with store.reader(digest) as f:
        assert f.read(5) == b"hello"
    assert store.exists(digest)
    path = os.path.join(store.root, "blobs", "sha256", digest[7:])
    assert store.blob_path(digest) == path and os.path.isfile(path)
    assert os.stat(path).st_mode & 0o777 == 0o444
    assert store.ingests() == []
    assert os.listdir(os.path.join(store.root, "ingest")) == []
    store.verify(digest)


def test_commit_without_expectations_uses_the_hash(store):
    w = store.writer("anything")
    w.write(b"abc")
    assert w.commit() == sha(b"abc")


def test_digest_mismatch_publishes_nothing(store):
    w = store.writer("bad")
    w.write(b"not what you think")
    with pytest.raises(InvalidArgument, match=r"^digest mismatch: expected sha256:0+, got sha"):
        w.commit(expected="sha256:" + "0" * 64)
    assert store.list() == []
    assert not os.path.exists(os.path.join(store.root, "blobs", "sha256", "0" * 64))
    # the writer stays usable: finishing the bytes then committing works
    w.close()
    store.abort("bad")
    assert store.ingests() == []


def test_digest_mismatch_from_writer_expected(store):
    w = store.writer("bad", expected=sha(b"good"))
    w.write(b"evil")
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        w.commit()
    assert store.list() == []


def test_size_mismatch(store):
    w = store.writer("short", total=10)
    w.write(b"12345")
    with pytest.raises(InvalidArgument, match="size mismatch: expected 10, got 5"):
        w.commit()
    with pytest.raises(InvalidArgument, match="size mismatch: expected 3, got 5"):
        w.commit(size=3)
    assert store.list() == []
    w.write(b"67890")  # still open: the rest arrives, the commit succeeds
    assert w.commit() == sha(b"1234567890")


def test_resume_after_crash(store):
    data = bytes(range(256)) * 64
    w = store.writer("layer-x", expected=sha(data), total=len(data))
    w.write(data[:5000])
    del w  # dropped without commit or close, as a crashed process would leave it
    [status] = store.ingests()
    assert status.ref == "layer-x" and status.offset == 5000
    assert status.total == len(data) and status.expected == sha(data)
    assert status.started_at > 0

    w = store.writer("layer-x")
    assert w.offset == 5000
    assert w.total == len(data) and w.expected == sha(data)
    w.write(data[5000:])
    assert w.commit() == sha(data)
    assert store.read(sha(data)) == data


def test_resume_after_close_rehashes_existing_bytes(store):
    with store.writer("r") as w:
        w.write(b"first half, ")
    w = store.writer("r")
    assert w.digest() == sha(b"first half, ")
    w.write(b"second half")
    assert w.commit() == sha(b"first half, second half")


def test_resume_with_a_different_total_fails(store):
    store.writer("r", total=10).close()
    with pytest.raises(FailedPrecondition, match="resume ingest r: total 11 differs from 10"):
        store.writer("r", total=11)
    w = store.writer("r", total=10)  # the failed attempt left the lock free
    w.close()


def test_concurrent_writer_on_same_ref_conflicts(store):
    w = store.writer("layer-1")
    with pytest.raises(Conflict, match="^ref layer-1 is locked$"):
        store.writer("layer-1")
    with pytest.raises(Conflict, match="locked"):
        store.abort("layer-1")
    other = store.writer("layer-2")  # another ref is independent
    other.close()
    w.close()
    store.writer("layer-1").close()  # free again once closed


def test_writer_on_closed_writer_fails(store):
    w = store.writer("x")
    w.close()
    with pytest.raises(FailedPrecondition, match="writer is closed"):
        w.write(b"a")


def test_commit_of_existing_blob_is_already_exists(store):
    digest = store.write_blob(b"same")
    w = store.writer("again")
    w.write(b"same")
    with pytest.raises(AlreadyExists, match=f"content {digest}: already exists"):
        w.commit()
    assert store.ingests() == []  # the ingest is discarded
    assert [i.digest for i in store.list()] == [digest]


def test_writer_with_expected_of_existing_blob(store):
    digest = store.write_blob(b"same")
    with pytest.raises(AlreadyExists):
        store.writer("again", expected=digest)
    assert store.ingests() == []


def test_write_blob(store):
    digest = store.write_blob(b"{}", expected=sha(b"{}"))
    assert digest == sha(b"{}")
    assert store.write_blob(b"{}") == digest  # idempotent
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        store.write_blob(b"[]", expected=digest)
    assert store.ingests() == []
    assert [i.digest for i in store.list()] == [digest]


def test_list_info_delete(store):
    assert store.list() == []
    a = store.write_blob(b"a")
    b = store.write_blob(b"bb")
    infos = store.list()
    assert [i.digest for i in infos] == sorted([a, b])
    info = store.info(b)
    assert isinstance(info, BlobInfo) and info.size == 2 and info.digest == b
    assert info.created_at > 0 and info.updated_at > 0
    store.delete(a)
    assert not store.exists(a)
    assert [i.digest for i in store.list()] == [b]
    with pytest.raises(NotFound, match=f"content {a}: not found"):
        store.delete(a)
    with pytest.raises(NotFound):
        store.info(a)
    with pytest.raises(NotFound):
        store.read(a)


def test_list_skips_stray_files(store):
    store.write_blob(b"a")
    open(os.path.join(store.root, "blobs", "sha256", "junk.tmp"), "w").close()
    assert len(store.list()) == 1


def test_ingests_and_status(store):
    w1 = store.writer("b-ref", total=3)
    w1.write(b"xy")
    w2 = store.writer("a-ref")
    statuses = store.ingests()
    assert [s.ref for s in statuses] == ["a-ref", "b-ref"]
    assert isinstance(statuses[1], IngestStatus)
    assert statuses[1].offset == 2 and statuses[1].total == 3 and statuses[1].expected is None
    assert store.status("b-ref") == statuses[1]
    with pytest.raises(NotFound, match="ingest nope: not found"):
        store.status("nope")
    with pytest.raises(NotFound, match="ingest nope: not found"):
        store.abort("nope")
    w1.close()
    w2.close()
    store.abort("a-ref")
    assert [s.ref for s in store.ingests()] == ["b-ref"]


@pytest.mark.parametrize(
    "ref", ["../../../etc/passwd", "/abs/path", "a/b/../c", "..", ".", "é ✓ \n\t*?", "x" * 5000]
)
def test_odd_refs_stay_inside_the_root(tmp_path, ref):
    root = tmp_path / "root"
    store = ContentStore(str(root))
    w = store.writer(ref)
    w.write(b"data")
    assert store.status(ref).ref == ref
    w.close()
    assert [s.ref for s in store.ingests()] == [ref]
    assert sorted(os.listdir(tmp_path)) == ["root"]
    [ingest] = os.listdir(root / "ingest")
    assert len(ingest) == 64
    w = store.writer(ref)
    assert w.commit() == sha(b"data")
    assert all_files(tmp_path) == ["root/blobs/sha256/" + sha(b"data")[7:]]


@pytest.mark.parametrize("ref", ["", "a\0b"])
def test_invalid_refs(store, ref):
    with pytest.raises(InvalidArgument, match="invalid ingest ref"):
        store.writer(ref)


def test_tampered_blob_is_served_until_verified(store):
    digest = store.write_blob(b"original")
    path = store.blob_path(digest)
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(b"tampered")
    assert store.read(digest) == b"tampered"  # reads are not re-verified (documented)
    with pytest.raises(FailedPrecondition, match=f"verify content {digest}: digest mismatch"):
        store.verify(digest)


@pytest.mark.parametrize(
    ("digest", "error"),
    [
        ("sha256:" + "A" * 64, InvalidArgument),
        ("sha256:" + "a" * 63, InvalidArgument),
        ("sha256:../../" + "a" * 58, InvalidArgument),
        ("a" * 64, InvalidArgument),
        ("md5:" + "a" * 32, InvalidArgument),
        ("sha512:" + "a" * 128, Unimplemented),
        (None, InvalidArgument),
    ],
)
def test_check_digest_rejects(store, digest, error):
    with pytest.raises(error):
        check_digest(digest)
    with pytest.raises(error):
        store.exists(digest)


def test_check_digest_accepts():
    assert check_digest("sha256:" + "ab" * 32) == "ab" * 32


def test_nothing_is_written_before_use(tmp_path):
    ContentStore(str(tmp_path / "c"))
    assert not (tmp_path / "c").exists()


def test_copy_from_appends_a_byte_range_of_a_file_and_hashes_it(store, tmp_path):
    source = tmp_path / "source"
    data = os.urandom(5 << 20) + b"tail"  # more than one copy chunk
    source.write_bytes(b"head" + data + b"trailer")
    fd = os.open(source, os.O_RDONLY)
    try:
        w = store.writer("copied", expected=sha(b"x" + data))
        w.write(b"x")
        assert w.copy_from(fd, 4, len(data)) == len(data)
        assert w.offset == 1 + len(data)
        assert w.commit() == sha(b"x" + data)
    finally:
        os.close(fd)
    assert store.read(sha(b"x" + data)) == b"x" + data


def test_copy_from_past_the_end_of_the_source_fails_and_changes_nothing(store, tmp_path):
    source = tmp_path / "source"
    source.write_bytes(b"short")
    fd = os.open(source, os.O_RDONLY)
    try:
        w = store.writer("short")
        w.write(b"kept ")
        with pytest.raises(InvalidArgument, match="source ended 5 bytes early"):
            w.copy_from(fd, 0, 10)
        assert w.offset == 5 and store.status("short").offset == 5
        w.copy_from(fd, 0, 5)  # the writer goes on from where it was
        assert w.commit() == sha(b"kept short")
    finally:
        os.close(fd)
    assert store.read(sha(b"kept short")) == b"kept short"
