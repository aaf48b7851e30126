"""``estiba.mounts`` without root: the plan of a record (pure) and the calls made on a
recording kernel, for the new mount API and the mount(2) fallbacks."""

from __future__ import annotations

import errno

import pytest

from estiba import mounts
from estiba.errors import InvalidArgument, NotFound
from estiba.kernel import consts as k
from estiba.kernel.fake import RecordingKernel
from estiba.snapshots import Mount

SNAPS = "/var/lib/estiba/snapshots"


def short_chain(cwd: str = SNAPS) -> Mount:
    return Mount(type="overlay", source="overlay", cwd=cwd, options=(
        "workdir=9/work", "upperdir=9/fs", "lowerdir=l/2:l/1"))


def test_plan_splits_lowerdir_and_resolves_against_cwd():
    p = mounts.plan(short_chain())
    assert p.params == (
        mounts.Param(kind="path", key="workdir", value=f"{SNAPS}/9/work"),
        mounts.Param(kind="path", key="upperdir", value=f"{SNAPS}/9/fs"),
        mounts.Param(kind="path", key="lowerdir+", value=f"{SNAPS}/l/2"),
        mounts.Param(kind="path", key="lowerdir+", value=f"{SNAPS}/l/1"),
    )
    assert p.data == "workdir=9/work,upperdir=9/fs,lowerdir=l/2:l/1"
    assert p.cwd == SNAPS and p.fstype == "overlay" and not p.bind


def test_plan_data_layers_flags_strings_and_escapes():
    p = mounts.plan(Mount(type="overlay", source="overlay", options=(
        "ro", "nosuid", r"lowerdir=/a\:b:/c::/d", "index=off", "userxattr")))
    assert [(x.kind, x.key, x.value) for x in p.params] == [
        ("path", "lowerdir+", "/a:b"), ("path", "lowerdir+", "/c"),
        ("path", "datadir+", "/d"), ("string", "index", "off"), ("flag", "userxattr", ""),
    ]
    assert p.attrs == k.MOUNT_ATTR_RDONLY | k.MOUNT_ATTR_NOSUID
    assert p.flags == k.MS_RDONLY | k.MS_NOSUID


@pytest.mark.parametrize("lowerdir", ["", "a::", "::a", "a:::b"])
def test_plan_refuses_empty_layers(lowerdir):
    with pytest.raises(InvalidArgument):
        mounts.plan(Mount(type="overlay", source="overlay", cwd="/x",
                          options=(f"lowerdir={lowerdir}",)))


def test_plan_refuses_relative_path_without_cwd():
    with pytest.raises(InvalidArgument, match="relative"):
        mounts.plan(short_chain(cwd=""))


def test_plan_of_a_bind():
    p = mounts.plan(Mount(type="bind", source="/src", options=("ro", "rbind")))
    assert p.bind and p.recursive and p.fstype == ""
    assert p.flags == k.MS_BIND | k.MS_REC | k.MS_RDONLY
    assert p.attrs == k.MOUNT_ATTR_RDONLY


def test_detached_calls_and_closes_every_descriptor():
    kernel = RecordingKernel()
    with mounts.detached([short_chain()], kernel) as path:
        fd = kernel.called("fsmount")[0][0]
        mnt = int(path.rsplit("/", 1)[1])
        assert path == f"/proc/self/fd/{mnt}"
        assert "close" not in [c.name for c in kernel.calls if c.args == (mnt,)]
    assert kernel.calls[0].name == "fsopen" and kernel.calls[0].args == ("overlay",)
    assert kernel.called("fsconfig")[0][1:4] == (k.FSCONFIG_SET_STRING, "source", "overlay")
    set_fd = [a for a in kernel.called("fsconfig") if a[1] == k.FSCONFIG_SET_FD]
    assert [a[2] for a in set_fd] == ["workdir", "upperdir", "lowerdir+", "lowerdir+"]
    assert kernel.called("open_path") == [(f"{SNAPS}/9/work",), (f"{SNAPS}/9/fs",),
                                          (f"{SNAPS}/l/2",), (f"{SNAPS}/l/1",)]
    # each directory descriptor passed is the one just opened, closed right after
    opened = [c for c in kernel.calls if c.name in ("open_path", "fsconfig", "close")]
    assert [c.name for c in opened][1:4] == ["open_path", "fsconfig", "close"]
    assert kernel.called("fsconfig")[-1][1] == k.FSCONFIG_CMD_CREATE
    assert kernel.called("fsmount") == [(fd, 0)]
    assert kernel.names()[-2:] == ["close", "close"]  # the context, then the mount
    assert kernel.calls[-1].args == (mnt,)
    assert "mount" not in kernel.names() and "mount_in" not in kernel.names()


