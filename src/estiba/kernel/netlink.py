"""rtnetlink: links, addresses and routes, spoken over an ``AF_NETLINK`` socket.

A netlink message is an ``nlmsghdr`` (length, type, flags, sequence number, port id)
followed by a fixed family header — ``ifinfomsg`` for links (RTM_*LINK), ``ifaddrmsg``
for addresses (RTM_*ADDR), ``rtmsg`` for routes (RTM_*ROUTE) — and then attributes.
An attribute (``rtattr``) is a length, a type and a payload padded to 4 bytes; a nested
attribute carries further attributes as its payload (a veth's peer is an ``ifinfomsg``
with its own attributes, inside ``IFLA_INFO_DATA`` inside ``IFLA_LINKINFO``).
A request flagged ``NLM_F_ACK`` is always answered by an ``NLMSG_ERROR`` message whose
first field is 0 (success) or a negative errno, followed by the request's header and,
with extended acks, attributes carrying the kernel's own explanation. A dump
(``NLM_F_DUMP``) is answered by any number of messages flagged ``NLM_F_MULTI``, ended
by ``NLMSG_DONE``. Man pages: netlink(7), rtnetlink(7).

The packing and parsing are pure functions of bytes, tested without root; ``Netlink``
is the thin part that sends them. A ``Netlink`` works in the network namespace its
socket was made in, whatever thread uses it; it is not safe for concurrent use.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from estiba.errors import EstibaError, InvalidArgument, NotFound, from_oserror

# --- constants of linux/netlink.h, linux/rtnetlink.h, linux/if_link.h ------------------

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_CAPPED = 0x100  # in an ack: the request's payload was left out
NLM_F_ACK_TLVS = 0x200  # in an ack: extended-ack attributes follow

NLMSGERR_ATTR_MSG = 1

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_SETLINK = 19
RTM_NEWADDR = 20
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_GETROUTE = 26

IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_EXT_MASK = 29
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1
RTEXT_FILTER_SKIP_STATS = 1 << 3

IFA_ADDRESS = 1
IFA_LOCAL = 2

RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_TABLE = 15

RT_TABLE_MAIN = 254
RTPROT_BOOT = 3  # what `ip route add` marks a route made by hand with
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RTN_UNICAST = 1

IFF_UP = 0x1
IFNAMSIZ = 16

SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11

NLA_F_NESTED = 0x8000
_NLA_TYPE_MASK = 0x3FFF

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFINFOMSG = struct.Struct("=BxHiII")  # family, pad, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBi")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol,
#                                       scope, type, flags
_RTATTR = struct.Struct("=HH")  # len, type
_U32 = struct.Struct("=I")
_S32 = struct.Struct("=i")

_RECV_SIZE = 1 << 17  # more than a dump part (the kernel fills at most ~32 KiB)
_DUMP_TRIES = 5


# --- records --------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str  # "bridge", "veth", ...; "" for a device without a link kind (eth0, lo)
    master: int  # the bridge's index, 0 when none
    mtu: int
    mac: str  # "aa:bb:cc:dd:ee:ff"; "" when the device has no link-layer address
    up: bool  # administratively up (IFF_UP), not whether it has a carrier


@dataclass(frozen=True)
class Address:
    index: int
    address: str  # "10.1.0.1"
    prefixlen: int


@dataclass(frozen=True)
class Route:
    dst: str  # "0.0.0.0" with prefixlen 0 for the default route
    prefixlen: int
    gateway: str  # "" for a directly connected destination
    oif: int  # 0 when the route names no device


@dataclass(frozen=True)
class Message:
    """One netlink message as received: its header fields and the bytes after them."""

    type: int
    flags: int
    seq: int
    pid: int
    body: bytes


# --- packing --------------------------------------------------------------------------


def _align(n: int) -> int:
    return (n + 3) & ~3


def attr(type_: int, data: bytes) -> bytes:
    """One rtattr, padded to 4 bytes."""
    length = _RTATTR.size + len(data)
    return _RTATTR.pack(length, type_) + data + b"\0" * (_align(length) - length)


def attr_u32(type_: int, value: int) -> bytes:
    return attr(type_, _U32.pack(value))


def attr_str(type_: int, value: str) -> bytes:
    return attr(type_, value.encode() + b"\0")


def name_attr(name: str) -> bytes:
    """IFLA_IFNAME, after the name has passed ``check_name``."""
    return attr(IFLA_IFNAME, check_name(name) + b"\0")


def nested(type_: int, parts: Iterable[bytes]) -> bytes:
    """An attribute holding other attributes (or a header and attributes)."""
    return attr(type_ | NLA_F_NESTED, b"".join(parts))


def pack_message(type_: int, flags: int, seq: int, body: bytes) -> bytes:
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), type_, flags, seq, 0) + body


def ifinfomsg(index: int = 0, flags: int = 0, change: int = 0,
              family: int = socket.AF_UNSPEC) -> bytes:
    return _IFINFOMSG.pack(family, 0, index, flags, change)


def check_name(name: str) -> bytes:
    """The name as the kernel will take it (dev_valid_name), or InvalidArgument."""
    data = name.encode()
    if len(data) >= IFNAMSIZ:
        raise InvalidArgument(f"link name {name}: longer than {IFNAMSIZ - 1} bytes")
    if not data or name in (".", "..") or any(c in name for c in "/:\0") \
            or any(c.isspace() for c in name):
        raise InvalidArgument(f"link name {name!r}: not a valid interface name")
    return data


def parse_mac(mac: str) -> bytes:
    try:
        data = bytes(int(part, 16) for part in mac.split(":"))
    except ValueError:
        data = b""
    if len(data) != 6:
        raise InvalidArgument(f"mac address {mac}: not six hexadecimal bytes")
    return data


def pack_ip(address: str) -> tuple[int, bytes]:
    """The address family and the packed address, or InvalidArgument."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as err:
        raise InvalidArgument(f"address {address}: not an ip address") from err
    return (socket.AF_INET if ip.version == 4 else socket.AF_INET6), ip.packed


