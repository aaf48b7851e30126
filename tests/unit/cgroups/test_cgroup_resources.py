"""resources.py: OCI resources → cgroupfs writes, v1 and v2 (pure, no root)."""

from __future__ import annotations

import pytest

from estiba.cgroups.resources import (
    Write,
    cpu_weight,
    io_weight,
    memsw_first,
    order_v1,
    plan_v1,
    plan_v2,
    swap_v2,
    unified_controller,
)
from estiba.errors import InvalidArgument, Unavailable
from estiba.oci.runtime_config import (
    BlockIO,
    Cpu,
    DeviceRule,
    HugepageLimit,
    Memory,
    Pids,
    Resources,
    ThrottleDevice,
    WeightDevice,
    parse_resources,
)


def files(writes: list[Write]) -> list[tuple[str, str]]:
    return [(w.file, w.value) for w in writes]


# --- v1 ------------------------------------------------------------------------------


def test_v1_empty_resources_write_nothing():
    assert plan_v1(Resources()) == []


def test_v1_devices_deny_all_first_then_each_rule_in_order():
    plan = plan_v1(Resources(devices=(
        DeviceRule(allow=False, access="rwm"),
        DeviceRule(allow=True, type="c", major=1, minor=5, access="rwm"),
        DeviceRule(allow=True, type="c", major=136, minor=None, access="rw"),
        DeviceRule(allow=False, type="b", major=None, minor=None, access="m"),
        DeviceRule(allow=True, type="a"),
    )))
    assert all(w.controller == "devices" for w in plan)
    assert files(plan) == [
        ("devices.deny", "a"),
        ("devices.deny", "a"),
        ("devices.allow", "c 1:5 rwm"),
        ("devices.allow", "c 136:* rw"),
        ("devices.deny", "b *:* m"),
        ("devices.allow", "a"),
    ]


def test_v1_device_minus_one_is_a_wildcard():
    plan = plan_v1(Resources(devices=(DeviceRule(allow=True, type="c", major=-1, minor=-1),)))
    assert plan[-1].value == "c *:* rwm"


@pytest.mark.parametrize("rule", [
    DeviceRule(allow=True, type="x", major=1, minor=1),
    DeviceRule(allow=True, type="c", major=1, minor=1, access="rwx"),
    DeviceRule(allow=True, type="c", major=1, minor=1, access=""),
])
def test_v1_bad_device_rule_is_invalid(rule):
    with pytest.raises(InvalidArgument):
        plan_v1(Resources(devices=(rule,)))


def test_v1_memory_files():
    plan = plan_v1(Resources(memory=Memory(
        limit=64 << 20, reservation=32 << 20, swap=128 << 20, kernel=1 << 20,
        kernel_tcp=1 << 20, swappiness=10, disable_oom_killer=True,
    )))
    assert all(w.controller == "memory" for w in plan)
    assert files(plan) == [
        ("memory.limit_in_bytes", str(64 << 20)),
        ("memory.memsw.limit_in_bytes", str(128 << 20)),
        ("memory.soft_limit_in_bytes", str(32 << 20)),
        ("memory.swappiness", "10"),
        ("memory.oom_control", "1"),
    ]
    by_file = {w.file: w for w in plan}
    assert by_file["memory.memsw.limit_in_bytes"].optional
    assert not by_file["memory.limit_in_bytes"].optional


def test_v1_unlimited_memory_also_unlimits_memsw():
    plan = plan_v1(Resources(memory=Memory(limit=-1)))
    assert files(plan) == [("memory.limit_in_bytes", "-1"), ("memory.memsw.limit_in_bytes", "-1")]


def test_zero_memory_values_are_not_given():
    # what containerd sends for `docker update --pids-limit 5`: a limit of 0 written to
    # memory.limit_in_bytes would fail (EBUSY) or starve the container
    memory = parse_resources({"memory": {"limit": 0, "reservation": 0, "kernel": 0},
                              "pids": {"limit": 5}})
    assert files(plan_v1(memory)) == [("pids.max", "5")]
    assert files(plan_v2(memory)) == [("pids.max", "5")]
    plan = plan_v1(Resources(memory=Memory(limit=100, swap=0, reservation=0)))
    assert files(plan) == [("memory.limit_in_bytes", "100")]


def test_v1_oom_killer_reenabled_on_update():
    assert files(plan_v1(Resources(memory=Memory(disable_oom_killer=False)))) == [
        ("memory.oom_control", "0")]


def test_v1_swappiness_out_of_range():
    with pytest.raises(InvalidArgument, match="swappiness"):
        plan_v1(Resources(memory=Memory(swappiness=101)))


