"""Whiteout name rules (OCI image spec, layer.md "Whiteouts")."""

from __future__ import annotations

import pytest

from estiba.errors import InvalidArgument
from estiba.images import whiteouts


@pytest.mark.parametrize(
    ("name", "expected"),
    [(".wh.foo", True), (".wh..wh..opq", True), (".wh..wh.plnk", True), ("foo", False),
     ("a.wh.foo", False), ("wh.foo", False), (".whfoo", False), ("", False)],
)
def test_is_whiteout(name: str, expected: bool) -> None:
    assert whiteouts.is_whiteout(name) is expected


def test_is_opaque_only_for_the_exact_marker() -> None:
    assert whiteouts.is_opaque(".wh..wh..opq")
    assert not whiteouts.is_opaque(".wh..opq")
    assert not whiteouts.is_opaque(".wh..wh..opqx")
    assert not whiteouts.is_opaque(".wh..wh.plnk")


def test_aufs_metadata_names() -> None:
    assert whiteouts.is_meta(".wh..wh.plnk")
    assert whiteouts.is_meta(".wh..wh..opq")
    assert not whiteouts.is_meta(".wh.foo")


@pytest.mark.parametrize(
    ("name", "target"),
    [(".wh.foo", "foo"), (".wh..hidden", ".hidden"), (".wh.a.wh.b", "a.wh.b"),
     (".wh. x", " x")],
)
def test_target(name: str, target: str) -> None:
    assert whiteouts.target(name) == target


@pytest.mark.parametrize(
    "name", ["foo", ".wh.", ".wh..", ".wh...", ".wh..wh..opq", ".wh..wh.plnk", ".wh.a/b"]
)
def test_target_refuses_what_is_no_plain_whiteout(name: str) -> None:
    with pytest.raises(InvalidArgument, match="whiteout"):
        whiteouts.target(name)


def test_whiteout_for_round_trips() -> None:
    assert whiteouts.whiteout_for("foo") == ".wh.foo"
    assert whiteouts.target(whiteouts.whiteout_for("foo")) == "foo"
    for bad in ("", ".", "..", "a/b"):
        with pytest.raises(InvalidArgument):
            whiteouts.whiteout_for(bad)
