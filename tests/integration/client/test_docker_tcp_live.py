"""The Docker API over TCP: a real estibad of the module's own serving a unix socket and
``tcp://127.0.0.1:<free port>`` (``harness.Daemon(tcp=True)``), driven over the port
by the client library (a run with its attach, an exec fed stdin), by the real docker
CLI (``DOCKER_HOST=tcp://...``) and by the ``estiba`` command line (``-H tcp://...``).
Only loopback: nothing here sends a packet off this machine."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from harness import REAL_CORE, SRC, Daemon

from estiba.client.connection import Hijacked
from estiba.client.docker import APIClient, DockerError
from estiba.client.streams import Demux
from support.docker_cli import engine_daemon

pytestmark = REAL_CORE

BUSYBOX = "busybox"


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("etc-", tcp=True)


@pytest.fixture(scope="module")
def client(daemon: Daemon) -> Iterator[APIClient]:
    with APIClient(daemon.docker_tcp, timeout=60) as made:
        with contextlib.suppress(DockerError):  # estibad provides busybox without a pull
            for _ in made.pull(BUSYBOX, tag="latest"):
                pass
        yield made


@pytest.fixture
def made(client: APIClient) -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    for id in ids:
        with contextlib.suppress(DockerError):
            client.remove_container(id, force=True)


def read_all(conn: Hijacked) -> dict[int, bytes]:
    """What each stream (1 stdout, 2 stderr) of a hijacked connection said to its EOF."""
    demux, said = Demux(), {1: b"", 2: b""}
    while data := conn.recv():
        for stream, piece in demux.feed(data):
            said[stream] = said.get(stream, b"") + piece
    return said


def test_the_daemon_serves_both_and_warns_not_for_loopback(daemon: Daemon,
                                                          client: APIClient) -> None:
    assert client.ping()["OSType"] == "linux"
    with APIClient(f"unix://{daemon.docker_sock}", timeout=30) as local:
        assert local.info()["ID"] == client.info()["ID"]
    lines = [json.loads(line) for line in daemon.log().splitlines() if line.startswith("{")]
    serving = next(line for line in lines if line.get("msg") == "serving")
    assert daemon.docker_tcp in serving["docker_hosts"]
    assert not [line for line in lines if "without TLS" in line.get("msg", "")]


def test_run_with_attach_and_exec_with_stdin(client: APIClient, made: list[str]) -> None:
    assert isinstance(client.containers(all=True), list)
    id = client.create_container({
        "Image": BUSYBOX, "Cmd": ["sh", "-c", "echo out; echo err >&2"],
        "AttachStdout": True, "AttachStderr": True})["Id"]
    made.append(id)
    assert id in {c["Id"] for c in client.containers(all=True)}
    with client.attach(id) as conn:
        client.start(id)
        said = read_all(conn)
    assert said[1] == b"out\n" and said[2] == b"err\n"
    assert client.wait(id)["StatusCode"] == 0

    id = client.create_container({"Image": BUSYBOX, "Cmd": ["sleep", "300"]})["Id"]
    made.append(id)
    client.start(id)
    exec_id = client.exec_create(id, ["sh", "-c", "tr a-z A-Z; echo done >&2"],
                                 stdin=True)
    conn = client.exec_start(exec_id)
    assert conn is not None
    with conn:
        conn.sendall(b"over tcp\n")
        conn.close_write()  # shutdown(SHUT_WR) on TCP: the exec's stdin ends
        said = read_all(conn)
    assert said[1] == b"OVER TCP\n" and said[2] == b"done\n"
    assert client.exec_inspect(exec_id)["ExitCode"] == 0


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result


def test_the_docker_cli_over_tcp(daemon: Daemon, client: APIClient) -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI")
    env = {**os.environ, "DOCKER_HOST": daemon.docker_tcp}
    for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_TLS"):
        env.pop(name, None)

    def docker(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return _ok(subprocess.run(["docker", *args], env=env, capture_output=True,
                                  text=True, timeout=60, input=input))

    assert docker("run", "--rm", BUSYBOX, "echo", "hi").stdout == "hi\n"
    assert docker("ps").stdout.startswith("CONTAINER ID ")
    # stdin through the hijacked connection, its end a half-close
    assert docker("run", "--rm", "-i", BUSYBOX, "tr", "a-z", "A-Z",
                  input="piped\n").stdout == "PIPED\n"


def test_the_estiba_cli_over_tcp(daemon: Daemon, client: APIClient) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    for name in ("ESTIBA_HOST", "DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_TLS"):
        env.pop(name, None)

    def estiba(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return _ok(subprocess.run([sys.executable, "-m", "estiba.cli", "-H",
                                   daemon.docker_tcp, *args], env=env, input=input,
                                  capture_output=True, text=True, timeout=60))

    assert estiba("run", "--rm", BUSYBOX, "echo", "hi").stdout == "hi\n"
    assert estiba("ps").stdout.startswith("CONTAINER ID ")
    assert estiba("run", "--rm", "-i", BUSYBOX, "tr", "a-z", "A-Z",
                  input="piped\n").stdout == "PIPED\n"
    refused = subprocess.run([sys.executable, "-m", "estiba.cli", "ps"],
                             env={**env, "DOCKER_HOST": daemon.docker_tcp,
                                  "DOCKER_TLS_VERIFY": "1"},
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "TLS ($DOCKER_TLS_VERIFY) is not supported" in \
        refused.stderr
