"""A container's networks as its create asks them, its resolv.conf, its ports' JSON."""

from __future__ import annotations

import pytest

from estiba.engine import etcfiles, networking
from estiba.errors import InvalidArgument
from estiba.network.ports import Mapping

HOST = "nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.test\noptions edns0\n"


@pytest.mark.parametrize(("mode", "given", "members"), [
    ("", None, {"bridge": {}}),
    ("default", {"EndpointsConfig": {"default": {"Aliases": ["a"]}}},
     {"bridge": {"Aliases": ["a"]}}),
    ("mynet", {"EndpointsConfig": {"mynet": {"IPAMConfig": {"IPv4Address": "10.1.0.5"}},
                                   "other": None}},
     {"mynet": {"IPAMConfig": {"IPv4Address": "10.1.0.5"}}, "other": {}}),
    ("host", None, {}), ("none", None, {}), ("container:web", None, {}),
])
def test_members(mode: str, given: dict | None, members: dict) -> None:
    assert networking.members({"NetworkMode": mode}, given) == members


def test_bad_modes_are_refused() -> None:
    with pytest.raises(InvalidArgument):
        networking.members({"NetworkMode": "container:"}, None)
    with pytest.raises(InvalidArgument):
        networking.members({"NetworkMode": 5}, None)


def test_resolv_conf_drops_loopback_servers_and_takes_options() -> None:
    assert etcfiles.resolv_text(HOST, {}) == (
        "nameserver 192.0.2.1\nsearch corp.test\noptions edns0\n")
    assert etcfiles.resolv_text("nameserver 127.0.0.1\n", {}) == (
        "nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
    given = {"Dns": ["192.0.2.9"], "DnsSearch": ["a.test"], "DnsOptions": ["ndots:3"]}
    assert etcfiles.resolv_text(HOST, given) == (
        "nameserver 192.0.2.9\nsearch a.test\noptions ndots:3\n")


def test_resolv_conf_of_user_networks_names_the_embedded_server() -> None:
    assert etcfiles.resolv_text(HOST, {}, embedded=True) == (
        "nameserver 127.0.0.11\nsearch corp.test\noptions edns0 ndots:0\n")
    # the embedded server forwards to the host's servers, loopback ones included
    assert etcfiles.upstreams(HOST, {}) == ["127.0.0.53", "192.0.2.1"]
    assert etcfiles.upstreams(HOST, {"Dns": ["192.0.2.9"]}) == ["192.0.2.9"]


def test_ports_json_and_list() -> None:
    ports = networking.ports_json({"ExposedPorts": {"80/tcp": {}, "443/tcp": {}}},
                                  [Mapping(proto="tcp", port=80, host_port=8080)])
    assert ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                     "443/tcp": None}
    assert networking.port_list(ports) == [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 443, "Type": "tcp"}]
