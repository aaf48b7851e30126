"""What a container's inspect shows of its HostConfig: the log driver it got and its
mounts, in Docker's shapes (``engine.inspect.shown_host_config``, ``shown_mounts``)."""

from __future__ import annotations

import pytest

from estiba.engine.inspect import shown_host_config, shown_mounts


@pytest.mark.parametrize("given", [None, {}, {"Type": "", "Config": None}])
def test_the_default_log_driver_is_shown(given: dict | None) -> None:
    hc = {"Memory": 0} if given is None else {"Memory": 0, "LogConfig": given}
    shown = shown_host_config(hc)
    assert shown["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert shown["Memory"] == 0
    assert hc.get("LogConfig") == given  # the stored HostConfig is left as it was


def test_a_named_log_driver_is_kept() -> None:
    hc = {"LogConfig": {"Type": "none", "Config": {"k": "v"}}}
    assert shown_host_config(hc)["LogConfig"] == {"Type": "none", "Config": {"k": "v"}}


def test_binds_and_mounts_in_dockers_shape() -> None:
    hc = {"Binds": ["/srv/a:/data:ro", "/srv/b:/b", "/srv/c:/c:rw,rshared"],
          "Mounts": [{"Type": "tmpfs", "Target": "/t"},
                     {"Type": "bind", "Source": "/srv/d", "Target": "/d", "ReadOnly": True,
                      "BindOptions": {"Propagation": "rslave"}}]}
    assert shown_mounts(hc) == [
        {"Type": "bind", "Source": "/srv/a", "Destination": "/data", "Mode": "ro",
         "RW": False, "Propagation": "rprivate"},
        {"Type": "bind", "Source": "/srv/b", "Destination": "/b", "Mode": "",
         "RW": True, "Propagation": "rprivate"},
        {"Type": "bind", "Source": "/srv/c", "Destination": "/c", "Mode": "rw,rshared",
         "RW": True, "Propagation": "rshared"},
        {"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "", "RW": True,
         "Propagation": ""},
        {"Type": "bind", "Source": "/srv/d", "Destination": "/d", "Mode": "", "RW": False,
         "Propagation": "rslave"},
    ]


def test_no_mounts() -> None:
    assert shown_mounts({}) == []
    assert shown_mounts({"Binds": None, "Mounts": None}) == []
