"""ports.py: exposed and published ports, host ports chosen, Docker's views of them
(pure, no root; local_range reads a temp file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from estiba.errors import Conflict, InvalidArgument, NotFound, Unavailable, Unimplemented
from estiba.network.ports import (
    Mapping,
    choose,
    local_range,
    port_key,
    port_lines,
    requested,
    settings_ports,
)

# --- port keys -------------------------------------------------------------------------


@pytest.mark.parametrize("key, parsed", [
    ("80/tcp", (80, 80, "tcp")),
    ("80", (80, 80, "tcp")),
    ("80/", (80, 80, "tcp")),
    ("53/udp", (53, 53, "udp")),
    ("53/UDP", (53, 53, "udp")),
    ("9/sctp", (9, 9, "sctp")),
    ("8000-8010/udp", (8000, 8010, "udp")),
    ("1", (1, 1, "tcp")),
    ("65535/tcp", (65535, 65535, "tcp")),
    ("7-7", (7, 7, "tcp")),
])
def test_port_key(key, parsed):
    assert port_key(key) == parsed


@pytest.mark.parametrize("key, port", [
    ("x/tcp", "x"), ("0/tcp", "0"), ("65536", "65536"), ("/tcp", ""), ("", ""),
    ("8010-8000", "8010-8000"), ("80-", "80-"), ("-80", "-80"), ("1-2-3", "1-2-3"),
    ("+80", "+80"), (" 80", " 80"), ("٨٠", "٨٠"),
])
def test_bad_port_in_key(key, port):
    with pytest.raises(InvalidArgument) as caught:
        port_key(key)
    assert str(caught.value) == f'invalid port specification: "{port}"'


def test_bad_proto_in_key():
    with pytest.raises(InvalidArgument) as caught:
        port_key("80/icmp")
    assert str(caught.value) == "invalid proto: icmp"


# --- what a container asks for ---------------------------------------------------------


def binding(host_port: str = "", host_ip: str = "") -> dict:
    return {"HostIp": host_ip, "HostPort": host_port}


def test_nothing_asked():
    assert requested(None, None, False) == []
    assert requested({"80/tcp": {}}, {}, False) == []


def test_an_explicit_binding():
    got = requested(None, {"80/tcp": [binding("8080")]}, False)
    assert got == [Mapping("tcp", 80, "0.0.0.0", 8080)]


@pytest.mark.parametrize("host_ip", ["", "0.0.0.0"])
def test_every_address_shows_as_zero(host_ip):
    got = requested(None, {"80/tcp": [binding("8080", host_ip)]}, False)
    assert got[0].host_ip == "0.0.0.0"


def test_a_binding_on_one_address():
    got = requested(None, {"53/udp": [binding("5353", "127.0.0.1")]}, False)
    assert got == [Mapping("udp", 53, "127.0.0.1", 5353)]


@pytest.mark.parametrize("host_port", ["", "0"])
def test_host_port_to_choose(host_port):
    got = requested(None, {"80": [binding(host_port)]}, False)
    assert got == [Mapping("tcp", 80, "0.0.0.0", 0, None)]


def test_missing_fields_mean_any_address_and_port_to_choose():
    assert requested(None, {"80/tcp": [{}]}, False) == [Mapping("tcp", 80)]
    assert requested(None, {"80/tcp": [None]}, False) == [Mapping("tcp", 80)]


def test_several_bindings_of_one_port():
    got = requested(None, {"80/tcp": [binding("8080", "127.0.0.1"), binding("9090")]}, False)
    assert got == [Mapping("tcp", 80, "127.0.0.1", 8080), Mapping("tcp", 80, "0.0.0.0", 9090)]


def test_a_port_bound_to_nothing_publishes_nothing():
    assert requested(None, {"80/tcp": None}, False) == []
    assert requested(None, {"80/tcp": []}, False) == []


def test_a_container_range_spreads_over_a_host_range_one_to_one():
    got = requested(None, {"8000-8002/udp": [binding("9000-9002")]}, False)
    assert got == [Mapping("udp", 8000, "0.0.0.0", 9000), Mapping("udp", 8001, "0.0.0.0", 9001),
                   Mapping("udp", 8002, "0.0.0.0", 9002)]


def test_a_container_range_without_host_ports_chooses_each():
    got = requested(None, {"8000-8001": [binding()]}, False)
    assert got == [Mapping("tcp", 8000), Mapping("tcp", 8001)]


def test_one_port_with_a_host_range_may_take_any_of_it():
    got = requested(None, {"80/tcp": [binding("8000-8005")]}, False)
    assert got == [Mapping("tcp", 80, "0.0.0.0", 0, (8000, 8005))]


def test_a_host_range_of_one_port_is_that_port():
    assert requested(None, {"80": [binding("8080-8080")]}, False) == [Mapping("tcp", 80,
                                                                               "0.0.0.0", 8080)]


@pytest.mark.parametrize("key, host", [("8000-8002", "9000-9001"), ("8000-8002", "9000")])
def test_ranges_of_different_sizes(key, host):
    with pytest.raises(InvalidArgument) as caught:
        requested(None, {key: [binding(host)]}, False)
    assert str(caught.value) == ("invalid ranges specified for container and host Ports: "
                                 f"{key} and {host}")


@pytest.mark.parametrize("host_port", ["x", "65536", "-1", "9000-8000", "80-", "1-2-3"])
def test_bad_host_port(host_port):
    with pytest.raises(InvalidArgument) as caught:
        requested(None, {"80/tcp": [binding(host_port)]}, False)
    assert str(caught.value) == f'invalid port specification: "{host_port}"'


def test_bad_binding_key():
    with pytest.raises(InvalidArgument, match="invalid port specification"):
        requested(None, {"http/tcp": [binding("80")]}, False)


def test_bad_host_ip():
    with pytest.raises(InvalidArgument) as caught:
        requested(None, {"80/tcp": [binding("8080", "localhost")]}, False)
    assert str(caught.value) == "invalid IP address: localhost"


def test_ipv6_host_ip_is_not_implemented():
    with pytest.raises(Unimplemented):
        requested(None, {"80/tcp": [binding("8080", "::")]}, False)


def test_publish_all_publishes_every_exposed_port_on_a_port_to_choose():
    exposed = {"80/tcp": {}, "53/udp": {}}
    assert requested(exposed, None, True) == [Mapping("tcp", 80), Mapping("udp", 53)]


def test_publish_all_keeps_explicit_bindings():
    exposed = {"80/tcp": {}, "443/tcp": {}}
    got = requested(exposed, {"80/tcp": [binding("8080")]}, True)
    assert got == [Mapping("tcp", 80, "0.0.0.0", 8080), Mapping("tcp", 443)]


def test_publish_all_tells_protocols_apart():
    exposed = {"53/tcp": {}, "53/udp": {}}
    got = requested(exposed, {"53/udp": [binding("5353")]}, True)
    assert got == [Mapping("udp", 53, "0.0.0.0", 5353), Mapping("tcp", 53)]


def test_publish_all_spreads_exposed_ranges():
    assert requested({"7000-7001/tcp": {}}, None, True) == [Mapping("tcp", 7000),
                                                            Mapping("tcp", 7001)]


def test_exposed_ports_alone_publish_nothing():
    assert requested({"80/tcp": {}}, None, False) == []


def test_publish_all_without_exposed_ports():
    assert requested(None, {"80": [binding("81")]}, True) == [Mapping("tcp", 80, "0.0.0.0", 81)]


# --- choosing host ports ---------------------------------------------------------------


class FakeHost:
    """Host ports taken, as (proto, ip, port); records every question."""

    def __init__(self, *taken: tuple[str, str, int]) -> None:
        self.taken = set(taken)
        self.asked: list[tuple[str, str, int]] = []

    def __call__(self, proto: str, host_ip: str, port: int) -> bool:
        self.asked.append((proto, host_ip, port))
        return (proto, host_ip, port) in self.taken


def test_explicit_ports_are_kept():
    mappings = [Mapping("tcp", 80, "0.0.0.0", 8080)]
    assert choose(mappings, FakeHost()) == mappings


def test_ports_to_choose_come_from_the_range_in_order():
    got = choose([Mapping("tcp", 80), Mapping("tcp", 443)], FakeHost(), (40000, 40010))
    assert [m.host_port for m in got] == [40000, 40001]


def test_the_default_range_is_the_kernels_default():
    got = choose([Mapping("tcp", 80)], FakeHost())
    assert got[0].host_port == 32768


def test_ports_in_use_are_skipped():
    host = FakeHost(("tcp", "0.0.0.0", 40000), ("tcp", "0.0.0.0", 40001))
    got = choose([Mapping("tcp", 80)], host, (40000, 40010))
    assert got[0].host_port == 40002
    assert host.asked == [("tcp", "0.0.0.0", 40000), ("tcp", "0.0.0.0", 40001),
                          ("tcp", "0.0.0.0", 40002)]


def test_the_same_port_may_serve_two_protocols():
    got = choose([Mapping("tcp", 53), Mapping("udp", 53)], FakeHost(), (40000, 40010))
    assert [m.host_port for m in got] == [40000, 40000]


def test_a_chosen_port_never_takes_an_explicit_one():
    mappings = [Mapping("tcp", 80), Mapping("tcp", 81, "0.0.0.0", 40000)]
    got = choose(mappings, FakeHost(), (40000, 40010))
    assert [m.host_port for m in got] == [40001, 40000]


def test_chosen_ports_keep_order_and_fields():
    mappings = [Mapping("udp", 53, "127.0.0.1"), Mapping("tcp", 80, "0.0.0.0", 8080)]
    got = choose(mappings, FakeHost(), (40000, 40010))
    assert got == [Mapping("udp", 53, "127.0.0.1", 40000), Mapping("tcp", 80, "0.0.0.0", 8080)]


def test_a_host_range_is_searched_instead_of_the_ephemeral_range():
    host = FakeHost(("tcp", "0.0.0.0", 8000))
    got = choose([Mapping("tcp", 80, "0.0.0.0", 0, (8000, 8005))], host, (40000, 40010))
    assert got[0].host_port == 8001
    assert got[0].host_range == (8000, 8005)


def test_an_explicit_port_in_use_conflicts_with_dockers_message():
    host = FakeHost(("tcp", "0.0.0.0", 8080))
    with pytest.raises(Conflict) as caught:
        choose([Mapping("tcp", 80, "0.0.0.0", 8080)], host)
    assert str(caught.value) == "Bind for 0.0.0.0:8080 failed: port is already allocated"


def test_the_conflict_names_the_address_asked_for():
    host = FakeHost(("tcp", "127.0.0.1", 8080))
    with pytest.raises(Conflict) as caught:
        choose([Mapping("tcp", 80, "127.0.0.1", 8080)], host)
    assert str(caught.value) == "Bind for 127.0.0.1:8080 failed: port is already allocated"


def test_two_mappings_on_one_host_port_conflict():
    mappings = [Mapping("tcp", 80, "0.0.0.0", 8080), Mapping("tcp", 81, "0.0.0.0", 8080)]
    with pytest.raises(Conflict, match="Bind for 0.0.0.0:8080 failed"):
        choose(mappings, FakeHost())


def test_every_address_clashes_with_one_address():
    mappings = [Mapping("tcp", 80, "127.0.0.1", 8080), Mapping("tcp", 81, "0.0.0.0", 8080)]
    with pytest.raises(Conflict, match="Bind for 0.0.0.0:8080 failed"):
        choose(mappings, FakeHost())


def test_two_addresses_may_share_a_port():
    mappings = [Mapping("tcp", 80, "127.0.0.1", 8080), Mapping("tcp", 81, "10.0.0.1", 8080)]
    assert choose(mappings, FakeHost()) == mappings


def test_a_chosen_port_on_every_address_avoids_a_claim_on_one():
    mappings = [Mapping("tcp", 81, "127.0.0.1", 40000), Mapping("tcp", 80)]
    got = choose(mappings, FakeHost(), (40000, 40010))
    assert got[1].host_port == 40001


def test_no_free_port_left_is_unavailable():
    host = FakeHost(*(("tcp", "0.0.0.0", n) for n in range(40000, 40003)))
    with pytest.raises(Unavailable, match="all ports from 40000 to 40002 are allocated"):
        choose([Mapping("tcp", 80)], host, (40000, 40002))


def test_a_full_host_range_is_unavailable():
    mappings = [Mapping("tcp", 80, "0.0.0.0", 0, (8000, 8001)),
                Mapping("tcp", 81, "0.0.0.0", 0, (8000, 8001)),
                Mapping("tcp", 82, "0.0.0.0", 0, (8000, 8001))]
    with pytest.raises(Unavailable, match="publish 82/tcp on 0.0.0.0"):
        choose(mappings, FakeHost())


def test_choose_nothing():
    assert choose([], FakeHost()) == []


# --- the kernel's ephemeral range ------------------------------------------------------


def test_local_range_reads_the_kernel_file(tmp_path: Path):
    path = tmp_path / "ip_local_port_range"
    path.write_text("49152\t65535\n")
    assert local_range(str(path)) == (49152, 65535)


@pytest.mark.parametrize("text", ["", "nonsense", "1 2 3", "60999 32768", "0 100",
                                  "1 70000"])
def test_local_range_falls_back_on_odd_contents(tmp_path: Path, text):
    path = tmp_path / "ip_local_port_range"
    path.write_text(text)
    assert local_range(str(path)) == (32768, 60999)


def test_local_range_falls_back_when_missing(tmp_path: Path):
    assert local_range(str(tmp_path / "missing")) == (32768, 60999)


# --- NetworkSettings.Ports -------------------------------------------------------------


def test_settings_of_published_and_exposed_ports():
    exposed = {"80/tcp": {}, "443/tcp": {}}
    got = settings_ports(exposed, [Mapping("tcp", 80, "0.0.0.0", 8080)])
    assert got == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None}


def test_settings_of_nothing():
    assert settings_ports(None, []) == {}


def test_settings_list_every_binding_of_a_port():
    mappings = [Mapping("tcp", 80, "127.0.0.1", 8080), Mapping("tcp", 80, "0.0.0.0", 9090)]
    got = settings_ports(None, mappings)
    assert got == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"},
                              {"HostIp": "0.0.0.0", "HostPort": "9090"}]}


def test_settings_include_published_ports_not_exposed():
    got = settings_ports({}, [Mapping("udp", 53, "0.0.0.0", 5353)])
    assert got == {"53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}]}


def test_settings_normalise_and_spread_exposed_keys():
    got = settings_ports({"80": {}, "7000-7001/udp": {}}, [])
    assert got == {"80/tcp": None, "7000/udp": None, "7001/udp": None}


def test_settings_keys_are_in_port_order():
    exposed = {"8080/tcp": {}, "443/tcp": {}, "80/udp": {}, "80/tcp": {}}
    assert list(settings_ports(exposed, [])) == ["80/tcp", "80/udp", "443/tcp", "8080/tcp"]


def test_settings_show_a_port_still_to_choose_as_empty():
    got = settings_ports(None, [Mapping("tcp", 80)])
    assert got == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": ""}]}


def test_settings_from_requested_and_chosen():
    exposed = {"80/tcp": {}, "443/tcp": {}, "53/udp": {}}
    mappings = choose(requested(exposed, {"80/tcp": [binding("8080")]}, True), FakeHost(),
                      (40000, 40010))
    assert settings_ports(exposed, mappings) == {
        "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "40000"}],
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
        "443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "40000"}],
    }


# --- docker port -----------------------------------------------------------------------

PORTS = {
    "443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8443"}],
    "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"},
               {"HostIp": "127.0.0.1", "HostPort": "9090"}],
    "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}],
    "22/tcp": None,
}


def test_port_lines_of_every_port_in_natural_order():
    assert port_lines(PORTS) == [
        "53/udp -> 0.0.0.0:5353",
        "80/tcp -> 0.0.0.0:8080",
        "80/tcp -> 127.0.0.1:9090",
        "443/tcp -> 0.0.0.0:8443",
    ]


def test_port_lines_of_nothing():
    assert port_lines({}) == []
    assert port_lines({"80/tcp": None}) == []


@pytest.mark.parametrize("private", ["80", "80/tcp"])
def test_port_lines_of_one_port_show_addresses_only(private):
    assert port_lines(PORTS, private) == ["0.0.0.0:8080", "127.0.0.1:9090"]


def test_port_lines_of_one_udp_port():
    assert port_lines(PORTS, "53/udp") == ["0.0.0.0:5353"]


def test_port_lines_bracket_ipv6_addresses():
    ports = {"80/tcp": [{"HostIp": "::", "HostPort": "8080"}]}
    assert port_lines(ports) == ["80/tcp -> [::]:8080"]
    assert port_lines(ports, "80") == ["[::]:8080"]


@pytest.mark.parametrize("private", ["22", "53", "8080/tcp"])
def test_port_lines_of_an_unpublished_port(private):
    with pytest.raises(NotFound) as caught:
        port_lines(PORTS, private, "web")
    assert str(caught.value) == f"no public port '{private}' published for web"


@pytest.mark.parametrize("private", ["http", "70000", "-1/tcp"])
def test_port_lines_of_a_malformed_port(private):
    with pytest.raises(InvalidArgument, match=r"invalid port \("):
        port_lines(PORTS, private)
