"""The embedded DNS server's messages: a query read, its answers written."""

from __future__ import annotations

import struct

import pytest

from estiba.network import dnsmessage as dns


def query(name: str, qtype: int = dns.A, ident: int = 0x1234, flags: int = 0x0100) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + labels + struct.pack(
        "!HH", qtype, dns.IN)


def test_a_query_is_read() -> None:
    q = dns.parse_query(query("Alpha.Names"))
    assert (q.id, q.name, q.qtype, q.qclass) == (0x1234, "alpha.names", dns.A, dns.IN)
    assert q.question == query("Alpha.Names")[12:]


@pytest.mark.parametrize("data", [
    b"", b"\0" * 11,
    query("x")[:2] + struct.pack("!H", 0x8000) + query("x")[4:],  # a response
    query("x")[:4] + struct.pack("!H", 0) + query("x")[6:],  # no question
    query("abc")[:-3],  # cut short
    query("x")[:12] + b"\xc0\x0c" + b"\0\1\0\1",  # a pointer in the question
])
def test_what_is_not_a_query_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        dns.parse_query(data)


def test_the_answer_holds_the_question_and_a_records() -> None:
    q = dns.parse_query(query("alpha"))
    reply = dns.answer(q, ["172.19.0.2", "172.19.0.3"], ttl=60)
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", reply[:12])
    assert (ident, qd, an, ns, ar) == (0x1234, 1, 2, 0, 0)
    assert flags & 0x8000 and flags & 0x0100 and flags & 0x0080 and flags & 0xF == 0
    body = reply[12 + len(q.question):]
    first = struct.unpack("!HHHIH", body[:12]) + (body[12:16],)
    assert first == (0xC00C, dns.A, dns.IN, 60, 4, bytes([172, 19, 0, 2]))
    assert body[28:32] == bytes([172, 19, 0, 3])


def test_errors_carry_their_code_and_no_records() -> None:
    q = dns.parse_query(query("missing"))
    reply = dns.error(q, dns.NXDOMAIN)
    _, flags, _, answers, _, _ = struct.unpack("!HHHHHH", reply[:12])
    assert flags & 0xF == dns.NXDOMAIN and answers == 0
    assert reply[12:] == q.question
