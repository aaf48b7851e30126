"""rtnetlink messages packed and parsed back, and replies the kernel really sent
(captured from Linux 6.x) parsed, without root and without a socket."""

from __future__ import annotations

import errno
import socket

import pytest

from estiba.errors import AlreadyExists, Internal, InvalidArgument, NotFound
from estiba.kernel import netlink as n

# NLMSG_ERROR for RTM_NEWLINK of a bridge that exists: -EEXIST, capped, no attributes
EEXIST_ACK = bytes.fromhex(
    "24000000020000010100000066590000efffffff3c000000100005060100000000000000")
# NLMSG_ERROR for a route via an unreachable gateway: -ENETUNREACH, capped, with the
# extended ack's NLMSGERR_ATTR_MSG
EXTACK_ERROR = bytes.fromhex(
    "440000000200000301000000665900009bffffff2c000000180005060100000000000000"
    "200001004e657874686f702068617320696e76616c6964206761746577617900")
# RTM_NEWADDR of a dump: 127.0.0.1/8 on lo (index 1), with label and cacheinfo
LO_ADDRESS = bytes.fromhex(
    "4c000000140002000200000066590000020880fe01000000080001007f000001080002007f000001"
    "070003006c6f0000080008008000000014000600ffffffffffffffff1600000016000000")
# NLMSG_DONE ending a dump, status 0
DONE = bytes.fromhex("1400000003000200020000006659000000000000")


def test_an_attribute_is_padded_to_four_bytes():
    packed = n.attr(n.IFLA_IFNAME, b"abcde\0")
    assert packed[:4] == bytes.fromhex("0a000300")  # length 10 (unpadded), type 3
    assert len(packed) == 12 and packed.endswith(b"\0\0")
    assert n.parse_attrs(packed) == {n.IFLA_IFNAME: b"abcde\0"}


def test_a_message_packed_is_parsed_back():
    body = n.ifinfomsg(7, n.IFF_UP, n.IFF_UP) + n.attr_u32(n.IFLA_MTU, 1400)
    data = n.pack_message(n.RTM_SETLINK, n.NLM_F_REQUEST | n.NLM_F_ACK, 42, body)
    data += n.pack_message(n.NLMSG_DONE, 0, 43, b"\0\0\0\0")
    first, second = n.parse_messages(data)
    assert (first.type, first.flags, first.seq, first.body) == \
        (n.RTM_SETLINK, n.NLM_F_REQUEST | n.NLM_F_ACK, 42, body)
    assert (second.type, second.seq) == (n.NLMSG_DONE, 43)


def test_a_message_longer_than_its_datagram_is_refused():
    data = n.pack_message(n.RTM_NEWLINK, 0, 1, b"x" * 20)
    with pytest.raises(InvalidArgument):
        n.parse_messages(data[:-4])


def test_a_bridge_request_parsed_as_the_kernel_would():
    body = n.link_kind_request("es-t1", "bridge", mtu=1400)
    link = n.parse_link(body)
    assert (link.name, link.kind, link.mtu, link.master, link.up) == \
        ("es-t1", "bridge", 1400, 0, False)
    attrs = n.parse_attrs(body[16:])
    assert n.IFLA_INFO_DATA not in n.parse_attrs(attrs[n.IFLA_LINKINFO])


def test_a_veth_request_carries_the_peer_with_its_namespace():
    body = n.veth_request("ves1", "eth0", peer_netns_fd=9, mtu=1450)
    link = n.parse_link(body)
    assert (link.name, link.kind, link.mtu) == ("ves1", "veth", 1450)
    info = n.parse_attrs(n.parse_attrs(body[16:])[n.IFLA_LINKINFO])
    peer = n.parse_attrs(info[n.IFLA_INFO_DATA])[n.VETH_INFO_PEER]
    assert n.parse_link(peer).name == "eth0"
    peer_attrs = n.parse_attrs(peer[16:])
    assert peer_attrs[n.IFLA_NET_NS_FD] == (9).to_bytes(4, "little")
    assert peer_attrs[n.IFLA_MTU] == (1450).to_bytes(4, "little")
    # a nested attribute says so in its type: after the header, the name (12 bytes
    # padded) and the mtu (8), the link info's type field
    offset = 16 + 12 + 8
    assert int.from_bytes(body[offset + 2:offset + 4], "little") == \
        n.IFLA_LINKINFO | n.NLA_F_NESTED


