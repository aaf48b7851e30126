"""ipam.py: subnets, gateways and container addresses of networks (pure, no root)."""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest

from estiba.errors import Conflict, InvalidArgument, Unavailable, Unimplemented
from estiba.network.ipam import (
    DEFAULT_POOLS,
    Plan,
    allocate,
    candidate_subnets,
    choose_subnet,
    mac_of,
    plan,
)

# --- the default pools and their candidates --------------------------------------------


def test_default_pools_are_dockers():
    assert DEFAULT_POOLS[0] == ("172.17.0.0/16", 16)
    assert DEFAULT_POOLS[14] == ("172.31.0.0/16", 16)
    assert DEFAULT_POOLS[-1] == ("192.168.0.0/16", 20)
    assert len(DEFAULT_POOLS) == 16


def test_candidates_come_in_pool_order():
    candidates = [str(c) for c in candidate_subnets()]
    assert candidates[:3] == ["172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16"]
    assert candidates[14] == "172.31.0.0/16"
    assert candidates[15:18] == ["192.168.0.0/20", "192.168.16.0/20", "192.168.32.0/20"]
    assert candidates[-1] == "192.168.240.0/20"
    assert len(candidates) == 15 + 16


def test_candidates_of_custom_pools():
    pools = (("10.10.0.0/16", 24), ("10.20.0.0/24", 24))
    candidates = list(candidate_subnets(pools))
    assert candidates[0] == IPv4Network("10.10.0.0/24")
    assert candidates[255] == IPv4Network("10.10.255.0/24")
    assert candidates[256] == IPv4Network("10.20.0.0/24")
    assert len(candidates) == 257


@pytest.mark.parametrize("pools, error", [
    ((("10.0.0.0/16", 8),), InvalidArgument),     # size smaller than the base
    ((("10.0.0.0/16", 33),), InvalidArgument),
    ((("10.0.0.1/16", 24),), InvalidArgument),    # host bits set
    ((("nonsense", 24),), InvalidArgument),
    ((("fd00::/48", 64),), Unimplemented),
])
def test_bad_pools_are_refused(pools, error):
    with pytest.raises(error):
        list(candidate_subnets(pools))


# --- choosing a subnet -----------------------------------------------------------------


def test_nothing_taken_gives_the_first_default():
    assert choose_subnet([]) == IPv4Network("172.17.0.0/16")


def test_a_taken_subnet_is_skipped():
    assert choose_subnet([IPv4Network("172.17.0.0/16")]) == IPv4Network("172.18.0.0/16")


def test_a_host_route_inside_a_candidate_rules_it_out():
    taken = ["172.17.0.0/16", "172.18.5.0/24"]
    assert choose_subnet(taken) == IPv4Network("172.19.0.0/16")


def test_a_wide_host_route_rules_out_every_candidate_it_covers():
    # a VPN route over 172.16/12 leaves only 192.168
    assert choose_subnet(["172.16.0.0/12"]) == IPv4Network("192.168.0.0/20")


def test_a_host_address_counts_as_the_network_it_sits_on():
    # the LAN of the host, given as its address with prefix length
    taken = [f"172.{n}.0.0/16" for n in range(17, 32)] + ["192.168.1.20/24"]
    assert choose_subnet(taken) == IPv4Network("192.168.16.0/20")


def test_default_routes_and_ipv6_are_ignored():
    assert choose_subnet(["0.0.0.0/0", "fd00::/8"]) == IPv4Network("172.17.0.0/16")


def test_every_candidate_taken_is_unavailable_with_dockers_message():
    with pytest.raises(Unavailable) as caught:
        choose_subnet(["172.16.0.0/12", "192.168.0.0/16"])
    assert str(caught.value) == ("could not find an available, non-overlapping IPv4 "
                                 "address pool among the defaults to assign to the network")


def test_choose_from_custom_pools():
    pools = (("10.1.0.0/16", 24),)
    assert choose_subnet(["10.1.0.0/24", "10.1.1.0/25"], pools) == IPv4Network("10.1.2.0/24")


