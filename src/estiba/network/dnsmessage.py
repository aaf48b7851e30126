"""The few DNS messages the embedded resolver reads and writes (RFC 1035): a query's
header and first question, and the answers to it — A records, an empty answer, a name
error, a failure. Pure.

A message is a 12-byte header (id, flags, then the counts of questions, answers,
authority and additional records) followed by the sections; a name is a run of
length-prefixed labels ending with a zero byte, or a 2-byte pointer (top bits 11) to
an earlier name.
"""

from __future__ import annotations

import ipaddress
import struct

A, AAAA = 1, 28
IN = 1
NOERROR, SERVFAIL, NXDOMAIN, NOTIMP = 0, 2, 3, 4
_QR, _RD, _RA = 0x8000, 0x0100, 0x0080
_OPCODE = 0x7800


class Query:
    """A query's id, flags, first question (lower-cased name without the final dot)
    and the question's bytes as sent, to be echoed in the answer."""

    __slots__ = ("id", "flags", "name", "qtype", "qclass", "question")

    def __init__(self, id: int, flags: int, name: str, qtype: int, qclass: int,
                 question: bytes) -> None:
        self.id = id
        self.flags = flags
        self.name = name
        self.qtype = qtype
        self.qclass = qclass
        self.question = question


def parse_query(data: bytes) -> Query:
    """The query in ``data``; ValueError when it is not one."""
    if len(data) < 12:
        raise ValueError("shorter than a header")
    ident, flags, qdcount = struct.unpack("!HHH", data[:6])
    if flags & _QR or qdcount < 1:
        raise ValueError("not a query")
    labels, offset = [], 12
    while True:
        if offset >= len(data):
            raise ValueError("name runs past the message")
        length = data[offset]
        if length & 0xC0:
            raise ValueError("compressed name in a question")
        offset += 1
        if length == 0:
            break
        labels.append(data[offset:offset + length].decode("ascii", "replace"))
        offset += length
        if len(labels) > 127 or offset > 12 + 255:
            raise ValueError("name too long")
    if offset + 4 > len(data):
        raise ValueError("question cut short")
    qtype, qclass = struct.unpack("!HH", data[offset:offset + 4])
    return Query(ident, flags, ".".join(labels).lower(), qtype, qclass,
                 data[12:offset + 4])


def _header(query: Query, rcode: int, answers: int) -> bytes:
    flags = _QR | (query.flags & (_OPCODE | _RD)) | _RA | rcode
    return struct.pack("!HHHHHH", query.id, flags, 1, answers, 0, 0)


def answer(query: Query, addresses: list[str], ttl: int = 600) -> bytes:
    """A records for the question's name (a pointer to it in the question)."""
    records = b"".join(
        struct.pack("!HHHIH", 0xC00C, A, IN, ttl, 4) + ipaddress.IPv4Address(a).packed
        for a in addresses)
    return _header(query, NOERROR, len(addresses)) + query.question + records


def error(query: Query, rcode: int) -> bytes:
    """No records: ``NOERROR`` (the name exists, not with this type), ``NXDOMAIN``,
    ``SERVFAIL``, ``NOTIMP``."""
    return _header(query, rcode, 0) + query.question
