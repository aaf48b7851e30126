"""An attach sends only the streams it asks for (the Docker API's ``stdout`` and
``stderr``), as dockerd does: the docker CLI has no writer for the others and panics
on their frames (``docker run -a stdout``). Over the real server and client, a socket
pair standing in for conmon's attach socket."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator

import pytest
from core_api_server import RunningAPI
from fake_core import FakeCore

from estiba.api.core import attach
from estiba.api.core.http import Request
from estiba.api.docker.call import Call
from estiba.api.docker.routes import streams_asked
from estiba.client.streams import Demux, frame


def test_frames_of_streams_not_asked_for_are_dropped() -> None:
    assert attach.frame(b"\x03oops", tty=False, streams=frozenset({1})) == b""
    assert attach.frame(b"\x02out", tty=False, streams=frozenset({1})) == frame(1, b"out")
    assert attach.frame(b"\x02out", tty=True, streams=frozenset({2})) == b""
    assert attach.frame(b"\x03oops", tty=False) == frame(2, b"oops")  # None: all


@pytest.mark.parametrize(("query", "streams"), [
    ("stream=1&stdout=1&stderr=1", {1, 2}), ("stream=1&stdout=1", {1}),
    ("stdout=0&stderr=true", {2}), ("stream=1", set()),
])
def test_streams_asked(query: str, streams: set[int]) -> None:
    call = Call(Request("POST", f"/containers/c/attach?{query}", "HTTP/1.1", {}), {})
    assert streams_asked(call) == streams


@pytest.fixture
def served() -> Iterator[tuple[RunningAPI, list[socket.socket]]]:
    """An API whose attach route relays one end of a SEQPACKET pair (``conmon``) with
    the streams its query asks for."""
    ends: list[socket.socket] = []

    def route(core: object, call: Call, id: str) -> object:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ends.append(theirs)
        return attach.takeover(call.request, ours, tty=False, stdin=False,
                               streams=streams_asked(call))

    d = tempfile.mkdtemp(prefix="esas-", dir="/tmp")
    running = RunningAPI(FakeCore(), f"{d}/a.sock",
                         [("POST", "/v1/containers/{id}/attach", route, "json")])
    yield running, ends
    running.stop()
    for end in ends:
        end.close()
    shutil.rmtree(d, ignore_errors=True)


def test_an_attach_to_stdout_gets_stdout_alone(served: tuple) -> None:
    running, ends = served
    with running.client() as client:
        conn = client._hijack("/v1/containers/c1/attach?stream=1&stdout=1&stderr=0", {})
    conmon = ends[0]
    conmon.settimeout(5)
    conn.sock.settimeout(5)
    conmon.send(b"\x02out\n")
    conmon.send(b"\x03err\n")
    conmon.send(b"\x02more\n")
    conmon.close()
    out = b""
    while data := conn.recv():
        out += data
    assert Demux().feed(out) == [(1, b"out\n"), (1, b"more\n")]
    conn.close()
