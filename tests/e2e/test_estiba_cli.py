"""``estiba``'s docker-compatible commands beside the real docker CLI: the same
arguments against the same estibad, the same stdout, stderr and exit status (the
docker CLI, version 28, is the spec). Durations printed by the client ("5 seconds
ago", "Up 5 seconds") may tick between the two runs: when the outputs differ, they are
compared with the durations replaced and the columns' padding squeezed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.docker_cli import DURATIONS, SRC, docker, engine_daemon, estiba

pytestmark = [pytest.mark.e2e, pytest.mark.root]



@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("ecl-")


@pytest.fixture(scope="module")
def scene(daemon: object) -> Iterator[object]:
    """A running container publishing a port, an exited one, a second tag."""
    for argv in (("run", "-d", "--name", "web", "-p", "18200:80", "busybox", "httpd",
                  "-f", "-p", "80"),
                 ("run", "--name", "done", "busybox", "sh", "-c", "exit 3"),
                 ("tag", "busybox", "mytag/bb:v1")):
        result = docker(daemon, *argv)
        assert result.returncode in (0, 3), result.stderr
    yield daemon
    docker(daemon, "rm", "-f", "web", "done")
    docker(daemon, "rmi", "mytag/bb:v1")


def normalised(text: str, sort: bool = False) -> str:
    lines = [re.sub(r" {2,}", "  ", DURATIONS.sub("N", line)).rstrip()
             for line in text.splitlines()]
    if sort:  # docker lists an image's repositories in a Go map's order: any order
        # a table's header stays first; a --format without one has none
        head = 1 if lines and lines[0] == lines[0].upper() else 0
        lines = lines[:head] + sorted(lines[head:])
    return "\n".join(lines)


def same(d: object, *args: str, sort: bool = False) -> str:
    """Run both; assert they agree; the docker CLI's stdout."""
    ours = estiba(d, *args)
    theirs = docker(d, *args)
    assert ours.returncode == theirs.returncode, (args, ours.stderr, theirs.stderr)
    if ours.stdout != theirs.stdout:
        assert normalised(ours.stdout, sort) == normalised(theirs.stdout, sort), args
    return theirs.stdout


@pytest.mark.parametrize("args", [
    ("ps",), ("ps", "-a"), ("ps", "-q"), ("ps", "--no-trunc", "-a"),
    ("ps", "--format", "{{.Names}} {{.Status}}"),
    ("ps", "--format", "table {{.ID}}\\t{{.Ports}}"),
    ("ps", "-a", "--filter", "status=exited", "-q"),
    ("ps", "-aq", "--no-trunc"), ("ps", "-l"), ("ps", "-a", "-n", "1"), ("ps", "-s"),
    ("ps", "-a", "--format", "json"),
    ("inspect", "-f", "{{.State.Status}}", "web"),
    ("inspect", "-f", "{{.State.ExitCode}} {{.Name}}", "done", "web"),
    ("version", "--format", "{{.Server.APIVersion}}"),
])
def test_containers_and_version_as_docker(scene: object, args: tuple[str, ...]) -> None:
    out = same(scene, *args)
    if args[:2] == ("ps", "-q"):
        assert len(out.split()) == 1


@pytest.mark.parametrize("args", [
    ("images",), ("images", "-q"), ("images", "--format", "{{.Repository}}:{{.Tag}}"),
    ("images", "--no-trunc"), ("images", "--digests"), ("images", "busybox"),
])
def test_images_as_docker(scene: object, args: tuple[str, ...]) -> None:
    out = same(scene, *args, sort=True)
    if args == ("images",):
        assert "mytag/bb" in out and "busybox" in out


def test_ps_shows_the_published_port(scene: object) -> None:
    out = same(scene, "ps")
    assert "0.0.0.0:18200->80/tcp" in out and "web" in out


def test_inspect_json_as_docker(scene: object) -> None:
    ours, theirs = estiba(scene, "inspect", "web"), docker(scene, "inspect", "web")
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert json.loads(ours.stdout) == json.loads(theirs.stdout)
    # docker's json.Indent: four spaces, no trailing ones
    assert ours.stdout.startswith('[\n    {\n        "Id": ')


@pytest.mark.parametrize("args", [
    ("inspect", "nosuch"), ("inspect", "-f", "{{.Id}}", "nosuch", "web"),
    ("inspect", "--type", "container", "busybox"), ("rm", "nosuch"),
    ("rm", "nosuch", "other"),
    ("ps", "--format", "{{.Nope}}"), ("ps", "--format", "{{.Names"),
    ("images", "--format", "{{.Nope}}"), ("images", "--format", "table {{.ID"),
])
def test_errors_as_docker(scene: object, args: tuple[str, ...]) -> None:
    ours, theirs = estiba(scene, *args), docker(scene, *args)
    assert (ours.returncode, ours.stdout, ours.stderr) \
        == (theirs.returncode, theirs.stdout, theirs.stderr)


@pytest.mark.parametrize("args", [("ps", "--bogus"), ("ps", "-qz"), ("ps", "--format"),
                                  ("ps", "extra"), ("rm",)])
def test_usage_errors_as_docker(scene: object, args: tuple[str, ...]) -> None:
    ours, theirs = estiba(scene, *args), docker(scene, *args)
    assert ours.returncode == theirs.returncode
    assert ours.stderr.replace("estiba", "docker") == theirs.stderr


def test_unreachable_daemon(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/none.sock"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run([sys.executable, "-m", "estiba.cli", "-H", host, "ps"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr == (f"Cannot connect to the Estiba daemon at {host}. "
                             "Is the estiba daemon running?\n")
