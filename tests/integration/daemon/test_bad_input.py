"""estibad (real core) given bad input: unknown ids, name conflicts, wrong states,
malformed or mistyped JSON, huge bodies, a garbage archive, requests cut off, a client
that sends nothing, bytes that are not HTTP. Each is answered with its status and a
message, or the connection is closed; the daemon never dies and answers the next
request."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator

import pytest
from harness import BUSYBOX, REAL_CORE, Daemon, clean_namespace, keeper_spec

from estiba import errors

pytestmark = REAL_CORE


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    made = Daemon("esb-")
    try:
        made.start()
        yield made
        with made.client() as c:
            clean_namespace(c)
        made.stop()
        made.assert_nothing_left()
    finally:
        made.remove()


@pytest.fixture
def client(daemon: Daemon):
    with daemon.client() as c:
        yield c
    # whatever the test sent, the daemon lives and answers
    assert daemon.proc.poll() is None, daemon.log()
    with daemon.client() as c:
        assert c.version()["api_version"] == "1"
        clean_namespace(c)


def raw(daemon: Daemon, data: bytes, *, shut: bool = True, timeout: float = 10) -> bytes:
    """Send ``data`` on a new connection (then shut the writing side), read to EOF."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(daemon.sock)
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (and closed) before all was sent: the answer is there
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
        return out
    finally:
        s.close()


