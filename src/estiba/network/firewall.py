"""The firewall of the networks, as an nftables script computed from the model.

The firewall is derived state: Estiba owns one table (``ip estiba``, or
``ip estiba-<instance>``) and, on every change, replaces the whole of it with the table
computed here from the networks and the published ports, in one transaction. The script
starts with ``add table`` then ``delete table`` (so the delete never fails on a first
run) and then the full table: the kernel applies the three as one batch, so no packet
ever sees the old table half gone or the new one half made.

The table hooks four base chains:

- nat ``prerouting`` (dstnat) and nat ``output`` (-100, the connections the host itself
  makes): DNAT of published ports. An empty host address means every local address
  (``fib daddr type local``). Connections to 127.0.0.1 are DNATed too; the kernel routes
  a packet with a loopback source out of the bridge only when the bridge has
  ``route_localnet`` (see ``sysctls``).
- nat ``postrouting`` (srcnat): masquerade of a subnet leaving by another interface than
  its bridge; of loopback-sourced connections DNATed into a bridge (a container cannot
  answer 127.0.0.1); and of hairpin connections (a container reaching a published port
  of its own network must see the reply come from the gateway, not from its peer
  directly, or it would drop a reply from an address it never called).
- filter ``forward`` (filter, policy accept): isolation between Estiba bridges, internal
  networks cut off from the outside, icc=false. Its policy is accept because other base
  chains on the hook (iptables' FORWARD) decide too; a packet passes only when all of
  them accept it.

Every value is checked before it is written into the script: a bad name or address would
otherwise make nft reject the whole table, or mean something else.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from estiba.errors import Conflict, InvalidArgument

FAMILY = "ip"
_IFNAMSIZ = 16  # the kernel's limit, with the NUL byte
_IFNAME = re.compile(r"[A-Za-z0-9_.-]+\Z")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_LOOPBACK = "127.0.0.0/8"
_PROTOS = ("tcp", "udp")


@dataclass(frozen=True)
class BridgeNet:
    """A network: its bridge, subnet (``172.18.0.0/16``) and gateway (the bridge's own
    address). ``internal`` cuts it off from every other interface; ``masquerade`` NATs
    what it sends out; ``icc`` false forbids its containers to talk to each other."""

    bridge: str
    subnet: str
    gateway: str
    internal: bool = False
    masquerade: bool = True
    icc: bool = True


@dataclass(frozen=True)
class Published:
    """A published port: ``host_ip:host_port`` (``host_ip`` "" for every local
    address) forwarded to ``address:port`` of a container on ``bridge``."""

    proto: str
    host_ip: str
    host_port: int
    address: str
    port: int
    bridge: str


def script(table: str, nets: Sequence[BridgeNet], published: Sequence[Published]) -> str:
    """The nft script replacing table ``ip <table>`` with the one of this model."""
    _check_table(table)
    _check_nets(nets)
    _check_published(nets, published)
    dnat = [dnat_rule(p) for p in published]
    chains = [
        ("prerouting", "type nat hook prerouting priority dstnat; policy accept;", dnat),
        ("output", "type nat hook output priority -100; policy accept;", dnat),
        ("postrouting", "type nat hook postrouting priority srcnat; policy accept;",
         postrouting_rules(nets)),
        ("forward", "type filter hook forward priority filter; policy accept;",
         forward_rules(nets)),
    ]
    lines = [f"add table {FAMILY} {table}", f"delete table {FAMILY} {table}",
             f"table {FAMILY} {table} {{"]
    # a chain with no rule is left out: an empty base chain still costs every packet
    for name, head, rules in chains:
        if rules:
            lines += [f"\tchain {name} {{", f"\t\t{head}", *(f"\t\t{r}" for r in rules),
                      "\t}"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def postrouting_rules(nets: Sequence[BridgeNet]) -> list[str]:
    """The masquerade rules of the nat postrouting chain, for checked ``nets``."""
    rules = []
    for net in nets:
        br = _quote(net.bridge)
        rules.append(f"oifname {br} ip saddr {_LOOPBACK} masquerade")
        rules.append(f"oifname {br} ip saddr {net.subnet} ct status dnat masquerade")
        if net.masquerade and not net.internal:
            rules.append(f"oifname != {br} ip saddr {net.subnet} masquerade")
    return rules


def forward_rules(nets: Sequence[BridgeNet]) -> list[str]:
    """The rules of the filter forward chain, for checked ``nets``. Drops come first:
    the accepts at the end only end the chain's walk, its policy accepts anyway."""
    rules = []
    for net in nets:
        br = _quote(net.bridge)
        if net.internal:
            rules.append(f"iifname {br} oifname != {br} drop")
            rules.append(f"oifname {br} iifname != {br} drop")
        if not net.icc:
            rules.append(f"iifname {br} oifname {br} drop")
    for net in nets:
        others = [n.bridge for n in nets if n.bridge != net.bridge]
        if others:
            rules.append(f"iifname {_quote(net.bridge)} oifname {_set(others)} drop")
    if nets:
        bridges = _set([n.bridge for n in nets])
        rules.append(f"iifname {bridges} accept")
        rules.append(f"oifname {bridges} accept")
    return rules


