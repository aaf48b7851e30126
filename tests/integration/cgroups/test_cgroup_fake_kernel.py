"""What each manager does that the shared suite does not see, on the fake cgroupfs (no
root): v2 controller enabling and device programs, v1 cpuset filling, fallbacks, the
freeze deadline, error messages and stats."""

from __future__ import annotations

import errno
import os

import pytest
from fake_cgroupfs import V2_FILES, FakeBpf, FakeV1, FakeV2

from estiba.cgroups import devicefilter, open_cgroup
from estiba.cgroups.v2 import CgroupV2
from estiba.errors import Internal, InvalidArgument, Unavailable
from estiba.oci.runtime_config import BlockIO, DeviceRule, Memory, Pids, Resources

NULL_ONLY = (DeviceRule(allow=False, access="rwm"),
             DeviceRule(allow=True, type="c", major=1, minor=3, access="rwm"))


def text(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


# --- v2 ------------------------------------------------------------------------------


@pytest.fixture
def v2(tmp_path):
    fs = FakeV2(str(tmp_path / "cg"), ("cpu", "memory", "pids", "rdma"))
    bpf = FakeBpf()
    return fs, bpf, lambda path="/estiba/c1": open_cgroup(
        path, root=fs.root, mountinfo="/nonexistent", fs=fs, bpf=bpf)


def test_v2_create_enables_controllers_down_to_the_parent(v2):
    fs, _, open_ = v2
    cg = open_()
    cg.create()
    # rdma is available but not one the container needs; the leaf enables nothing
    assert text(f"{fs.root}/cgroup.subtree_control") == "cpu memory pids"
    assert text(f"{fs.root}/estiba/cgroup.subtree_control") == "cpu memory pids"
    assert text(f"{fs.root}/estiba/c1/cgroup.subtree_control") == ""
    assert os.path.exists(f"{fs.root}/estiba/c1/memory.max")
    writes = [v for op, p, v in fs.calls if op == "write" and p.endswith("subtree_control")]
    assert writes == ["+cpu", "+memory", "+pids"] * 2  # one at a time: one refusal spares the rest


def test_v2_create_finds_the_hierarchy_root_itself(v2):
    fs, _, _ = v2
    cg = CgroupV2(f"{fs.root}/a/b/c", fs=fs)
    cg.create()
    assert text(f"{fs.root}/a/b/cgroup.subtree_control") == "cpu memory pids"
    assert os.path.exists(f"{fs.root}/a/b/c/pids.max")


def test_v2_controller_not_enabled_is_unavailable(v2, spawn):
    fs, _, open_ = v2
    os.mkdir(f"{fs.root}/busy")
    for name, value in {"cgroup.procs": "", "cgroup.controllers": "", "cgroup.subtree_control": "",
                        "cgroup.events": "frozen 0\n", "cgroup.freeze": "0"}.items():
        with open(f"{fs.root}/busy/{name}", "w") as f:
            f.write(value)
    probe = spawn()
    fs.write(f"{fs.root}/busy/cgroup.procs", str(probe.pid))  # a process in the parent
    fs.write(f"{fs.root}/cgroup.subtree_control", "+memory")
    cg = open_("/busy/c1")
    cg.create()  # cannot enable memory in busy/: no internal processes
    with pytest.raises(Unavailable, match=r"write memory.max in .*/busy/c1: no such file "
                                          r"\(the memory controller is not enabled"):
        cg.apply(Resources(memory=Memory(limit=1 << 20)))


def test_v2_kernel_refusal_names_file_and_directory(v2):
    _, _, open_ = v2
    cg = open_()
    cg.create()
    with pytest.raises(InvalidArgument, match=r"write memory.max in .*/c1: invalid argument"):
        cg.apply(Resources(unified=(("memory.max", "lots"),)))


def test_v2_device_rules_become_a_program(v2):
    _, bpf, open_ = v2
    cg = open_()
    cg.create()
    cg.apply(Resources(pids=Pids(limit=3)))
    assert bpf.programs == {}
    cg.apply(Resources(devices=NULL_ONLY))
    assert bpf.programs == {
        cg.paths()[""]: devicefilter.assemble(devicefilter.compile_rules(NULL_ONLY))}


def test_v2_freeze_deadline_thaws_back(tmp_path):
    class Stuck(FakeV2):
        def write_cgroup_freeze(self, d, value):  # never reports frozen
            with open(f"{d}/cgroup.freeze", "w") as f:
                f.write(value)

    fs = Stuck(str(tmp_path / "cg"))
    cg = open_cgroup("/x", root=fs.root, fs=fs)
    cg.create()
    with pytest.raises(Internal, match=r"freeze cgroup .*/x: timed out") as err:
        cg.freeze(timeout=0.05)
    assert err.value.errno == errno.ETIMEDOUT
    assert text(f"{fs.root}/x/cgroup.freeze") == "0"


def test_v2_stats(v2):
    _, _, open_ = v2
    cg = open_()
    cg.create()
    cg.apply(Resources(pids=Pids(limit=7)))
    assert cg.stats() == {
        "memory": {"usage": 4096, "limit": None, "max_usage": 8192,
                   "stat": {"anon": 4096, "file": 0, "inactive_file": 0}, "oom_kills": 0},
        "cpu": {"usage_ns": 1500000, "user_ns": 1000000, "system_ns": 500000},
        "pids": {"current": 0, "limit": 7},
    }


def test_v2_stats_without_controllers(tmp_path):
    fs = FakeV2(str(tmp_path / "cg"), ())
    cg = open_cgroup("/x", root=fs.root, fs=fs)
    cg.create()
    stats = cg.stats()
    assert "memory" not in stats
    assert stats["pids"] == {"current": 0, "limit": None}


def test_v2_all_controllers_of_the_fake_are_known():
    assert set(V2_FILES) <= {"cpu", "cpuset", "io", "memory", "pids", "hugetlb"}


# --- v1 ------------------------------------------------------------------------------


@pytest.fixture
def v1(tmp_path):
    fs = FakeV1(str(tmp_path / "cg"))
    return fs, lambda path="/estiba/c1": open_cgroup(path, root=fs.root,
                                                    mountinfo=fs.mountinfo, fs=fs)


def test_v1_cpuset_filled_in_on_every_new_level(v1, spawn):
    fs, open_ = v1
    cg = open_("/a/b/c")
    cg.create()
    for d in ("a", "a/b", "a/b/c"):
        assert text(f"{fs.root}/cpuset/{d}/cpuset.cpus") == "0-1"
        assert text(f"{fs.root}/cpuset/{d}/cpuset.mems") == "0"
    probe = spawn()
    cg.join(probe.pid)


def test_v1_cpuset_made_by_someone_else_is_filled_in(v1):
    fs, open_ = v1
    fs.mkdir(f"{fs.root}/cpuset/a")  # a plain mkdir leaves cpus and mems empty
    open_("/a/b").create()
    for d in ("a", "a/b"):
        assert text(f"{fs.root}/cpuset/{d}/cpuset.cpus") == "0-1"
        assert text(f"{fs.root}/cpuset/{d}/cpuset.mems") == "0"


def test_v1_co_mounted_controllers_share_one_directory(v1, spawn):
    fs, open_ = v1
    cg = open_()
    assert cg.paths()["cpu"] == cg.paths()["cpuacct"]
    cg.create()
    probe = spawn()
    cg.join(probe.pid)
    joins = [p for op, p, _ in fs.calls if op == "write" and p.endswith("cgroup.procs")]
    assert len(joins) == len(set(joins)) == len(set(cg.paths().values()))


def test_v1_blkio_weight_falls_back_to_the_cfq_file(v1):
    fs, open_ = v1
    cg = open_()
    cg.create()
    with pytest.raises(Unavailable, match=r"write blkio.bfq.weight in .*: no such file"):
        cg.apply(Resources(block_io=BlockIO(weight=300)))
    with open(f"{cg.paths()['blkio']}/blkio.weight", "w") as f:
        f.write("500")
    cg.apply(Resources(block_io=BlockIO(weight=300)))
    assert text(f"{cg.paths()['blkio']}/blkio.weight") == "300"


def test_v1_missing_memsw_is_skipped(v1):
    fs, open_ = v1
    cg = open_()
    cg.create()
    os.unlink(f"{cg.paths()['memory']}/memory.memsw.limit_in_bytes")
    cg.apply(Resources(memory=Memory(limit=1 << 30, swap=2 << 30)))
    assert text(f"{cg.paths()['memory']}/memory.limit_in_bytes") == str(1 << 30)


def test_v1_freeze_deadline_thaws_back(tmp_path):
    class Stuck(FakeV1):
        def write_freezer_state(self, d, value):
            with open(f"{d}/freezer.state", "w") as f:
                f.write("FREEZING" if value == "FROZEN" else value)

    fs = Stuck(str(tmp_path / "cg"))
    cg = open_cgroup("/x", root=fs.root, mountinfo=fs.mountinfo, fs=fs)
    cg.create()
    with pytest.raises(Internal, match="freeze cgroup .*/x: timed out"):
        cg.freeze(timeout=0.05)
    assert text(f"{cg.paths()['freezer']}/freezer.state") == "THAWED"
    refrozen = [v for op, p, v in fs.calls if p.endswith("freezer.state") and v == "FROZEN"]
    assert len(refrozen) > 1  # FROZEN written again while it read FREEZING


def test_v1_stats(v1):
    _, open_ = v1
    cg = open_()
    cg.create()
    cg.apply(Resources(memory=Memory(limit=1 << 30), pids=Pids(limit=9)))
    assert cg.stats() == {
        "memory": {"usage": 4096, "limit": 1 << 30, "max_usage": 8192,
                   "stat": {"cache": 0, "rss": 4096}, "oom_kills": 0},
        "cpu": {"usage_ns": 1500000, "user_ns": 1000000, "system_ns": 500000},
        "pids": {"current": 0, "limit": 9},
    }


def test_v1_destroy_tries_every_hierarchy(v1, spawn):
    fs, open_ = v1
    cg = open_()
    cg.create()
    probe = spawn()
    fs.write(f"{cg.paths()['memory']}/cgroup.procs", str(probe.pid))  # busy in one only
    with pytest.raises(Exception, match="memory/estiba/c1: device or resource busy"):
        cg.destroy(timeout=0.05)
    assert [d for d in set(cg.paths().values()) if os.path.exists(d)] == [cg.paths()["memory"]]
