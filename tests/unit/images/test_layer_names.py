"""Pure parts of the layer applier: entry name cleaning and compression detection."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess

import pytest

from estiba.errors import InvalidArgument
from estiba.images.compression import detect, open_decompressed
from estiba.images.layer import entry_path


@pytest.mark.parametrize(
    ("name", "parts"),
    [("a/b", ("a", "b")), ("./a/b/", ("a", "b")), ("/etc/x", ("etc", "x")),
     ("//a//./b", ("a", "b")), ("a/../b", ("b",)), ("a/b/../../c", ("c",)),
     (".", ()), ("./", ()), ("/", ()), ("a/..", ())],
)
def test_entry_path(name: str, parts: tuple[str, ...]) -> None:
    assert entry_path(name) == parts


@pytest.mark.parametrize("name", ["..", "../x", "../../etc/x", "a/../../x", "/../etc", "./.."])
def test_entry_path_refuses_escapes(name: str) -> None:
    with pytest.raises(InvalidArgument, match="escapes the destination"):
        entry_path(name)


def test_detect() -> None:
    assert detect(b"\x1f\x8b\x08\x00") == "gzip"
    assert detect(b"\x28\xb5\x2f\xfd") == "zstd"
    assert detect(b"a/b\x00") == "none"
    assert detect(b"") == "none"


PAYLOAD = b"".join(b"line %d of the layer\n" % i for i in range(20000))


def test_auto_gzip_and_none() -> None:
    kind, reader = open_decompressed(io.BytesIO(gzip.compress(PAYLOAD)))
    assert kind == "gzip" and reader.read() == PAYLOAD
    kind, reader = open_decompressed(io.BytesIO(PAYLOAD))
    assert kind == "none" and reader.read() == PAYLOAD


def test_short_stream_is_uncompressed() -> None:
    kind, reader = open_decompressed(io.BytesIO(b"ab"))
    assert kind == "none" and reader.read() == b"ab"


def test_corrupt_gzip_is_invalid_argument() -> None:
    data = gzip.compress(PAYLOAD)[:-20]
    _, reader = open_decompressed(io.BytesIO(data))
    with pytest.raises(InvalidArgument, match="decompress gzip layer"):
        while reader.read(4096):
            pass


def test_unknown_compression() -> None:
    with pytest.raises(InvalidArgument, match="layer compression 'xz'"):
        open_decompressed(io.BytesIO(b""), "xz")


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd program")
def test_zstd_round_trip() -> None:
    data = subprocess.run(["zstd", "-c", "-q"], input=PAYLOAD, capture_output=True,
                          check=True).stdout
    kind, reader = open_decompressed(io.BytesIO(data))
    try:
        assert kind == "zstd"
        out = b""
        while chunk := reader.read(7000):
            out += chunk
        assert out == PAYLOAD
    finally:
        reader.close()


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd program")
def test_corrupt_zstd_is_invalid_argument() -> None:
    data = subprocess.run(["zstd", "-c", "-q"], input=PAYLOAD, capture_output=True,
                          check=True).stdout
    _, reader = open_decompressed(io.BytesIO(data[:-30]))
    try:
        with pytest.raises(InvalidArgument, match="decompress zstd layer"):
            while reader.read(4096):
                pass
    finally:
        reader.close()