def test_a_veth_request_without_a_namespace_leaves_the_peer_here():
    body = n.veth_request("ves1", "ves1p")
    info = n.parse_attrs(n.parse_attrs(body[16:])[n.IFLA_LINKINFO])
    peer = n.parse_attrs(info[n.IFLA_INFO_DATA])[n.VETH_INFO_PEER]
    assert n.IFLA_NET_NS_FD not in n.parse_attrs(peer[16:])


@pytest.mark.parametrize("up, flags, change", [(True, 1, 1), (False, 0, 1), (None, 0, 0)])
def test_set_link_changes_only_the_up_flag_it_is_given(up, flags, change):
    body = n.set_link_request(5, up=up)
    _family, _type, index, got_flags, got_change = n._IFINFOMSG.unpack_from(body)
    assert (index, got_flags, got_change) == (5, flags, change)
    assert body[16:] == b""


def test_set_link_attributes():
    body = n.set_link_request(5, master=0, mtu=9000, netns_fd=3, new_name="eth1",
                              mac="02:42:ac:11:00:02")
    attrs = n.parse_attrs(body[16:])
    assert attrs[n.IFLA_MASTER] == b"\0\0\0\0"  # 0: no master
    assert attrs[n.IFLA_IFNAME] == b"eth1\0"
    assert attrs[n.IFLA_ADDRESS] == bytes.fromhex("0242ac110002")
    assert attrs[n.IFLA_NET_NS_FD] == (3).to_bytes(4, "little")
    assert n.parse_link(body).mac == "02:42:ac:11:00:02"


@pytest.mark.parametrize("mac", ["02:42:ac:11:00", "zz:42:ac:11:00:02", "02:42:ac:11:00:02:03"])
def test_a_bad_mac_is_refused(mac):
    with pytest.raises(InvalidArgument):
        n.set_link_request(5, mac=mac)


def test_names_over_fifteen_bytes_are_refused():
    assert n.check_name("a" * 15) == b"a" * 15
    for name in ("a" * 16, "é" * 8, "", "a/b", "a b", "a:0", ".."):
        with pytest.raises(InvalidArgument):
            n.check_name(name)
    with pytest.raises(InvalidArgument, match="longer than 15 bytes"):
        n.veth_request("ves1", "p" * 16)


def test_an_address_request_parsed_back():
    body = n.address_request(3, "10.231.0.1", 24)
    assert n.parse_address(body) == n.Address(3, "10.231.0.1", 24)
    assert n.parse_address(n.address_request(3, "fd00::1", 64)) == \
        n.Address(3, "fd00::1", 64)
    with pytest.raises(InvalidArgument):
        n.address_request(3, "10.231.0.1", 33)
    with pytest.raises(InvalidArgument):
        n.address_request(3, "10.231.0.300", 24)


def test_a_route_request_parsed_back():
    table, type_, route = n.parse_route(n.route_request("10.231.0.0", 24, oif=4))
    assert (table, type_) == (n.RT_TABLE_MAIN, n.RTN_UNICAST)
    assert route == n.Route("10.231.0.0", 24, "", 4)
    assert n._RTMSG.unpack_from(n.route_request("10.231.0.0", 24, oif=4))[6] == \
        n.RT_SCOPE_LINK


