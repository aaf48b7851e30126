"""cgroup v1 for real: the limits a manager sets hold a real process (root)."""

from __future__ import annotations

import pytest
from cgroup_support import (
    mounts,
    new_parent,
    real_v1_reason,
    remove_cgroup_tree,
    ticks_advance,
    ticks_stay_put,
)

from estiba.cgroups import open_cgroup
from estiba.oci.runtime_config import Cpu, DeviceRule, Memory, Pids, Resources

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(bool(real_v1_reason()), reason=real_v1_reason() or "-"),
]

MiB = 1 << 20


@pytest.fixture
def cgroup():
    parent = new_parent()
    v1, _ = mounts()
    yield lambda sub="c1": open_cgroup(f"/{parent}/{sub}")
    for mount in sorted(set(v1.values())):
        remove_cgroup_tree(f"{mount}/{parent}")


def read(cg, controller: str, name: str) -> str:
    with open(f"{cg.paths()[controller]}/{name}") as f:
        return f.read().strip()


def test_limits_read_back_and_freeze_stops_the_process(cgroup, spawn):
    cg = cgroup()
    cg.create()
    cg.apply(Resources(memory=Memory(limit=64 * MiB, swap=64 * MiB), pids=Pids(limit=10),
                       cpu=Cpu(shares=256)))
    probe = spawn()
    cg.join(probe.pid)
    assert read(cg, "memory", "memory.limit_in_bytes") == str(64 * MiB)
    assert read(cg, "pids", "pids.max") == "10"
    assert read(cg, "cpu", "cpu.shares") == "256"
    stats = cg.stats()
    assert stats["memory"]["limit"] == 64 * MiB
    assert stats["pids"] == {"current": 1, "limit": 10}

    probe.send("spin")
    assert ticks_advance(probe)

    cg.freeze()
    try:
        assert cg.frozen()
        state, _ = probe.stat()
        assert state != "R"
        assert ticks_stay_put(probe)
    finally:
        cg.thaw()
    assert ticks_advance(probe)
    probe.kill()
    cg.destroy()
    assert not cg.exists()


def test_memory_limit_holds(cgroup, spawn):
    cg = cgroup()
    cg.create()
    cg.apply(Resources(memory=Memory(limit=32 * MiB, swap=32 * MiB)))
    probe = spawn()
    cg.join(probe.pid)
    assert probe.ask("alloc 8") == "ok"
    assert probe.ask("alloc 128") == ""  # no answer: the OOM killer took it
    assert probe.proc.wait(timeout=10) == -9
    oom = dict(line.split() for line in read(cg, "memory", "memory.oom_control").splitlines())
    assert int(oom.get("oom_kill", "1")) >= 1  # the counter is there since linux 4.13


def test_pids_limit_holds_and_updates(cgroup, spawn):
    cg = cgroup()
    cg.create()
    cg.apply(Resources(pids=Pids(limit=1)))
    probe = spawn()
    cg.join(probe.pid)
    assert probe.ask("fork") == "EAGAIN"
    cg.apply(Resources(pids=Pids(limit=4)))
    assert probe.ask("fork") == "ok"


def test_device_rules_hold_and_update(cgroup, spawn):
    cg = cgroup()
    cg.create()
    null_only = (
        DeviceRule(allow=False, access="rwm"),
        DeviceRule(allow=True, type="c", major=1, minor=3, access="rwm"),
    )
    cg.apply(Resources(devices=null_only))
    probe = spawn()
    cg.join(probe.pid)
    assert probe.ask("open /dev/null") == "ok"
    assert probe.ask("open /dev/zero") == "EPERM"
    cg.apply(Resources(devices=(*null_only, DeviceRule(allow=True, type="c", major=1, minor=5))))
    assert probe.ask("open /dev/zero") == "ok"
    assert read(cg, "devices", "devices.list") == "c 1:3 rwm\nc 1:5 rwm"


def test_cpuset_is_filled_in_for_every_new_level(cgroup, spawn):
    cg = cgroup("a/b/c")
    cg.create()
    cpuset = cg.paths()["cpuset"]
    parts = cpuset.split("/")
    with open("/".join(parts[:-4]) + "/cpuset.cpus") as f:
        root_cpus = f.read().strip()
    for depth in (3, 2, 1):
        with open("/".join(parts[:len(parts) - depth + 1]) + "/cpuset.cpus") as f:
            assert f.read().strip() == root_cpus
    probe = spawn()
    cg.join(probe.pid)  # an empty cpuset would refuse it (ENOSPC)
    assert cg.pids() == [probe.pid]
