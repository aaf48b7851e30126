"""The real docker CLI on the states of a container: pause and unpause, top, stats,
rename, the list's filters, prune, the stop signal, restart policies (also across a
restart of the daemon)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from harness import poll

from support.docker_cli import docker, engine_daemon

pytestmark = [pytest.mark.e2e, pytest.mark.root]


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("eds-")



def run_d(d: object, *args: str) -> str:
    started = docker(d, "run", "-d", *args)
    assert started.returncode == 0, started.stderr
    return started.stdout.strip()


def fmt(d: object, template: str, ref: str) -> str:
    return docker(d, "inspect", "-f", template, ref).stdout.strip()


def test_pause_top_stats_rename(daemon: object) -> None:
    run_d(daemon, "--name", "sleeper", "busybox", "sleep", "1000")
    assert docker(daemon, "pause", "sleeper").returncode == 0
    assert fmt(daemon, "{{.State.Status}} {{.State.Paused}}", "sleeper") == "paused true"
    assert "(Paused)" in docker(daemon, "ps").stdout
    again = docker(daemon, "pause", "sleeper")
    assert again.returncode == 1 and "is already paused" in again.stderr
    assert docker(daemon, "unpause", "sleeper").returncode == 0
    assert fmt(daemon, "{{.State.Status}}", "sleeper") == "running"
    not_paused = docker(daemon, "unpause", "sleeper")
    assert not_paused.returncode == 1 and "is not paused" in not_paused.stderr

    top = docker(daemon, "top", "sleeper")
    assert top.returncode == 0, top.stderr
    lines = top.stdout.splitlines()
    assert "PID" in lines[0] and len(lines) == 2 and lines[1].endswith("sleep 1000")
    custom = docker(daemon, "top", "sleeper", "-o", "pid,comm")
    assert custom.stdout.split() [:2] == ["PID", "COMMAND"], custom

    stats = docker(daemon, "stats", "--no-stream", "--format",
                   "{{.Name}} {{.PIDs}} {{.MemUsage}}", "sleeper")
    assert stats.returncode == 0, stats.stderr
    name, pids, usage = stats.stdout.split(" ", 2)
    assert (name, pids) == ("sleeper", "1") and "/" in usage

    assert docker(daemon, "rename", "sleeper", "dozer").returncode == 0
    assert fmt(daemon, "{{.Name}}", "dozer") == "/dozer"
    run_d(daemon, "--name", "other", "busybox", "sleep", "1000")
    taken = docker(daemon, "rename", "dozer", "other")
    assert taken.returncode == 1 and "is already in use" in taken.stderr
    docker(daemon, "rm", "-f", "dozer", "other")


def test_list_filters_and_prune(daemon: object) -> None:
    run_d(daemon, "--name", "up", "--label", "tier=front", "busybox", "sleep", "1000")
    docker(daemon, "run", "--name", "failed", "busybox", "sh", "-c", "exit 3")
    docker(daemon, "run", "--name", "fine", "--label", "tier=back", "busybox", "true")

    def names(*args: str) -> set[str]:
        listed = docker(daemon, "ps", "-a", "--format", "{{.Names}}", *args)
        assert listed.returncode == 0, listed.stderr
        return set(listed.stdout.split())

    assert names("--filter", "status=exited") == {"failed", "fine"}
    assert names("--filter", "exited=3") == {"failed"}
    assert names("--filter", "label=tier=front") == {"up"}
    assert names("--filter", "label=tier") == {"up", "fine"}
    assert names("--filter", "name=fai") == {"failed"}
    assert names("--filter", "ancestor=busybox") == {"up", "failed", "fine"}
    assert names("--filter", "status=running") == {"up"}
    assert names("--last", "1") == {"fine"}
    bad = docker(daemon, "ps", "--filter", "colour=red")
    assert bad.returncode == 1 and "invalid filter 'colour'" in bad.stderr

    pruned = docker(daemon, "container", "prune", "-f")
    assert pruned.returncode == 0, pruned.stderr
    assert names() == {"up"}
    docker(daemon, "rm", "-f", "up")


def test_stop_sends_the_stop_signal_and_restart_runs_again(daemon: object) -> None:
    run_d(daemon, "--name", "trapper", "--stop-signal", "USR1", "busybox", "sh", "-c",
          "trap 'exit 7' USR1; while :; do sleep 0.1; done")
    assert docker(daemon, "stop", "trapper").returncode == 0
    assert fmt(daemon, "{{.State.ExitCode}}", "trapper") == "7"
    first = fmt(daemon, "{{.State.StartedAt}}", "trapper")
    assert docker(daemon, "restart", "-t", "1", "trapper").returncode == 0
    assert fmt(daemon, "{{.State.Running}}", "trapper") == "true"
    assert fmt(daemon, "{{.State.StartedAt}}", "trapper") != first
    docker(daemon, "rm", "-f", "trapper")


def test_restart_policies(daemon: object) -> None:
    run_d(daemon, "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c",
          "exit 3")
    poll(lambda: fmt(daemon, "{{.RestartCount}} {{.State.Status}}", "flaky")
         == "2 exited", 20, "two restarts, then exited")
    assert fmt(daemon, "{{.State.ExitCode}}", "flaky") == "3"

    run_d(daemon, "--name", "steady", "--restart", "always", "busybox", "sh", "-c",
          "sleep 0.3")
    poll(lambda: int(fmt(daemon, "{{.RestartCount}}", "steady") or 0) >= 1, 20,
         "a restart of an always container")
    assert docker(daemon, "stop", "-t", "1", "steady").returncode == 0
    count = fmt(daemon, "{{.RestartCount}}", "steady")
    time.sleep(1)  # a stopped container must stay stopped: nothing to poll for
    assert fmt(daemon, "{{.State.Status}} {{.RestartCount}}", "steady") == (
        f"exited {count}")

    killed = run_d(daemon, "--restart", "unless-stopped", "busybox", "sleep", "1000")
    assert docker(daemon, "kill", killed).returncode == 0
    poll(lambda: fmt(daemon, "{{.State.Status}}", killed) == "exited", 10, "killed")
    assert fmt(daemon, "{{.RestartCount}}", killed) == "0"

    refused = docker(daemon, "run", "-d", "--restart", "sometimes", "busybox")
    assert refused.returncode == 125 and "invalid restart policy" in refused.stderr
    docker(daemon, "rm", "-f", "flaky", "steady", killed)


def test_policies_across_a_daemon_restart() -> None:
    for d in engine_daemon("edr-"):
        _across_a_restart(d)


def _across_a_restart(d: object) -> None:
    # exits while the daemon is down: started again when it comes back
    run_d(d, "--name", "later", "--restart", "unless-stopped", "busybox", "sh", "-c",
          "sleep 1; exit 1")
    # stopped by a user: always starts it at daemon start, unless-stopped does not
    run_d(d, "--name", "always", "--restart", "always", "busybox", "sleep", "1000")
    run_d(d, "--name", "kept", "--restart", "unless-stopped", "busybox", "sleep",
          "1000")
    assert docker(d, "stop", "-t", "1", "always", "kept").returncode == 0
    d.stop()  # type: ignore[attr-defined]
    poll(_exited_while_down, 10, "the container's exit while down")
    d.start()  # type: ignore[attr-defined]
    poll(lambda: fmt(d, "{{.State.Running}}", "later") == "true", 10, "later restarted")
    poll(lambda: fmt(d, "{{.State.Running}}", "always") == "true", 10, "always started")
    assert fmt(d, "{{.State.Status}}", "kept") == "exited"


def _exited_while_down() -> bool:
    """The container ``later``'s process is gone (read from the host's processes,
    since the daemon is down)."""
    import os

    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() == b"sh\0-c\0sleep 1; exit 1\0":
                    return False
        except OSError:
            continue
    return True


def test_an_oom_kill_is_reported(daemon: object) -> None:
    hog = docker(daemon, "run", "--name", "hog", "-m", "8m", "--memory-swap", "8m",
                 "busybox", "sh", "-c", "head -c 100m /dev/zero | tail")
    assert hog.returncode == 137, hog.stderr
    assert fmt(daemon, "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog") == "true 137"
    calm = docker(daemon, "run", "--name", "calm", "-m", "8m", "busybox", "true")
    assert calm.returncode == 0, calm.stderr
    assert fmt(daemon, "{{.State.OOMKilled}}", "calm") == "false"
    docker(daemon, "rm", "hog", "calm")


def test_named_users_come_from_the_containers_passwd(daemon: object) -> None:
    named = docker(daemon, "run", "--rm", "-u", "nobody", "busybox", "id")
    assert named.stdout == "uid=65534(nobody) gid=65534(nogroup)\n", named.stderr
    ghost = docker(daemon, "run", "--rm", "-u", "ghost", "busybox", "id")
    assert ghost.returncode == 125 and "unable to find user ghost" in ghost.stderr
    run_d(daemon, "--name", "users", "busybox", "sleep", "1000")
    in_exec = docker(daemon, "exec", "-u", "nobody:root", "users", "id")
    assert in_exec.stdout == "uid=65534(nobody) gid=0(root)\n", in_exec.stderr
    docker(daemon, "rm", "-f", "users")


def test_update_changes_the_limits_of_a_running_container(daemon: object) -> None:
    run_d(daemon, "--name", "grow", "-m", "32m", "busybox", "sleep", "1000")
    updated = docker(daemon, "update", "-m", "64m", "--memory-swap", "128m",
                     "--pids-limit", "20", "--restart", "on-failure:3", "grow")
    assert updated.returncode == 0, updated.stderr
    shown = fmt(daemon, "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} "
                        "{{.HostConfig.RestartPolicy.Name}}", "grow")
    assert shown == "67108864 20 on-failure"
    seen = docker(daemon, "exec", "grow", "cat",
                  "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                  "/sys/fs/cgroup/pids/pids.max")
    assert seen.stdout.split() == ["67108864", "20"], seen.stderr
    docker(daemon, "restart", "-t", "1", "grow")  # kept for the next start
    again = docker(daemon, "exec", "grow", "cat", "/sys/fs/cgroup/pids/pids.max")
    assert again.stdout.strip() == "20", again.stderr
    docker(daemon, "rm", "-f", "grow")


def test_system_df_counts_images_and_writable_layers(daemon: object) -> None:
    docker(daemon, "run", "--name", "writer", "busybox", "sh", "-c",
           "head -c 1000000 /dev/zero > /big")
    df = docker(daemon, "system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}")
    assert df.returncode == 0, df.stderr
    rows = df.stdout.splitlines()
    assert "Images 1 1" in rows and "Containers 1 0" in rows, rows
    sizes = docker(daemon, "ps", "-as", "--format", "{{.Names}} {{.Size}}")
    assert sizes.stdout.startswith("writer 1.0"), sizes.stdout  # 1 MB written
    docker(daemon, "rm", "writer")


def test_many_waits_hold_no_threads(daemon: object) -> None:
    """More waits than the daemon has threads: other requests are still answered, and
    every wait gets the exit status."""
    import socket

    run_d(daemon, "--name", "waited", "busybox", "sleep", "1000")
    waits = []
    for _ in range(80):
        s = socket.socket(socket.AF_UNIX)
        s.connect(daemon.docker_sock)  # type: ignore[attr-defined]
        s.sendall(b"POST /v1.47/containers/waited/wait HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 0\r\n\r\n")
        waits.append(s)
    try:
        listed = docker(daemon, "ps", "--format", "{{.Names}}", timeout=20)
        assert listed.stdout.split() == ["waited"], listed.stderr
        assert docker(daemon, "kill", "waited").returncode == 0
        for s in waits:
            s.settimeout(20)
            got = b""
            while b'"StatusCode":137' not in got.replace(b" ", b""):
                chunk = s.recv(4096)
                assert chunk, got
                got += chunk
    finally:
        for s in waits:
            s.close()
    docker(daemon, "rm", "-f", "waited")