def test_v1_cpu_files_period_before_quota():
    plan = plan_v1(Resources(cpu=Cpu(
        shares=512, quota=50000, period=100000, realtime_runtime=1000,
        realtime_period=10000, cpus="0-1", mems="0", idle=0,
    )))
    assert files(plan) == [
        ("cpu.shares", "512"),
        ("cpu.cfs_period_us", "100000"),
        ("cpu.cfs_quota_us", "50000"),
        ("cpu.rt_period_us", "10000"),
        ("cpu.rt_runtime_us", "1000"),
        ("cpu.idle", "0"),
        ("cpuset.cpus", "0-1"),
        ("cpuset.mems", "0"),
    ]
    assert [w.controller for w in plan] == ["cpu"] * 6 + ["cpuset"] * 2


def test_v1_cpu_zero_means_unset_and_negative_quota_unlimited():
    assert plan_v1(Resources(cpu=Cpu(shares=0, quota=0, period=0))) == []
    assert files(plan_v1(Resources(cpu=Cpu(quota=-5)))) == [("cpu.cfs_quota_us", "-1")]


@pytest.mark.parametrize(("limit", "value"), [(100, "100"), (1, "1"), (0, "max"), (-1, "max")])
def test_v1_pids(limit, value):
    assert plan_v1(Resources(pids=Pids(limit=limit))) == [
        Write(controller="pids", file="pids.max", value=value)]


def test_v1_blkio_files():
    plan = plan_v1(Resources(block_io=BlockIO(
        weight=500, leaf_weight=300,
        weight_device=(WeightDevice(major=8, minor=0, weight=400, leaf_weight=200),),
        throttle_read_bps_device=(ThrottleDevice(major=8, minor=0, rate=1048576),),
        throttle_write_bps_device=(ThrottleDevice(major=8, minor=0, rate=0),),
        throttle_read_iops_device=(ThrottleDevice(major=8, minor=16, rate=100),),
        throttle_write_iops_device=(ThrottleDevice(major=8, minor=16, rate=200),),
    )))
    assert all(w.controller == "blkio" for w in plan)
    assert files(plan) == [
        ("blkio.bfq.weight", "500"),
        ("blkio.leaf_weight", "300"),
        ("blkio.bfq.weight_device", "8:0 400"),
        ("blkio.leaf_weight_device", "8:0 200"),
        ("blkio.throttle.read_bps_device", "8:0 1048576"),
        ("blkio.throttle.write_bps_device", "8:0 0"),
        ("blkio.throttle.read_iops_device", "8:16 100"),
        ("blkio.throttle.write_iops_device", "8:16 200"),
    ]
    assert plan[0].fallback == "blkio.weight"
    assert plan[2].fallback == "blkio.weight_device"


def test_v1_blkio_weight_range():
    assert plan_v1(Resources(block_io=BlockIO(weight=0))) == []
    with pytest.raises(InvalidArgument, match="blkio weight 5"):
        plan_v1(Resources(block_io=BlockIO(weight=5)))


def test_v1_hugetlb():
    plan = plan_v1(Resources(hugepage_limits=(HugepageLimit(page_size="2MB", limit=4 << 21),)))
    assert files(plan) == [
        ("hugetlb.2MB.limit_in_bytes", str(4 << 21)),
        ("hugetlb.2MB.rsvd.limit_in_bytes", str(4 << 21)),
    ]
    assert [w.optional for w in plan] == [False, True]


@pytest.mark.parametrize("size", ["", "../x", "2MB/y", ".hidden"])
def test_hugetlb_bad_page_size(size):
    res = Resources(hugepage_limits=(HugepageLimit(page_size=size, limit=1),))
    with pytest.raises(InvalidArgument):
        plan_v1(res)
    with pytest.raises(InvalidArgument):
        plan_v2(res)


def test_v1_refuses_unified():
    with pytest.raises(InvalidArgument, match="cgroup v2"):
        plan_v1(Resources(unified=(("memory.high", "1G"),)))


