"""Bad input to the Docker API: every field of a create's Config and HostConfig, and
of an exec and an update, given a value of each JSON type. Each request gets a status
the client can act on (never a 500), what is refused changes nothing, and the daemon
keeps serving."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest

from estiba.engine.jsontypes import CONFIG_FIELDS
from support.docker_cli import docker, engine_daemon

pytestmark = [pytest.mark.e2e, pytest.mark.root]

VALUES = (5, "x", True, [1], {"a": 1}, None, -1, ["x"])
HOST_FIELDS = (
    "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuQuota",
    "CpuPeriod", "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight", "OomKillDisable",
    "OomScoreAdj", "Binds", "Mounts", "Tmpfs", "ShmSize", "ReadonlyRootfs", "CapAdd",
    "CapDrop", "Privileged", "SecurityOpt", "Sysctls", "Devices", "GroupAdd", "Ulimits",
    "PidMode", "IpcMode", "UTSMode", "NetworkMode", "Init", "RestartPolicy", "AutoRemove",
    "ExtraHosts", "LogConfig",
)


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("edb-")  # type: ignore[misc]


def call(d: object, method: str, path: str, body: object) -> tuple[int, dict]:
    conn = UnixConnection(d.docker_sock)  # type: ignore[attr-defined]
    try:
        conn.request(method, "/v1.47" + path, body=json.dumps(body),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, json.loads(data) if data else {}


def test_every_field_of_the_wrong_type(daemon: object) -> None:
    made, failures = [], []
    for field in CONFIG_FIELDS:
        for value in VALUES:
            status, reply = call(daemon, "POST", "/containers/create",
                                 {"Image": "busybox", "Cmd": ["true"], field: value})
            if status == 201:
                made.append(reply["Id"])
            elif status not in (400, 404, 409) or not reply.get("message"):
                failures.append((field, value, status, reply))
    for field in HOST_FIELDS:
        for value in VALUES:
            status, reply = call(daemon, "POST", "/containers/create",
                                 {"Image": "busybox", "Cmd": ["true"],
                                  "HostConfig": {field: value}})
            if status == 201:
                made.append(reply["Id"])
            elif status not in (400, 404, 409, 412, 501) or not reply.get("message"):
                failures.append(("HostConfig." + field, value, status, reply))
    assert failures == [], "\n".join(map(str, failures))
    listed = docker(daemon, "ps", "-aq", "--no-trunc").stdout.split()
    assert sorted(listed) == sorted(made)  # what was refused left nothing
    if made:
        docker(daemon, "rm", "-f", *made)


def test_exec_and_update_of_the_wrong_type(daemon: object) -> None:
    started = docker(daemon, "run", "-d", "--name", "target", "busybox", "sleep", "100")
    assert started.returncode == 0, started.stderr
    failures = []
    for field in ("Cmd", "Env", "User", "WorkingDir", "Tty", "AttachStdin", "Privileged",
                  "DetachKeys", "ConsoleSize"):
        for value in VALUES:
            status, reply = call(daemon, "POST", "/containers/target/exec",
                                 {"Cmd": ["true"], field: value})
            if status >= 500 or (status >= 400 and not reply.get("message")):
                failures.append(("exec", field, value, status, reply))
    for field in ("Memory", "PidsLimit", "CpuShares", "RestartPolicy", "NanoCpus"):
        for value in VALUES:
            status, reply = call(daemon, "POST", "/containers/target/update", {field: value})
            if status >= 500 or (status >= 400 and not reply.get("message")):
                failures.append(("update", field, value, status, reply))
    assert failures == [], "\n".join(map(str, failures))
    assert docker(daemon, "inspect", "-f", "{{.State.Running}}", "target").stdout == "true\n"
    docker(daemon, "rm", "-f", "target")
