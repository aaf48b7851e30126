"""The Docker API client (``client/docker.py``) without a daemon: its pure parts (query
and filters encoding, the JSON stream decoder, the path-stat header, the version rule)
and its requests and replies against a fake daemon: a thread on a unix socket in
tmp_path that records each request and answers from a table of canned replies."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from estiba import errors
from estiba.client import docker
from estiba.client.docker import APIClient, DockerError, JSONStream
from estiba.client.streams import frame

# --- pure parts ----------------------------------------------------------------------


def test_query_encodes_values_and_leaves_out_the_unset() -> None:
    q = docker.query([("all", True), ("size", False), ("limit", None), ("name", ""),
                      ("path", "/a b/ü&x=1"), ("changes", ["CMD x", "ENV a=b"]),
                      ("t", 0)])
    assert q == ("?all=1&size=0&path=%2Fa%20b%2F%C3%BC%26x%3D1"
                 "&changes=CMD%20x&changes=ENV%20a%3Db&t=0")
    assert docker.query([("x", None)]) == ""


def test_filters_are_a_json_dict_of_lists() -> None:
    assert docker.encode_filters(None) is None
    assert docker.encode_filters({}) is None
    encoded = docker.encode_filters({"label": ["a=b", "c"], "status": "exited",
                                     "name": ("x",)})
    assert json.loads(encoded) == {"label": ["a=b", "c"], "status": ["exited"],
                                   "name": ["x"]}
    q = docker.query([("filters", encoded)])
    assert q.startswith("?filters=%7B%22label%22%3A%5B")


def _split_everywhere(data: bytes) -> Iterator[list[bytes]]:
    for cut in range(len(data) + 1):
        yield [data[:cut], data[cut:]]


def test_json_stream_several_objects_per_chunk() -> None:
    stream = JSONStream()
    assert stream.feed(b'{"a": 1}\n{"b": 2}\n{"c"') == [{"a": 1}, {"b": 2}]
    assert stream.feed(b': 3}\n') == [{"c": 3}]
    assert stream.end() == []


def test_json_stream_objects_split_at_every_byte() -> None:
    data = ('{"status": "Pulling fs layer", "id": "ü€"}\n'
            '{"progressDetail": {"current": 1}}{"x": [1, 2]}\n').encode()
    expected = [{"status": "Pulling fs layer", "id": "ü€"},
                {"progressDetail": {"current": 1}}, {"x": [1, 2]}]
    for parts in _split_everywhere(data):
        stream = JSONStream()
        got = [v for part in parts for v in stream.feed(part)] + stream.end()
        assert got == expected, parts
    stream = JSONStream()  # one byte at a time (a multibyte character cut too)
    got = [v for i in range(len(data)) for v in stream.feed(data[i:i + 1])]
    assert got + stream.end() == expected


def test_json_stream_object_over_lines_and_without_final_newline() -> None:
    stream = JSONStream()
    assert stream.feed(b'{\n  "a": 1,\n') == []
    assert stream.feed(b'  "b": 2\n}\n{"c": 3}') == [{"a": 1, "b": 2}]
    assert stream.end() == [{"c": 3}]


def test_json_stream_cut_off_is_an_error() -> None:
    stream = JSONStream()
    stream.feed(b'{"a": 1}\n{"b": ')
    with pytest.raises(DockerError, match="cut off"):
        stream.end()


def test_path_stat_header() -> None:
    stat = {"name": "hosts", "size": 174, "mode": 420, "mtime": "2026-01-01T00:00:00Z",
            "linkTarget": ""}
    header = base64.b64encode(json.dumps(stat).encode()).decode()
    assert docker.decode_path_stat(header) == stat
    with pytest.raises(DockerError, match="malformed path stat"):
        docker.decode_path_stat("not base64 json!")


@pytest.mark.parametrize(("server", "ours", "spoken"), [
    ("1.43", "1.47", "1.43"),
    ("1.50", "1.47", "1.47"),
    ("1.9", "1.47", "1.9"),     # numbers, not strings: 1.9 < 1.47
    ("1.100", "1.47", "1.47"),
    (None, "1.47", "1.24"),     # no Api-Version header: an old daemon
    ("", "1.47", "1.24"),
])
def test_negotiation_takes_the_lower_version(server: str | None, ours: str,
                                             spoken: str) -> None:
    assert docker.negotiate(server, ours) == spoken


def test_host_from_the_environment_and_the_schemes() -> None:
    assert docker.address_of("unix:///x/d.sock", {}) == "/x/d.sock"
    assert docker.address_of("", {"ESTIBA_HOST": "unix:///e", "DOCKER_HOST": "unix:///d"}
                             ) == "/e"
    assert docker.address_of("", {"DOCKER_HOST": "unix:///d"}) == "/d"
    assert docker.address_of("", {}) == "/run/estiba/estiba.sock"
    assert docker.address_of("tcp://127.0.0.1:2375", {}) == ("127.0.0.1", 2375)
    for host in ("ssh://me@host", "/plain/path", "unix://rel", "fd://3"):
        with pytest.raises(errors.InvalidArgument, match="host"):
            docker.address_of(host, {})


# --- a fake daemon -------------------------------------------------------------------

Handler = Callable[["Request"], bytes]


class Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes,
                 conn: socket.socket) -> None:
        self.method, self.target, self.headers, self.body = method, target, headers, body
        self.conn = conn


def reply(status: int, body: bytes | str | object = b"", headers: dict[str, str] | None = None,
          chunks: list[bytes] | None = None, reason: str = "X") -> bytes:
    """A response's bytes; ``chunks``: a chunked body in these pieces."""
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    data = body.encode() if isinstance(body, str) else body
    head = [f"HTTP/1.1 {status} {reason}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if chunks is not None:
        head.append("Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%b\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        return ("\r\n".join(head) + "\r\n\r\n").encode() + payload
    if status not in (101, 204, 304):
        head.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def ping_reply(version: str = "1.43") -> bytes:
    return reply(200, b"", {"Api-Version": version, "OSType": "linux",
                             "Content-Length": "2"})


class FakeDaemon:
    """Answers each request with the first handler whose (method, path prefix) matches;
    records (method, target) of every request."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.routes: list[tuple[str, str, Handler]] = []
        self.seen: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def on(self, method: str, prefix: str, handler: Handler | bytes) -> None:
        fn = handler if callable(handler) else (lambda _req, data=handler: data)
        self.routes.append((method, prefix, fn))

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        f = conn.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers = {}
                while (h := f.readline()) not in (b"\r\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = b""
                if headers.get("transfer-encoding") == "chunked":
                    while size := int(f.readline().strip(), 16):
                        body += f.read(size)
                        f.readline()
                    f.readline()
                elif "content-length" in headers:
                    body = f.read(int(headers["content-length"]))
                self.seen.append((method, target))
                self.bodies.append(body)
                path = target.split("?", 1)[0]
                for m, prefix, fn in self.routes:
                    if m == method and path.startswith(prefix):
                        conn.sendall(fn(Request(method, target, headers, body, conn)))
                        break
                else:
                    conn.sendall(reply(404, {"message": f"page not found: {path}"}))
        except OSError:
            return
        finally:
            f.close()
            conn.close()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDaemon]:
    d = FakeDaemon(str(tmp_path / "d.sock"))
    d.on("HEAD", "/_ping", ping_reply("1.43"))
    yield d
    d.close()


def client_of(fake: FakeDaemon, version: str = "") -> APIClient:
    return APIClient(f"unix://{fake.path}", version=version, timeout=5)


# --- requests and replies ------------------------------------------------------------


def test_version_negotiated_once_on_first_use(fake: FakeDaemon) -> None:
    fake.on("GET", "/v1.43/version", reply(200, {"ApiVersion": "1.43"}))
    fake.on("GET", "/v1.43/info", reply(200, {"OSType": "linux"}))
    with client_of(fake) as client:
        assert client.version() == {"ApiVersion": "1.43"}
        assert client.info() == {"OSType": "linux"}
        assert client.api_version == "1.43"
    assert fake.seen == [("HEAD", "/_ping"), ("GET", "/v1.43/version"),
                         ("GET", "/v1.43/info")]


def test_newer_daemon_is_spoken_to_in_ours(fake: FakeDaemon) -> None:
    fake.routes.clear()
    fake.on("HEAD", "/_ping", ping_reply("1.52"))
    fake.on("GET", "/v1.47/version", reply(200, {}))
    with client_of(fake) as client:
        client.version()
    assert fake.seen[-1] == ("GET", "/v1.47/version")


def test_given_version_skips_the_ping_and_ping_headers(fake: FakeDaemon) -> None:
    fake.on("GET", "/v1.41/containers/json", reply(200, []))
    with client_of(fake, version="1.41") as client:
        assert client.containers(all=True, filters={"status": "exited"}, limit=3) == []
        assert client.ping() == {"Api-Version": "1.43", "OSType": "linux"}
    method, target = fake.seen[0]
    assert (method, target.split("?")[0]) == ("GET", "/v1.41/containers/json")
    assert target.split("?")[1] == ("all=1&limit=3&size=0&filters="
                                    "%7B%22status%22%3A%5B%22exited%22%5D%7D")


def test_without_a_ping_the_first_answer_tells_the_version(fake: FakeDaemon) -> None:
    fake.on("GET", "/containers/json", reply(200, [], {"Api-Version": "1.52"}))
    fake.on("GET", "/v1.47/info", reply(200, {"OSType": "linux"}))
    with APIClient(f"unix://{fake.path}", timeout=5, ping_first=False) as client:
        assert client.containers() == []
        assert client.info() == {"OSType": "linux"}
    assert [target.split("?")[0] for _, target in fake.seen] == [
        "/containers/json", "/v1.47/info"]


def test_without_a_ping_or_a_header_requests_stay_unversioned(fake: FakeDaemon) -> None:
    fake.on("GET", "/containers/json", reply(200, []))
    fake.on("GET", "/info", reply(200, {}))
    with APIClient(f"unix://{fake.path}", timeout=5, ping_first=False) as client:
        client.containers()
        client.info()
    assert [target.split("?")[0] for _, target in fake.seen] == ["/containers/json",
                                                                 "/info"]


def test_ping_falls_back_to_get(fake: FakeDaemon) -> None:
    fake.routes.clear()
    fake.on("HEAD", "/_ping", reply(405))  # a HEAD reply has no body
    fake.on("GET", "/_ping", reply(200, "OK", {"Api-Version": "1.40"}))
    fake.on("GET", "/v1.40/version", reply(200, {}))
    with client_of(fake) as client:
        client.version()
    assert fake.seen == [("HEAD", "/_ping"), ("GET", "/_ping"), ("GET", "/v1.40/version")]


def test_errors_carry_status_and_message(fake: FakeDaemon) -> None:
    fake.on("GET", "/v1.43/containers/nope/json",
            reply(404, {"message": "No such container: nope"}))
    fake.on("DELETE", "/v1.43/containers/busy", reply(409, "plain text conflict\n"))
    fake.on("POST", "/v1.43/containers/create", reply(500, b""))
    with client_of(fake) as client:
        with pytest.raises(DockerError) as err:
            client.inspect_container("nope")
        assert (err.value.status, err.value.message) == (404, "No such container: nope")
        with pytest.raises(DockerError) as err:
            client.remove_container("busy", force=True)
        assert (err.value.status, err.value.message) == (409, "plain text conflict")
        with pytest.raises(DockerError) as err:
            client.create_container({"Image": "x"}, name="a b")
        assert err.value.status == 500 and "500" in err.value.message
        # the connection is still good after errors
        assert client.ping()["Api-Version"] == "1.43"
    assert ("POST", "/v1.43/containers/create?name=a%20b") in fake.seen


def test_start_and_stop_304_are_answers(fake: FakeDaemon) -> None:
    fake.on("POST", "/v1.43/containers/up/start", reply(304))
    fake.on("POST", "/v1.43/containers/down/start", reply(204))
    fake.on("POST", "/v1.43/containers/up/stop", reply(204))
    fake.on("POST", "/v1.43/containers/down/stop", reply(304))
    with client_of(fake) as client:
        assert client.start("up") is False
        assert client.start("down") is True
        assert client.stop("up", timeout=3, signal="SIGINT") is True
        assert client.stop("down") is False
    assert ("POST", "/v1.43/containers/up/stop?t=3&signal=SIGINT") in fake.seen


def test_no_daemon_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(errors.Unavailable, match="is the daemon running"):
        APIClient(f"unix://{tmp_path}/none.sock").ping()


def test_events_decoded_across_chunks(fake: FakeDaemon) -> None:
    events = [{"Type": "container", "Action": "start", "id": i} for i in range(3)]
    data = b"".join(json.dumps(e).encode() + b"\n" for e in events)
    chunks = [data[:5], data[5:40], data[40:41], data[41:]]
    fake.on("GET", "/v1.43/events", reply(200, chunks=chunks))
    fake.on("GET", "/v1.43/version", reply(200, {}))
    with client_of(fake) as client:
        stream = client.events(since=10, until="20", filters={"type": ["container"]})
        client.version()  # a stream has its own connection
        assert list(stream) == events
    target = next(t for m, t in fake.seen if t.startswith("/v1.43/events"))
    assert target.startswith("/v1.43/events?since=10&until=20&filters=")


def test_pull_progress_error_raises_after_the_progress(fake: FakeDaemon) -> None:
    chunks = [b'{"status": "Pulling"}\n{"error": "manifest unknown", ',
              b'"errorDetail": {"message": "manifest unknown"}}\n']
    fake.on("POST", "/v1.43/images/create", reply(200, chunks=chunks))
    with client_of(fake) as client:
        stream = client.pull("busybox", tag="1.36")
        assert next(stream) == {"status": "Pulling"}
        with pytest.raises(DockerError, match="manifest unknown"):
            next(stream)
    assert ("POST", "/v1.43/images/create?fromImage=busybox&tag=1.36") in fake.seen


def test_logs_demultiplexed_or_raw(fake: FakeDaemon) -> None:
    muxed = frame(1, b"out\n") + frame(2, b"err\n") + frame(1, b"more")
    fake.on("GET", "/v1.43/containers/m/logs", reply(200, chunks=[muxed[:3], muxed[3:13],
                                                                  muxed[13:]]))
    fake.on("GET", "/v1.43/containers/t/logs", reply(
        200, b"raw\r\nbytes", {"Content-Type": "application/vnd.docker.raw-stream"}))
    fake.on("GET", "/v1.43/containers/u/logs", reply(
        200, muxed, {"Content-Type": "application/vnd.docker.multiplexed-stream"}))
    with client_of(fake) as client:
        assert list(client.logs("m", tty=False, tail=5)) == [
            (1, b"out\n"), (2, b"err\n"), (1, b"more")]
        assert b"".join(d for _, d in client.logs("t")) == b"raw\r\nbytes"
        assert {s for s, _ in client.logs("t")} == {1}
        assert len(list(client.logs("u"))) == 3
    assert any(t == "/v1.43/containers/m/logs?stdout=1&stderr=1&follow=0&tail=5"
               "&timestamps=0" for _, t in fake.seen)


def test_archive_stat_and_put(fake: FakeDaemon) -> None:
    stat = {"name": "etc", "size": 4096, "mode": 2147484141, "mtime": "x",
            "linkTarget": ""}
    header = base64.b64encode(json.dumps(stat).encode()).decode()
    fake.on("GET", "/v1.43/containers/c/archive", reply(
        200, b"TARBYTES", {"X-Docker-Container-Path-Stat": header,
                           "Content-Type": "application/x-tar"}))
    fake.on("PUT", "/v1.43/containers/c/archive", reply(200))
    with client_of(fake) as client:
        got, tar = client.get_archive("c", "/etc")
        assert got == stat and b"".join(tar) == b"TARBYTES"
        client.put_archive("c", "/tmp", b"TAR")
    assert ("PUT", "/v1.43/containers/c/archive?path=%2Ftmp") in fake.seen
    assert fake.bodies[-1] == b"TAR"


def test_image_names_keep_their_slashes(fake: FakeDaemon) -> None:
    fake.on("GET", "/v1.43/images/", reply(200, {"Id": "sha256:1"}))
    fake.on("DELETE", "/v1.43/images/", reply(200, [{"Untagged": "x"}]))
    with client_of(fake) as client:
        client.inspect_image("docker.io/library/busybox:latest")
        assert client.remove_image("reg:5000/a b@sha256:00", noprune=True) == [
            {"Untagged": "x"}]
    assert ("GET", "/v1.43/images/docker.io/library/busybox:latest/json") in fake.seen
    assert ("DELETE", "/v1.43/images/reg:5000/a%20b@sha256:00?force=0&noprune=1"
            ) in fake.seen


def test_exec_and_commit_bodies(fake: FakeDaemon) -> None:
    fake.on("POST", "/v1.43/containers/c/exec", reply(201, {"Id": "e1"}))
    fake.on("POST", "/v1.43/exec/e1/start", reply(200))
    fake.on("POST", "/v1.43/commit", reply(201, {"Id": "sha256:2"}))
    with client_of(fake) as client:
        assert client.exec_create("c", ["sh", "-c", "x"], env=["A=1"], user="0") == "e1"
        assert json.loads(fake.bodies[-1]) == {
            "Cmd": ["sh", "-c", "x"], "Tty": False, "AttachStdin": False,
            "AttachStdout": True, "AttachStderr": True, "Privileged": False,
            "Env": ["A=1"], "User": "0"}
        assert client.exec_start("e1", detach=True) is None
        assert json.loads(fake.bodies[-1]) == {"Detach": True, "Tty": False}
        assert client.commit("c", repo="r", changes=["CMD a", "ENV b=c"], pause=False
                             ) == {"Id": "sha256:2"}
    assert ("POST", "/v1.43/commit?container=c&repo=r&pause=0&changes=CMD%20a"
            "&changes=ENV%20b%3Dc") in fake.seen


def test_attach_upgrades_and_hands_over_the_socket(fake: FakeDaemon) -> None:
    def upgrade(req: Request) -> bytes:
        assert req.headers["upgrade"] == "tcp" and req.headers["connection"] == "Upgrade"
        head = reply(101, headers={"Connection": "Upgrade", "Upgrade": "tcp",
                                   "Content-Type": "application/vnd.docker.raw-stream"})
        req.conn.sendall(head + frame(1, b"hello"))
        data = req.conn.recv(100)
        return frame(1, data.upper())

    fake.on("POST", "/v1.43/containers/c/attach", upgrade)
    fake.on("GET", "/v1.43/containers/c/json", reply(200, {"Id": "c"}))
    with client_of(fake) as client:
        with client.attach("c", stdin=True) as conn:
            got = conn.recv()
            conn.sendall(b"abc")
            while len(got) < 2 * 8 + 5 + 3:
                got += conn.recv()
        assert got == frame(1, b"hello") + frame(1, b"ABC")
        assert client.inspect_container("c") == {"Id": "c"}  # a new connection
    assert ("POST", "/v1.43/containers/c/attach?stream=1&logs=0&stdin=1&stdout=1&stderr=1"
            ) in fake.seen


def test_changes_null_and_stats(fake: FakeDaemon) -> None:
    fake.on("GET", "/v1.43/containers/c/changes", reply(200, "null"))
    fake.on("GET", "/v1.43/containers/c/stats", lambda req: reply(
        200, {"read": 1}) if "stream=0" in req.target else reply(
        200, chunks=[b'{"read": 1}\n{"re', b'ad": 2}\n']))
    with client_of(fake) as client:
        assert client.changes("c") == []
        assert client.stats("c") == {"read": 1}
        assert list(client.stats("c", stream=True)) == [{"read": 1}, {"read": 2}]