def test_v1_plan_from_a_parsed_config():
    res = parse_resources({
        "devices": [{"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
        "memory": {"limit": 1 << 30},
        "pids": {"limit": 32},
    })
    assert files(plan_v1(res)) == [
        ("devices.deny", "a"), ("devices.deny", "a"), ("devices.allow", "c 1:3 rwm"),
        ("memory.limit_in_bytes", str(1 << 30)), ("pids.max", "32"),
    ]


# --- v1 memory ordering --------------------------------------------------------------

K = 9223372036854771712  # what v1 reads back for "unlimited"


@pytest.mark.parametrize(("current_memsw", "limit", "expected"), [
    (K, 64 << 20, False),           # first setting: memsw unlimited, limit fits under it
    (128 << 20, 64 << 20, False),   # lowering under the current memsw: limit first
    (128 << 20, 128 << 20, False),  # equal is allowed
    (128 << 20, 256 << 20, True),   # raising above the current memsw: memsw first
    (128 << 20, -1, True),          # unlimiting: memsw (-1) first
    (K, -1, False),                 # both unlimited already
    (-1, 1 << 40, False),
])
def test_memsw_first(current_memsw, limit, expected):
    assert memsw_first(current_memsw, limit) is expected


def _kernel_accepts(order, current, new):
    """Simulate the v1 rule limit <= memsw at every step of ``order``."""
    state = dict(current)
    for name in order:
        state[name] = new[name]
        if state["limit"] > state["memsw"]:
            return False
    return True


@pytest.mark.parametrize("current", [(64, 64), (64, 128), (256, 512), (10, 1 << 40)])
@pytest.mark.parametrize("new", [(32, 48), (64, 64), (100, 200), (600, 700), (1 << 40, 1 << 40)])
def test_memsw_order_keeps_limit_under_memsw_at_every_step(current, new):
    cur = {"limit": current[0], "memsw": current[1]}
    nxt = {"limit": new[0], "memsw": new[1]}
    order = ["memsw", "limit"] if memsw_first(cur["memsw"], nxt["limit"]) else ["limit", "memsw"]
    assert _kernel_accepts(order, cur, nxt), (current, new, order)


def test_order_v1_swaps_only_when_needed():
    plan = plan_v1(Resources(memory=Memory(limit=256, swap=512), pids=Pids(limit=3)))
    assert [w.file for w in order_v1(plan, 1024)] == [
        "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "pids.max"]
    assert [w.file for w in order_v1(plan, 128)] == [
        "memory.memsw.limit_in_bytes", "memory.limit_in_bytes", "pids.max"]
    only_limit = plan_v1(Resources(memory=Memory(limit=256)))
    assert order_v1(only_limit, 128) == only_limit


# --- v2 ------------------------------------------------------------------------------


def test_v2_empty_resources_write_nothing():
    assert plan_v2(Resources()) == []


def test_v2_devices_are_not_files_but_are_checked():
    assert plan_v2(Resources(devices=(DeviceRule(allow=True, type="c", major=1, minor=3),))) == []
    with pytest.raises(InvalidArgument):
        plan_v2(Resources(devices=(DeviceRule(allow=True, type="q"),)))


def test_v2_memory_files():
    plan = plan_v2(Resources(memory=Memory(limit=64 << 20, reservation=32 << 20,
                                           swap=96 << 20, kernel=1, kernel_tcp=1)))
    assert all(w.controller == "memory" for w in plan)
    assert files(plan) == [
        ("memory.swap.max", str(32 << 20)),
        ("memory.max", str(64 << 20)),
        ("memory.low", str(32 << 20)),
    ]
    assert not plan[0].optional


@pytest.mark.parametrize(("limit", "swap", "expected"), [
    (None, None, None),
    (100, None, None),
    (-1, None, "max"),
    (100, -1, "max"),
    (100, 100, "0"),
    (100, 250, "150"),
    (-1, -1, "max"),
])
def test_swap_v2(limit, swap, expected):
    assert swap_v2(limit, swap) == expected


@pytest.mark.parametrize(("limit", "swap"), [(None, 100), (-1, 100), (200, 100)])
def test_swap_v2_invalid(limit, swap):
    with pytest.raises(InvalidArgument):
        swap_v2(limit, swap)


def test_v2_swap_max_or_zero_is_optional():
    plan = plan_v2(Resources(memory=Memory(limit=-1)))
    assert files(plan) == [("memory.swap.max", "max"), ("memory.max", "max")]
    assert plan[0].optional
    plan = plan_v2(Resources(memory=Memory(limit=100, swap=100)))
    assert plan[0] == Write(controller="memory", file="memory.swap.max", value="0", optional=True)


@pytest.mark.parametrize("memory", [Memory(swappiness=10), Memory(disable_oom_killer=True)])
def test_v2_memory_settings_v2_lacks(memory):
    with pytest.raises(Unavailable):
        plan_v2(Resources(memory=memory))


def test_v2_oom_killer_left_enabled_is_fine():
    assert plan_v2(Resources(memory=Memory(disable_oom_killer=False))) == []


@pytest.mark.parametrize(("shares", "weight"), [
    (2, 1), (1024, 39), (262144, 10000), (512, 20), (1, 1), (1 << 20, 10000),
])
def test_cpu_weight(shares, weight):
    assert cpu_weight(shares) == weight


@pytest.mark.parametrize(("blkio", "weight"), [(10, 1), (1000, 10000), (500, 4950), (100, 910)])
def test_io_weight(blkio, weight):
    assert io_weight(blkio) == weight


def test_v2_cpu_files():
    plan = plan_v2(Resources(cpu=Cpu(shares=1024, quota=50000, period=100000,
                                     cpus="0", mems="0", idle=1)))
    assert files(plan) == [
        ("cpu.weight", "39"),
        ("cpu.max", "50000 100000"),
        ("cpu.idle", "1"),
        ("cpuset.cpus", "0"),
        ("cpuset.mems", "0"),
    ]
    assert [w.controller for w in plan] == ["cpu", "cpu", "cpu", "cpuset", "cpuset"]


@pytest.mark.parametrize(("quota", "period", "value"), [
    (50000, None, "50000"),      # the kernel keeps the period in force
    (-1, None, "max"),
    (-1, 20000, "max 20000"),
    (None, 20000, "max 20000"),
    (25000, 50000, "25000 50000"),
])
def test_v2_cpu_max(quota, period, value):
    assert files(plan_v2(Resources(cpu=Cpu(quota=quota, period=period)))) == [("cpu.max", value)]


def test_v2_realtime_unavailable():
    with pytest.raises(Unavailable, match="realtime"):
        plan_v2(Resources(cpu=Cpu(realtime_runtime=1000)))


def test_v2_pids():
    assert files(plan_v2(Resources(pids=Pids(limit=0)))) == [("pids.max", "max")]
    assert plan_v2(Resources(pids=Pids(limit=5))) == [
        Write(controller="pids", file="pids.max", value="5")]


def test_v2_io_files():
    plan = plan_v2(Resources(block_io=BlockIO(
        weight=500,
        weight_device=(WeightDevice(major=8, minor=0, weight=1000),),
        throttle_read_bps_device=(ThrottleDevice(major=8, minor=0, rate=1048576),),
        throttle_write_bps_device=(ThrottleDevice(major=8, minor=0, rate=0),),
        throttle_read_iops_device=(ThrottleDevice(major=8, minor=16, rate=100),),
        throttle_write_iops_device=(ThrottleDevice(major=8, minor=16, rate=200),),
    )))
    assert all(w.controller == "io" for w in plan)
    assert files(plan) == [
        ("io.weight", "default 4950"),
        ("io.weight", "8:0 10000"),
        ("io.max", "8:0 rbps=1048576"),
        ("io.max", "8:0 wbps=max"),
        ("io.max", "8:16 riops=100"),
        ("io.max", "8:16 wiops=200"),
    ]


def test_v2_leaf_weight_unavailable():
    with pytest.raises(Unavailable):
        plan_v2(Resources(block_io=BlockIO(leaf_weight=100)))


def test_v2_hugetlb():
    plan = plan_v2(Resources(hugepage_limits=(HugepageLimit(page_size="1GB", limit=1 << 30),)))
    assert files(plan) == [
        ("hugetlb.1GB.max", str(1 << 30)), ("hugetlb.1GB.rsvd.max", str(1 << 30))]
    assert [w.controller for w in plan] == ["hugetlb", "hugetlb"]


def test_v2_unified_written_last_as_given():
    plan = plan_v2(Resources(
        memory=Memory(limit=100),
        unified=(("memory.max", "200"), ("memory.high", "150"), ("cgroup.max.depth", "3"),
                 ("io.bfq.weight", "50")),
    ))
    assert files(plan) == [
        ("memory.max", "100"),
        ("memory.max", "200"),
        ("memory.high", "150"),
        ("cgroup.max.depth", "3"),
        ("io.bfq.weight", "50"),
    ]
    assert [w.controller for w in plan] == ["memory", "memory", "memory", "", "io"]


@pytest.mark.parametrize("key", ["", "../memory.max", "a/b", "..", ".", "memory..max", "x\0y"])
def test_unified_bad_keys(key):
    with pytest.raises(InvalidArgument):
        unified_controller(key)
    with pytest.raises(InvalidArgument):
        plan_v2(Resources(unified=((key, "1"),)))


def test_unified_controller():
    assert unified_controller("memory.high") == "memory"
    assert unified_controller("cgroup.freeze") == ""
    assert unified_controller("misc.max") == "misc"
