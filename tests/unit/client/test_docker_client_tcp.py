"""The Docker API client over TCP: ``tcp://`` addresses read as Docker reads them (the
defaults, IPv6 in brackets, ``http://``, no scheme), TLS and ssh refused by name, and
requests and a hijacked stream (with its half-close) against a fake daemon on a
loopback port of this machine."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from estiba import errors
from estiba.client import docker
from estiba.client.connection import ConnectError, Connection, authority, parse_tcp
from estiba.client.docker import APIClient

# --- addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(("host", "address"), [
    ("tcp://127.0.0.1:2375", ("127.0.0.1", 2375)),
    ("tcp://127.0.0.1", ("127.0.0.1", 2375)),  # Docker's port without TLS
    ("tcp://127.0.0.1:2375/", ("127.0.0.1", 2375)),
    ("tcp://", ("localhost", 2375)),
    ("tcp://:2400", ("localhost", 2400)),
    ("tcp://[::1]:2375", ("::1", 2375)),
    ("tcp://[::1]", ("::1", 2375)),
    ("tcp://example.test:1", ("example.test", 1)),
    ("http://127.0.0.1:2375", ("127.0.0.1", 2375)),
    ("127.0.0.1:2375", ("127.0.0.1", 2375)),  # docker: no scheme is TCP
    ("unix:///run/d.sock", "/run/d.sock"),
])
def test_addresses(host: str, address: str | tuple[str, int]) -> None:
    assert docker.address_of(host, {}) == address


@pytest.mark.parametrize(("host", "message"), [
    ("tcp://127.0.0.1:0", "invalid port '0'"),
    ("tcp://127.0.0.1:65536", "invalid port '65536'"),
    ("tcp://127.0.0.1:abc", "invalid port 'abc'"),
    ("tcp://127.0.0.1:\u00b2", "invalid port"),
    ("tcp://::1", "IPv6 address goes in brackets"),
    ("tcp://::1:2375", "IPv6 address goes in brackets"),
    ("tcp://[::1", "IPv6 address goes in brackets"),
    ("tcp://[::1]x", "after the IPv6 address"),
    ("tcp://h:1/base", "a path"),
    ("tcp://me@h:1", "user name"),
    ("https://127.0.0.1:2376", r"TLS \(https://\) is not supported"),
    ("ssh://me@host", "ssh:// is not supported"),
    ("npipe:////./pipe/docker_engine", "unsupported scheme 'npipe'"),
])
def test_bad_addresses_say_what_is_wrong(host: str, message: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=message) as err:
        docker.address_of(host, {})
    assert repr(host) in str(err.value)


def test_tls_asked_by_the_environment_is_refused_for_tcp_only() -> None:
    with pytest.raises(errors.InvalidArgument, match=r"TLS \(\$DOCKER_TLS_VERIFY\)"):
        docker.address_of("", {"DOCKER_HOST": "tcp://127.0.0.1", "DOCKER_TLS_VERIFY": "1"})
    with pytest.raises(errors.InvalidArgument, match=r"TLS \(\$DOCKER_TLS\)"):
        docker.address_of("tcp://127.0.0.1", {"DOCKER_TLS": "1"})
    # TLS does not apply to a unix socket; an empty variable asks for nothing (docker)
    assert docker.address_of("unix:///d", {"DOCKER_TLS_VERIFY": "1"}) == "/d"
    assert docker.address_of("tcp://h:1", {"DOCKER_TLS_VERIFY": ""}) == ("h", 1)
    # a host named without an environment: the caller chose it, TLS is not asked
    assert docker.address_of("tcp://h:1") == ("h", 1)


def test_authority_writes_an_address_back() -> None:
    assert authority("/run/d.sock") == "unix:///run/d.sock"
    assert authority(("127.0.0.1", 2375)) == "tcp://127.0.0.1:2375"
    assert authority(("::1", 2375)) == "tcp://[::1]:2375"
    assert parse_tcp(authority(("::1", 9)).removeprefix("tcp://")) == ("::1", 9)


# --- over a loopback port ------------------------------------------------------------


class LoopbackDaemon:
    """One connection on 127.0.0.1 (or ::1): answers ``HEAD /_ping`` (recording its
    Host header), then an attach: 101, its bytes echoed upper-cased once the client
    half-closes, then the close."""

    def __init__(self, family: int = socket.AF_INET) -> None:
        self.sock = socket.socket(family)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.hosts: list[str] = []
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _head(self, f: object) -> tuple[str, dict[str, str]]:
        line = f.readline().decode()  # type: ignore[attr-defined]
        headers = {}
        while (h := f.readline()) not in (b"\r\n", b""):  # type: ignore[attr-defined]
            k, _, v = h.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        return line, headers

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn, conn.makefile("rb") as f:
                line, headers = self._head(f)
                assert line.startswith("HEAD /_ping "), line
                self.hosts.append(headers["host"])
                conn.sendall(b"HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\n"
                             b"Content-Length: 2\r\n\r\n")
                line, headers = self._head(f)
                assert line.startswith("POST /v1.47/containers/c/attach"), line
                conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\n"
                             b"Upgrade: tcp\r\n\r\n")
                data = f.read()  # to the client's half-close
                conn.sendall(data.upper())
        except BaseException as exc:  # noqa: BLE001 - the test asserts on it
            self.failure = exc

    def close(self) -> None:
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(params=[socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
def loopback(request: pytest.FixtureRequest) -> Iterator[LoopbackDaemon]:
    try:
        d = LoopbackDaemon(request.param)
    except OSError as err:
        pytest.skip(f"no loopback address of this family: {err}")
    yield d
    d.close()


def test_requests_and_a_half_closed_attach_over_tcp(loopback: LoopbackDaemon) -> None:
    host = "[::1]" if loopback.sock.family == socket.AF_INET6 else "127.0.0.1"
    with APIClient(f"tcp://{host}:{loopback.port}", version="1.47", timeout=5) as client:
        assert client.host == f"tcp://{host}:{loopback.port}"
        assert client.ping()["Api-Version"] == "1.47"
        with client.attach("c", stdin=True) as conn:
            conn.sendall(b"ping\n")
            conn.close_write()  # shutdown(SHUT_WR): the daemon reads its EOF
            got = b""
            while data := conn.recv():
                got += data
    assert got == b"PING\n"
    assert loopback.failure is None, loopback.failure
    assert loopback.hosts == [f"{host}:{loopback.port}"]  # HTTP/1.1's Host over TCP


def test_a_closed_port_is_unavailable_naming_the_address() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # bound, never listening: nothing accepts there now
    with pytest.raises(ConnectError):
        Connection(("127.0.0.1", port), timeout=5).request("GET", "/_ping")
    with pytest.raises(errors.Unavailable, match=f"tcp://127.0.0.1:{port}"), \
            APIClient(f"tcp://127.0.0.1:{port}", timeout=5) as client:
        client.ping()