def test_a_malformed_taken_entry_is_an_invalid_argument():
    with pytest.raises(InvalidArgument):
        choose_subnet(["not a network"])


# --- planning a network ----------------------------------------------------------------


def test_plan_without_anything_chooses_subnet_and_first_host_as_gateway():
    assert plan() == Plan(subnet="172.17.0.0/16", gateway="172.17.0.1", ip_range="")


def test_plan_without_subnet_skips_taken():
    got = plan(taken=[IPv4Network("172.17.0.0/16"), IPv4Network("172.18.0.0/16")])
    assert got == Plan("172.19.0.0/16", "172.19.0.1", "")


def test_plan_with_subnet_only():
    assert plan(subnet="10.5.0.0/16") == Plan("10.5.0.0/16", "10.5.0.1", "")


def test_plan_with_everything_normalises():
    got = plan(subnet="10.5.0.0/16", gateway="10.5.0.254", ip_range="10.5.1.0/24")
    assert got == Plan("10.5.0.0/16", "10.5.0.254", "10.5.1.0/24")


def test_plan_gateway_may_be_inside_or_outside_the_ip_range():
    assert plan(subnet="10.5.0.0/16", gateway="10.5.1.7", ip_range="10.5.1.0/24").gateway \
        == "10.5.1.7"


def test_subnet_with_host_bits_is_refused_with_dockers_message():
    with pytest.raises(InvalidArgument) as caught:
        plan(subnet="10.5.0.1/16")
    assert str(caught.value) == ("invalid network config:\n"
                                 "invalid subnet 10.5.0.1/16: it should be 10.5.0.0/16")


@pytest.mark.parametrize("subnet", ["nonsense", "10.5.0.0", "10.5.0.0/", "10.5.0.0/33",
                                    "10.5.0.0/255.255.0.0", "10.5.0.300/16"])
def test_malformed_subnet(subnet):
    with pytest.raises(InvalidArgument) as caught:
        plan(subnet=subnet)
    assert str(caught.value) == (f"invalid network config:\ninvalid subnet {subnet}: "
                                 "invalid CIDR block notation")


def test_ipv6_subnet_is_not_implemented():
    with pytest.raises(Unimplemented):
        plan(subnet="fd00:1::/64")


@pytest.mark.parametrize("gateway, reason", [
    ("10.6.0.1", "parent subnet 10.5.0.0/16 doesn't contain this address"),
    ("nonsense", "invalid address"),
    ("fd00::1", "parent subnet is an IPv4 block"),
])
def test_bad_gateway(gateway, reason):
    with pytest.raises(InvalidArgument) as caught:
        plan(subnet="10.5.0.0/16", gateway=gateway)
    assert str(caught.value) == f"invalid network config:\ninvalid gateway {gateway}: {reason}"


@pytest.mark.parametrize("gateway", ["10.5.0.0", "10.5.255.255"])
def test_gateway_on_network_or_broadcast_address(gateway):
    with pytest.raises(InvalidArgument) as caught:
        plan(subnet="10.5.0.0/16", gateway=gateway)
    assert str(caught.value) == f"failed to allocate gateway ({gateway}): Address already in use"


@pytest.mark.parametrize("ip_range, reason", [
    ("10.6.0.0/24", "invalid ip-range 10.6.0.0/24: parent subnet 10.5.0.0/16 doesn't "
                    "contain ip-range"),
    ("10.5.1.1/24", "invalid ip-range 10.5.1.1/24: it should be 10.5.1.0/24"),
    ("10.0.0.0/8", "invalid ip-range 10.0.0.0/8: CIDR block is bigger than its parent "
                   "subnet 10.5.0.0/16"),
    ("nonsense", "invalid ip-range nonsense: invalid CIDR block notation"),
    ("fd00::/64", "invalid ip-range fd00::/64: parent subnet is an IPv4 block"),
])
def test_bad_ip_range(ip_range, reason):
    with pytest.raises(InvalidArgument) as caught:
        plan(subnet="10.5.0.0/16", ip_range=ip_range)
    assert str(caught.value) == f"invalid network config:\n{reason}"