def test_the_default_route_has_no_destination_attribute():
    body = n.route_request("0.0.0.0", 0, gateway="10.231.0.1")
    assert n.RTA_DST not in n.parse_attrs(body[12:])
    assert n.parse_route(body)[2] == n.Route("0.0.0.0", 0, "10.231.0.1", 0)
    assert n.parse_route(n.route_request("::", 0, gateway="fd00::1"))[2] == \
        n.Route("::", 0, "fd00::1", 0)


@pytest.mark.parametrize("dst, prefixlen, gateway", [
    ("10.231.0.1", 24, ""),  # host bits set
    ("10.231.0.0", 40, ""),
    ("10.231.0.0", 24, "fd00::1"),  # a gateway of another family
])
def test_a_bad_route_is_refused(dst, prefixlen, gateway):
    with pytest.raises(InvalidArgument):
        n.route_request(dst, prefixlen, gateway)


def test_a_capped_error_ack_from_the_kernel():
    (message,) = n.parse_messages(EEXIST_ACK)
    assert message.type == n.NLMSG_ERROR and message.flags & n.NLM_F_CAPPED
    assert n.parse_error(message) == (errno.EEXIST, "")
    err = n.kernel_error("add bridge docker0", *n.parse_error(message))
    assert isinstance(err, AlreadyExists)
    assert str(err) == "add bridge docker0: file exists"


def test_an_extended_ack_gives_the_kernel_s_reason():
    (message,) = n.parse_messages(EXTACK_ERROR)
    assert n.parse_error(message) == (errno.ENETUNREACH, "Nexthop has invalid gateway")
    err = n.kernel_error("add route 10.0.0.0/8 via 10.9.9.9", *n.parse_error(message))
    assert isinstance(err, Internal) and err.errno == errno.ENETUNREACH
    assert str(err) == ("add route 10.0.0.0/8 via 10.9.9.9: network is unreachable "
                        "(nexthop has invalid gateway)")


def test_an_uncapped_ack_skips_the_echoed_request():
    request = n.pack_message(n.RTM_NEWLINK, 5, 9, n.link_kind_request("es-t1", "bridge"))
    tlv = n.attr(n.NLMSGERR_ATTR_MSG, b"why\0")
    data = n.pack_message(n.NLMSG_ERROR, n.NLM_F_ACK_TLVS, 9,
                          (-errno.EBUSY).to_bytes(4, "little", signed=True) + request + tlv)
    assert n.parse_error(n.parse_messages(data)[0]) == (errno.EBUSY, "why")


def test_a_plain_ack_is_success():
    ack = n.pack_message(n.NLMSG_ERROR, n.NLM_F_CAPPED, 3, b"\0" * 4 + b"\0" * 16)
    assert n.parse_error(n.parse_messages(ack)[0]) == (0, "")


def test_no_such_device_is_not_found():
    err = n.kernel_error("delete link ves9", errno.ENODEV)
    assert isinstance(err, NotFound)
    assert str(err) == "delete link ves9: no such device"
    assert isinstance(err.__cause__, OSError)


def test_an_address_dump_message_from_the_kernel():
    (message,) = n.parse_messages(LO_ADDRESS)
    assert message.type == n.RTM_NEWADDR and message.flags & n.NLM_F_MULTI
    assert n.parse_address(message.body) == n.Address(1, "127.0.0.1", 8)
    (done,) = n.parse_messages(DONE)
    assert done.type == n.NLMSG_DONE and done.body == b"\0\0\0\0"


def test_a_link_without_kind_or_address():
    body = n.ifinfomsg(1, n.IFF_UP) + n.attr_str(n.IFLA_IFNAME, "lo")
    assert n.parse_link(body) == n.Link(1, "lo", "", 0, 0, "", True)


def test_a_route_of_another_family_is_ignored():
    body = n._RTMSG.pack(socket.AF_BRIDGE, 0, 0, 0, n.RT_TABLE_MAIN, 0, 0, 1, 0)
    assert n.parse_route(body) is None
