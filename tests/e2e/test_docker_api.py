"""The real docker CLI against estibad's Docker API (``api/docker`` over ``engine/``):
an estibad of the module's own on temporary roots, ``DOCKER_HOST`` its ``--host``
socket. What the course's demos do: version, info, ``run`` (output, exit status, piped
stdin, a terminal through a pty), detached containers listed, logged, inspected,
stopped and removed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.docker_cli import docker, engine_daemon, in_pty

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "daemon"))
from harness import Daemon  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.root]


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    yield from engine_daemon("edk-")  # type: ignore[misc]




def test_version_and_info(daemon: Daemon) -> None:
    version = docker(daemon, "version")
    assert version.returncode == 0, version.stderr
    assert "Server: Estiba Engine" in version.stdout
    assert "API version:      1.47 (minimum version 1.24)" in version.stdout
    info = docker(daemon, "info")
    assert info.returncode == 0, info.stderr
    assert "Storage Driver: overlayfs" in info.stdout
    assert "Default Runtime: estiba" in info.stdout


def test_run_prints_and_exits_with_the_command_status(daemon: Daemon) -> None:
    hi = docker(daemon, "run", "--rm", "busybox", "echo", "hi")
    assert (hi.returncode, hi.stdout) == (0, "hi\n"), hi.stderr
    three = docker(daemon, "run", "--rm", "busybox", "sh", "-c", "echo err >&2; exit 3")
    assert (three.returncode, three.stderr) == (3, "err\n")
    missing = docker(daemon, "run", "--rm", "busybox", "/no/such")
    assert missing.returncode in (126, 127), missing
    assert docker(daemon, "ps", "-aq").stdout == ""  # --rm removed them


def test_piped_stdin_ends_with_a_half_close(daemon: Daemon) -> None:
    cat = docker(daemon, "run", "-i", "--rm", "busybox", "cat", input="x\n")
    assert (cat.returncode, cat.stdout) == (0, "x\n"), cat.stderr


def test_terminal(daemon: Daemon) -> None:
    status, out = in_pty(daemon, ["run", "-it", "--rm", "busybox", "sh", "-c",
                                  "echo $((6*7))"])
    assert status == 0, out
    assert b"42\r\n" in out


def test_detached_lifecycle(daemon: Daemon) -> None:
    started = docker(daemon, "run", "-d", "--name", "web", "busybox", "sh", "-c",
                     "echo hello; exec sleep 100")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    assert len(cid) == 64
    try:
        ps = docker(daemon, "ps")
        assert "web" in ps.stdout and cid[:12] in ps.stdout
        again = docker(daemon, "run", "-d", "--name", "web", "busybox", "true")
        assert again.returncode == 125 and "is already in use" in again.stderr
        assert docker(daemon, "logs", "web").stdout == "hello\n"
        running = docker(daemon, "inspect", "-f", "{{.State.Running}}", "web")
        assert running.stdout == "true\n", running.stderr
        refused = docker(daemon, "rm", "web")
        assert refused.returncode != 0 and "container is running" in refused.stderr
        assert docker(daemon, "stop", "-t", "1", "web").returncode == 0
        state = docker(daemon, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                       cid[:12])
        assert state.stdout == "exited 143\n" or state.stdout == "exited 137\n"
        assert "Exited (" in docker(daemon, "ps", "-a").stdout
        assert docker(daemon, "rm", "web").returncode == 0
        assert docker(daemon, "ps", "-aq").stdout == ""
    finally:
        docker(daemon, "rm", "-f", cid)


def test_images_and_errors(daemon: Daemon) -> None:
    images = docker(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert images.stdout.splitlines() == ["busybox:latest"], images
    inspect = docker(daemon, "image", "inspect", "-f", "{{.Os}}", "busybox")
    assert inspect.stdout == "linux\n", inspect.stderr
    full = docker(daemon, "image", "inspect", "-f", "{{.Os}}", "docker.io/library/busybox")
    assert full.stdout == "linux\n", full.stderr
    pull = docker(daemon, "pull", "alpine")
    assert pull.returncode == 1 and "pull is not supported yet" in pull.stderr
    kept = docker(daemon, "create", "busybox", "true").stdout.strip()
    used = docker(daemon, "rmi", "busybox")
    assert used.returncode == 1 and "must force" in used.stderr
    assert docker(daemon, "rm", kept).returncode == 0
    assert docker(daemon, "rmi", "busybox").stdout.startswith(
        "Untagged: busybox:latest\nDeleted: sha256:")
    assert docker(daemon, "images", "-q").stdout == ""
    gone = docker(daemon, "rm", "nothere")
    assert gone.returncode == 1 and "No such container: nothere" in gone.stderr


def test_detach_with_ctrl_p_ctrl_q_and_attach_again(daemon: Daemon) -> None:
    started = docker(daemon, "run", "-dit", "--name", "shell", "busybox", "sh")
    assert started.returncode == 0, started.stderr
    try:
        # attached, a command, then the detach keys: the CLI ends, the shell lives on
        status, out = in_pty(daemon, ["attach", "shell"],
                             typed=((b"", b"echo one-$((1+1))\r"),
                                    (b"one-2", b"\x10\x11")))
        # as with Docker: the CLI says so and exits 1
        assert status == 1 and b"one-2" in out and b"read escape sequence" in out, out
        running = docker(daemon, "inspect", "-f", "{{.State.Running}}", "shell")
        assert running.stdout == "true\n"
        status, out = in_pty(daemon, ["attach", "shell"],
                             typed=((b"", b"echo two-$((1+1)); exit 3\r"),))
        assert status == 3 and b"two-2" in out, out
    finally:
        docker(daemon, "rm", "-f", "shell")