def test_every_finding_is_listed_as_docker_lists_them():
    with pytest.raises(InvalidArgument) as caught:
        plan(subnet="10.0.0.1/8", ip_range="192.168.0.1/24", gateway="192.168.0.1")
    assert str(caught.value) == (
        "invalid network config:\n"
        "* invalid subnet 10.0.0.1/8: it should be 10.0.0.0/8\n"
        "* invalid ip-range 192.168.0.1/24: it should be 192.168.0.0/24\n"
        "* invalid ip-range 192.168.0.1/24: parent subnet 10.0.0.1/8 doesn't contain "
        "ip-range\n"
        "* invalid gateway 192.168.0.1: parent subnet 10.0.0.1/8 doesn't contain this address")


@pytest.mark.parametrize("given", [{"gateway": "10.5.0.1"}, {"ip_range": "10.5.0.0/24"}])
def test_gateway_or_ip_range_without_subnet(given):
    with pytest.raises(InvalidArgument, match="must have a corresponding subnet"):
        plan(**given)


@pytest.mark.parametrize("taken", ["10.5.0.0/16", "10.5.3.0/24", "10.0.0.0/8"])
def test_subnet_overlapping_a_taken_one_conflicts(taken):
    with pytest.raises(Conflict) as caught:
        plan(subnet="10.5.0.0/16", taken=[IPv4Network(taken)])
    assert str(caught.value) == "Pool overlaps with other one on this address space"


def test_subnet_beside_a_taken_one_is_fine():
    assert plan(subnet="10.6.0.0/16", taken=["10.5.0.0/16"]).subnet == "10.6.0.0/16"


def test_validation_comes_before_the_overlap_check():
    with pytest.raises(InvalidArgument):
        plan(subnet="10.5.0.1/16", taken=["10.5.0.0/16"])


def test_no_default_left_when_planning():
    with pytest.raises(Unavailable):
        plan(taken=["172.16.0.0/12", "192.168.0.0/16"])


# --- container addresses ---------------------------------------------------------------

NET = Plan(subnet="172.20.0.0/16", gateway="172.20.0.1", ip_range="")


def test_first_address_follows_the_gateway():
    assert allocate(NET, []) == "172.20.0.2"


def test_addresses_come_in_order():
    used: set[str] = set()
    for expected in ("172.20.0.2", "172.20.0.3", "172.20.0.4"):
        address = allocate(NET, used)
        assert address == expected
        used.add(address)


def test_a_freed_address_is_handed_out_again():
    assert allocate(NET, {"172.20.0.2", "172.20.0.4"}) == "172.20.0.3"


def test_used_addresses_may_carry_their_prefix_length():
    assert allocate(NET, {"172.20.0.2/16"}) == "172.20.0.3"


def test_a_gateway_elsewhere_leaves_the_first_host_free():
    plan_ = Plan(subnet="10.0.0.0/24", gateway="10.0.0.254")
    assert allocate(plan_, []) == "10.0.0.1"
    assert allocate(plan_, [f"10.0.0.{n}" for n in range(1, 253)]) == "10.0.0.253"


def test_a_full_network_is_unavailable_naming_it():
    plan_ = Plan(subnet="10.0.0.0/29", gateway="10.0.0.1")
    used = {f"10.0.0.{n}" for n in range(2, 7)}
    with pytest.raises(Unavailable) as caught:
        allocate(plan_, used, network="web (4f2a)")
    assert str(caught.value) == ("no available IPv4 addresses on this network's address "
                                 "pools: web (4f2a)")


def test_the_broadcast_address_is_never_handed_out():
    plan_ = Plan(subnet="10.0.0.0/30", gateway="10.0.0.1")
    assert allocate(plan_, []) == "10.0.0.2"
    with pytest.raises(Unavailable):
        allocate(plan_, ["10.0.0.2"])


