"""``docker logs`` with its options and ``docker events``, the real docker CLI against an
estibad of the module's own: the tail, ``--since``, timestamps, following to the exit,
the events of a run in order, and clients that hang up releasing what they held."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.docker_cli import api_connections, docker, engine_daemon, env_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "daemon"))
from harness import Daemon, poll  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.root]

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    yield from engine_daemon("edl-")  # type: ignore[misc]




def popen(d: Daemon, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["docker", *args], env=env_of(d), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def exited(d: Daemon, name: str) -> bool:
    state = docker(d, "inspect", "-f", "{{.State.Status}}", name)
    return state.stdout.strip() == "exited"


def open_files(d: Daemon, part: str) -> list[str]:
    """The daemon's open files whose path holds ``part``."""
    assert d.proc is not None
    found = []
    for fd in os.listdir(f"/proc/{d.proc.pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{d.proc.pid}/fd/{fd}")
            if part in target:
                found.append(target)
    return found


def sockets(d: Daemon) -> int:
    return len(open_files(d, "socket:"))


def stop_cli(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=10)


def test_logs_tail_timestamps_and_streams(daemon: Daemon) -> None:
    run = docker(daemon, "run", "-d", "--name", "lines", "busybox", "sh", "-c",
                 "for i in 1 2 3 4; do echo out$i; done; echo err >&2; echo last")
    assert run.returncode == 0, run.stderr
    try:
        poll(lambda: exited(daemon, "lines"), 20, "lines exited")
        every = docker(daemon, "logs", "lines")
        assert every.stdout == "out1\nout2\nout3\nout4\nlast\n" and every.stderr == "err\n"
        tail = docker(daemon, "logs", "--tail", "2", "lines")
        assert (tail.stdout, tail.stderr) == ("last\n", "err\n")
        assert docker(daemon, "logs", "--tail", "0", "lines").stdout == ""
        assert docker(daemon, "logs", "--tail", "all", "lines").stdout == every.stdout
        stamped = docker(daemon, "logs", "-t", "--tail", "3", "lines")
        lines = stamped.stdout.splitlines()
        assert [line.split(" ", 1)[1] for line in lines] == ["out4", "last"], stamped
        assert all(STAMP.match(line) for line in lines), lines
        assert STAMP.match(stamped.stderr) and stamped.stderr.endswith(" err\n")
    finally:
        docker(daemon, "rm", "-f", "lines")


def test_logs_since(daemon: Daemon) -> None:
    run = docker(daemon, "run", "-d", "--name", "slow", "busybox", "sh", "-c",
                 "echo early; sleep 1.5; echo late")
    assert run.returncode == 0, run.stderr
    try:
        poll(lambda: exited(daemon, "slow"), 20, "slow exited")
        stamped = docker(daemon, "logs", "-t", "slow").stdout.splitlines()
        assert [line.split(" ", 1)[1] for line in stamped] == ["early", "late"]
        late = stamped[1].split(" ", 1)[0]  # RFC 3339, as the CLI takes it
        since = docker(daemon, "logs", "--since", late, "slow")
        assert since.stdout == "late\n", since.stderr
        until = docker(daemon, "logs", "--until", late, "slow")
        assert until.stdout == "early\nlate\n", until.stderr
        assert docker(daemon, "logs", "--since", "1m", "slow").stdout == "early\nlate\n"
        future = str(time.time() + 3600)
        assert docker(daemon, "logs", "--since", future, "slow").stdout == ""
    finally:
        docker(daemon, "rm", "-f", "slow")


def test_logs_follow_ends_with_the_container(daemon: Daemon) -> None:
    run = docker(daemon, "run", "-d", "--name", "tick", "busybox", "sh", "-c",
                 "echo one; sleep 1; echo two; sleep 1; echo three")
    assert run.returncode == 0, run.stderr
    try:
        followed = docker(daemon, "logs", "-f", "--tail", "1", "tick", timeout=30)
        assert followed.returncode == 0, followed.stderr
        assert followed.stdout.splitlines()[-2:] == ["two", "three"]
        assert exited(daemon, "tick")
    finally:
        docker(daemon, "rm", "-f", "tick")


def test_logs_follow_hung_up_releases_the_log(daemon: Daemon) -> None:
    run = docker(daemon, "run", "-d", "--name", "forever", "busybox", "sh", "-c",
                 "echo hello; exec sleep 1000")
    assert run.returncode == 0, run.stderr
    cid = run.stdout.strip()
    follower = popen(daemon, "logs", "-f", "forever")
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "hello\n"
        poll(lambda: open_files(daemon, cid), 10, "the log open while followed")
        follower.kill()
        poll(lambda: not open_files(daemon, cid), 10, "the log closed after the hang-up")
    finally:
        stop_cli(follower)
        docker(daemon, "rm", "-f", "forever")