def link_kind_request(name: str, kind: str, mtu: int = 0,
                      data: Iterable[bytes] = ()) -> bytes:
    """The body of an RTM_NEWLINK creating a link of ``kind``; ``data`` goes in
    IFLA_INFO_DATA (the kind's own attributes)."""
    info = [attr_str(IFLA_INFO_KIND, kind)]
    data = list(data)
    if data:
        info.append(nested(IFLA_INFO_DATA, data))
    parts = [ifinfomsg(), name_attr(name)]
    if mtu:
        parts.append(attr_u32(IFLA_MTU, mtu))
    parts.append(nested(IFLA_LINKINFO, info))
    return b"".join(parts)


def veth_request(name: str, peer: str, peer_netns_fd: int | None = None,
                 mtu: int = 0) -> bytes:
    """RTM_NEWLINK of a veth pair. The peer is described by an ifinfomsg and attributes
    of its own, so it can be named, sized and placed in another namespace at birth: it
    never appears in the caller's namespace, where its name might clash."""
    peer_parts = [ifinfomsg(), name_attr(peer)]
    if mtu:
        peer_parts.append(attr_u32(IFLA_MTU, mtu))
    if peer_netns_fd is not None:
        peer_parts.append(attr_u32(IFLA_NET_NS_FD, peer_netns_fd))
    return link_kind_request(name, "veth", mtu, [nested(VETH_INFO_PEER, peer_parts)])


def set_link_request(index: int, *, up: bool | None = None, master: int | None = None,
                     mtu: int = 0, netns_fd: int | None = None, new_name: str = "",
                     mac: str = "") -> bytes:
    """The body of an RTM_SETLINK on link ``index``; ``master`` 0 detaches it. The
    kernel applies a namespace move first and the up/down change after a rename (a
    link that is up cannot be renamed), whatever the order of the attributes."""
    flags = change = 0
    if up is not None:
        change = IFF_UP
        flags = IFF_UP if up else 0
    parts = [ifinfomsg(index, flags, change)]
    if new_name:
        parts.append(name_attr(new_name))
    if mtu:
        parts.append(attr_u32(IFLA_MTU, mtu))
    if mac:
        parts.append(attr(IFLA_ADDRESS, parse_mac(mac)))
    if master is not None:
        parts.append(attr_u32(IFLA_MASTER, master))
    if netns_fd is not None:
        parts.append(attr_u32(IFLA_NET_NS_FD, netns_fd))
    return b"".join(parts)


