"""``docker exec`` with the real docker CLI against estibad (exec instances of the
Docker API over the core's task execs): output and exit status, piped stdin, a terminal
through a pty (sized as the client's), detached execs, ``-e``/``-w``/``-u``, what fails
(a missing executable, a stopped or unknown container), and the API's ExecInspect."""

from __future__ import annotations

import http.client
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.docker_cli import docker, engine_daemon, in_pty

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "daemon"))
from harness import Daemon, poll  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.root]


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    yield from engine_daemon("edx-")  # type: ignore[misc]


@pytest.fixture(scope="module")
def box(daemon: Daemon) -> Iterator[str]:
    """A running container, its process set by ``run``'s -e, -w and -u."""
    made = docker(daemon, "run", "-d", "--name", "box", "-e", "FOO=bar", "-w", "/tmp",
                  "-u", "1:2", "busybox", "sleep", "600")
    assert made.returncode == 0, made.stderr
    yield "box"
    docker(daemon, "rm", "-f", "box")



class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def api(d: Daemon, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    conn = _UnixConnection(d.docker_sock)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, "/v1.47" + path, body=data,
                     headers={"Content-Type": "application/json"})
        reply = conn.getresponse()
        raw = reply.read()
        return reply.status, json.loads(raw) if raw.strip() else None
    finally:
        conn.close()


