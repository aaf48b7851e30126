"""rtnetlink and persistent network namespaces on the real kernel: a bridge, a veth pair
whose peer is born inside a namespace, addresses, a default route, and a UDP datagram
from the namespace to the bridge's addresses (traffic between this machine's own
addresses only). Everything made is removed by the ``made`` fixture."""

from __future__ import annotations

import errno
import os
import socket
import stat
from dataclasses import dataclass

import pytest

from estiba.errors import AlreadyExists, InvalidArgument, NotFound
from estiba.kernel import consts as k
from estiba.kernel import netns
from estiba.kernel.linux import Linux
from estiba.kernel.netlink import Address, Netlink, Route

pytestmark = pytest.mark.root


@dataclass(frozen=True)
class Topology:
    """A bridge with a veth's host end attached; the peer, ``eth0``, in namespace
    ``ns``; ``gateway`` on the bridge and ``peer_ip`` on eth0, both in ``near``."""

    bridge: str
    host_end: str
    ns: str
    gateway: str
    peer_ip: str
    far_ip: str  # on the bridge too, outside near: reached through the default route


def ns_netlink(path: str) -> Netlink:
    return Netlink(netns.open_socket(path, socket.AF_NETLINK,
                                     socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     socket.NETLINK_ROUTE))


def mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


@pytest.fixture
def topology(netlink, made, names, subnets) -> Topology:
    gateway, peer_ip = (str(h) for h in list(subnets.near.hosts())[:2])
    far_ip = str(next(subnets.far.hosts()))
    path = made.namespace()
    netns.create(path)

    netlink.add_bridge(made.link(names.bridge))
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        netlink.add_veth(made.link(names.veth), "eth0", peer_netns_fd=fd)
    finally:
        os.close(fd)
    netlink.set_link(names.veth, master=names.bridge, up=True)
    netlink.add_address(names.bridge, gateway, 24)
    netlink.add_address(names.bridge, far_ip, 32)
    netlink.set_link(names.bridge, up=True)

    with ns_netlink(path) as inside:
        inside.add_address("eth0", peer_ip, 24)
        inside.set_link("eth0", up=True)
    return Topology(names.bridge, names.veth, path, gateway, peer_ip, far_ip)


