"""Resource limits of ``docker run --runtime estiba``, enforced by the cgroups the runtime
made (``/docker/<id>`` on cgroup v1), and the default bridge network, which works only
when the runtime runs dockerd's prestart hook."""

from __future__ import annotations

import ipaddress
import os

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.root]


def swap_unbounded() -> bool:
    """Swap is on but the memory cgroup cannot limit it (no memsw accounting): a
    container could then swap instead of being OOM-killed."""
    with open("/proc/swaps") as f:
        swap_on = len(f.read().splitlines()) > 1
    memsw = os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") or \
        os.path.exists("/sys/fs/cgroup/memory.swap.max")
    return swap_on and not memsw


def test_memory_limit_oom_kills(docker, dockerd):
    if swap_unbounded():
        pytest.skip("swap is on without swap accounting: the limit would not OOM-kill")
    # 200 MiB held by tail (it keeps the last lines: all of it), beyond the 32 MiB limit
    # and beyond the memory+swap limit (twice the limit) Docker sets when swap is on;
    # the shell exits with the status of the killed tail
    name = f"es-oom-{dockerd.token}"
    result = docker("run", "--runtime", "estiba", "--name", name, "--memory", "32m",
                    "busybox", "sh", "-c", "head -c 200m /dev/zero | tail")
    try:
        assert result.returncode == 137, result.stdout + result.stderr
        state = docker("inspect", "-f", "{{.State.ExitCode}} {{.State.OOMKilled}}", name)
        assert state.stdout.split() == ["137", "true"]
    finally:
        docker("rm", "-f", name)


def test_memory_limit_is_the_cgroups(run):
    result = run("--memory", "32m", "busybox", "cat",
                 "/sys/fs/cgroup/memory/memory.limit_in_bytes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(32 << 20)


def test_pids_limit_stops_forks(run):
    result = run("--pids-limit", "10", "busybox", "sh", "-c",
                 "cat /sys/fs/cgroup/pids/pids.max; "
                 "for i in $(seq 20); do sleep 1 & done; wait")
    assert result.stdout.splitlines()[0] == "10"
    assert "can't fork" in result.stderr


def test_default_bridge_gives_an_address_and_reaches_the_gateway(run, dockerd):
    result = run("busybox", "sh", "-c",
                 f"ip -o -4 addr show eth0; ping -c 1 -W 5 {dockerd.gateway}")
    assert result.returncode == 0, result.stdout + result.stderr
    address = result.stdout.split(" inet ")[1].split()[0]
    assert ipaddress.ip_interface(address).network == dockerd.subnet
    assert "1 packets received" in result.stdout


def test_network_none_has_only_loopback(run):
    result = run("--network", "none", "busybox", "ls", "/sys/class/net")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["lo"]