def test_events_of_a_run_in_order(daemon: Daemon) -> None:
    since = f"{time.time():.9f}"
    run = docker(daemon, "run", "--name", "evx", "--label", "team=a", "busybox",
                 "sh", "-c", "exit 3")
    assert run.returncode == 3, run.stderr
    other = docker(daemon, "run", "--rm", "busybox", "true")
    assert other.returncode == 0, other.stderr
    assert docker(daemon, "rm", "evx").returncode == 0
    until = f"{time.time() + 0.5:.9f}"
    shown = docker(daemon, "events", "--since", since, "--until", until, "--filter",
                   "container=evx", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    wanted = ["container create evx", "container start evx", "container die evx",
              "container destroy evx"]
    assert [line for line in lines if line in wanted] == wanted, lines
    assert all(line.endswith(" evx") for line in lines), lines
    raw = docker(daemon, "events", "--since", since, "--until", until, "--filter",
                 "event=die", "--filter", "label=team=a", "--format", "{{json .}}")
    assert raw.returncode == 0, raw.stderr
    import json

    dies = [json.loads(line) for line in raw.stdout.splitlines()]
    assert len(dies) == 1, raw.stdout
    die = dies[0]
    assert (die["Type"], die["Action"], die["status"], die["from"]) == (
        "container", "die", "die", "busybox")
    assert die["Actor"]["Attributes"]["exitCode"] == "3"
    assert die["Actor"]["Attributes"]["team"] == "a"
    assert die["scope"] == "local" and die["time"] == die["timeNano"] // 10**9
    backwards = docker(daemon, "events", "--since", until, "--until", since)
    assert backwards.returncode != 0 and "cannot be after" in backwards.stderr


def test_events_stream_live_and_release_on_hang_up(daemon: Daemon) -> None:
    before = sockets(daemon)
    listener = popen(daemon, "events", "--filter", "type=container", "--format",
                     "{{.Action}} {{.Actor.Attributes.name}}")
    try:
        poll(lambda: sockets(daemon) > before, 10, "the listener connected")
        made = docker(daemon, "create", "--name", "live", "busybox", "true")
        assert made.returncode == 0, made.stderr
        assert listener.stdout is not None
        assert listener.stdout.readline() == "create live\n"
        listener.kill()
        poll(lambda: sockets(daemon) <= before, 10, "the listener's connection released")
    finally:
        stop_cli(listener)
        docker(daemon, "rm", "-f", "live")


def test_logs_of_a_terminal_are_one_stream(daemon: Daemon) -> None:
    run = docker(daemon, "run", "-d", "-t", "--name", "tty", "busybox", "sh", "-c",
                 "echo out; echo err >&2")
    assert run.returncode == 0, run.stderr
    try:
        poll(lambda: exited(daemon, "tty"), 20, "tty exited")
        shown = docker(daemon, "logs", "-t", "tty")
        assert shown.stderr == ""
        lines = shown.stdout.splitlines()
        assert [line.split(" ", 1)[1].rstrip("\r") for line in lines] == ["out", "err"]
        assert all(STAMP.match(line) for line in lines), lines
        assert docker(daemon, "logs", "--tail", "1", "tty").stdout.rstrip() == "err"
    finally:
        docker(daemon, "rm", "-f", "tty")


@pytest.mark.parametrize("command", [("stats",), ("attach", "--no-stdin")])
def test_stats_and_attach_release_on_hang_up(daemon: Daemon, command: tuple[str, ...]
                                             ) -> None:
    run = docker(daemon, "run", "-d", "--name", "watched", "busybox", "sh", "-c",
                 "while :; do echo tick; sleep 0.2; done")
    assert run.returncode == 0, run.stderr
    # the connections of the commands before are gone (a wait of run's is dropped at
    # its next look at its client, within half a second)
    poll(lambda: api_connections(daemon) == 0, 10, "no client connected")
    client = popen(daemon, *command, "watched")
    try:
        assert client.stdout is not None
        client.stdout.readline()  # it has started
        poll(lambda: api_connections(daemon) > 0, 10, "the client connected")
        client.kill()
        poll(lambda: api_connections(daemon) == 0, 10, "the connection released")
        assert docker(daemon, "inspect", "-f", "{{.State.Running}}",
                      "watched").stdout == "true\n"  # the container is not disturbed
    finally:
        stop_cli(client)
        docker(daemon, "rm", "-f", "watched")


def test_logs_bounded_by_max_size(daemon: Daemon) -> None:
    lines = docker(daemon, "run", "--name", "chatty", "--log-opt", "max-size=2k",
                   "busybox", "sh", "-c",
                   "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done")
    assert lines.returncode == 0 and lines.stdout.endswith("line-399\n")  # attached: all
    kept = docker(daemon, "logs", "chatty").stdout
    assert kept.endswith("line-399\n") and "line-0\n" not in kept
    assert len(kept) <= 2048
    refused = docker(daemon, "run", "--rm", "--log-opt", "foo=bar", "busybox", "true")
    assert refused.returncode == 125 and "unknown log opt 'foo'" in refused.stderr
    docker(daemon, "rm", "chatty")
