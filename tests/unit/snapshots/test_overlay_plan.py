"""The overlay mount plan (pure): option strings, and short names for long chains."""

from __future__ import annotations

import pytest

from estiba.errors import InvalidArgument
from estiba.snapshots import Mount
from estiba.snapshots.overlay import PAGE_SIZE, check_root, fits, plan_mounts, short_name

DIR = "/var/lib/estiba/snapshots"


def test_short_names_are_base_36():
    assert [short_name(n) for n in (0, 9, 10, 35, 36, 1295, 1296)] == [
        "0", "9", "a", "z", "10", "zz", "100"]
    with pytest.raises(InvalidArgument):
        short_name(-1)


def test_a_base_snapshot_is_a_bind_of_its_own_fs():
    assert plan_mounts(DIR, 7, "active", []) == [
        Mount(type="bind", source=f"{DIR}/7/fs", options=("rw", "rbind"))]
    assert plan_mounts(DIR, 7, "view", []) == [
        Mount(type="bind", source=f"{DIR}/7/fs", options=("ro", "rbind"))]


def test_an_active_snapshot_on_parents_is_one_overlay_topmost_lower_first():
    assert plan_mounts(DIR, 9, "active", [5, 2]) == [Mount(
        type="overlay", source="overlay",
        options=(f"workdir={DIR}/9/work", f"upperdir={DIR}/9/fs",
                 f"lowerdir={DIR}/5/fs:{DIR}/2/fs"))]


def test_a_view_of_one_layer_is_a_read_only_bind_of_that_layer():
    assert plan_mounts(DIR, 9, "view", [5]) == [
        Mount(type="bind", source=f"{DIR}/5/fs", options=("ro", "rbind"))]


def test_a_view_of_several_layers_is_an_overlay_without_upper():
    (mount,) = plan_mounts(DIR, 9, "view", [5, 2])
    assert mount.type == "overlay"
    assert mount.options == (f"lowerdir={DIR}/5/fs:{DIR}/2/fs",)
    assert mount.cwd == ""


def test_128_layers_fit_in_a_page_with_short_names_relative_to_cwd():
    long_dir = "/var/lib/" + "estiba-with-a-rather-long-root-path/" * 3 + "snapshots"
    chain = list(range(100_128, 100_000, -1))  # 128 layers with 6-digit ids
    assert not fits(("lowerdir=" + ":".join(f"{long_dir}/{n}/fs" for n in chain),))
    (mount,) = plan_mounts(long_dir, 200_000, "active", chain)
    data = ",".join(mount.options)
    assert len(data) + 1 <= PAGE_SIZE
    assert mount.cwd == long_dir
    assert mount.options[:2] == ("workdir=200000/work", "upperdir=200000/fs")
    lowers = mount.options[2].removeprefix("lowerdir=").split(":")
    assert lowers == [f"l/{short_name(n)}" for n in chain]


def test_500_layers_overlayfs_stack_limit_still_fit():
    chain = list(range(1_000_500, 1_000_000, -1))
    (mount,) = plan_mounts(DIR, 2_000_000, "view", chain)
    assert fits(mount.options) and mount.cwd == DIR


def test_too_many_layers_even_for_short_names_is_refused():
    with pytest.raises(InvalidArgument, match="do not fit"):
        plan_mounts(DIR, 1, "active", list(range(10_000, 11_000)))


def test_short_chains_keep_absolute_paths():
    (mount,) = plan_mounts(DIR, 200, "active", list(range(199, 150, -1)))
    assert mount.cwd == "" and all("=/" in option for option in mount.options)


def test_a_root_overlay_cannot_name_is_refused():
    with pytest.raises(InvalidArgument):
        check_root("/tmp/a:b")
    with pytest.raises(InvalidArgument):
        check_root("/tmp/a,b")
    check_root("/tmp/ab")
