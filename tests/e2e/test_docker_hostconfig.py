"""``docker run``'s host options through estibad (engine/hostconfig.py into the spec,
estiba-runtime applying it), seen from inside the container by the real docker CLI:
limits in the container's cgroups (v1 here), an OOM kill, binds, tmpfs, a read-only
root, capabilities, privileges, ulimits, /dev/shm's size and ``--init``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.docker_cli import docker, engine_daemon

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "daemon"))
from harness import Daemon, poll  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.root]

CAP_NET_RAW = 13
CAP_SYS_ADMIN = 21


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    yield from engine_daemon("edh-")  # type: ignore[misc]



def run(d: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    """``docker run --rm ARGS...`` (the image and command among them)."""
    return docker(d, "run", "--rm", *args)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def cap_eff(status: str) -> int:
    line = next(x for x in status.splitlines() if x.startswith("CapEff:"))
    return int(line.split()[1], 16)


@pytest.fixture
def host_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="edh-bind-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def swap_unbounded() -> bool:
    """Swap is on but the memory cgroup cannot limit it: the hog would swap instead of
    being killed."""
    with open("/proc/swaps") as f:
        swap_on = len(f.read().splitlines()) > 1
    memsw = os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") or \
        os.path.exists("/sys/fs/cgroup/memory.swap.max")
    return swap_on and not memsw


def memory_limit_file() -> str:
    if os.path.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        return "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    return "/sys/fs/cgroup/memory.max"


def test_memory_limit_shows_in_the_cgroup_and_a_hog_is_oom_killed(daemon: Daemon) -> None:
    out = ok(run(daemon, "-m", "32m", "busybox", "cat", memory_limit_file()))
    assert out.strip() == str(32 << 20)
    if swap_unbounded():
        pytest.skip("swap is on without swap accounting: the limit would not OOM-kill")
    # tail keeps all of a file without newlines in memory: far past 32 MiB (and past
    # the 64 MiB of memory+swap Docker gives by default)
    hog = run(daemon, "-m", "32m", "busybox", "sh", "-c", "head -c 300m /dev/zero | tail")
    assert hog.returncode == 137, hog.stdout + hog.stderr


def test_too_little_memory_is_refused_as_docker_does(daemon: Daemon) -> None:
    result = run(daemon, "-m", "4m", "busybox", "true")
    assert result.returncode == 125
    assert "Minimum memory limit allowed is 6MB" in result.stderr


def test_pids_limit_stops_forks(daemon: Daemon) -> None:
    result = run(daemon, "--pids-limit", "10", "busybox", "sh", "-c",
                 "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max;"
                 " for i in $(seq 20); do sleep 5 & done; wait")
    assert result.stdout.splitlines()[0] == "10", result.stdout + result.stderr
    assert "can't fork" in result.stderr


def test_cpus_sets_quota_and_period(daemon: Daemon) -> None:
    out = ok(run(daemon, "--cpus", "0.5", "busybox", "sh", "-c",
                 "cd /sys/fs/cgroup/cpu,cpuacct 2>/dev/null || cd /sys/fs/cgroup/cpu; "
                 "cat cpu.cfs_quota_us cpu.cfs_period_us"))
    assert out.split() == ["50000", "100000"]


def test_bind_rw_and_ro(daemon: Daemon, host_dir: str) -> None:
    ok(run(daemon, "-v", f"{host_dir}:/data", "busybox", "sh", "-c",
           "echo from-container > /data/f"))
    assert Path(host_dir, "f").read_text() == "from-container\n"
    ro = run(daemon, "-v", f"{host_dir}:/data:ro", "busybox", "sh", "-c",
             "cat /data/f; echo x > /data/g")
    assert ro.returncode != 0
    assert ro.stdout == "from-container\n"
    assert "Read-only file system" in ro.stderr
    assert not Path(host_dir, "g").exists()


def test_missing_bind_source_is_created_but_mount_bind_refuses(daemon: Daemon,
                                                               host_dir: str) -> None:
    missing = f"{host_dir}/made/by/run"
    ok(run(daemon, "-v", f"{missing}:/m", "busybox", "touch", "/m/x"))
    assert Path(missing, "x").exists()
    refused = run(daemon, "--mount", f"type=bind,src={host_dir}/nope,dst=/x", "busybox",
                  "true")
    assert refused.returncode == 125
    assert ('invalid mount config for type "bind": bind source path does not exist: '
            f"{host_dir}/nope") in refused.stderr


def test_tmpfs_read_only_root_and_shm_size(daemon: Daemon) -> None:
    out = ok(run(daemon, "--read-only", "--tmpfs", "/run:size=1m", "--shm-size", "1m",
                 "busybox", "sh", "-c",
                 "df -k /run /dev/shm | tail -n 2; echo x > /run/ok && echo tmpfs-ok; "
                 "touch /root-file 2>&1; true"))
    lines = out.splitlines()
    assert lines[0].split()[1] == "1024" and lines[0].split()[-1] == "/run"
    assert lines[1].split()[1] == "1024" and lines[1].split()[-1] == "/dev/shm"
    assert "tmpfs-ok" in out
    assert "Read-only file system" in out


def test_capabilities_dropped_and_added(daemon: Daemon) -> None:
    default = cap_eff(ok(run(daemon, "busybox", "cat", "/proc/self/status")))
    assert default & (1 << CAP_NET_RAW) and not default & (1 << CAP_SYS_ADMIN)
    changed = cap_eff(ok(run(daemon, "--cap-drop", "NET_RAW", "--cap-add", "sys_admin",
                             "busybox", "cat", "/proc/self/status")))
    assert changed == (default & ~(1 << CAP_NET_RAW)) | (1 << CAP_SYS_ADMIN)
    unknown = run(daemon, "--cap-add", "FOO", "busybox", "true")
    assert unknown.returncode == 125
    assert 'unknown capability: "CAP_FOO"' in unknown.stderr


def test_privileged_sees_host_devices_and_has_every_capability(daemon: Daemon) -> None:
    host_devices = {name for name in os.listdir("/dev")
                    if name.startswith(("loop", "sd", "vd", "nvme", "kmsg", "mem"))}
    out = ok(run(daemon, "--privileged", "busybox", "sh", "-c",
                 "ls /dev; grep CapEff /proc/self/status; "
                 "ls -l /dev/kmsg; head -c 1 /dev/mem > /dev/null 2>&1; echo mem=$?"))
    seen = set(out.split())
    assert host_devices and host_devices <= seen
    assert cap_eff(out) >> CAP_SYS_ADMIN & 1
    unprivileged = ok(run(daemon, "busybox", "ls", "/dev")).split()
    assert "kmsg" not in unprivileged


def test_ulimit(daemon: Daemon) -> None:
    out = ok(run(daemon, "--ulimit", "nofile=100:200", "busybox", "sh", "-c",
                 "ulimit -n; ulimit -Hn"))
    assert out.split() == ["100", "200"]


def test_init_is_pid_1(daemon: Daemon) -> None:
    if not os.path.exists("/usr/bin/tini-static"):
        pytest.skip("Debian's tini is not installed (scripts/install.sh installs it)")
    out = ok(run(daemon, "--init", "busybox", "sh", "-c",
                 "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$"))
    first, second = out.splitlines()
    assert first.split()[:2] == ["/sbin/docker-init", "--"]
    assert second != "1"  # the shell is the init's child


def test_init_container_stops_on_sigterm(daemon: Daemon) -> None:
    """tini forwards SIGTERM to a command that, as pid 1, would ignore it."""
    if not os.path.exists("/usr/bin/tini-static"):
        pytest.skip("Debian's tini is not installed (scripts/install.sh installs it)")
    cid = ok(docker(daemon, "run", "-d", "--init", "busybox", "sleep", "300")).strip()
    try:
        poll(lambda: docker(daemon, "inspect", "-f", "{{.State.Running}}", cid
                            ).stdout.strip() == "true", 10, "the container running")
        ok(docker(daemon, "stop", "-t", "20", cid))
        code = ok(docker(daemon, "inspect", "-f", "{{.State.ExitCode}}", cid)).strip()
        assert code == "143"  # sleep killed by SIGTERM, not SIGKILL (137) after 20 s
    finally:
        docker(daemon, "rm", "-f", cid)


def test_process_and_namespace_options(daemon: Daemon) -> None:
    out = ok(run(daemon, "--group-add", "123", "--security-opt", "no-new-privileges",
                 "--oom-score-adj", "100", "--sysctl", "net.ipv4.ip_forward=1",
                 "--device", "/dev/fuse:/dev/f", "busybox", "sh", "-c",
                 "grep -E '^(Groups|NoNewPrivs)' /proc/self/status; "
                 "cat /proc/self/oom_score_adj /proc/sys/net/ipv4/ip_forward; "
                 "ls -l /dev/f"))
    lines = out.splitlines()
    assert lines[0].split()[1:] == ["123"] and lines[1].split()[1] == "1"
    assert lines[2:4] == ["100", "1"]
    assert lines[4].startswith("c") and "10, 229" in lines[4]
    host = ok(run(daemon, "--pid", "host", "--uts", "host", "--ipc", "host", "busybox",
                  "sh", "-c", "hostname; ls /proc | grep -c '^[0-9]'; echo $$"))
    name, processes, pid = host.split()
    assert name == os.uname().nodename
    assert int(processes) > 10 and pid != "1"


def test_more_limits_and_mounts(daemon: Daemon) -> None:
    out = ok(run(daemon, "--memory-reservation", "16m", "--cpu-shares", "512",
                 "--cpuset-cpus", "0", "--mount", "type=tmpfs,dst=/t,tmpfs-size=2m",
                 "busybox", "sh", "-c",
                 "cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes; "
                 "cd /sys/fs/cgroup/cpu,cpuacct 2>/dev/null || cd /sys/fs/cgroup/cpu; "
                 "cat cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus; "
                 "df -k /t | tail -n 1"))
    lines = out.splitlines()
    assert lines[:3] == [str(16 << 20), "512", "0"]
    assert lines[3].split()[1] == "2048"
