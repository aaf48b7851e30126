"""The diff direction without root: ``changes`` and ``write_layer`` on trees the tests
lay out, whiteouts and opaque dirs marked by fake ``Markers``; determinism of
``export_tree``."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from estiba.errors import InvalidArgument
from estiba.images.diff import Change, LayerResult, Markers, changes, export_tree, write_layer

MTIME = 1_600_000_000


class FakeMarkers:
    """Whiteouts and opaque dirs named by path, as overlay would mark them."""

    def __init__(self) -> None:
        self.whiteouts: set[str] = set()
        self.opaque: set[str] = set()

    def whiteout(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        self.whiteouts.add(str(path))

    def make_opaque(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.opaque.add(str(path))

    def markers(self) -> Markers:
        return Markers(is_whiteout=lambda path, st: path in self.whiteouts,
                       is_opaque=lambda path: path in self.opaque)


def files(root: Path, entries: dict[str, bytes | None]) -> None:
    """Lay out ``entries`` under ``root``: bytes make a file, None a directory."""
    for rel, data in entries.items():
        path = root / rel
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        return list(tar)


def names(data: bytes) -> list[str]:
    return [m.name for m in members(data)]


@pytest.fixture
def fake() -> FakeMarkers:
    return FakeMarkers()


def test_changes_like_docker_diff(tmp_path: Path, fake: FakeMarkers) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    files(lower, {"etc/passwd": b"root", "etc/hosts": b"h", "usr/bin/sh": b"sh",
                  "var/log/old": b"o", "var/log/keep": b"k", "var/cache": None})
    files(upper, {"etc/passwd": b"root\nbob", "etc/new": b"n", "home/bob/.profile": b"p",
                  "var/log/keep": b"k2", "var/log/fresh": b"f"})
    fake.whiteout(upper / "etc/hosts")
    fake.whiteout(upper / "usr/bin/sh")
    fake.make_opaque(upper / "var/log")

    got = changes(upper, [str(lower)], markers=fake.markers())

    assert got == [
        Change(kind="C", path="/etc"),
        Change(kind="D", path="/etc/hosts"),
        Change(kind="A", path="/etc/new"),
        Change(kind="C", path="/etc/passwd"),
        Change(kind="A", path="/home"),
        Change(kind="A", path="/home/bob"),
        Change(kind="A", path="/home/bob/.profile"),
        Change(kind="C", path="/usr"),
        Change(kind="C", path="/usr/bin"),
        Change(kind="D", path="/usr/bin/sh"),
        Change(kind="C", path="/var"),
        Change(kind="C", path="/var/log"),
        Change(kind="A", path="/var/log/fresh"),
        Change(kind="C", path="/var/log/keep"),
        Change(kind="D", path="/var/log/old"),
    ]


def test_changes_see_the_lowers_merged(tmp_path: Path, fake: FakeMarkers) -> None:
    """Lowers are top first; a whiteout or an opaque dir in an upper lower hides what
    the lowers below it have, a file hides a directory below it."""
    top, bottom, upper = tmp_path / "top", tmp_path / "bottom", tmp_path / "upper"
    files(bottom, {"gone": b"1", "d/old": b"2", "x/y": b"3", "kept": b"4"})
    files(top, {"d/new": b"5", "x": b"now a file"})
    fake.whiteout(top / "gone")
    fake.make_opaque(top / "d")
    files(upper, {"gone": b"again", "d/old": b"again", "x": b"changed", "kept": b"c",
                  "x2/y": b"3"})
    fake.make_opaque(upper / "d")

    got = changes(upper, [str(top), str(bottom)], markers=fake.markers())

    assert got == [
        Change(kind="C", path="/d"),
        Change(kind="D", path="/d/new"),  # d/old of bottom is hidden by top's opaque d
        Change(kind="A", path="/d/old"),
        Change(kind="A", path="/gone"),
        Change(kind="C", path="/kept"),
        Change(kind="C", path="/x"),
        Change(kind="A", path="/x2"),
        Change(kind="A", path="/x2/y"),
    ]


def test_changes_of_an_empty_upper(tmp_path: Path) -> None:
    (tmp_path / "upper").mkdir()
    assert changes(tmp_path / "upper", [str(tmp_path)]) == []


def test_write_layer_translates_whiteouts_and_opaque_dirs(
    tmp_path: Path, fake: FakeMarkers
) -> None:
    upper = tmp_path / "upper"
    files(upper, {"etc/passwd": b"root\n", "var/log/fresh": b"f"})
    fake.whiteout(upper / "etc/hosts")
    fake.make_opaque(upper / "var/log")
    os.link(upper / "etc/passwd", upper / "etc/passwd-")
    os.symlink("passwd", upper / "etc/link")

    out = io.BytesIO()
    result = write_layer(upper, out, markers=fake.markers())

    data = out.getvalue()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert result == LayerResult(diff_id=digest, digest=digest, size=len(data))
    entries = {m.name: m for m in members(data)}
    assert list(entries) == [
        "etc", "etc/.wh.hosts", "etc/link", "etc/passwd", "etc/passwd-",
        "var", "var/log", "var/log/.wh..wh..opq", "var/log/fresh",
    ]
    assert entries["etc/.wh.hosts"].isreg() and entries["etc/.wh.hosts"].size == 0
    assert entries["var/log/.wh..wh..opq"].isreg()
    assert entries["etc/passwd-"].islnk() and entries["etc/passwd-"].linkname == "etc/passwd"
    assert entries["etc/link"].issym() and entries["etc/link"].linkname == "passwd"
    for member in entries.values():
        assert (member.uname, member.gname) == ("", "")
        assert member.uid == os.getuid()
        assert float(member.mtime).is_integer()


def test_write_layer_with_lowers_drops_markers_that_hide_nothing(
    tmp_path: Path, fake: FakeMarkers
) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    files(lower, {"etc/hosts": b"h", "var/log/old": b"o"})
    fake.whiteout(upper / "etc/hosts")
    fake.whiteout(upper / "etc/never-there")
    fake.make_opaque(upper / "var/log")
    fake.make_opaque(upper / "srv")

    out = io.BytesIO()
    write_layer(upper, out, lower_dirs=[str(lower)], markers=fake.markers())

    assert names(out.getvalue()) == [
        "etc", "etc/.wh.hosts", "srv", "var", "var/log", "var/log/.wh..wh..opq",
    ]


def test_write_layer_gzip_digests(tmp_path: Path) -> None:
    files(tmp_path / "upper", {"a": b"x" * 100_000, "b/c": b"y"})
    plain, packed = io.BytesIO(), io.BytesIO()

    flat = write_layer(tmp_path / "upper", plain)
    result = write_layer(tmp_path / "upper", packed, compression="gzip")

    blob = packed.getvalue()
    assert gzip.decompress(blob) == plain.getvalue()
    assert result == LayerResult(
        diff_id=flat.diff_id, digest="sha256:" + hashlib.sha256(blob).hexdigest(),
        size=len(blob),
    )
    assert result.digest != result.diff_id


def test_write_layer_refuses_unknown_compression(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="unknown compression 'xz'"):
        write_layer(tmp_path, io.BytesIO(), compression="xz")


def _tree(root: Path, reverse: bool) -> None:
    entries = [("bin", None), ("bin/sh", b"#!"), ("etc", None), ("etc/a-b", b"1"),
               ("etc/a", None), ("etc/a/b", b"2"), ("z", b"last")]
    for rel, data in reversed(entries) if reverse else entries:
        files(root, {rel: data})
    os.chmod(root / "bin/sh", 0o755)
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (MTIME + 7.5, MTIME + 0.25))


def test_export_tree_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    _tree(first, reverse=False)
    _tree(second, reverse=True)  # other creation order, other inodes

    runs = []
    for root in (first, first, second):
        out = io.BytesIO()
        runs.append((export_tree(root, out), out.getvalue()))
    (r1, b1), (r2, b2), (r3, b3) = runs

    assert b1 == b2 == b3
    assert r1 == r2 == r3
    assert names(b1) == ["bin", "bin/sh", "etc", "etc/a", "etc/a/b", "etc/a-b", "z"]
    assert {m.mtime for m in members(b1)} == {MTIME}


def test_export_tree_keeps_whiteout_names_as_files(tmp_path: Path) -> None:
    files(tmp_path / "root", {".wh.x": b"", "d/.wh..wh..opq": b""})
    out = io.BytesIO()
    export_tree(tmp_path / "root", out)
    assert names(out.getvalue()) == [".wh.x", "d", "d/.wh..wh..opq"]


def test_export_tree_writes_user_xattrs(tmp_path: Path) -> None:
    files(tmp_path / "root", {"f": b"x"})
    try:
        os.setxattr(tmp_path / "root/f", "user.b", b"\xff\x00bin")
        os.setxattr(tmp_path / "root/f", "user.a", b"text")
    except OSError as err:
        pytest.skip(f"user xattrs not supported on {tmp_path}: {err}")
    out = io.BytesIO()
    export_tree(tmp_path / "root", out)
    (member,) = members(out.getvalue())
    xattrs = {k: v for k, v in member.pax_headers.items() if k.startswith("SCHILY.xattr.")}
    assert list(xattrs) == ["SCHILY.xattr.user.a", "SCHILY.xattr.user.b"]
    assert xattrs["SCHILY.xattr.user.b"].encode("utf-8", "surrogateescape") == b"\xff\x00bin"


def test_headers_carry_no_names_and_no_device_numbers_for_files(tmp_path: Path) -> None:
    files(tmp_path / "root", {"f": b"data"})
    out = io.BytesIO()
    export_tree(tmp_path / "root", out)
    data = out.getvalue()
    header = data[:512]
    assert header[:2] == b"f\0" and header[156:157] == b"0"
    assert header[257:263] == b"ustar\0"  # PAX writes ustar headers
    assert header[265:297] == header[297:329] == b"\0" * 32  # uname, gname
    assert header[329:345] == b"\0" * 16  # devmajor, devminor
