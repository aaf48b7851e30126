"""The bridge driver's kernel work: a Linux bridge per network holding its gateway
address, and per container endpoint a veth pair — one end on the bridge, the other made
straight inside the container's network namespace as ``eth0`` (``eth1`` ...), with the
endpoint's address and MAC, and the default route through the gateway.

The names are the caller's; this module only applies them (``names`` computes them).
"""

from __future__ import annotations

import hashlib
import os

from estiba.errors import AlreadyExists, EstibaError, from_oserror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.kernel.netlink import Netlink


def veth_name(container_id: str, network_id: str) -> str:
    """The host end of a container's veth on a network: ``ves`` and 12 hex digits, so
    that each (container, network) pair has its own within the 15 bytes of a name."""
    return "ves" + hashlib.sha256(f"{container_id}/{network_id}".encode()).hexdigest()[:12]


class BridgeDriver:
    """Bridges and veths, through ``netlink()`` (the host's namespace) and
    ``netlink_in(path)`` (a network namespace's)."""

    def __init__(self, netlink: Callable[[], Netlink],
                 netlink_in: Callable[[str], Netlink]) -> None:
        self.netlink = netlink
        self.netlink_in = netlink_in

    def ensure_bridge(self, name: str, gateway: str, prefixlen: int, mtu: int = 0) -> None:
        """The bridge ``name`` up with ``gateway/prefixlen`` (made when missing; what is
        there already is kept)."""
        with self.netlink() as nl:
            link = nl.link(name)
            if link is None:
                nl.add_bridge(name, mtu=mtu)
                link = nl.link(name)
            if link is not None and not any(
                    a.index == link.index and a.address == gateway
                    for a in nl.addresses()):
                nl.add_address(name, gateway, prefixlen)
            nl.set_link(name, up=True)

    def remove_bridge(self, name: str) -> bool:
        with self.netlink() as nl:
            return nl.delete_link(name)

    def bridges(self) -> set[str]:
        with self.netlink() as nl:
            return {link.name for link in nl.links() if link.kind == "bridge"}

    def taken_subnets(self) -> list[str]:
        """The host's routes and addresses as CIDRs: what a new subnet must not overlap."""
        with self.netlink() as nl:
            routes = [f"{r.dst}/{r.prefixlen}" for r in nl.routes() if r.prefixlen > 0]
            addresses = [f"{a.address}/{a.prefixlen}" for a in nl.addresses()
                         if ":" not in a.address]
        return routes + addresses

    def attach(self, netns: str, bridge: str, host_end: str, ifname: str, address: str,
               prefixlen: int, mac: str, gateway: str, mtu: int = 0,
               default_route: bool = True) -> None:
        """A veth from ``bridge`` into the namespace at ``netns``, configured."""
        try:
            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise from_oserror(f"open network namespace {netns}", err) from err
        try:
            with self.netlink() as nl:
                try:
                    nl.add_veth(host_end, ifname, peer_netns_fd=fd, mtu=mtu)
                except AlreadyExists:
                    # the same container's end of an earlier task, whose namespace
                    # the kernel has not finished destroying
                    nl.delete_link(host_end)
                    nl.add_veth(host_end, ifname, peer_netns_fd=fd, mtu=mtu)
                try:
                    nl.set_link(host_end, master=bridge, up=True)
                    with self.netlink_in(netns) as inside:
                        if mac:
                            inside.set_link(ifname, mac=mac)
                        if address:
                            inside.add_address(ifname, address, prefixlen)
                        inside.set_link(ifname, up=True)
                        if default_route and gateway:
                            inside.add_route("0.0.0.0", 0, gateway=gateway, dev=ifname)
                except BaseException:
                    nl.delete_link(host_end)
                    raise
        finally:
            os.close(fd)

    def detach(self, host_end: str) -> bool:
        """Delete the veth (both ends go); False when it was gone already."""
        try:
            with self.netlink() as nl:
                return nl.delete_link(host_end)
        except EstibaError:
            return False
