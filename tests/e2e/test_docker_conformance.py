"""Where estibad once answered otherwise than dockerd, with the real docker CLI (and
``estiba``'s own) against it: an attach to stdout alone, the exit code and words of
an exec whose command is not there or cannot be run, ``GET /events?since=`` without
``until`` (the buffered events first, then the new ones), a network connect with a
bad static address, ``logs --details``."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest

from support.docker_cli import docker, engine_daemon, estiba

pytestmark = [pytest.mark.e2e, pytest.mark.root]

OCI = "OCI runtime exec failed: exec failed: unable to start container process: "


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("ecL-")


@pytest.fixture(scope="module")
def box(daemon: object) -> Iterator[str]:
    made = docker(daemon, "run", "-d", "--name", "cbox", "busybox", "sleep", "600")
    assert made.returncode == 0, made.stderr
    yield "cbox"
    docker(daemon, "rm", "-f", "cbox")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def api(d: object, method: str, path: str, body: dict | None = None
        ) -> tuple[int, object]:
    conn = _UnixConnection(d.docker_sock)  # type: ignore[attr-defined]
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, "/v1.47" + path, body=data,
                     headers={"Content-Type": "application/json"})
        reply = conn.getresponse()
        raw = reply.read()
        return reply.status, json.loads(raw) if raw.strip() else None
    finally:
        conn.close()


# --- attach ----------------------------------------------------------------------------


def test_run_attached_to_stdout_alone(daemon: object) -> None:
    """The docker CLI has no writer for a stream it did not ask for: a stderr frame
    made it panic (exit 2)."""
    done = docker(daemon, "run", "--rm", "-a", "stdout", "busybox", "sh", "-c",
                  "echo out; echo err >&2")
    assert (done.returncode, done.stdout, done.stderr) == (0, "out\n", ""), done.stderr
    done = docker(daemon, "run", "--rm", "-a", "stderr", "busybox", "sh", "-c",
                  "echo out; echo err >&2")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "err\n"), done.stderr


# --- exec ------------------------------------------------------------------------------


def test_exec_of_a_command_not_there_or_not_runnable(daemon: object, box: str) -> None:
    missing = docker(daemon, "exec", box, "nosuchcommand")
    assert missing.returncode == 127, missing
    assert missing.stdout == (OCI + 'exec: "nosuchcommand": executable file not found '
                              "in $PATH: unknown\n")  # text mode: \r\n read as \n
    assert docker(daemon, "exec", box, "/no/such").returncode == 127
    for path in ("/etc/passwd", "/tmp"):
        denied = docker(daemon, "exec", box, path)
        assert denied.returncode == 126, denied
        assert denied.stdout.startswith(OCI + f'exec: "{path}": ')
    assert estiba(daemon, "exec", box, "nosuchcommand").returncode == 127


# --- events ----------------------------------------------------------------------------


def test_events_since_without_until_replay_then_stream(daemon: object) -> None:
    made = docker(daemon, "create", "--name", "early", "busybox", "true")
    assert made.returncode == 0, made.stderr
    early = made.stdout.strip()
    conn = _UnixConnection(daemon.docker_sock, timeout=20)  # type: ignore[attr-defined]
    try:
        # since=0 is the epoch: everything the daemon keeps, as dockerd replays it
        conn.request("GET", "/v1.47/events?since=0")
        reply = conn.getresponse()
        assert reply.status == 200

        def until_created(cid: str) -> None:
            while True:
                line = reply.readline()  # one JSON line (the chunks decoded)
                assert line, "the stream ended"
                if not line.strip():
                    continue
                message = json.loads(line)
                if (message.get("Action"), message.get("id")) == ("create", cid):
                    return

        until_created(early)  # replayed
        later = docker(daemon, "create", "--name", "later", "busybox", "true")
        assert later.returncode == 0, later.stderr
        until_created(later.stdout.strip())  # then streamed
    finally:
        conn.close()
        docker(daemon, "rm", "-f", "early", "later")


# --- networks ----------------------------------------------------------------------------


def test_connect_with_a_bad_static_address_is_refused(daemon: object) -> None:
    made = docker(daemon, "network", "create", "--subnet", "10.213.71.0/24", "cnet")
    assert made.returncode == 0, made.stderr
    try:
        assert docker(daemon, "create", "--name", "member", "busybox",
                      "true").returncode == 0
        status, reply = api(daemon, "POST", "/networks/cnet/connect", {
            "Container": "member",
            "EndpointConfig": {"IPAMConfig": {"IPv4Address": "bad"}}})
        assert status == 400, reply
        assert reply == {"message": "invalid endpoint settings:\n* invalid IPv4 address: "
                         "bad\n* no configured subnet or ip-range contain the IP "
                         "address bad"}
        status, reply = api(daemon, "POST", "/networks/cnet/connect", {
            "Container": "member",
            "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.213.72.5"}}})
        assert (status, reply) == (400, {"message": "invalid endpoint settings:\nno "
                                         "configured subnet or ip-range contain the IP "
                                         "address 10.213.72.5"})
        status, reply = api(daemon, "POST", "/networks/cnet/connect", {
            "Container": "member",
            "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.213.71.5"}}})
        assert status == 200, reply
    finally:
        docker(daemon, "rm", "-f", "member")
        docker(daemon, "network", "rm", "cnet")


# --- logs --------------------------------------------------------------------------------


def test_logs_details(daemon: object) -> None:
    made = docker(daemon, "run", "--name", "detailed", "--label", "a=1", "-e", "B=x y",
                  "--log-opt", "labels=a", "--log-opt", "env=B", "busybox", "sh", "-c",
                  "echo hi; echo there >&2")
    plain = docker(daemon, "run", "--name", "plain", "busybox", "echo", "hi")
    try:
        assert made.returncode == 0 and plain.returncode == 0, made.stderr + plain.stderr
        shown = docker(daemon, "logs", "--details", "detailed")
        assert (shown.stdout, shown.stderr) == ("B=x+y,a=1 hi\n", "B=x+y,a=1 there\n")
        # no attributes: a space alone, as dockerd writes it
        assert docker(daemon, "logs", "--details", "plain").stdout == " hi\n"
        assert docker(daemon, "logs", "plain").stdout == "hi\n"
        ours = estiba(daemon, "logs", "--details", "detailed")
        assert (ours.stdout, ours.stderr) == ("B=x+y,a=1 hi\n", "B=x+y,a=1 there\n")
        stamped = docker(daemon, "logs", "--details", "-t", "plain").stdout
        assert stamped.endswith("Z  hi\n"), stamped  # the timestamp, then the details
    finally:
        docker(daemon, "rm", "-f", "detailed", "plain")


def test_a_refused_upload_is_answered_and_the_connection_kept(daemon: object) -> None:
    """An import refused for its query (a bad change) while its client still sends the
    tar: the daemon reads the body first, so the client gets the 400, not a broken pipe,
    and the connection serves the next request, as with dockerd."""
    body = b"\0" * (2 << 20)  # more than a socket's buffers hold
    conn = _UnixConnection(daemon.docker_sock)  # type: ignore[attr-defined]
    try:
        conn.request("POST", "/v1.47/images/create?fromSrc=-&changes=BOGUS+x", body=body,
                     headers={"Content-Type": "application/x-tar"})
        refused = conn.getresponse()
        assert refused.status == 400
        assert b"BOGUS is not a valid change command" in refused.read()
        conn.request("GET", "/_ping")
        again = conn.getresponse()
        assert (again.status, again.read()) == (200, b"OK")
    finally:
        conn.close()
