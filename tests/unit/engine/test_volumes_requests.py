"""Which volumes a create asks for (engine/volumes.py) and the local driver's rules
(volumes/service.py): pure."""

from __future__ import annotations

import pytest

from estiba.engine.volumes import requests
from estiba.errors import InvalidArgument
from estiba.kernel import consts as k
from estiba.volumes.service import check_name, check_options, mount_args


def shown(found: list) -> list[tuple]:
    return [(r.name, r.destination, r.read_only, r.nocopy) for r in found]


def test_binds_mounts_and_anonymous_paths() -> None:
    host_config = {"Binds": ["/srv:/srv", "data:/data:ro", "cache:/c:nocopy,rw"],
                   "Mounts": [{"Type": "volume", "Source": "m", "Target": "/m/",
                               "ReadOnly": True,
                               "VolumeOptions": {"NoCopy": True, "Labels": {"a": "b"},
                                                 "DriverConfig": {"Options": {"o": "x"}}}},
                              {"Type": "volume", "Target": "/anon"},
                              {"Type": "tmpfs", "Target": "/t"}]}
    found = requests({"Volumes": {"/v": {}, "/data": {}}}, host_config, ["/img", "/t"],
                     ["/srv", "/t"])
    assert shown(found) == [("data", "/data", True, False), ("cache", "/c", False, True),
                            ("m", "/m", True, True), ("", "/anon", False, False),
                            ("", "/img", False, False), ("", "/v", False, False)]
    assert found[2].labels == {"a": "b"} and found[2].options == {"o": "x"}


@pytest.mark.parametrize("bind", ["data:rel", "data:/d:bogus", "data"])
def test_bad_volume_binds(bind: str) -> None:
    with pytest.raises(InvalidArgument):
        requests({}, {"Binds": [bind]}, [], [])


@pytest.mark.parametrize("name", ["ab", "a.b-c_d", "A1"])
def test_good_names(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize("name", ["bad/name", "-x", ".x", "a b"])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match="includes invalid characters"):
        check_name(name)


def test_short_names() -> None:
    with pytest.raises(InvalidArgument, match="volume name is too short"):
        check_name("a")


def test_driver_options() -> None:
    check_options({})
    check_options({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    check_options({"o": "bind", "device": "/srv"})
    for bad in ({"size": "1"}, {"type": "tmpfs"}, {"device": "/dev/sdb"}):
        with pytest.raises(InvalidArgument):
            check_options(bad)
    assert mount_args({"type": "tmpfs", "device": "tmpfs", "o": "size=1m,ro"}) == (
        "tmpfs", "tmpfs", k.MS_RDONLY, "size=1m")
    assert mount_args({"type": "none", "device": "/srv", "o": "bind"}) == (
        "/srv", "", k.MS_BIND, "")
