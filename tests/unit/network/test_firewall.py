"""The firewall script computed from the model (estiba.network.firewall), no kernel."""

from __future__ import annotations

import pytest

from estiba.errors import Conflict, InvalidArgument
from estiba.network.firewall import (
    BridgeNet,
    Published,
    forward_rules,
    postrouting_rules,
    script,
    sysctls,
)

DEFAULT = BridgeNet("estiba0", "172.30.0.0/16", "172.30.0.1")
USER = BridgeNet("es-1a2b", "172.31.0.0/24", "172.31.0.1")
WEB = Published("tcp", "", 8080, "172.30.0.2", 80, "estiba0")


def test_small_model_exact_script() -> None:
    assert script("estiba", [DEFAULT], [WEB]) == (
        "add table ip estiba\n"
        "delete table ip estiba\n"
        "table ip estiba {\n"
        "\tchain prerouting {\n"
        "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        "\t\tfib daddr type local tcp dport 8080 dnat to 172.30.0.2:80\n"
        "\t}\n"
        "\tchain output {\n"
        "\t\ttype nat hook output priority -100; policy accept;\n"
        "\t\tfib daddr type local tcp dport 8080 dnat to 172.30.0.2:80\n"
        "\t}\n"
        "\tchain postrouting {\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        '\t\toifname "estiba0" ip saddr 127.0.0.0/8 masquerade\n'
        '\t\toifname "estiba0" ip saddr 172.30.0.0/16 ct status dnat masquerade\n'
        '\t\toifname != "estiba0" ip saddr 172.30.0.0/16 masquerade\n'
        "\t}\n"
        "\tchain forward {\n"
        "\t\ttype filter hook forward priority filter; policy accept;\n"
        '\t\tiifname "estiba0" accept\n'
        '\t\toifname "estiba0" accept\n'
        "\t}\n"
        "}\n"
    )


def test_empty_model_gives_an_empty_table() -> None:
    assert script("estiba-x", [], []) == (
        "add table ip estiba-x\ndelete table ip estiba-x\ntable ip estiba-x {\n}\n"
    )


def test_networks_without_published_ports_hook_no_dnat_chain() -> None:
    text = script("estiba", [DEFAULT], [])
    assert "chain prerouting" not in text and "chain output" not in text
    assert "chain postrouting" in text and "chain forward" in text


def test_host_ip_given_matches_that_address() -> None:
    local = Published("udp", "127.0.0.1", 5353, "172.31.0.9", 53, "es-1a2b")
    text = script("estiba", [USER], [local])
    assert text.count("ip daddr 127.0.0.1 udp dport 5353 dnat to 172.31.0.9:53") == 2
    assert "fib daddr" not in text


def test_any_address_spelt_zeros_is_every_local_address() -> None:
    p = Published("tcp", "0.0.0.0", 80, "172.30.0.2", 80, "estiba0")
    assert "fib daddr type local tcp dport 80" in script("estiba", [DEFAULT], [p])


def test_networks_are_isolated_from_each_other() -> None:
    third = BridgeNet("es-3c", "10.99.0.0/24", "10.99.0.1")
    rules = forward_rules([DEFAULT, USER, third])
    assert rules == [
        'iifname "estiba0" oifname { "es-1a2b", "es-3c" } drop',
        'iifname "es-1a2b" oifname { "estiba0", "es-3c" } drop',
        'iifname "es-3c" oifname { "estiba0", "es-1a2b" } drop',
        'iifname { "estiba0", "es-1a2b", "es-3c" } accept',
        'oifname { "estiba0", "es-1a2b", "es-3c" } accept',
    ]


def test_internal_network_neither_sends_out_nor_receives_and_is_not_masqueraded() -> None:
    internal = BridgeNet("es-in", "10.98.0.0/24", "10.98.0.1", internal=True)
    fwd = forward_rules([internal])
    assert fwd[:2] == ['iifname "es-in" oifname != "es-in" drop',
                       'oifname "es-in" iifname != "es-in" drop']
    post = postrouting_rules([internal])
    assert 'oifname != "es-in" ip saddr 10.98.0.0/24 masquerade' not in post


def test_icc_false_drops_bridge_to_same_bridge() -> None:
    quiet = BridgeNet("es-q", "10.97.0.0/24", "10.97.0.1", icc=False)
    assert 'iifname "es-q" oifname "es-q" drop' in forward_rules([quiet])
    assert 'iifname "estiba0" oifname "estiba0" drop' not in forward_rules([DEFAULT])


def test_masquerade_false_keeps_loopback_and_hairpin_nat() -> None:
    plain = BridgeNet("es-p", "10.96.0.0/24", "10.96.0.1", masquerade=False)
    assert postrouting_rules([plain]) == [
        'oifname "es-p" ip saddr 127.0.0.0/8 masquerade',
        'oifname "es-p" ip saddr 10.96.0.0/24 ct status dnat masquerade',
    ]