def sysctls(nets: Sequence[BridgeNet]) -> dict[str, str]:
    """The sysctls the firewall relies on, path -> value, for the caller to write:
    ``route_localnet`` on each bridge (published ports on 127.0.0.1) and, when a network
    reaches outside, ``ip_forward``."""
    _check_nets(nets)
    values = {f"/proc/sys/net/ipv4/conf/{n.bridge}/route_localnet": "1" for n in nets}
    if any(not n.internal for n in nets):
        values["/proc/sys/net/ipv4/ip_forward"] = "1"
    return values


def dnat_rule(p: Published) -> str:
    """The rule of the nat prerouting and output chains that forwards ``p``."""
    match = "fib daddr type local" if _any_address(p.host_ip) else f"ip daddr {p.host_ip}"
    return f"{match} {p.proto} dport {p.host_port} dnat to {p.address}:{p.port}"


def _quote(name: str) -> str:
    return f'"{name}"'


def _set(names: Sequence[str]) -> str:
    if len(names) == 1:
        return _quote(names[0])
    return "{ " + ", ".join(_quote(n) for n in names) + " }"


def _any_address(host_ip: str) -> bool:
    return host_ip in ("", "0.0.0.0")


# --- validation ----------------------------------------------------------------------


def _check_table(table: str) -> None:
    if not _TABLE.match(table) or len(table) > 255:
        raise InvalidArgument(f"firewall: bad table name {table!r}")


def _check_ifname(name: str) -> None:
    if not _IFNAME.match(name) or name in (".", ".."):
        raise InvalidArgument(f"firewall: bad interface name {name!r}")
    if len(name.encode()) >= _IFNAMSIZ:
        raise InvalidArgument(
            f"firewall: interface name {name!r} longer than {_IFNAMSIZ - 1} bytes")


def _check_nets(nets: Sequence[BridgeNet]) -> None:
    seen: dict[str, ipaddress.IPv4Network] = {}
    for net in nets:
        _check_ifname(net.bridge)
        if net.bridge in seen:
            raise InvalidArgument(f"firewall: bridge {net.bridge} given twice")
        try:
            subnet = ipaddress.IPv4Network(net.subnet)
            gateway = ipaddress.IPv4Address(net.gateway)
        except ValueError as err:
            raise InvalidArgument(f"firewall: network of {net.bridge}: {err}") from err
        if str(subnet) != net.subnet:  # the script must say exactly what was checked
            raise InvalidArgument(
                f"firewall: subnet of {net.bridge}: write {net.subnet!r} as {subnet}")
        if gateway not in subnet:
            raise InvalidArgument(
                f"firewall: gateway {gateway} of {net.bridge} outside {subnet}")
        for other, other_subnet in seen.items():
            if subnet.overlaps(other_subnet):
                raise InvalidArgument(
                    f"firewall: subnet {subnet} of {net.bridge} overlaps {other_subnet} "
                    f"of {other}")
        seen[net.bridge] = subnet


def _check_published(nets: Sequence[BridgeNet], published: Sequence[Published]) -> None:
    by_bridge = {n.bridge: n for n in nets}
    taken: dict[tuple[str, int], list[str]] = {}
    for p in published:
        what = f"firewall: published {p.proto} {p.host_ip or '*'}:{p.host_port}"
        if p.proto not in _PROTOS:
            raise InvalidArgument(f"{what}: protocol must be tcp or udp")
        for port in (p.host_port, p.port):
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise InvalidArgument(f"{what}: port {port!r} outside 1-65535")
        net = by_bridge.get(p.bridge)
        if net is None:
            raise InvalidArgument(f"{what}: bridge {p.bridge!r} is no network of the model")
        if net.internal:
            raise InvalidArgument(f"{what}: network of {p.bridge} is internal")
        try:
            address = ipaddress.IPv4Address(p.address)
            if not _any_address(p.host_ip):
                ipaddress.IPv4Address(p.host_ip)
        except ValueError as err:
            raise InvalidArgument(f"{what}: {err}") from err
        if str(address) != p.address or address not in ipaddress.IPv4Network(net.subnet):
            raise InvalidArgument(f"{what}: address {p.address} not in {net.subnet}")
        # one listener per port: any-address clashes with every single address
        host = "" if _any_address(p.host_ip) else p.host_ip
        hosts = taken.setdefault((p.proto, p.host_port), [])
        if host in hosts or (hosts and ("" in hosts or host == "")):
            raise Conflict(f"{what}: published twice")
        hosts.append(host)