def test_output_and_exit_status(daemon: Daemon, box: str) -> None:
    done = docker(daemon, "exec", box, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    assert docker(daemon, "exec", box, "true").returncode == 0


def test_piped_stdin(daemon: Daemon, box: str) -> None:
    cat = docker(daemon, "exec", "-i", box, "cat", input="x\n")
    assert (cat.returncode, cat.stdout) == (0, "x\n"), cat.stderr


def test_inherits_the_container_s_process_unless_given(daemon: Daemon, box: str) -> None:
    inherited = docker(daemon, "exec", box, "sh", "-c", "pwd; id -u; id -g; echo $FOO")
    assert inherited.stdout == "/tmp\n1\n2\nbar\n", inherited.stderr
    given = docker(daemon, "exec", "-e", "FOO=baz", "-e", "X=1", "-w", "/", "-u", "0",
                   box, "sh", "-c", "pwd; id -u; echo $FOO $X")
    assert given.stdout == "/\n0\nbaz 1\n", given.stderr


# the pty's size once set (the CLI's ConsoleSize, or its resize right after the start
# when the runtime cannot size the pty before the process runs): polled for 5 s
_SIZE = ('for i in $(seq 50); do s=$(stty size 2>/dev/null) && [ "$s" != "0 0" ] && '
         'break; sleep 0.1; done; echo "$s"')


def test_terminal_sized_as_the_client_s(daemon: Daemon, box: str) -> None:
    status, out = in_pty(daemon, ["exec", "-it", "-u", "0", box, "sh", "-c",
                                  "echo $((6*7)); " + _SIZE + "; exit 5"], size=(33, 111))
    assert status == 5, out
    assert b"42\r\n" in out and b"33 111\r\n" in out, out


def test_detached(daemon: Daemon, box: str) -> None:
    done = docker(daemon, "exec", "-d", box, "sh", "-c", "echo hi > /tmp/detached")
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    poll(lambda: docker(daemon, "exec", box, "cat", "/tmp/detached").stdout == "hi\n",
         10, "the detached exec's file")


def test_what_cannot_run(daemon: Daemon, box: str) -> None:
    missing = docker(daemon, "exec", box, "/no/such")
    assert missing.returncode == 127, missing  # dockerd's code for a command not there
    assert "OCI runtime exec failed" in missing.stdout
    assert "no such file or directory" in missing.stdout
    not_in_path = docker(daemon, "exec", box, "nosuch")
    assert not_in_path.returncode == 127
    assert "executable file not found in $PATH" in not_in_path.stdout
    detached = docker(daemon, "exec", "-d", box, "/no/such")
    assert detached.returncode == 1 and "OCI runtime exec failed" in detached.stderr
    unknown = docker(daemon, "exec", "nothere", "true")
    assert unknown.returncode == 1 and "No such container: nothere" in unknown.stderr
    stopped = docker(daemon, "run", "--name", "stopped", "busybox", "true")
    assert stopped.returncode == 0, stopped.stderr
    try:
        refused = docker(daemon, "exec", "stopped", "true")
        assert refused.returncode == 1
        assert "Error response from daemon: Container " in refused.stderr
        assert "is not running" in refused.stderr
    finally:
        docker(daemon, "rm", "-f", "stopped")


def test_exec_inspect_and_errors_of_the_api(daemon: Daemon, box: str) -> None:
    cid = docker(daemon, "inspect", "-f", "{{.Id}}", box).stdout.strip()
    status, made = api(daemon, "POST", f"/containers/{box}/exec",
                       {"Cmd": ["sh", "-c", "exit 5"], "AttachStdout": True})
    assert status == 201 and isinstance(made, dict), made
    exec_id = made["Id"]
    status, shown = api(daemon, "GET", f"/exec/{exec_id}/json")
    assert status == 200 and shown == {
        "ID": exec_id, "Running": False, "ExitCode": None,
        "ProcessConfig": {"tty": False, "entrypoint": "sh", "arguments": ["-c", "exit 5"],
                          "privileged": False, "user": "1:2"},
        "OpenStdin": False, "OpenStderr": False, "OpenStdout": True, "CanRemove": False,
        "ContainerID": cid, "DetachKeys": "", "Pid": 0}
    assert api(daemon, "POST", f"/exec/{exec_id}/start", {"Detach": True})[0] == 200
    done = poll(lambda: (lambda s: s if not s["Running"] else None)(
        api(daemon, "GET", f"/exec/{exec_id}/json")[1]), 10, "the exec's exit")
    assert done["ExitCode"] == 5 and done["Pid"] > 0
    again = api(daemon, "POST", f"/exec/{exec_id}/start", {"Detach": True})
    assert again == (409, {"message": f"Error: Exec command {exec_id} has already run"})
    assert api(daemon, "POST", f"/containers/{box}/exec", {"Cmd": []}) == (
        400, {"message": "No exec command specified"})
    assert api(daemon, "GET", "/exec/nothere/json") == (
        404, {"message": "No such exec instance: nothere"})


def test_forgotten_with_the_container(daemon: Daemon) -> None:
    made = docker(daemon, "run", "-d", "--name", "brief", "busybox", "sleep", "600")
    assert made.returncode == 0, made.stderr
    status, body = api(daemon, "POST", "/containers/brief/exec", {"Cmd": ["true"]})
    assert status == 201 and isinstance(body, dict)
    assert api(daemon, "GET", f"/exec/{body['Id']}/json")[0] == 200
    assert docker(daemon, "rm", "-f", "brief").returncode == 0
    assert api(daemon, "GET", f"/exec/{body['Id']}/json")[0] == 404


def test_an_exec_read_leaves_nothing_in_the_core(daemon: Daemon, box: str) -> None:
    cid = docker(daemon, "inspect", "-f", "{{.Id}}", box).stdout.strip()
    execs = Path(daemon.exec_root, "tasks", "docker", cid, "exec")

    def kept() -> set[str]:
        return {p.name for p in execs.iterdir()} if execs.exists() else set()

    before = kept()
    done = docker(daemon, "exec", box, "true")
    assert done.returncode == 0, done.stderr
    assert kept() <= before  # the CLI read its exit code: the core forgot it


def test_privileged_exec_has_the_daemons_capabilities(daemon: Daemon, box: str) -> None:
    done = docker(daemon, "exec", "--privileged", "-u", "0", box, "grep", "CapEff",
                  "/proc/self/status")
    assert done.returncode == 0, done.stderr
    with open("/proc/self/status") as f:  # the daemon runs with this session's set
        bounding = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    assert done.stdout.split()[1] == bounding