def test_layers_by_name_when_the_kernel_refuses_descriptors():
    kernel = RecordingKernel()
    kernel.fail("fsconfig", errno.EINVAL, lambda fd, cmd, *rest: cmd == k.FSCONFIG_SET_FD)
    long_cwd = "/" + "d" * 300
    with mounts.detached([short_chain(long_cwd)], kernel):
        pass
    calls = kernel.called("fsconfig")
    assert [c[1] for c in calls if c[1] == k.FSCONFIG_SET_FD] == [k.FSCONFIG_SET_FD]
    strings = [c[2:4] for c in calls if c[1] == k.FSCONFIG_SET_STRING][1:]
    # longer than fsconfig's 255 bytes: the descriptor's /proc path instead
    assert [key for key, _ in strings] == ["workdir", "upperdir", "lowerdir+", "lowerdir+"]
    assert all(value.startswith("/proc/self/fd/") for _, value in strings)


def test_short_names_passed_as_absolute_strings():
    kernel = RecordingKernel()
    kernel.fail("fsconfig", errno.EINVAL, lambda fd, cmd, *rest: cmd == k.FSCONFIG_SET_FD)
    with mounts.detached([short_chain()], kernel):
        pass
    strings = [c[3] for c in kernel.called("fsconfig") if c[1] == k.FSCONFIG_SET_STRING]
    assert strings[1:] == [f"{SNAPS}/9/work", f"{SNAPS}/9/fs", f"{SNAPS}/l/2",
                           f"{SNAPS}/l/1"]


def test_no_fsopen_falls_back_to_mount_in_a_child_for_cwd():
    kernel = RecordingKernel()
    kernel.fail("fsopen", errno.ENOSYS)
    with mounts.detached([short_chain()], kernel) as path:
        assert not path.startswith("/proc/")
    assert kernel.called("mount_in") == [
        (SNAPS, "overlay", path, "overlay", 0,
         "workdir=9/work,upperdir=9/fs,lowerdir=l/2:l/1")]
    assert kernel.called("umount") == [(path, 0)]


def test_no_lowerdir_plus_falls_back_to_mount2():
    kernel = RecordingKernel()
    kernel.fail("fsconfig", errno.EINVAL,
                lambda fd, cmd, key, *rest: key == "lowerdir+")
    record = Mount(type="overlay", source="overlay", options=("lowerdir=/a:/b",))
    with mounts.detached([record], kernel) as path:
        pass
    assert kernel.called("mount") == [("overlay", path, "overlay", 0, "lowerdir=/a:/b",
                                       None)]
    fs = kernel.calls[0]
    assert fs.name == "fsopen"
    assert ("close", (1001,)) in [(c.name, c.args) for c in kernel.calls]  # the context


def test_a_missing_layer_is_an_error_not_a_fallback():
    kernel = RecordingKernel()
    kernel.fail("open_path", errno.ENOENT, lambda path: path.endswith("l/1"))
    with pytest.raises(NotFound, match="open_path"), mounts.detached([short_chain()],
                                                                      kernel):
        pass
    assert "mount" not in kernel.names() and "fsmount" not in kernel.names()
    assert kernel.names()[-1] == "close"  # the context


def test_detached_bind_yields_source_and_calls_nothing():
    kernel = RecordingKernel()
    with mounts.detached([Mount(type="bind", source="/s", options=("rw", "rbind"))],
                         kernel) as path:
        assert path == "/s"
    assert kernel.calls == []


def test_detached_wants_one_record():
    with pytest.raises(InvalidArgument), mounts.detached([], RecordingKernel()):
        pass


def test_mount_at_moves_the_detached_mount_and_binds_with_open_tree():
    kernel = RecordingKernel()
    mounts.mount_at([short_chain(), Mount(type="bind", source="/data", target="/mnt/d",
                                          options=("ro", "rbind"))], "/run/c/rootfs", kernel)
    mnt = kernel.called("fsmount")
    assert len(mnt) == 1
    moves = kernel.called("move_mount")
    assert [target for _, target in moves] == ["/run/c/rootfs", "/run/c/rootfs/mnt/d"]
    assert kernel.called("open_tree") == [("/data", True)]
    tree = moves[1][0]
    assert kernel.called("mount_setattr") == [(tree, k.MOUNT_ATTR_RDONLY, 0, True)]
    assert kernel.names()[-1] == "close" and kernel.calls[-1].args == (tree,)


def test_mount_at_fallback_bind_then_remount():
    kernel = RecordingKernel()
    kernel.fail("open_tree", errno.ENOSYS)
    mounts.mount_at([Mount(type="bind", source="/data", options=("ro", "bind"))], "/t",
                    kernel)
    assert kernel.called("mount") == [
        ("/data", "/t", "", k.MS_BIND, "", None),
        ("", "/t", "", k.MS_REMOUNT | k.MS_BIND | k.MS_RDONLY, "", "/t"),
    ]
