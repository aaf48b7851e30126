"""sources.py: archives indexed in place (headers only), links resolved by name inside
the archive, byte ranges read back; spooling of streams that are not plain files."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from estiba.errors import InvalidArgument
from estiba.images.sources import DirectorySource, SpanReader, TarIndex, open_tar, read


def _tar(files: dict[str, bytes], links: dict[str, tuple[bytes, str]] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


FILES = {"manifest.json": b"[]", "a/layer.tar": b"L" * 5000, "blobs/sha256/x": b"blob"}


def test_members_are_byte_ranges_of_the_archive_file(tmp_path: Path) -> None:
    path = tmp_path / "archive.tar"
    data = _tar(FILES)
    path.write_bytes(data)
    f, index = open_tar(str(path), "test")
    with f:
        span = index.span("a/layer.tar")
        assert span.size == 5000
        assert data[span.offset:span.offset + span.size] == b"L" * 5000
        assert read(index, "./manifest.json", 100) == b"[]"
        assert SpanReader(index.span("blobs/sha256/x")).read() == b"blob"
        with pytest.raises(InvalidArgument, match="more than 2 bytes"):
            read(index, "a/layer.tar", 2)
        with pytest.raises(InvalidArgument, match="no such file"):
            index.span("missing")


def test_links_resolve_inside_the_archive(tmp_path: Path) -> None:
    data = _tar(FILES, {"b/layer.tar": (tarfile.SYMTYPE, "../a/layer.tar"),
                        "c/layer.tar": (tarfile.LNKTYPE, "b/layer.tar")})
    index = TarIndex(io.BufferedReader(io.FileIO(_write(tmp_path, data))), "test")
    assert index.span("c/layer.tar") == index.span("a/layer.tar")
    assert index.has("b/layer.tar")


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd"])
def test_links_out_of_the_archive_are_refused(tmp_path: Path, target: str) -> None:
    data = _tar({}, {"a/layer.tar": (tarfile.SYMTYPE, target)})
    with pytest.raises(InvalidArgument, match="refused"):
        open_tar(_write(tmp_path, data), "test")


def test_a_link_loop_is_refused(tmp_path: Path) -> None:
    data = _tar({}, {"a": (tarfile.SYMTYPE, "b"), "b": (tarfile.SYMTYPE, "a")})
    f, index = open_tar(_write(tmp_path, data), "test")
    with f, pytest.raises(InvalidArgument, match="too many levels of links"):
        index.has("a")


@pytest.mark.parametrize("name", ["../evil", "/etc/evil", "a/../../evil"])
def test_escaping_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidArgument, match="refused"):
        open_tar(_write(tmp_path, _tar({name: b"x"})), "test")


@pytest.mark.parametrize("form", ["pipe-like", "gzip", "offset"])
def test_streams_that_are_not_plain_tars_are_spooled(tmp_path: Path, form: str) -> None:
    data = _tar(FILES)
    if form == "pipe-like":
        stream = io.BytesIO(data)
    elif form == "gzip":
        stream = open(_write(tmp_path, gzip.compress(data)), "rb")  # noqa: SIM115
    else:  # a plain file read from the middle: offsets stay absolute
        path = _write(tmp_path, b"\0" * 1536 + data)
        stream = open(path, "rb")  # noqa: SIM115
        stream.seek(1536)
    with stream:
        f, index = open_tar(stream, "test", str(tmp_path))
        with f:
            assert read(index, "a/layer.tar", 10_000) == b"L" * 5000
    assert sorted(os.listdir(tmp_path)) in ([], ["archive.tar"])  # nothing spooled stays


def test_a_truncated_archive_is_refused(tmp_path: Path) -> None:
    data = _tar(FILES)
    cut = data.index(b"L" * 5000) + 100
    with pytest.raises(InvalidArgument, match="not a valid tar: unexpected end of data"):
        open_tar(_write(tmp_path, data[:cut]), "test")


def test_directory_source(tmp_path: Path) -> None:
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "x").write_bytes(b"hello")
    source = DirectorySource(str(tmp_path))
    try:
        assert source.has("blobs/x") and not source.has("blobs/y")
        assert read(source, "blobs/x", 10) == b"hello"
    finally:
        source.close()


def _write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "archive.tar"
    path.write_bytes(data)
    return str(path)