def test_sysctls() -> None:
    internal = BridgeNet("es-in", "10.98.0.0/24", "10.98.0.1", internal=True)
    assert sysctls([DEFAULT, internal]) == {
        "/proc/sys/net/ipv4/conf/estiba0/route_localnet": "1",
        "/proc/sys/net/ipv4/conf/es-in/route_localnet": "1",
        "/proc/sys/net/ipv4/ip_forward": "1",
    }
    assert sysctls([internal]) == {"/proc/sys/net/ipv4/conf/es-in/route_localnet": "1"}
    assert sysctls([]) == {}


@pytest.mark.parametrize("published", [
    Published("sctp", "", 80, "172.30.0.2", 80, "estiba0"),
    Published("TCP", "", 80, "172.30.0.2", 80, "estiba0"),
    Published("tcp", "", 0, "172.30.0.2", 80, "estiba0"),
    Published("tcp", "", 80, "172.30.0.2", 0, "estiba0"),
    Published("tcp", "", 65536, "172.30.0.2", 80, "estiba0"),
    Published("tcp", "", 80, "172.30.0.2", 80, "es-none"),
    Published("tcp", "", 80, "10.0.0.2", 80, "estiba0"),
    Published("tcp", "", 80, "172.30.0.2; drop", 80, "estiba0"),
    Published("tcp", "::1", 80, "172.30.0.2", 80, "estiba0"),
    Published("tcp", "localhost", 80, "172.30.0.2", 80, "estiba0"),
], ids=["sctp", "upper", "host-port-0", "port-0", "port-65536", "unknown-bridge",
        "outside-subnet", "injection", "ipv6-host", "host-name"])
def test_bad_published_port_is_refused(published: Published) -> None:
    with pytest.raises(InvalidArgument):
        script("estiba", [DEFAULT], [published])


@pytest.mark.parametrize("net", [
    BridgeNet("es-0123456789abc", "10.1.0.0/24", "10.1.0.1"),  # 16 bytes
    BridgeNet('es-"x', "10.1.0.0/24", "10.1.0.1"),
    BridgeNet("", "10.1.0.0/24", "10.1.0.1"),
    BridgeNet("es-a", "10.1.0.1/24", "10.1.0.1"),  # host bits set
    BridgeNet("es-a", "10.1.0.0/24", "10.2.0.1"),
    BridgeNet("es-a", "fd00::/64", "fd00::1"),
], ids=["long-name", "quote", "empty", "host-bits", "gateway-outside", "ipv6"])
def test_bad_network_is_refused(net: BridgeNet) -> None:
    with pytest.raises(InvalidArgument):
        script("estiba", [net], [])
    with pytest.raises(InvalidArgument):
        sysctls([net])


def test_fifteen_byte_bridge_name_is_fine() -> None:
    assert '"es-0123456789ab"' in script(
        "estiba", [BridgeNet("es-0123456789ab", "10.1.0.0/24", "10.1.0.1")], [])


def test_same_bridge_twice_or_overlapping_subnets_are_refused() -> None:
    with pytest.raises(InvalidArgument):
        script("estiba", [DEFAULT, DEFAULT], [])
    with pytest.raises(InvalidArgument):
        script("estiba", [DEFAULT, BridgeNet("es-o", "172.30.5.0/24", "172.30.5.1")], [])


def test_publishing_to_an_internal_network_is_refused() -> None:
    internal = BridgeNet("es-in", "10.98.0.0/24", "10.98.0.1", internal=True)
    with pytest.raises(InvalidArgument):
        script("estiba", [internal], [Published("tcp", "", 80, "10.98.0.2", 80, "es-in")])


@pytest.mark.parametrize("table", ["", "1estiba", "estiba x", "estiba;flush ruleset"])
def test_bad_table_name_is_refused(table: str) -> None:
    with pytest.raises(InvalidArgument):
        script(table, [], [])


def test_same_host_port_published_twice_conflicts() -> None:
    specific = Published("tcp", "127.0.0.1", 8080, "172.30.0.3", 80, "estiba0")
    with pytest.raises(Conflict):
        script("estiba", [DEFAULT], [WEB, WEB])
    with pytest.raises(Conflict):
        script("estiba", [DEFAULT], [specific, WEB])
    with pytest.raises(Conflict):
        script("estiba", [DEFAULT], [WEB, specific])
    # another protocol, or two distinct addresses, share the port number fine
    other = Published("tcp", "192.0.2.2", 8080, "172.30.0.4", 80, "estiba0")
    udp = Published("udp", "", 8080, "172.30.0.2", 80, "estiba0")
    assert script("estiba", [DEFAULT], [specific, other, udp])
