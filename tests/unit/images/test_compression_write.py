"""Writing compressed layers without root: zstd output of ``write_layer`` (through the
``zstd`` program), its digests computed while streaming, and a failing compressor or
sink surfacing as an error rather than a hang (fake zstd programs written here)."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from estiba.errors import Internal, InvalidArgument, Unavailable
from estiba.images.compression import detect, open_compressed, open_decompressed
from estiba.images.diff import LayerResult, write_layer

needs_zstd = pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd program")

# incompressible: zstd's output keeps pace with its input, so pipes fill up
NOISE = os.urandom(4 << 20)


def tree(root: Path) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_bytes(b"root:x:0:0\n" * 1000)
    (root / "data").write_bytes(NOISE[: 1 << 20])
    os.symlink("etc/passwd", root / "link")
    os.link(root / "data", root / "data2")
    return root


def unzstd(blob: bytes) -> bytes:
    return subprocess.run(["zstd", "-dc", "-q"], input=blob, capture_output=True,
                          check=True, timeout=30).stdout


def within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run call in a thread; fail the test if it is still running after seconds;
    return what it raised (None if nothing)."""
    raised: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as err:  # handed to the test
            raised.append(err)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: a hang"
    return raised[0] if raised else None


def fake_zstd(tmp_path: Path, script: str) -> str:
    path = tmp_path / "fake-zstd"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


@needs_zstd
def test_write_layer_zstd_digests_while_streaming(tmp_path: Path) -> None:
    upper = tree(tmp_path / "upper")
    plain, packed = io.BytesIO(), io.BytesIO()

    flat = write_layer(upper, plain)
    result = write_layer(upper, packed, compression="zstd")

    blob = packed.getvalue()
    assert detect(blob[:4]) == "zstd"
    assert unzstd(blob) == plain.getvalue()
    assert result == LayerResult(
        diff_id=flat.diff_id, digest="sha256:" + hashlib.sha256(blob).hexdigest(),
        size=len(blob),
    )
    assert result.digest != result.diff_id


@needs_zstd
def test_write_layer_zstd_is_deterministic_and_reads_back(tmp_path: Path) -> None:
    upper = tree(tmp_path / "upper")
    first, second = io.BytesIO(), io.BytesIO()
    assert write_layer(upper, first, compression="zstd") == write_layer(
        upper, second, compression="zstd")
    assert first.getvalue() == second.getvalue()

    kind, reader = open_decompressed(io.BytesIO(first.getvalue()))
    try:
        assert kind == "zstd"
        data = b""
        while chunk := reader.read(1 << 16):
            data += chunk
    finally:
        reader.close()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == write_layer(upper, io.BytesIO()).diff_id


@needs_zstd
def test_zstd_level_does_not_follow_the_environment(tmp_path: Path, monkeypatch) -> None:
    upper = tree(tmp_path / "upper")
    default = io.BytesIO()
    write_layer(upper, default, compression="zstd")
    monkeypatch.setenv("ZSTD_CLEVEL", "19")
    monkeypatch.setenv("ZSTD_NBTHREADS", "2")
    again = io.BytesIO()
    write_layer(upper, again, compression="zstd")
    assert again.getvalue() == default.getvalue()


def test_unknown_compression_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="unknown compression 'xz'"):
        open_compressed(io.BytesIO(), "xz")


def test_a_missing_zstd_program_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="compress zstd layer: run .*no such file"):
        open_compressed(io.BytesIO(), "zstd", program=str(tmp_path / "no-zstd"))


def _compress(program: str, data: bytes, sink: object | None = None) -> None:
    compressor = open_compressed(sink or io.BytesIO(), "zstd", program=program)  # type: ignore[arg-type]
    try:
        for start in range(0, len(data), 1 << 16):
            compressor.write(data[start:start + (1 << 16)])
    except BaseException:
        compressor.abort()
        raise
    compressor.close()


def test_zstd_dying_midway_is_an_error_naming_its_message(tmp_path: Path) -> None:
    program = fake_zstd(tmp_path, "head -c 1000 >/dev/null\necho 'zstd: out of luck' >&2\n"
                                  "exit 1\n")
    err = within(20, lambda: _compress(program, NOISE))
    assert isinstance(err, Internal)
    assert str(err) == "compress zstd layer: zstd: out of luck"


def test_zstd_failing_at_the_end_is_an_error(tmp_path: Path) -> None:
    program = fake_zstd(tmp_path, "cat >/dev/null\nexit 3\n")
    err = within(20, lambda: _compress(program, b"small"))
    assert isinstance(err, Internal)
    assert str(err) == "compress zstd layer: zstd exit status 3"


def test_zstd_leaving_input_unread_is_an_error(tmp_path: Path) -> None:
    program = fake_zstd(tmp_path, "exit 0\n")
    err = within(20, lambda: _compress(program, NOISE))
    assert isinstance(err, Internal)
    assert str(err) == "compress zstd layer: zstd stopped reading its input"


class FullDisk:
    def __init__(self, room: int) -> None:
        self.room = room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return len(data)


@needs_zstd
def test_a_failing_sink_is_raised_not_waited_on() -> None:
    err = within(20, lambda: _compress("zstd", NOISE, FullDisk(100_000)))
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC


@needs_zstd
def test_write_layer_zstd_into_a_full_disk_raises(tmp_path: Path) -> None:
    upper = tree(tmp_path / "upper")
    err = within(20, lambda: write_layer(upper, FullDisk(50_000), compression="zstd"))  # type: ignore[arg-type]
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC
