"""The conformance suite of ``CgroupManager``: every implementation, on every layout.

Backends:
- ``v1-fake`` and ``v2-fake``: the managers on a cgroupfs laid out in a temporary
  directory, the kernel's part played by ``fake_cgroupfs`` (no root needed);
- ``v1-real``: the host's cgroup v1 hierarchies (root);
- ``v2-real``: the host's cgroup2 mount (root); on a hybrid host that is
  /sys/fs/cgroup/unified, where no resource controller may be enabled: there the suite
  checks what works without one (create, join, pids, freeze, destroy, device programs).

Each backend works under a parent named ``estiba-test-...`` that it removes afterwards.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from cgroup_support import (
    mounts,
    new_parent,
    real_v1_reason,
    real_v2_reason,
    remove_cgroup_tree,
)
from fake_cgroupfs import V2_FILES, FakeBpf, FakeV1, FakeV2

from estiba.cgroups import cgroup_from_paths, open_cgroup
from estiba.errors import Conflict, NotFound, Unavailable
from estiba.oci.runtime_config import (
    BlockIO,
    Cpu,
    DeviceRule,
    HugepageLimit,
    Memory,
    Pids,
    Resources,
)

MiB = 1 << 20
NULL_AND_ZERO = (
    DeviceRule(allow=False, access="rwm"),
    DeviceRule(allow=True, type="c", major=1, minor=3, access="rwm"),
    DeviceRule(allow=True, type="c", major=1, minor=5, access="rwm"),
)


class Backend:
    """A layout to run the suite on: how to open a cgroup there, what it can set."""

    def __init__(self, name: str, *, root: str = "/sys/fs/cgroup",
                 mountinfo: str = "/proc/self/mountinfo", fs=None, bpf=None) -> None:
        self.name = name
        self.real = name.endswith("real")
        self.parent = new_parent()
        self.root = root
        self.mountinfo = mountinfo
        self.fs = fs
        self.bpf = bpf
        self.supported = Resources()
        self.readback: list[tuple[str, str, str]] = []
        self.updates: list[tuple[Resources, list[tuple[str, str, str]]]] = []
        self.unsupported: Resources | None = None
        self.cleanups: list = []

    def open(self, sub: str = "c1"):
        return open_cgroup(f"/{self.parent}/{sub}", root=self.root, mountinfo=self.mountinfo,
                           fs=self.fs, bpf=self.bpf)

    def reopen(self, paths: dict[str, str]):
        return cgroup_from_paths(paths, fs=self.fs, bpf=self.bpf)


def read(cg, controller: str, name: str) -> str:
    paths = cg.paths()
    d = paths.get(controller) or paths[""]
    with open(f"{d}/{name}", encoding="utf-8") as f:
        return f.read().strip()


def v1_backend(name: str, **kw) -> Backend:
    b = Backend(name, **kw)
    memsw = True
    if b.real:
        v1, _ = mounts()
        memsw = os.path.exists(f"{v1['memory']}/memory.memsw.limit_in_bytes")
    b.supported = Resources(
        devices=NULL_AND_ZERO,
        memory=Memory(limit=64 * MiB, swap=128 * MiB),
        cpu=Cpu(shares=512, quota=20000, period=100000),
        pids=Pids(limit=20),
    )
    b.readback = [
        ("memory", "memory.limit_in_bytes", str(64 * MiB)),
        ("cpu", "cpu.shares", "512"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpu", "cpu.cfs_quota_us", "20000"),
        ("pids", "pids.max", "20"),
    ]
    if memsw:
        b.readback.append(("memory", "memory.memsw.limit_in_bytes", str(128 * MiB)))
    if b.real:
        b.readback.append(("devices", "devices.list", "c 1:3 rwm\nc 1:5 rwm"))
    # raising the limit above the current memsw limit, then lowering both below the
    # current limit: each needs the other write order
    b.updates = [
        (Resources(memory=Memory(limit=256 * MiB, swap=512 * MiB), pids=Pids(limit=0)),
         [("memory", "memory.limit_in_bytes", str(256 * MiB)), ("pids", "pids.max", "max")]
         + ([("memory", "memory.memsw.limit_in_bytes", str(512 * MiB))] if memsw else [])),
        (Resources(memory=Memory(limit=32 * MiB, swap=48 * MiB)),
         [("memory", "memory.limit_in_bytes", str(32 * MiB))]
         + ([("memory", "memory.memsw.limit_in_bytes", str(48 * MiB))] if memsw else [])),
        (Resources(memory=Memory(limit=-1)),
         [("memory", "memory.limit_in_bytes", "9223372036854771712")]),
    ]
    b.unsupported = Resources(hugepage_limits=(HugepageLimit(page_size="2MB", limit=2 * MiB),))
    return b


def make_v1_fake(tmp_path) -> Backend:
    fs = FakeV1(str(tmp_path / "cg"))
    return v1_backend("v1-fake", root=fs.root, mountinfo=fs.mountinfo, fs=fs)


def make_v1_real(tmp_path) -> Backend:
    reason = real_v1_reason()
    if reason:
        pytest.skip(reason)
    b = v1_backend("v1-real")
    v1, _ = mounts()
    if "hugetlb" in v1:
        b.unsupported = None
    for mount in sorted(set(v1.values())):
        b.cleanups.append(lambda d=f"{mount}/{b.parent}": remove_cgroup_tree(d))
    return b


def make_v2_fake(tmp_path) -> Backend:
    controllers = tuple(c for c in V2_FILES if c != "io")  # a host without io
    fs = FakeV2(str(tmp_path / "cg"), controllers)
    b = Backend("v2-fake", root=fs.root, mountinfo="/nonexistent", fs=fs, bpf=FakeBpf())
    b.supported = Resources(
        devices=NULL_AND_ZERO,
        memory=Memory(limit=64 * MiB, swap=96 * MiB),
        cpu=Cpu(shares=1024, quota=50000, period=100000, cpus="0", mems="0"),
        pids=Pids(limit=20),
        hugepage_limits=(HugepageLimit(page_size="2MB", limit=4 * MiB),),
        unified=(("memory.high", str(48 * MiB)),),
    )
    b.readback = [
        ("memory", "memory.max", str(64 * MiB)),
        ("memory", "memory.swap.max", str(32 * MiB)),
        ("memory", "memory.high", str(48 * MiB)),
        ("cpu", "cpu.weight", "39"),
        ("cpu", "cpu.max", "50000 100000"),
        ("cpuset", "cpuset.cpus", "0"),
        ("pids", "pids.max", "20"),
        ("hugetlb", "hugetlb.2MB.max", str(4 * MiB)),
    ]
    b.updates = [
        (Resources(memory=Memory(limit=256 * MiB, swap=512 * MiB)),
         [("memory", "memory.max", str(256 * MiB)), ("memory", "memory.swap.max", str(256 * MiB))]),
    ]
    b.unsupported = Resources(block_io=BlockIO(weight=500))
    return b


def make_v2_real(tmp_path) -> Backend:
    reason = real_v2_reason()
    if reason:
        pytest.skip(reason)
    _, root = mounts()
    b = Backend("v2-real", root=root)
    with open(f"{root}/cgroup.controllers") as f:
        available = f.read().split()
    with open(f"{root}/cgroup.subtree_control") as f:
        enabled_before = f.read().split()
    b.supported = Resources(devices=NULL_AND_ZERO, unified=(("cgroup.max.depth", "5"),))
    b.readback = [("", "cgroup.max.depth", "5")]
    if "hugetlb" in available:
        b.supported = b.supported.replace(
            hugepage_limits=(HugepageLimit(page_size="2MB", limit=4 * MiB),))
        b.readback.append(("", "hugetlb.2MB.max", str(4 * MiB)))
    b.updates = [(Resources(unified=(("cgroup.max.depth", "max"),)),
                  [("", "cgroup.max.depth", "max")])]
    b.unsupported = (Resources(memory=Memory(limit=64 * MiB)) if "memory" not in available
                     else Resources(cpu=Cpu(realtime_runtime=1000)))

    def restore_root() -> None:
        # create() enabled controllers at the root; leave the host as it was
        with open(f"{root}/cgroup.subtree_control") as f:
            added = [c for c in f.read().split() if c not in enabled_before]
        for c in added:
            try:
                with open(f"{root}/cgroup.subtree_control", "w") as f:
                    f.write(f"-{c}")
            except OSError:
                pass  # in use by a cgroup someone else made meanwhile

    b.cleanups += [lambda: remove_cgroup_tree(f"{root}/{b.parent}"), restore_root]
    return b


BACKENDS = {"v1-fake": make_v1_fake, "v2-fake": make_v2_fake,
            "v1-real": make_v1_real, "v2-real": make_v2_real}


@pytest.fixture(params=[
    "v1-fake", "v2-fake",
    pytest.param("v1-real", marks=pytest.mark.root),
    pytest.param("v2-real", marks=pytest.mark.root),
])
def backend(request, tmp_path):
    b = BACKENDS[request.param](tmp_path)
    try:
        yield b
    finally:
        for cleanup in b.cleanups:
            cleanup()


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


# --- the suite -----------------------------------------------------------------------


def test_paths_name_the_cgroup_in_every_hierarchy(backend):
    cg = backend.open()
    paths = cg.paths()
    if cg.version == 2:
        assert list(paths) == [""]
    else:
        assert {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "pids"} <= set(paths)
    for d in paths.values():
        assert d.endswith(f"/{backend.parent}/c1")
    assert not cg.exists()


def test_create_makes_every_directory_and_is_idempotent(backend):
    cg = backend.open()
    cg.create()
    assert cg.exists()
    for d in cg.paths().values():
        assert os.path.isdir(d)
    cg.create()
    assert cg.exists()


def test_apply_sets_what_reads_back(backend):
    cg = backend.open()
    cg.create()
    cg.apply(backend.supported)
    for controller, name, expected in backend.readback:
        assert read(cg, controller, name) == expected, name


def test_apply_again_updates(backend):
    cg = backend.open()
    cg.create()
    cg.apply(backend.supported)
    for resources, readback in backend.updates:
        cg.apply(resources)
        for controller, name, expected in readback:
            assert read(cg, controller, name) == expected, (resources, name)


def test_apply_what_the_host_lacks_is_unavailable(backend):
    if backend.unsupported is None:
        pytest.skip("this host has every controller the suite knows to ask for")
    cg = backend.open()
    cg.create()
    with pytest.raises(Unavailable):
        cg.apply(backend.unsupported)


def test_apply_before_create_is_not_found(backend):
    cg = backend.open()
    with pytest.raises(NotFound):
        cg.apply(backend.supported)


def test_join_and_pids(backend, spawn):
    cg = backend.open()
    cg.create()
    cg.apply(backend.supported)
    probe = spawn()
    assert cg.pids() == []
    cg.join(probe.pid)
    assert cg.pids() == [probe.pid]
    assert probe.ask("open /dev/null") == "ok"
    if backend.real:
        with open(f"/proc/{probe.pid}/cgroup") as f:
            lines = f.read().splitlines()
        expected = f"/{backend.parent}/c1"
        if cg.version == 2:
            assert f"0::{expected}" in lines
        else:
            by_controller = {c: path for _, cs, path in (x.split(":", 2) for x in lines)
                             for c in cs.split(",")}
            for controller in cg.paths():
                assert by_controller[controller] == expected, controller


def test_join_a_process_that_is_gone_is_not_found(backend):
    cg = backend.open()
    cg.create()
    with pytest.raises(NotFound, match="join process"):
        cg.join(dead_pid())


def test_pids_include_descendant_cgroups(backend, spawn):
    cg = backend.open()
    cg.create()
    sub = backend.open("c1/sub")
    sub.create()
    probe = spawn()
    sub.join(probe.pid)
    assert sub.pids() == [probe.pid]
    assert cg.pids() == [probe.pid]


def test_freeze_and_thaw(backend, spawn):
    cg = backend.open()
    cg.create()
    probe = spawn()
    cg.join(probe.pid)
    assert not cg.frozen()
    cg.freeze()
    try:
        assert cg.frozen()
    finally:
        cg.thaw()
    assert not cg.frozen()
    assert probe.ask("open /dev/null") == "ok"


def test_reopen_from_stored_paths(backend, spawn):
    cg = backend.open()
    cg.create()
    probe = spawn()
    cg.join(probe.pid)
    again = backend.reopen(cg.paths())
    assert type(again) is type(cg)
    assert again.paths() == cg.paths()
    assert again.pids() == [probe.pid]
    again.freeze()
    assert cg.frozen()
    again.thaw()
    assert not cg.frozen()
    again.apply(backend.supported)
    probe.kill()
    again.destroy()
    assert not cg.exists()


def test_stats(backend, spawn):
    cg = backend.open()
    cg.create()
    cg.apply(backend.supported)
    probe = spawn()
    cg.join(probe.pid)
    stats = cg.stats()
    assert stats["pids"]["current"] == 1
    assert isinstance(stats["cpu"]["usage_ns"], int)
    if "memory" in stats:
        assert isinstance(stats["memory"]["usage"], int)
        assert isinstance(stats["memory"]["stat"], dict)
        assert stats["memory"]["limit"] in (None, 64 * MiB)
    if ("pids", "pids.max", "20") in backend.readback:
        assert stats["pids"]["limit"] == 20


def test_destroy_removes_the_cgroup_and_below_but_not_the_parents(backend):
    cg = backend.open()
    cg.create()
    backend.open("c1/sub/deeper").create()
    cg.destroy()
    assert not cg.exists()
    for d in cg.paths().values():
        assert not os.path.exists(d)
        assert os.path.isdir(os.path.dirname(d))
    cg.destroy()  # gone already: fine


def test_destroy_with_a_process_inside_is_a_conflict(backend, spawn):
    cg = backend.open()
    cg.create()
    probe = spawn()
    cg.join(probe.pid)
    with pytest.raises(Conflict, match="remove cgroup"):
        cg.destroy()
    assert cg.exists()
    probe.kill()
    cg.destroy()  # the kernel may take a moment to let go of the dead process
    assert not cg.exists()



def test_join_self_moves_the_calling_process(backend):
    """A forked child moves itself in (what a container's init does on v1); the manager
    then lists it."""
    if not backend.real:
        pytest.skip("a fake cgroupfs cannot tell who writes")
    cg = backend.open()
    cg.create()
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            cg.join_self()
        except BaseException:  # noqa: BLE001 - the child reports through its status
            code = 1
        os.write(up_w, b"x")
        os.read(down_r, 1)
        os._exit(code)
    try:
        assert os.read(up_r, 1) == b"x"
        listed = cg.pids()
    finally:
        os.write(down_w, b"y")
        _, status = os.waitpid(pid, 0)
        for fd in (up_r, up_w, down_r, down_w):
            os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pid in listed
