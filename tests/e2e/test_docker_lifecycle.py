"""A running ``--runtime estiba`` container, as ``docker exec``, ``stop``, ``kill``,
``pause``/``unpause``, ``top`` and ``update`` see it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.root]

# a shell that says which signals it got, and ticks five times a second
SIGNALLED = (
    'trap "echo got-usr1" USR1; trap "echo got-term; exit 0" TERM; '
    "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"
)


# ticks as SIGNALLED does, after appending each tick's number to /tmp/n: the count of
# ticks the container made, read from the host without the logs' delay
COUNTING = ("i=0; while true; do i=$((i+1)); echo $i >> /tmp/n; echo tick $i; "
            "sleep 0.2; done")


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def logs(docker, cid: str) -> list[str]:
    result = docker("logs", cid)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def ticks(docker, cid: str) -> int:
    return sum(1 for line in logs(docker, cid) if line.startswith("tick "))


# --- exec ----------------------------------------------------------------------------


def test_exec_runs_in_the_container_with_its_exit_status(docker, container):
    cid = container("--hostname", "es-exec", "busybox", "sleep", "300")
    result = docker("exec", cid, "sh", "-c", "hostname; exit 5")
    assert result.returncode == 5
    assert result.stdout == "es-exec\n"


def test_exec_shares_the_containers_pid_namespace(docker, container):
    cid = container("busybox", "sleep", "301")
    result = docker("exec", cid, "ps", "-o", "pid,args")
    assert result.returncode == 0, result.stderr
    assert any(line.split(None, 1) == ["1", "sleep 301"] for line in result.stdout.splitlines())


def test_exec_i_user_workdir_and_env(docker, container):
    cid = container("busybox", "sleep", "300")
    result = docker("exec", "-i", "-u", "1000:1000", "-w", "/tmp", "-e", "A=b", cid,
                    "sh", "-c", "cat; id -u; pwd; echo $A", input="from-stdin\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["from-stdin", "1000", "/tmp", "b"]


def test_exec_t_gives_a_tty(dockerd, container):
    cid = container("busybox", "sleep", "300")
    code, output = dockerd.docker_tty("exec", "-t", cid, "sh", "-c", "tty; exit 6")
    assert code == 6, output
    assert output.replace("\r", "").splitlines()[0].startswith("/dev/pts/")


def test_exec_of_a_missing_command_fails(docker, container):
    cid = container("busybox", "sleep", "300")
    result = docker("exec", cid, "es-no-such-command")
    assert result.returncode == 126
    # docker exec prints the daemon's error on stdout (it does so with runc too)
    assert 'exec: "es-no-such-command": executable file not found' in \
        result.stdout + result.stderr


# --- stop and kill -------------------------------------------------------------------


def test_stop_sends_sigterm_and_the_container_exits(docker, container):
    cid = container("busybox", "sh", "-c", SIGNALLED)
    wait_for(lambda: ticks(docker, cid), what="the first tick")
    started = time.monotonic()
    result = docker("stop", "-t", "20", cid)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10  # the trap, not the timeout, ended it
    assert docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                  cid).stdout.split() == ["exited", "0"]
    assert "got-term" in logs(docker, cid)


def test_stop_kills_a_container_that_ignores_sigterm(docker, container):
    cid = container("busybox", "sh", "-c", 'trap "" TERM; echo up; '
                    "while true; do sleep 0.1; done")
    wait_for(lambda: "up" in logs(docker, cid), what="the container")
    started = time.monotonic()
    result = docker("stop", "-t", "1", cid)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert took >= 1
    assert docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                  cid).stdout.split() == ["exited", "137"]


def test_kill_s_usr1_reaches_the_trap(docker, container):
    cid = container("busybox", "sh", "-c", SIGNALLED)
    wait_for(lambda: ticks(docker, cid), what="the first tick")
    result = docker("kill", "-s", "USR1", cid)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: "got-usr1" in logs(docker, cid), what="got-usr1 in the logs")
    assert docker("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() == "true"


def test_kill_ends_the_container_with_137(docker, container):
    cid = container("busybox", "sleep", "300")
    result = docker("kill", cid)
    assert result.returncode == 0, result.stderr
    assert docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                  cid).stdout.split() == ["exited", "137"]


def test_a_stopped_container_starts_again(docker, container):
    cid = container("busybox", "sh", "-c", "echo run")
    wait_for(lambda: docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip()
             == "exited", what="the first run to end")
    result = docker("start", "-a", cid)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "run\n"


# --- pause, top, update --------------------------------------------------------------


def test_pause_freezes_and_unpause_thaws(docker, container):
    cid = container("busybox", "sh", "-c", COUNTING)
    wait_for(lambda: ticks(docker, cid), what="the first tick")
    pid = docker("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip()
    counter = Path(f"/proc/{pid}/root/tmp/n")
    assert docker("pause", cid).returncode == 0
    assert docker("inspect", "-f", "{{.State.Status}} {{.State.Paused}}",
                  cid).stdout.split() == ["paused", "true"]
    # The logs lag behind the container (shim, then dockerd): their count is no measure
    # of what it did before the freeze; the counter is, and it ticks first.
    frozen = counter.read_text().split()
    time.sleep(1.0)  # five ticks' worth: none may come, and there is nothing to poll for
    assert counter.read_text().split() == frozen
    assert ticks(docker, cid) <= len(frozen)  # no tick that was not counted before
    assert docker("unpause", cid).returncode == 0
    assert docker("inspect", "-f", "{{.State.Status}} {{.State.Paused}}",
                  cid).stdout.split() == ["running", "false"]
    wait_for(lambda: ticks(docker, cid) > len(frozen), what="a tick after unpause")


def test_top_lists_the_containers_processes(docker, container):
    cid = container("busybox", "sh", "-c", "sleep 4321 & sleep 4322 & wait")
    wait_for(lambda: "sleep 4322" in docker("top", cid).stdout, what="both sleeps")
    result = docker("top", cid)
    assert result.returncode == 0, result.stderr
    assert "sleep 4321" in result.stdout
    pid = docker("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip()
    header, *rows = result.stdout.splitlines()
    column = header.split().index("PID")
    assert pid in [row.split()[column] for row in rows]


def test_update_memory_is_read_back_inside(docker, container):
    cid = container("--memory", "64m", "busybox", "sleep", "300")
    limit = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    assert docker("exec", cid, "cat", limit).stdout.strip() == str(64 << 20)
    result = docker("update", "--memory", "96m", cid)
    assert result.returncode == 0, result.stderr
    assert docker("exec", cid, "cat", limit).stdout.strip() == str(96 << 20)
    assert docker("inspect", "-f", "{{.HostConfig.Memory}}", cid).stdout.strip() \
        == str(96 << 20)


def test_update_of_one_limit_leaves_the_others(docker, container):
    # containerd sends the memory limit as 0 ("not given") with the new pids limit
    cid = container("--memory", "64m", "--pids-limit", "100", "busybox", "sleep", "300")
    result = docker("update", "--pids-limit", "7", cid)
    assert result.returncode == 0, result.stderr
    shown = docker("exec", cid, "cat", "/sys/fs/cgroup/pids/pids.max",
                   "/sys/fs/cgroup/memory/memory.limit_in_bytes").stdout.split()
    assert shown == ["7", str(64 << 20)]