def test_a_slash_31_uses_both_addresses():
    plan_ = Plan(subnet="10.0.0.0/31", gateway="10.0.0.0")
    assert allocate(plan_, []) == "10.0.0.1"


def test_addresses_come_from_the_ip_range():
    plan_ = Plan(subnet="10.5.0.0/16", gateway="10.5.0.1", ip_range="10.5.1.0/24")
    assert allocate(plan_, []) == "10.5.1.0"  # as Docker: only the subnet's ends are kept
    assert allocate(plan_, ["10.5.1.0", "10.5.1.1"]) == "10.5.1.2"


def test_an_ip_range_equal_to_the_subnet_is_the_whole_subnet():
    plan_ = Plan(subnet="10.5.0.0/16", gateway="10.5.0.1", ip_range="10.5.0.0/16")
    assert allocate(plan_, []) == "10.5.0.2"


def test_a_full_ip_range_is_unavailable_though_the_subnet_has_room():
    plan_ = Plan(subnet="10.5.0.0/16", gateway="10.5.0.1", ip_range="10.5.1.0/30")
    with pytest.raises(Unavailable):
        allocate(plan_, [f"10.5.1.{n}" for n in range(4)])


def test_the_range_at_the_subnet_end_skips_the_broadcast():
    plan_ = Plan(subnet="10.5.0.0/16", gateway="10.5.0.1", ip_range="10.5.255.254/31")
    assert allocate(plan_, []) == "10.5.255.254"
    with pytest.raises(Unavailable):
        allocate(plan_, ["10.5.255.254"])


# --- static addresses ------------------------------------------------------------------


def test_a_free_static_address_is_granted():
    assert allocate(NET, {"172.20.0.2"}, "172.20.9.9") == "172.20.9.9"


def test_a_static_address_outside_the_ip_range_but_inside_the_subnet_is_granted():
    plan_ = Plan(subnet="10.5.0.0/16", gateway="10.5.0.1", ip_range="10.5.1.0/24")
    assert allocate(plan_, [], "10.5.7.7") == "10.5.7.7"


@pytest.mark.parametrize("wanted", ["172.20.0.2", "172.20.0.1", "172.20.0.0",
                                    "172.20.255.255"])
def test_a_static_address_in_use_or_reserved_conflicts(wanted):
    with pytest.raises(Conflict) as caught:
        allocate(NET, {"172.20.0.2"}, wanted)
    assert str(caught.value) == "Address already in use"


def test_a_static_address_outside_the_subnet_is_invalid():
    with pytest.raises(InvalidArgument) as caught:
        allocate(NET, [], "10.0.0.5")
    assert str(caught.value) == ("no configured subnet or ip-range contain the IP "
                                 "address 10.0.0.5")


@pytest.mark.parametrize("wanted", ["nonsense", "fd00::5", "172.20.0.300"])
def test_a_malformed_static_address_is_invalid(wanted):
    with pytest.raises(InvalidArgument, match="invalid IPv4 address"):
        allocate(NET, [], wanted)


def test_a_static_address_beside_a_full_range_is_granted():
    plan_ = Plan(subnet="10.5.0.0/16", gateway="10.5.0.1", ip_range="10.5.1.0/31")
    assert allocate(plan_, ["10.5.1.0", "10.5.1.1"], "10.5.2.1") == "10.5.2.1"


# --- MAC addresses ---------------------------------------------------------------------


@pytest.mark.parametrize("address, mac", [
    ("172.17.0.2", "02:42:ac:11:00:02"),
    ("10.0.0.255", "02:42:0a:00:00:ff"),
    ("192.168.16.3", "02:42:c0:a8:10:03"),
])
def test_mac_is_derived_from_the_address(address, mac):
    assert mac_of(address) == mac


def test_mac_of_a_non_ipv4_address_is_invalid():
    with pytest.raises(InvalidArgument):
        mac_of("fd00::1")
