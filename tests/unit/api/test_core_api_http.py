"""The core API's HTTP edge on the wire: errors and their statuses, framing,
keep-alive, takeover, shutdown."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from core_api_server import RunningAPI
from fake_core import FakeCore

from estiba import errors
from estiba.api.core import routes
from estiba.api.core.app import Router
from estiba.api.core.encoding import status_for
from estiba.api.core.http import HTTPError, Takeover, parse_head


def raw(path: str, data: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes, read until the server closes."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(data)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    return out


def status_and_body(response: bytes) -> tuple[int, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body) if body else {}


def ask(path: str, method: str, target: str, body: bytes = b"") -> tuple[int, dict]:
    request = (f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return status_and_body(raw(path, request))


def test_unknown_route_is_404(api) -> None:
    assert ask(api.path, "GET", "/v1/nope") == (404, {"message": "no route for GET /v1/nope"})


def test_wrong_method_is_405(api) -> None:
    status, body = ask(api.path, "PUT", "/v1/version")
    assert status == 405 and "allowed: GET" in body["message"]


def test_malformed_json_is_400_with_the_reason(api) -> None:
    status, body = ask(api.path, "POST", "/v1/namespaces", b'{"name": ')
    assert status == 400
    assert body["message"].startswith("malformed JSON body: Expecting value: line 1")
    status, body = ask(api.path, "POST", "/v1/namespaces", b"[1]")
    assert (status, body["message"]) == (400, "malformed JSON body: expected an object, "
                                              "got list")
    status, body = ask(api.path, "POST", "/v1/namespaces", b"{}")
    assert (status, body["message"]) == (400, "missing field 'name'")


def test_not_found_is_404_with_the_message(api) -> None:
    assert ask(api.path, "GET", "/v1/containers/zz") == (
        404, {"message": "container zz: not found"})


def test_unexpected_exception_is_500_and_the_daemon_keeps_serving(api) -> None:
    api.core.fail["namespaces.list"] = ZeroDivisionError("division by zero")
    status, body = ask(api.path, "GET", "/v1/namespaces")
    assert status == 500
    assert body["message"] == "internal error: ZeroDivisionError: division by zero"
    [(msg, fields)] = [(m, f) for level, m, f in api.logged if level == "error"]
    assert msg == "request failed" and "ZeroDivisionError" in fields["traceback"]
    assert ("debug", "request", {"method": "GET", "path": "/v1/namespaces",
                                 "status": 500}) in api.logged
    del api.core.fail["namespaces.list"]
    assert ask(api.path, "GET", "/v1/namespaces")[0] == 200


@pytest.mark.parametrize(("exc", "status"), [
    (errors.InvalidArgument("x"), 400), (errors.PermissionDenied("x"), 403),
    (errors.NotFound("x"), 404), (errors.AlreadyExists("x"), 409),
    (errors.Conflict("x"), 409), (errors.FailedPrecondition("x"), 412),
    (errors.Unimplemented("x"), 501), (errors.Unavailable("x"), 503),
    (errors.Internal("x"), 500), (KeyError("x"), 500),
])
def test_taxonomy_statuses(api, exc: Exception, status: int) -> None:
    assert status_for(exc) == status
    api.core.fail["leases.list"] = exc
    assert ask(api.path, "GET", "/v1/leases")[0] == status


def test_keep_alive_serves_requests_in_turn(api) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(api.path)
    one = b"GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n"
    s.sendall(one + one)  # pipelined: answered in order
    data = b""
    while data.count(b"HTTP/1.1 200") < 2:
        data += s.recv(65536)
    s.sendall(b"GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n")
    data = s.recv(65536)
    assert data.startswith(b"HTTP/1.1 404")
    s.close()


def test_chunked_request_body(api) -> None:
    body = b'{"name": "chunky"}'
    request = (b"POST /v1/namespaces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n"
               + b"%x\r\n%s\r\n" % (5, body[:5]) + b"%x\r\n%s\r\n" % (len(body) - 5, body[5:])
               + b"0\r\n\r\n")
    assert status_and_body(raw(api.path, request))[0] == 200
    assert "chunky" in api.core.namespaces.items


def test_malformed_request_line_is_400(api) -> None:
    response = raw(api.path, b"HELLO\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 400")


def test_head_too_large_is_431(api) -> None:
    response = raw(api.path, b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 431")


def test_takeover_hands_the_connection_to_the_handler(short_dir) -> None:
    async def echo(reader, writer) -> None:
        data = await reader.readline()
        writer.write(data.upper())
        await writer.drain()

    table = [("POST", "/v1/attach", lambda core, call: Takeover(echo), "json")]
    running = RunningAPI(FakeCore(), f"{short_dir}/t.sock", table)
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(running.path)
        s.sendall(b"POST /v1/attach HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
        assert b"Upgrade: tcp" in head
        s.sendall(b"hello\n")
        assert s.recv(100) == b"HELLO\n"
        assert s.recv(100) == b""  # closed once the handler returned
        s.close()
    finally:
        running.stop()


def test_shutdown_lets_a_request_in_flight_finish(api) -> None:
    c = api.client()
    c.create_container("w", "docker.io/library/busybox:latest")
    c.create_task("w")
    idle = socket.socket(socket.AF_UNIX)
    idle.connect(api.path)  # a kept-alive connection with no request: closed at once
    result: dict = {}
    waiter = threading.Thread(target=lambda: result.update(api.client().wait_task("w")))
    waiter.start()
    time.sleep(0.2)
    threading.Timer(0.3, api.core.tasks.exit, ("default", "w", 5)).start()
    started = time.monotonic()
    api.run(api.server.shutdown(grace=5.0))
    waiter.join(5)
    assert result["exit_status"] == 5
    assert time.monotonic() - started < 3
    idle.settimeout(2)
    assert idle.recv(10) == b""
    with pytest.raises(errors.Unavailable, match="connection refused"):
        api.client().version()


def test_router_prefers_literal_segments() -> None:
    router = Router(routes.ROUTES)
    assert router.match("GET", "/v1/images/export")[0] is routes.images_export
    handler, _, params = router.match("GET", "/v1/images/docker.io%2Fx%3A1")
    assert handler is routes.images_get and params == {"name": "docker.io/x:1"}
    assert router.match("GET", "/v1/snapshots/k/usage")[2] == {"key": "k"}
    with pytest.raises(HTTPError) as caught:
        router.match("POST", "/v1/images//unpack")
    assert caught.value.status == 404


def test_parse_head() -> None:
    request = parse_head(b"GET /v1/x?a=1&a=2&b=%2F HTTP/1.1\r\nX-Y: z\r\nx-y: w")
    assert (request.method, request.path) == ("GET", "/v1/x")
    assert request.query == {"a": ["1", "2"], "b": ["/"]}
    assert request.headers == {"x-y": "z, w"}
    assert request.keep_alive
    for bad in (b"GET /\r\n", b"GET / HTTP/1.1\r\nno colon", b"GET x HTTP/1.1"):
        with pytest.raises(HTTPError):
            parse_head(bad)


def test_idle_connection_is_closed_and_others_are_served(api) -> None:
    api.server.idle_timeout = 0.2
    silent = socket.socket(socket.AF_UNIX)
    silent.settimeout(5)
    half = socket.socket(socket.AF_UNIX)
    half.settimeout(5)
    try:
        silent.connect(api.path)
        half.connect(api.path)
        half.sendall(b"GET /v1/version HTTP/1.1\r\n")  # half a head, then nothing
        assert ask(api.path, "GET", "/v1/version")[0] == 200  # served meanwhile
        assert silent.recv(100) == b""  # closed by the server, well before 5 s
        assert half.recv(100) == b""
    finally:
        silent.close()
        half.close()


def test_announced_huge_body_is_413_before_it_is_read(api) -> None:
    response = raw(api.path, b"POST /v1/namespaces HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 1000000000000\r\n\r\n{")
    assert response.startswith(b"HTTP/1.1 413")


def test_body_cut_off_is_not_answered(api) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(api.path)
    s.sendall(b"POST /v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    s.shutdown(socket.SHUT_WR)
    assert s.recv(100) == b""
    s.close()
    assert ask(api.path, "GET", "/v1/version")[0] == 200
    assert not [entry for entry in api.logged if entry[0] == "error"]


@pytest.mark.parametrize("body", [
    {"id": "x", "image": "busybox", "args": [1]},
    {"id": "x", "image": "busybox", "env": [{"a": 1}]},
    {"id": "x", "spec": {"process": "no"}},
])
def test_container_fields_are_checked(api, body: dict) -> None:
    status, reply = ask(api.path, "POST", "/v1/containers", json.dumps(body).encode())
    assert status == 400 and "internal error" not in reply["message"]
