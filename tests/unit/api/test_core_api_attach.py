"""The attach stream: conmon's packets framed for the client (raw for a terminal,
Docker's multiplexed frames otherwise), stdin relayed, the client's half-close ending
it, conmon's close ending the connection; over the real server and client, a socket
pair standing in for conmon's attach socket."""

from __future__ import annotations

import shutil
import socket
import tempfile

import pytest
from core_api_server import RunningAPI
from fake_core import FakeCore

from estiba.api.core import attach
from estiba.client.streams import Demux, frame


def test_frame_of_conmon_packets() -> None:
    assert attach.frame(b"\x02hello", tty=True) == b"hello"
    assert attach.frame(b"\x02hello", tty=False) == b"\x01\x00\x00\x00\x00\x00\x00\x05hello"
    assert attach.frame(b"\x03oops", tty=False) == frame(2, b"oops")
    assert attach.frame(b"\x02", tty=False) == b""  # nothing to say


def test_demux_across_reads() -> None:
    data = frame(1, b"out") + frame(2, b"e" * 300) + frame(1, b"")
    demux = Demux()
    got = []
    for i in range(0, len(data), 5):
        got += demux.feed(data[i:i + 5])
    assert got == [(1, b"out"), (2, b"e" * 300), (1, b"")]
    assert not demux.partial
    assert demux.feed(b"\x01\x00\x00") == [] and demux.partial


@pytest.fixture
def served():
    """An API whose attach route hands out one end of a SEQPACKET pair (``conmon``)."""
    ends: list[socket.socket] = []

    def route(core, call, id):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ends.append(theirs)
        return attach.takeover(call.request, ours, tty=id == "tty",
                               stdin=call.flag("stdin"))

    d = tempfile.mkdtemp(prefix="esat-", dir="/tmp")
    running = RunningAPI(FakeCore(), f"{d}/a.sock",
                         [("POST", "/v1/tasks/{id}/attach", route, "json")])
    yield running, ends
    running.stop()
    for end in ends:
        end.close()
    shutil.rmtree(d, ignore_errors=True)


def read_until_eof(conn) -> bytes:
    out = b""
    while data := conn.recv():
        out += data
    return out


def test_relay_both_ways_and_half_close(served) -> None:
    running, ends = served
    with running.client() as client:
        conn = client.attach("c1", stdin=True)
    conmon = ends[0]
    conmon.settimeout(5)
    conn.sock.settimeout(5)
    conmon.send(b"\x02out")
    conmon.send(b"\x03err")
    conn.sendall(b"typed")
    assert conmon.recv(100) == b"typed"
    conn.close_write()
    assert conmon.recv(100) == b""  # conmon sees stdin's end
    conmon.send(b"\x02after")  # output goes on after stdin ended
    conmon.close()
    assert Demux().feed(read_until_eof(conn)) == [(1, b"out"), (2, b"err"), (1, b"after")]
    conn.close()


def test_terminal_output_is_raw_and_stdin_dropped_without_stdin(served) -> None:
    running, ends = served
    with running.client() as client:
        conn = client.attach("tty", stdin=False)
    conmon = ends[0]
    conmon.settimeout(5)
    conn.sock.settimeout(5)
    conn.sendall(b"ignored")
    conmon.send(b"\x02$ ")
    conmon.send(b"\x02ls\r\n")
    conmon.close()
    assert read_until_eof(conn) == b"$ ls\r\n"
    conn.close()