def exchange(top: Topology, destination: str) -> str:
    """Send one datagram from the namespace to a socket on ``destination`` (a bridge
    address, in the host's namespace); the address it came from."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as host, \
            netns.open_socket(top.ns, socket.AF_INET, socket.SOCK_DGRAM) as inside:
        host.bind((destination, 0))
        host.settimeout(10)
        payload = os.urandom(16)
        inside.sendto(payload, host.getsockname())
        data, (source, _port) = host.recvfrom(64)
        assert data == payload
        return source


def test_a_datagram_crosses_from_the_namespace_to_the_bridge(topology):
    assert exchange(topology, topology.gateway) == topology.peer_ip


def test_the_default_route_reaches_past_the_subnet(topology):
    far = (topology.far_ip, 9)
    with netns.open_socket(topology.ns, socket.AF_INET, socket.SOCK_DGRAM) as inside:
        with pytest.raises(OSError) as no_route:
            inside.sendto(b"x", far)
        assert no_route.value.errno == errno.ENETUNREACH
    with ns_netlink(topology.ns) as inside:
        inside.add_route("0.0.0.0", 0, gateway=topology.gateway)
        assert Route("0.0.0.0", 0, topology.gateway, inside.link("eth0").index) \
            in inside.routes()
    assert exchange(topology, topology.far_ip) == topology.peer_ip


def test_links_addresses_and_routes_show_what_was_made(topology, netlink):
    bridge = netlink.link(topology.bridge)
    host_end = netlink.link(topology.host_end)
    assert bridge.kind == "bridge" and bridge.up
    assert host_end.kind == "veth" and host_end.up and host_end.master == bridge.index
    assert {bridge, host_end} <= set(netlink.links())
    addresses = netlink.addresses()
    assert Address(bridge.index, topology.gateway, 24) in addresses
    assert Address(bridge.index, topology.far_ip, 32) in addresses
    network = topology.gateway.rsplit(".", 1)[0] + ".0"
    assert Route(network, 24, "", bridge.index) in netlink.routes()

    with ns_netlink(topology.ns) as inside:
        by_name = {link.name: link for link in inside.links()}
        assert set(by_name) == {"lo", "eth0"}
        assert by_name["lo"].up  # netns.create brought it up
        assert by_name["eth0"].kind == "veth" and by_name["eth0"].up
        assert Address(by_name["eth0"].index, topology.peer_ip, 24) in inside.addresses()
        assert inside.routes() == [Route(network, 24, "", by_name["eth0"].index)]


def test_set_link_renames_sizes_addresses_and_detaches(netlink, made, names):
    first, second = names.host("a"), names.host("b")
    renamed = made.link(names.host("c"))
    netlink.add_bridge(made.link(names.bridge))
    netlink.add_veth(made.link(first), made.link(second))

    netlink.set_link(second, new_name=renamed, mtu=1400, mac="02:00:0a:e7:00:09",
                     master=names.bridge)
    assert netlink.link(second) is None
    link = netlink.link(renamed)
    assert (link.mtu, link.mac, link.up) == (1400, "02:00:0a:e7:00:09", False)
    assert link.master == netlink.link(names.bridge).index
    netlink.set_link(renamed, nomaster=True, up=True)
    link = netlink.link(renamed)
    assert (link.master, link.up) == (0, True)
    netlink.set_link(renamed, up=False)
    assert not netlink.link(renamed).up


def test_a_link_moves_into_a_namespace(netlink, made, names):
    path = made.namespace()
    netns.create(path)
    netlink.add_veth(made.link(names.host("a")), made.link(names.host("b")))
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        netlink.set_link(names.host("b"), netns_fd=fd)
    finally:
        os.close(fd)
    assert netlink.link(names.host("b")) is None
    with ns_netlink(path) as inside:
        assert inside.link(names.host("b")).kind == "veth"
    # deleting the host end takes the peer in the namespace with it
    assert netlink.delete_link(names.host("a"))
    with ns_netlink(path) as inside:
        assert inside.link(names.host("b")) is None


def test_errors_are_typed_and_name_what_failed(netlink, made, names):
    netlink.add_bridge(made.link(names.bridge))
    with pytest.raises(AlreadyExists, match=f"^add bridge {names.bridge}: file exists$"):
        netlink.add_bridge(names.bridge)
    netlink.add_veth(made.link(names.host("a")), made.link(names.host("b")))
    with pytest.raises(AlreadyExists, match=f"add veth {names.host('a')} "):
        netlink.add_veth(names.host("a"), made.link(names.host("c")))
    assert netlink.link(names.host("c")) is None  # nothing half made

    assert netlink.delete_link(names.host("x")) is False
    assert netlink.link(names.host("x")) is None
    with pytest.raises(NotFound, match=names.host("x")):
        netlink.set_link(names.host("x"), up=True)
    with pytest.raises(NotFound):
        netlink.set_link(names.host("a"), master=names.host("x"))
    with pytest.raises(NotFound):
        netlink.add_address(names.host("x"), "10.231.0.1", 24)

    too_long = "ves" + "x" * 13  # 16 bytes
    for call in (lambda: netlink.add_bridge(too_long),
                 lambda: netlink.add_veth(too_long, "p"),
                 lambda: netlink.add_veth(names.host("d"), too_long),
                 lambda: netlink.set_link(names.host("a"), new_name=too_long),
                 lambda: netlink.delete_link(too_long),
                 lambda: netlink.link(too_long)):
        with pytest.raises(InvalidArgument, match="longer than 15 bytes"):
            call()
    assert netlink.link(names.host("d")) is None


def test_create_and_remove_leave_nothing(netlink, made):
    path = made.namespace()
    host_ns = os.stat("/proc/thread-self/ns/net").st_ino
    netns.create(path)
    assert mounted(path)
    assert os.stat(path).st_ino != host_ns
    # the caller's thread never changed namespace
    assert os.stat("/proc/thread-self/ns/net").st_ino == host_ns
    with pytest.raises(AlreadyExists, match=f"create network namespace {path}"):
        netns.create(path)
    assert netns.run_in(path, lambda: os.stat("/proc/thread-self/ns/net").st_ino) == \
        os.stat(path).st_ino
    assert os.stat("/proc/thread-self/ns/net").st_ino == host_ns

    assert netns.remove(path) is True
    assert not mounted(path) and not os.path.lexists(path)
    assert netns.remove(path) is False


def test_the_file_pinned_is_an_empty_file_of_mode_0644(made):
    path = made.namespace()
    umask = os.umask(0o077)
    try:
        netns.create(path)
    finally:
        os.umask(umask)
    # the mount shows the nsfs inode; unmounted, the file made under it shows
    Linux().umount(path, k.MNT_DETACH)
    st = os.stat(path)
    assert (stat.S_ISREG(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size) == \
        (True, 0o644, 0)
    assert netns.remove(path) is True  # a file no longer mounted is removed all the same
    assert not os.path.lexists(path)


def test_run_in_hands_back_the_exception(made):
    path = made.namespace()
    netns.create(path)

    def fail() -> None:
        raise ZeroDivisionError("inside")

    with pytest.raises(ZeroDivisionError, match="inside"):
        netns.run_in(path, fail)
    with pytest.raises(NotFound, match="open network namespace"):
        netns.run_in(made.namespace("missing"), lambda: None)


def test_create_where_it_cannot_leaves_nothing(made):
    path = os.path.join(made.directory, "no-such-dir", "ns")
    with pytest.raises(NotFound, match="create network namespace"):
        netns.create(path)
    assert not os.path.lexists(path)
