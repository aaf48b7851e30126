"""Addresses of networks (IPAM), IPv4 only: which subnet a network gets, which gateway,
and which address each container on it gets.

Docker's default address manager is the model. A network created without ``--subnet``
takes the first subnet of the default pools that overlaps nothing taken: the subnets of
the other networks and the host's own routes and addresses, so that a network never
shadows a LAN or a VPN. A subnet given by the user is validated as Docker validates it
(``invalid network config:`` followed by every finding), and refused when it overlaps
another network's. Each subnet keeps its network and broadcast addresses and its gateway
out of the hands of containers; a container gets the lowest free address of the ip-range
(the whole subnet when there is none), so an address freed by a removed container is the
next one handed out.

Everything here is pure: callers bring what is taken and what is used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from estiba.errors import Conflict, InvalidArgument, Unavailable, Unimplemented

# Docker's local-scope default pools (daemon.json "default-address-pools"): 172.17/16 to
# 172.31/16 whole, then 192.168/16 cut in /20s.
DEFAULT_POOLS: tuple[tuple[str, int], ...] = (
    *((f"172.{second}.0.0/16", 16) for second in range(17, 32)),
    ("192.168.0.0/16", 20),
)

NO_POOL = ("could not find an available, non-overlapping IPv4 address pool among the "
           "defaults to assign to the network")
POOL_OVERLAPS = "Pool overlaps with other one on this address space"
ADDRESS_IN_USE = "Address already in use"


@dataclass(frozen=True)
class Plan:
    """A network's addresses, as normalised strings: ``subnet`` ``"172.18.0.0/16"``,
    ``gateway`` ``"172.18.0.1"``, ``ip_range`` the part of the subnet containers are
    given addresses from, ``""`` for the whole subnet (Docker shows no IPRange then)."""

    subnet: str
    gateway: str
    ip_range: str = ""


def candidate_subnets(pools: Iterable[tuple[str, int]] = DEFAULT_POOLS) -> Iterator[IPv4Network]:
    """Every subnet the pools offer, in order: each base cut into subnets of its size."""
    for base, size in pools:
        try:
            network = ipaddress.ip_network(base)
        except ValueError as err:
            raise InvalidArgument(f"invalid base pool {base!r}: {err}") from err
        if network.version != 4:
            raise Unimplemented(f"base pool {base}: only IPv4 pools are supported")
        if not network.prefixlen <= size <= 32:
            raise InvalidArgument(f"invalid pools size: {size}")
        yield from network.subnets(new_prefix=size)


def choose_subnet(taken: Iterable[IPv4Network | str],
                  pools: Iterable[tuple[str, int]] = DEFAULT_POOLS) -> IPv4Network:
    """The first candidate subnet overlapping nothing in ``taken`` (other networks'
    subnets, the host's routes and addresses).

    Default routes (``0.0.0.0/0``) are ignored: they overlap everything, and Docker does
    not count them either. IPv6 entries are ignored.
    """
    blocked = _networks(taken)
    for candidate in candidate_subnets(pools):
        if not any(candidate.overlaps(net) for net in blocked):
            return candidate
    raise Unavailable(NO_POOL)


def plan(subnet: str = "", gateway: str = "", ip_range: str = "",
         taken: Iterable[IPv4Network | str] = (),
         pools: Iterable[tuple[str, int]] = DEFAULT_POOLS) -> Plan:
    """The addresses of a new network from what the user gave (``--subnet``,
    ``--gateway``, ``--ip-range``), validated as Docker does.

    No subnet: the first free default one (``choose_subnet``). No gateway: the first host
    address of the subnet. A given subnet overlapping one of ``taken`` is a Conflict, as
    in Docker, whose check covers the other networks only; what the caller puts in
    ``taken`` decides that.
    """
    if not subnet:
        if gateway or ip_range:
            # the docker CLI's wording; the API would fail on the empty subnet instead
            raise InvalidArgument("every ip-range or gateway must have a corresponding subnet")
        chosen = choose_subnet(taken, pools)
        return Plan(subnet=str(chosen), gateway=str(chosen.network_address + 1))

    given = _prefix(subnet)
    if given is None:
        raise InvalidArgument(f"invalid network config:\ninvalid subnet {subnet}: "
                              "invalid CIDR block notation")
    if given.version != 4:
        raise Unimplemented(f"subnet {subnet}: only IPv4 networks are supported")
    network = given.network
    problems = []
    if given.ip != network.network_address:
        problems.append(f"invalid subnet {given}: it should be {network}")
    problems += _ip_range_problems(ip_range, given)
    problem = _address_problem(gateway, given)
    if problem:
        problems.append(f"invalid gateway {gateway}: {problem}")
    if problems:
        raise InvalidArgument(_joined(problems))

    if any(network.overlaps(net) for net in _networks(taken)):
        raise Conflict(POOL_OVERLAPS)
    if gateway:
        chosen_gateway = IPv4Address(gateway)
        if chosen_gateway in _reserved(network):
            # what Docker's allocator answers: those two addresses are never handed out
            raise InvalidArgument(f"failed to allocate gateway ({gateway}): {ADDRESS_IN_USE}")
    else:
        chosen_gateway = network.network_address + 1
    range_text = str(ipaddress.ip_network(ip_range, strict=False)) if ip_range else ""
    return Plan(subnet=str(network), gateway=str(chosen_gateway), ip_range=range_text)


def allocate(plan: Plan, used: Collection[str], wanted: str = "", network: str = "") -> str:
    """A container's address on the network of ``plan``.

    Without ``wanted``: the lowest address of the ip-range (or of the subnet) that is not
    the subnet's network or broadcast address, the gateway, or in ``used``. With
    ``wanted`` (a static ``--ip``): that address, when inside the subnet and free.
    ``network`` names the network in the message of a full one ("name (id)" in Docker's).
    """
    subnet = ipaddress.ip_network(plan.subnet)
    gateway = IPv4Address(plan.gateway)
    taken = {_address(text) for text in used}
    taken.add(gateway)
    taken |= _reserved(subnet)

    if wanted:
        try:
            address = IPv4Address(wanted)
        except ValueError as err:
            raise InvalidArgument(f"invalid IPv4 address: {wanted}") from err
        if address not in subnet:
            raise InvalidArgument(
                f"no configured subnet or ip-range contain the IP address {wanted}")
        if address in taken:
            raise Conflict(ADDRESS_IN_USE)
        return str(address)

    pool = ipaddress.ip_network(plan.ip_range) if plan.ip_range else subnet
    first, last = int(pool.network_address), int(pool.broadcast_address)
    for number in range(first, last + 1):
        address = IPv4Address(number)
        if address not in taken:
            return str(address)
    suffix = f": {network}" if network else ""
    raise Unavailable(f"no available IPv4 addresses on this network's address pools{suffix}")


def mac_of(address: str) -> str:
    """The MAC Docker derives from a container's IPv4 address: the locally administered
    prefix 02:42, then the four bytes of the address (172.17.0.2 -> 02:42:ac:11:00:02)."""
    try:
        packed = IPv4Address(address).packed
    except ValueError as err:
        raise InvalidArgument(f"invalid IPv4 address: {address}") from err
    return ":".join(f"{byte:02x}" for byte in (0x02, 0x42, *packed))


# --- helpers ---------------------------------------------------------------------------


def _networks(entries: Iterable[IPv4Network | str]) -> list[IPv4Network]:
    networks = []
    for entry in entries:
        # a host address comes as "192.168.1.5/24": the network it sits on counts
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError as err:
            raise InvalidArgument(f"invalid network {entry}: {err}") from err
        if net.version == 4 and net.prefixlen > 0:
            networks.append(net)
    return networks


def _prefix(text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
    """``text`` as address/length, as Go's netip.ParsePrefix reads it: the length is
    required and written in digits (no netmask form)."""
    address, slash, length = text.partition("/")
    if not slash or not length.isdigit() or not length.isascii():
        return None
    try:
        return ipaddress.ip_interface(f"{address}/{int(length)}")
    except ValueError:
        return None


def _ip_range_problems(ip_range: str, subnet: ipaddress.IPv4Interface) -> list[str]:
    if not ip_range:
        return []
    prefix = _prefix(ip_range)
    if prefix is None:
        return [f"invalid ip-range {ip_range}: invalid CIDR block notation"]
    if prefix.version != 4:
        return [f"invalid ip-range {ip_range}: parent subnet is an IPv4 block"]
    problems = []
    if prefix.network.prefixlen < subnet.network.prefixlen:
        problems.append(f"invalid ip-range {ip_range}: CIDR block is bigger than its "
                        f"parent subnet {subnet}")
    if prefix.ip != prefix.network.network_address:
        problems.append(f"invalid ip-range {prefix}: it should be {prefix.network}")
    if not subnet.network.overlaps(prefix.network):
        problems.append(f"invalid ip-range {ip_range}: parent subnet {subnet} doesn't "
                        "contain ip-range")
    return problems


def _address_problem(address: str, subnet: ipaddress.IPv4Interface) -> str:
    if not address:
        return ""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "invalid address"
    if parsed.version != 4:
        return "parent subnet is an IPv4 block"
    if parsed not in subnet.network:
        return f"parent subnet {subnet} doesn't contain this address"
    return ""


def _joined(problems: list[str]) -> str:
    if len(problems) == 1:
        return f"invalid network config:\n{problems[0]}"
    return "invalid network config:\n" + "\n".join(f"* {p}" for p in problems)


def _reserved(subnet: IPv4Network) -> set[IPv4Address]:
    # a /31 or /32 has no network or broadcast address to spare (RFC 3021)
    if subnet.prefixlen >= 31:
        return set()
    return {subnet.network_address, subnet.broadcast_address}


def _address(text: str) -> IPv4Address:
    # records may keep an address with its prefix length ("172.17.0.2/16")
    try:
        return IPv4Address(text.partition("/")[0])
    except ValueError as err:
        raise InvalidArgument(f"invalid IPv4 address: {text}") from err