def name_request(name: str) -> bytes:
    """An ifinfomsg naming its link by IFLA_IFNAME (RTM_GETLINK, RTM_DELLINK)."""
    return b"".join((ifinfomsg(), name_attr(name),
                     attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)))


def address_request(index: int, address: str, prefixlen: int) -> bytes:
    """RTM_NEWADDR: IFA_LOCAL is the address itself; IFA_ADDRESS, the peer's on a
    point-to-point link, is the same on any other (as `ip address add` sends it)."""
    family, packed = pack_ip(address)
    if not 0 <= prefixlen <= len(packed) * 8:
        raise InvalidArgument(f"address {address}/{prefixlen}: bad prefix length")
    return b"".join((_IFADDRMSG.pack(family, prefixlen, 0, RT_SCOPE_UNIVERSE, index),
                     attr(IFA_LOCAL, packed), attr(IFA_ADDRESS, packed)))


def route_request(dst: str, prefixlen: int, gateway: str = "", oif: int = 0) -> bytes:
    """RTM_NEWROUTE in the main table. Without a gateway the destination is on the
    link (scope link), as `ip route add ... dev X` makes it."""
    try:
        ipaddress.ip_network(f"{dst}/{prefixlen}")  # strict: no host bits set
    except ValueError as err:
        raise InvalidArgument(f"route {dst}/{prefixlen}: {err}") from err
    family, packed = pack_ip(dst)
    scope = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
    parts = [_RTMSG.pack(family, prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope,
                         RTN_UNICAST, 0)]
    if prefixlen:
        parts.append(attr(RTA_DST, packed))
    if gateway:
        gw_family, gw = pack_ip(gateway)
        if gw_family != family:
            raise InvalidArgument(f"route {dst}/{prefixlen} via {gateway}: "
                                  "gateway of another address family")
        parts.append(attr(RTA_GATEWAY, gw))
    if oif:
        parts.append(attr_u32(RTA_OIF, oif))
    return b"".join(parts)


# --- parsing --------------------------------------------------------------------------


def parse_messages(data: bytes) -> list[Message]:
    """The messages of one datagram (the kernel puts several in one)."""
    messages = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, type_, flags, seq, pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            raise InvalidArgument(f"netlink message of length {length} at {offset} "
                                  f"in a datagram of {len(data)} bytes")
        messages.append(Message(type_, flags, seq, pid,
                                data[offset + _NLMSGHDR.size:offset + length]))
        offset += _align(length)
    return messages


def parse_attrs(data: bytes) -> dict[int, bytes]:
    """Attribute type (flags removed) → payload; the last of a repeated type wins."""
    attrs = {}
    offset = 0
    while offset + _RTATTR.size <= len(data):
        length, type_ = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size or offset + length > len(data):
            break  # a truncated tail: what came before is still good
        attrs[type_ & _NLA_TYPE_MASK] = data[offset + _RTATTR.size:offset + length]
        offset += _align(length)
    return attrs


def parse_error(message: Message) -> tuple[int, str]:
    """An NLMSG_ERROR's errno (0 for a plain ack) and the kernel's extended-ack text
    ("" when none). The request's header follows the error code, and its payload too
    unless the ack is capped; the extended-ack attributes come after those."""
    (code,) = _S32.unpack_from(message.body, 0)
    text = ""
    if message.flags & NLM_F_ACK_TLVS:
        offset = _S32.size
        (request_length,) = _U32.unpack_from(message.body, offset)
        offset += _NLMSGHDR.size if message.flags & NLM_F_CAPPED else _align(request_length)
        msg = parse_attrs(message.body[offset:]).get(NLMSGERR_ATTR_MSG, b"")
        text = msg.rstrip(b"\0").decode(errors="replace")
    return -code, text