def status_of(response: bytes) -> tuple[int, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body.strip() else {}


def request(method: str, path: str, body: bytes = b"", headers: str = "") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_unknown_ids_are_404_with_a_message(client) -> None:
    for call in (lambda: client.container("nope"), lambda: client.task("nope"),
                 lambda: client.image("nope"), lambda: client.delete_container("nope"),
                 lambda: client.delete_task("nope"), lambda: client.start_task("nope"),
                 lambda: client.kill_task("nope"), lambda: client.wait_task("nope"),
                 lambda: client.delete_image("nope"), lambda: client.delete_lease("nope"),
                 lambda: client.create_task("nope")):
        with pytest.raises(errors.NotFound, match="nope"):
            call()
    status, body = status_of(raw(client_daemon(client), request("GET", "/v1/nothing")))
    assert status == 404 and "no route" in body["message"]


def client_daemon(client) -> Daemon:
    return _DAEMONS[client.address]


_DAEMONS: dict[str, Daemon] = {}


@pytest.fixture(autouse=True)
def _known(daemon: Daemon) -> None:
    _DAEMONS[daemon.sock] = daemon


def test_conflicts_and_wrong_states(client, busybox_rootfs) -> None:
    daemon = client_daemon(client)
    client.create_container("c1", BUSYBOX, args=["true"])
    with pytest.raises(errors.Conflict, match="c1"):  # 409: AlreadyExists or Conflict
        client.create_container("c1", BUSYBOX, args=["true"])
    client.create_container("k1", spec=keeper_spec("default", "k1", str(busybox_rootfs),
                                                   daemon.cgroup_parent))
    client.create_task("k1")
    with pytest.raises(errors.Conflict):
        client.create_task("k1")
    client.start_task("k1")
    with pytest.raises(errors.FailedPrecondition, match="k1"):
        client.start_task("k1")  # running already
    with pytest.raises(errors.FailedPrecondition, match="running"):
        client.delete_task("k1")  # running, not forced
    with pytest.raises(errors.FailedPrecondition, match="task"):
        client.delete_container("k1")  # it has a task
    client.kill_task("k1", "SIGKILL")
    assert client.wait_task("k1")["exit_status"] == 137
    with pytest.raises(errors.FailedPrecondition):
        client.kill_task("k1")  # stopped
    with pytest.raises(errors.FailedPrecondition):
        client.start_task("k1")  # stopped
    client.delete_task("k1")
    client.delete_container("k1")


@pytest.mark.parametrize("body", [
    b"{", b"not json", b"[1, 2]", b"\xff\xfe", b'"a string"', b"null",
])
def test_malformed_json_is_400(daemon: Daemon, client, body: bytes) -> None:
    status, reply = status_of(raw(daemon, request("POST", "/v1/containers", body)))
    assert status == 400, reply
    assert reply["message"]


@pytest.mark.parametrize("body", [
    {"id": 5}, {"id": None}, {"id": ["a"]}, {"id": ""}, {"id": "../x", "image": "busybox"},
    {"id": "a" * 1000, "image": "busybox"},
    {"id": "x", "image": 5}, {"id": "x", "image": "busybox", "args": "true"},
    {"id": "x", "image": "busybox", "args": [1, 2]},
    {"id": "x", "image": "busybox", "env": [{"a": 1}]},
    {"id": "x", "image": "busybox", "env": "A=1"},
    {"id": "x", "image": "busybox", "cwd": 3},
    {"id": "x", "image": "busybox", "terminal": "yes"},
    {"id": "x", "image": "busybox", "labels": ["a"]},
    {"id": "x", "image": "busybox", "labels": {"a": 1}},
    {"id": "x", "image": "busybox", "runtime": 7},
    {"id": "x", "image": "busybox", "spec": "no"},
    {"id": "x", "spec": {"process": "no"}},
    {"id": "x", "image": "no such image!"},
])
def test_wrong_json_types_are_400(daemon: Daemon, client, body: dict) -> None:
    data = json.dumps(body).encode()
    status, reply = status_of(raw(daemon, request("POST", "/v1/containers", data)))
    assert status in (400, 404), reply
    assert reply["message"] and "internal error" not in reply["message"]
    assert client.containers() == []


@pytest.mark.parametrize("path,body", [
    ("/v1/tasks", {"container_id": 5}),
    ("/v1/tasks", {"container_id": "x", "stdin": "no"}),
    ("/v1/tasks/x/kill", {"signal": [9]}),
    ("/v1/tasks/x/kill", {"signal": "SIGNOPE"}),
    ("/v1/tasks/x/kill", {"signal": 10**30}),
    ("/v1/tasks/x/exec", {"exec_id": "e", "args": "ls"}),
    ("/v1/images/tag", {"source": 1, "target": "b"}),
    ("/v1/images/tag", {"source": "a", "target": "not a ref!"}),
    ("/v1/namespaces", {"name": 5}),
    ("/v1/namespaces", {"name": "../x"}),
    ("/v1/namespaces", {"name": "x", "labels": "no"}),
    ("/v1/leases", {"id": 5}),
    ("/v1/leases", {"id": "x", "expires_in": "soon"}),
])
def test_wrong_types_elsewhere(daemon: Daemon, client, path: str, body: dict) -> None:
    status, reply = status_of(raw(daemon, request("POST", path, json.dumps(body).encode())))
    assert status in (400, 404), reply
    assert reply["message"] and "internal error" not in reply["message"]


def test_huge_bodies_are_refused(daemon: Daemon, client) -> None:
    # announced: refused before it is read
    head = (b"POST /v1/containers HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 1000000000000\r\n\r\n")
    status, reply = status_of(raw(daemon, head + b"{", shut=False))
    assert status == 413, reply
    # chunked, past the limit
    chunk = b"a" * 1024 * 1024
    body = b"".join(b"%x\r\n%b\r\n" % (len(chunk), chunk) for _ in range(17))
    data = (b"POST /v1/containers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + body + b"0\r\n\r\n")
    status, reply = status_of(raw(daemon, data))
    assert status == 413, reply
    # a head past 64 KiB
    status, _ = status_of(raw(daemon, b"GET /v1/version HTTP/1.1\r\nX: " + b"a" * 70000
                              + b"\r\n\r\n"))
    assert status == 431


def test_garbage_archive_is_400_and_stores_nothing(daemon: Daemon, client) -> None:
    before = client.content()
    for garbage in (b"", b"\0" * 10240, b"this is not a tar" * 1000,
                    b"\x1f\x8b\x08\x00garbage"):
        with pytest.raises(errors.InvalidArgument):
            client.import_images(garbage, unpack=True)
    assert client.images() == []
    assert client.content() == before
    assert [lease for lease in client.leases()] == []


def test_requests_cut_off(daemon: Daemon, client) -> None:
    # a body shorter than announced, then the client goes: nobody to answer
    assert raw(daemon, request("POST", "/v1/containers", b'{"id": "x"}')[:-3]) == b""
    # an archive cut off midway, plain and chunked
    assert raw(daemon, b"POST /v1/images/import HTTP/1.1\r\nHost: x\r\n"
               b"Content-Length: 100000\r\n\r\n" + b"\0" * 5000) == b""
    assert raw(daemon, b"POST /v1/images/import HTTP/1.1\r\nHost: x\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n1000\r\nabc") == b""
    # a head cut off
    assert raw(daemon, b"GET /v1/vers") == b""
    assert client.images() == [] and client.containers() == []
    assert client.leases() == []
    assert os.listdir(f"{daemon.root}/tmp") == []  # no temporary copy left


def test_silent_client_blocks_no_one(daemon: Daemon, client) -> None:
    silent = [socket.socket(socket.AF_UNIX) for _ in range(5)]
    try:
        for s in silent:
            s.connect(daemon.sock)
        silent[0].sendall(b"GET /v1/version HTTP/1.1\r\n")  # half a head, then nothing
        for _ in range(3):
            assert client.version()["api_version"] == "1"
        status, _ = status_of(raw(daemon, request("GET", "/v1/version")))
        assert status == 200
    finally:
        for s in silent:
            s.close()


@pytest.mark.parametrize("data", [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 100 + b"\r\n\r\n",  # TLS
    b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    b"\0\0\0\0\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET /v1/version HTTP/1.1\r\nbad header\r\n\r\n",
    b"GET http://x/v1/version HTTP/1.1\r\n\r\n",
    b"POST /v1/containers HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/containers HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"POST /v1/containers HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /v1/containers HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /v1/containers/%ff%fe HTTP/1.1\r\n\r\n",
])
def test_not_http_is_answered_or_closed(daemon: Daemon, client, data: bytes) -> None:
    response = raw(daemon, data)
    if response:
        status = int(response.split(b" ", 2)[1])
        assert 400 <= status < 600 and status != 500, response[:300]


def test_idle_connections_are_closed() -> None:
    """A daemon with --idle-timeout 0.3 closes a connection that sends nothing, or half
    a head, and serves the next one."""
    daemon = Daemon("esi-")
    try:
        daemon.start(extra=("--idle-timeout", "0.3"))
        for first in (b"", b"GET /v1/version HTTP/1.1\r\n"):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            try:
                s.connect(daemon.sock)
                s.sendall(first)
                assert s.recv(65536) == b""  # closed by the daemon, not by the timeout
            finally:
                s.close()
        status, _ = status_of(raw(daemon, request("GET", "/v1/version")))
        assert status == 200
        daemon.stop()
    finally:
        daemon.remove()
