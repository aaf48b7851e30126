"""layout.py and open_cgroup's detection: mountinfo, hierarchies, cgroups paths."""

from __future__ import annotations

import pytest

from estiba.cgroups import cgroup_from_paths, open_cgroup
from estiba.cgroups.layout import (
    MountInfo,
    clean_cgroups_path,
    parse_mountinfo,
    v1_hierarchies,
)
from estiba.cgroups.v1 import CgroupV1
from estiba.cgroups.v2 import CgroupV2
from estiba.errors import InvalidArgument, Unavailable, Unimplemented

HYBRID = """\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
42 31 0:39 / /sys/fs/cgroup/net_cls rw,relatime - cgroup cgroup rw,net_cls
50 25 0:32 / /mnt/other\\040dir rw,relatime - cgroup cgroup rw,memory
51 25 0:40 / /elsewhere/pids rw,relatime - cgroup cgroup rw,pids
"""


def test_parse_mountinfo():
    mounts = parse_mountinfo(HYBRID + "garbage line\n")
    assert len(mounts) == 10
    assert mounts[2] == MountInfo(root="/", mount_point="/sys/fs/cgroup/cpu,cpuacct",
                                  fstype="cgroup", super_options=("rw", "cpu", "cpuacct"))
    assert mounts[8].mount_point == "/mnt/other dir"  # \040 is a space


def test_v1_hierarchies_under_root_only():
    h = v1_hierarchies(parse_mountinfo(HYBRID), "/sys/fs/cgroup")
    assert h == {
        "cpuset": "/sys/fs/cgroup/cpuset",
        "cpu": "/sys/fs/cgroup/cpu,cpuacct",
        "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
        "memory": "/sys/fs/cgroup/memory",
        "net_cls": "/sys/fs/cgroup/net_cls",
        "name=systemd": "/sys/fs/cgroup/systemd",
    }
    assert "pids" not in h  # mounted elsewhere, not under the root asked for


def test_v1_hierarchies_other_root():
    assert v1_hierarchies(parse_mountinfo(HYBRID), "/elsewhere/") == {"pids": "/elsewhere/pids"}


@pytest.mark.parametrize(("path", "clean"), [
    ("/docker/abc", "docker/abc"),
    ("docker/abc", "docker/abc"),
    ("//a/./b//", "a/b"),
    ("/estiba/x:y", "estiba/x:y"),  # colons in an absolute path are just a name
])
def test_clean_cgroups_path(path, clean):
    assert clean_cgroups_path(path) == clean


@pytest.mark.parametrize("path", ["", "/", "/a/../b", "..", "/a/b/..", "a\0b"])
def test_clean_cgroups_path_invalid(path):
    with pytest.raises(InvalidArgument):
        clean_cgroups_path(path)


def test_systemd_form_not_implemented():
    with pytest.raises(Unimplemented, match="systemd cgroup paths are not supported"):
        clean_cgroups_path("system.slice:docker:abc")


def test_open_cgroup_v1_from_mountinfo(tmp_path):
    root = tmp_path / "cg"
    root.mkdir()
    info = tmp_path / "mountinfo"
    info.write_text(
        f"32 31 0:29 / {root}/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        f"35 31 0:32 / {root}/memory rw - cgroup cgroup rw,memory\n"
        f"36 31 0:33 / {root}/unified rw - cgroup2 cgroup2 rw\n"
    )
    cg = open_cgroup("/estiba/c1", root=str(root), mountinfo=str(info))
    assert isinstance(cg, CgroupV1)
    assert cg.version == 1
    assert cg.paths() == {
        "cpu": f"{root}/cpu,cpuacct/estiba/c1",
        "cpuacct": f"{root}/cpu,cpuacct/estiba/c1",
        "memory": f"{root}/memory/estiba/c1",
    }
    again = cgroup_from_paths(cg.paths())
    assert isinstance(again, CgroupV1) and again.paths() == cg.paths()


def test_open_cgroup_v2_when_root_is_cgroup2(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("memory pids\n")
    cg = open_cgroup("relative/c1", root=str(tmp_path) + "/", mountinfo="/nonexistent")
    assert isinstance(cg, CgroupV2)
    assert cg.version == 2
    assert cg.paths() == {"": f"{tmp_path}/relative/c1"}
    again = cgroup_from_paths(cg.paths())
    assert isinstance(again, CgroupV2) and again.paths() == cg.paths()


def test_open_cgroup_nothing_mounted(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text("")
    with pytest.raises(Unavailable, match="no cgroup"):
        open_cgroup("/x", root=str(tmp_path), mountinfo=str(info))


def test_open_cgroup_unreadable_mountinfo(tmp_path):
    with pytest.raises(Exception, match="read .*mountinfo"):
        open_cgroup("/x", root=str(tmp_path), mountinfo=str(tmp_path / "mountinfo"))


def test_from_paths_invalid():
    with pytest.raises(InvalidArgument):
        cgroup_from_paths({})
    with pytest.raises(InvalidArgument):
        CgroupV2.from_paths({"": "/a", "memory": "/b"})