def _string(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode(errors="replace")


def _u32(data: bytes | None) -> int:
    return _U32.unpack_from(data)[0] if data and len(data) >= 4 else 0


def parse_link(body: bytes) -> Link:
    _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(body)
    attrs = parse_attrs(body[_IFINFOMSG.size:])
    info = parse_attrs(attrs.get(IFLA_LINKINFO, b""))
    return Link(
        index=index,
        name=_string(attrs.get(IFLA_IFNAME, b"")),
        kind=_string(info.get(IFLA_INFO_KIND, b"")),
        master=_u32(attrs.get(IFLA_MASTER)),
        mtu=_u32(attrs.get(IFLA_MTU)),
        mac=":".join(f"{b:02x}" for b in attrs.get(IFLA_ADDRESS, b"")),
        up=bool(flags & IFF_UP),
    )


def parse_address(body: bytes) -> Address | None:
    family, prefixlen, _flags, _scope, index = _IFADDRMSG.unpack_from(body)
    attrs = parse_attrs(body[_IFADDRMSG.size:])
    packed = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if packed is None or family not in (socket.AF_INET, socket.AF_INET6):
        return None
    return Address(index, socket.inet_ntop(family, packed), prefixlen)


def parse_route(body: bytes) -> tuple[int, int, Route] | None:
    """The route's table and type with the route; None for another family's."""
    family, dst_len, _src, _tos, table, _proto, _scope, type_, _flags = \
        _RTMSG.unpack_from(body)
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    attrs = parse_attrs(body[_RTMSG.size:])
    # rtm_table holds 8 bits; RTA_TABLE has the whole table id
    table = _u32(attrs.get(RTA_TABLE)) or table
    dst = attrs.get(RTA_DST)
    gateway = attrs.get(RTA_GATEWAY)
    unspecified = "0.0.0.0" if family == socket.AF_INET else "::"
    return table, type_, Route(
        dst=socket.inet_ntop(family, dst) if dst else unspecified,
        prefixlen=dst_len,
        gateway=socket.inet_ntop(family, gateway) if gateway else "",
        oif=_u32(attrs.get(RTA_OIF)),
    )


def kernel_error(what: str, code: int, text: str = "") -> EstibaError:
    """The taxonomy's error for an errno the kernel answered ``what`` with. ENODEV is
    how rtnetlink says a link does not exist: NotFound, as ENOENT is."""
    reason = os.strerror(code) + (f" ({text})" if text else "")
    err = from_oserror(what, OSError(code, reason))
    if code == errno.ENODEV:
        found = NotFound(str(err))
        found.__cause__ = err.__cause__
        return found
    return err


# --- the socket -----------------------------------------------------------------------


class Netlink:
    """A NETLINK_ROUTE socket and the requests made on it."""

    def __init__(self, sock: socket.socket | None = None) -> None:
        if sock is None:
            try:
                sock = socket.socket(socket.AF_NETLINK,
                                     socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     socket.NETLINK_ROUTE)
            except OSError as err:
                raise from_oserror("open rtnetlink socket", err) from err
        self._sock = sock
        self._seq = 0
        for option in (NETLINK_EXT_ACK, NETLINK_CAP_ACK):
            try:
                sock.setsockopt(SOL_NETLINK, option, 1)
            except OSError:
                pass  # older kernels: plain acks, still correct

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- links ------------------------------------------------------------------------

    def links(self) -> list[Link]:
        body = ifinfomsg() + attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
        return [parse_link(m.body) for m in self._dump(RTM_GETLINK, body, "list links")
                if m.type == RTM_NEWLINK]

    def link(self, name: str) -> Link | None:
        try:
            replies = self._request(RTM_GETLINK, 0, name_request(name), f"get link {name}")
        except NotFound:
            return None
        for m in replies:
            if m.type == RTM_NEWLINK:
                return parse_link(m.body)
        return None

    def add_bridge(self, name: str, mtu: int = 0) -> None:
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                      link_kind_request(name, "bridge", mtu), f"add bridge {name}")

    def add_veth(self, name: str, peer: str, peer_netns_fd: int | None = None,
                 mtu: int = 0) -> None:
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                      veth_request(name, peer, peer_netns_fd, mtu),
                      f"add veth {name} (peer {peer})")

    def set_link(self, name: str, *, up: bool | None = None, master: str | None = None,
                 nomaster: bool = False, mtu: int = 0, netns_fd: int | None = None,
                 new_name: str = "", mac: str = "") -> None:
        if master and nomaster:
            raise InvalidArgument(f"set link {name}: both a master and no master")
        what = f"set link {name}"
        master_index = 0 if nomaster else (self._index(master, what) if master else None)
        body = set_link_request(self._index(name, what), up=up, master=master_index,
                                mtu=mtu, netns_fd=netns_fd, new_name=new_name, mac=mac)
        self._request(RTM_SETLINK, 0, body, what)

    def delete_link(self, name: str) -> bool:
        """Delete the link (a veth takes its peer with it); False when there is none."""
        try:
            self._request(RTM_DELLINK, 0, name_request(name), f"delete link {name}")
        except NotFound:
            return False
        return True

    # --- addresses and routes ---------------------------------------------------------

    def add_address(self, name: str, address: str, prefixlen: int) -> None:
        what = f"add address {address}/{prefixlen} to {name}"
        body = address_request(self._index(name, what), address, prefixlen)
        self._request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body, what)

    def addresses(self) -> list[Address]:
        """The addresses of every link, of every family (IPv4 and IPv6)."""
        found = []
        for m in self._dump(RTM_GETADDR, _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0),
                            "list addresses"):
            if m.type == RTM_NEWADDR and (address := parse_address(m.body)):
                found.append(address)
        return found

    def add_route(self, dst: str, prefixlen: int, gateway: str = "", dev: str = "") -> None:
        what = f"add route {dst}/{prefixlen}" + (f" via {gateway}" if gateway else "") \
            + (f" dev {dev}" if dev else "")
        oif = self._index(dev, what) if dev else 0
        self._request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
                      route_request(dst, prefixlen, gateway, oif), what)

    def routes(self, family: int = socket.AF_INET) -> list[Route]:
        """The unicast routes of the main table (IPv4 unless ``family`` says else)."""
        request = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
        found = []
        for m in self._dump(RTM_GETROUTE, request, "list routes"):
            parsed = parse_route(m.body) if m.type == RTM_NEWROUTE else None
            if parsed and parsed[0] == RT_TABLE_MAIN and parsed[1] == RTN_UNICAST:
                found.append(parsed[2])
        return found

    # --- the exchange -----------------------------------------------------------------

    def _index(self, name: str, what: str) -> int:
        """The link's index in this socket's namespace (if_nametoindex would look in
        the calling thread's, which need not be the same)."""
        found = self.link(name)
        if found is None:
            raise NotFound(f"{what}: no link {name}")
        return found.index

    def _send(self, type_: int, flags: int, body: bytes, what: str) -> int:
        self._seq += 1
        try:
            self._sock.send(pack_message(type_, flags, self._seq, body))
        except OSError as err:
            raise from_oserror(what, err) from err
        return self._seq

    def _receive(self, seq: int, what: str) -> Iterator[Message]:
        """The replies to request ``seq``, up to its NLMSG_DONE (yielded: it carries a
        dump's NLM_F_DUMP_INTR) or its ack (not yielded); a failure raises. Replies to
        earlier requests (left unread after an error) are skipped."""
        while True:
            try:
                data = self._sock.recv(_RECV_SIZE)
            except OSError as err:
                raise from_oserror(what, err) from err
            for m in parse_messages(data):
                if m.seq != seq or m.type == NLMSG_NOOP:
                    continue
                if m.type == NLMSG_ERROR:
                    code, text = parse_error(m)
                    if code:
                        raise kernel_error(what, code, text)
                    return
                if m.type == NLMSG_DONE:
                    # its payload is the dump's status, negative on failure
                    code = -_S32.unpack_from(m.body)[0] if len(m.body) >= 4 else 0
                    if code:
                        raise kernel_error(what, code)
                    yield m
                    return
                yield m

    def _request(self, type_: int, flags: int, body: bytes, what: str) -> list[Message]:
        seq = self._send(type_, NLM_F_REQUEST | NLM_F_ACK | flags, body, what)
        return list(self._receive(seq, what))

    def _dump(self, type_: int, body: bytes, what: str) -> list[Message]:
        """All the messages of a dump. A dump the kernel flags as interrupted (the
        table changed while it was read) may miss or repeat entries: it is read again."""
        for _ in range(_DUMP_TRIES):
            # the kernel (6.x) sends no ack for a dump, NLM_F_ACK or not: NLMSG_DONE
            # ends it, and carries the error a dump that failed midway ends with
            seq = self._send(type_, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, body, what)
            replies = []
            interrupted = False
            for m in self._receive(seq, what):
                interrupted |= bool(m.flags & NLM_F_DUMP_INTR)
                replies.append(m)
            if not interrupted:
                return replies
        raise kernel_error(what, errno.EAGAIN, "the table kept changing during the dump")
