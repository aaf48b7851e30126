"""The network service wired to the real kernel: netlink for bridges and veths (in the
host's namespace and in containers'), libnftables for the firewall, the iptables
binaries for FORWARD chains a Docker may have left. The one place that picks them."""

from __future__ import annotations

import socket

from estiba.kernel import netns
from estiba.kernel.netlink import Netlink
from estiba.network.bridge import BridgeDriver
from estiba.network.service import NetworkService

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.kernel.nftables import Nftables
    from estiba.metadata.db import Database
    from estiba.network.resolver import Resolver


class NftFirewall:
    """The firewall's table replaced as a whole (``firewall.script``), or dropped."""

    def __init__(self) -> None:
        self._nft: Nftables | None = None

    @property
    def nft(self) -> Nftables:
        if self._nft is None:
            from estiba.kernel.nftables import Nftables

            self._nft = Nftables()
        return self._nft

    def apply(self, table: str, nets: list, published: list) -> None:
        from estiba.network.firewall import script

        self.nft.run(script(table, nets, published))

    def delete(self, table: str) -> None:
        self.nft.delete_table("ip", table)


def netlink_in(path: str) -> Netlink:
    """Netlink in the network namespace at ``path``."""
    return Netlink(netns.open_socket(path, socket.AF_NETLINK,
                                     socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     socket.NETLINK_ROUTE))


def udp_in(path: str) -> socket.socket:
    """A UDP socket in the network namespace at ``path``."""
    return netns.open_socket(path, socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)


def network_service(db: Database, exec_root: str, instance: str,
                    serve_dns: bool = False) -> NetworkService:
    """The service; with ``serve_dns``, its embedded DNS server running (the daemon's)."""
    from estiba.network.forwarding import Iptables

    def resolver(service: NetworkService) -> Resolver:
        from estiba.network.resolver import Resolver

        return Resolver(service.lookup, udp_in)

    firewall = NftFirewall()
    return NetworkService(db, exec_root, BridgeDriver(Netlink, netlink_in),
                          instance=instance, firewall=firewall,
                          forwarding=Iptables(firewall.nft),
                          resolver=resolver if serve_dns else None)


def purge(root: str, exec_root: str, instance: str) -> None:
    """The kernel objects of a stopped daemon's networks gone (its bridges, containers'
    namespaces, forwarding rules, nft table): what a test or a benchmark leaves
    behind otherwise, as dockerd leaves docker0. The records stay."""
    import os

    from estiba.metadata.db import Database

    if not os.path.exists(os.path.join(root, "metadata.db")):
        return
    db = Database(os.path.join(root, "metadata.db"))
    try:
        network_service(db, exec_root, instance).purge()
    finally:
        db.close()
