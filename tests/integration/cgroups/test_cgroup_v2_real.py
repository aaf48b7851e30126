"""cgroup v2 for real, in the host's cgroup2 mount (root): device programs and freezing.

On a hybrid host that mount has no resource controller, but the device programs
(BPF_PROG_TYPE_CGROUP_DEVICE) and the freezer work there as on a pure v2 host.
"""

from __future__ import annotations

import os

import pytest
from cgroup_support import (
    mounts,
    new_parent,
    real_v2_reason,
    remove_cgroup_tree,
    ticks_advance,
    ticks_stay_put,
)

from estiba.cgroups import devicefilter, open_cgroup
from estiba.oci.runtime_config import DeviceRule, Resources

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(bool(real_v2_reason()), reason=real_v2_reason() or "-"),
]

DENY_ALL = DeviceRule(allow=False, access="rwm")
NULL = DeviceRule(allow=True, type="c", major=1, minor=3, access="rwm")
ZERO = DeviceRule(allow=True, type="c", major=1, minor=5, access="rwm")


@pytest.fixture
def cgroup():
    parent = new_parent()
    _, root = mounts()
    with open(f"{root}/cgroup.subtree_control") as f:
        before = f.read().split()
    yield lambda sub="c1": open_cgroup(f"/{parent}/{sub}", root=root)
    remove_cgroup_tree(f"{root}/{parent}")
    with open(f"{root}/cgroup.subtree_control") as f:
        added = [c for c in f.read().split() if c not in before]
    for c in added:
        try:
            with open(f"{root}/cgroup.subtree_control", "w") as f:
                f.write(f"-{c}")
        except OSError:
            pass


def attached_programs(path: str) -> list[int]:
    from estiba.kernel.bpf import Bpf

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return Bpf().cgroup_device_programs(fd)
    finally:
        os.close(fd)


def test_device_program_denies_what_the_rules_do_not_allow(cgroup, spawn):
    cg = cgroup()
    cg.create()
    cg.apply(Resources(devices=(DENY_ALL, NULL)))
    probe = spawn()
    cg.join(probe.pid)
    assert probe.ask("open /dev/null") == "ok"
    assert probe.ask("open /dev/zero") == "EPERM"
    assert len(attached_programs(cg.paths()[""])) == 1


def test_update_replaces_the_device_program(cgroup, spawn):
    cg = cgroup()
    cg.create()
    cg.apply(Resources(devices=(DENY_ALL, NULL)))
    probe = spawn()
    cg.join(probe.pid)
    assert probe.ask("open /dev/zero") == "EPERM"
    first = attached_programs(cg.paths()[""])
    cg.apply(Resources(devices=(DENY_ALL, NULL, ZERO)))
    assert probe.ask("open /dev/zero") == "ok"
    second = attached_programs(cg.paths()[""])
    assert len(second) == 1 and second != first  # the old one is detached, not stacked
    cg.apply(Resources(devices=(DeviceRule(allow=True, type="a"),
                                DeviceRule(allow=False, type="c", major=1, minor=3))))
    assert probe.ask("open /dev/null") == "EPERM"
    assert probe.ask("open /dev/zero") == "ok"


@pytest.mark.parametrize("rules", [
    (),
    (DeviceRule(allow=True, type="a"),),
    (DENY_ALL, DeviceRule(allow=True, type="c", major=None, minor=None, access="m"),
     DeviceRule(allow=True, type="b", major=None, minor=None, access="m"),
     NULL, ZERO, DeviceRule(allow=True, type="c", major=136, minor=None, access="rwm"),
     DeviceRule(allow=True, type="c", major=5, minor=2, access="rw"),
     DeviceRule(allow=False, type="c", major=10, minor=229, access="rwm")),
    (DeviceRule(allow=True, type="a"), DeviceRule(allow=False, type="b", major=8, minor=None,
                                                  access="w")),
])
def test_the_verifier_accepts_every_shape_of_program(rules):
    from estiba.kernel.bpf import Bpf

    program = devicefilter.assemble(devicefilter.compile_rules(rules))
    fd = Bpf().load_cgroup_device_program(program)
    os.close(fd)


def test_freeze_stops_the_process(cgroup, spawn):
    cg = cgroup()
    cg.create()
    probe = spawn()
    cg.join(probe.pid)
    probe.send("spin")
    assert ticks_advance(probe)
    cg.freeze()
    try:
        assert cg.frozen()
        assert ticks_stay_put(probe)
    finally:
        cg.thaw()
    assert ticks_advance(probe)
