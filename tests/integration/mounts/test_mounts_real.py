"""``estiba.mounts`` on the real kernel, as root: overlays made as detached mounts and
used through ``/proc/self/fd/N`` (writes land in the upper dir, deletions become
whiteouts, a layer applied through the path), a 128-layer chain of the overlay
snapshotter named with short ``l/`` links relative to ``cwd``, ``mount_at`` attaching
overlays and binds; nothing left in ``/proc/self/mountinfo`` afterwards, and the
process's working directory never changed."""

from __future__ import annotations

import errno
import io
import os
import stat
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba import mounts
from estiba.errors import from_oserror
from estiba.kernel import consts
from estiba.kernel.linux import Linux
from estiba.metadata.db import Database
from estiba.snapshots import Mount
from estiba.snapshots.overlay import OverlaySnapshotter
from support.snapshots import commit_chain

pytestmark = pytest.mark.root


def _kernel_at_least(major: int, minor: int) -> bool:
    release = os.uname().release.split("-")[0].split(".")
    return (int(release[0]), int(release[1])) >= (major, minor)


def _has_overlay() -> bool:
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] == "overlay" for line in f if line.strip())


@pytest.fixture(autouse=True)
def _needs_overlay() -> None:
    if not _has_overlay():
        pytest.skip("overlayfs is not available in this kernel")
    if not _kernel_at_least(6, 8):
        pytest.skip("overlay lowerdir+ needs Linux 6.8 (the mount(2) fallback is used)")


def mountinfo_mentions(path: Path | str) -> list[str]:
    """Mounts naming ``path`` (as mount point or in their options: overlay lists its
    layers there). Other overlays on the machine are not ours to judge."""
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if str(path) in line]


@pytest.fixture
def layers(tmp_path) -> Path:
    """lower3 (bottom) < lower2 < lower1 (top), upper and work."""
    for name in ("lower1", "lower2", "lower3", "upper", "work"):
        (tmp_path / name).mkdir()
    (tmp_path / "lower3" / "bottom").write_text("3")
    (tmp_path / "lower3" / "shadowed").write_text("from 3")
    (tmp_path / "lower2" / "shadowed").write_text("from 2")
    (tmp_path / "lower2" / "gone").write_text("delete me")
    (tmp_path / "lower1" / "top").write_text("1")
    return tmp_path


def overlay_record(base: Path, cwd: str = "") -> Mount:
    def name(n: str) -> str:
        return n if cwd else str(base / n)

    lowers = ":".join(name(n) for n in ("lower1", "lower2", "lower3"))
    return Mount(type="overlay", source="overlay", cwd=cwd, options=(
        f"workdir={name('work')}", f"upperdir={name('upper')}", f"lowerdir={lowers}"))


def test_three_layers_detached_writes_land_in_upper(layers):
    before = os.getcwd()
    with mounts.detached([overlay_record(layers)], Linux()) as path:
        assert path.startswith("/proc/self/fd/")
        root = Path(path)
        assert sorted(os.listdir(root)) == ["bottom", "gone", "shadowed", "top"]
        assert (root / "shadowed").read_text() == "from 2"
        (root / "new").write_text("written through the fd path")
        os.mkdir(root / "dir")
        os.unlink(root / "gone")
        assert not mountinfo_mentions(layers)  # detached: in no mount table
    assert os.getcwd() == before
    upper = layers / "upper"
    assert (upper / "new").read_text() == "written through the fd path"
    assert (upper / "dir").is_dir()
    st = os.lstat(upper / "gone")  # an overlay whiteout: char device 0/0
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert (layers / "lower2" / "gone").exists()
    assert not mountinfo_mentions(layers)
    # the descriptor is closed: the mount is gone, so the work dir can be removed
    assert not os.path.exists(path)


def test_relative_names_from_cwd_without_chdir(layers):
    before = os.getcwd()
    with mounts.detached([overlay_record(layers, cwd=str(layers))], Linux()) as path:
        assert os.getcwd() == before
        assert (Path(path) / "top").read_text() == "1"
        (Path(path) / "x").write_text("x")
    assert (layers / "upper" / "x").read_text() == "x"
    assert not mountinfo_mentions(layers)


def test_read_only_view(layers):
    record = Mount(type="overlay", source="overlay",
                   options=(f"lowerdir={layers / 'lower1'}:{layers / 'lower2'}",))
    with mounts.detached([record], Linux()) as path:
        assert sorted(os.listdir(path)) == ["gone", "shadowed", "top"]
        with pytest.raises(OSError):
            (Path(path) / "new").write_text("no")


def test_layer_with_whiteout_applied_through_the_path(layers):
    """What unpack does: apply_layer into the detached path, a .wh. entry becoming an
    overlay whiteout in the upper dir."""
    from estiba.images.layer import apply_layer

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, body in (("added", b"new\n"), (".wh.gone", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    data.seek(0)
    kernel = Linux()
    with mounts.detached([overlay_record(layers)], kernel) as path:
        apply_layer(data, path, kernel=kernel)
        assert sorted(os.listdir(path)) == ["added", "bottom", "shadowed", "top"]
    st = os.lstat(layers / "upper" / "gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert (layers / "upper" / "added").read_bytes() == b"new\n"
    assert not mountinfo_mentions(layers)


def test_failure_names_the_layer_and_leaves_nothing(layers):
    from estiba.errors import NotFound

    record = Mount(type="overlay", source="overlay",
                   options=(f"lowerdir={layers / 'lower1'}:{layers / 'missing'}",))
    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(NotFound, match="missing"), mounts.detached([record], Linux()):
        pass
    assert len(os.listdir("/proc/self/fd")) == fds
    assert not mountinfo_mentions(layers)


def test_bind_record_yields_its_source(tmp_path):
    record = Mount(type="bind", source=str(tmp_path), options=("rw", "rbind"))
    with mounts.detached([record], Linux()) as path:
        assert path == str(tmp_path)


@pytest.fixture
def overlay(tmp_path) -> Iterator[OverlaySnapshotter]:
    db = Database(str(tmp_path / "metadata.db"))
    yield OverlaySnapshotter(str(tmp_path / "root"), db, "test")
    db.close()


def test_128_layer_chain_with_short_names(overlay):
    snaps = overlay
    parent = commit_chain(snaps, 128)
    records = snaps.prepare("top", parent)
    assert records[0].cwd == snaps.dir  # absolute paths would not have fitted a page
    assert records[0].options[-1].startswith("lowerdir=l/")
    before = os.getcwd()
    seen: list[str] = []
    # another thread's working directory is the process's: it must not move
    watcher = threading.Thread(target=lambda: seen.append(os.getcwd()))
    with mounts.detached(records, Linux()) as path:
        watcher.start()
        watcher.join()
        assert len(os.listdir(path)) == 128
        assert (Path(path) / "f0").read_text() == "0"
        assert (Path(path) / "f127").read_text() == "127"
        (Path(path) / "f5").write_text("changed")
        assert not mountinfo_mentions(snaps.dir)
    assert seen == [before] and os.getcwd() == before
    top = snaps.records.get("top").id
    assert Path(snaps.fs(top), "f5").read_text() == "changed"
    assert not mountinfo_mentions(snaps.dir)
    snaps.commit("top-committed", "top")  # nothing holds it mounted


def test_mount_at_attaches_and_unmounts(layers, tmp_path):
    target = tmp_path / "rootfs"
    target.mkdir()
    (layers / "lower3" / "mnt").mkdir()
    bind_src = tmp_path / "shared"
    bind_src.mkdir()
    (bind_src / "file").write_text("shared")
    records = [overlay_record(layers, cwd=str(layers)),
               Mount(type="bind", source=str(bind_src), target="/mnt",
                     options=("ro", "rbind"))]
    mounts.mount_at(records, str(target), Linux())
    try:
        found = mountinfo_mentions(target)
        assert len(found) == 2
        assert (target / "top").read_text() == "1"
        assert (target / "mnt" / "file").read_text() == "shared"
        with pytest.raises(OSError):  # the bind is read-only
            (target / "mnt" / "other").write_text("no")
        (target / "written").write_text("w")
    finally:
        subprocess.run(["umount", "-R", str(target)], check=True)
    assert (layers / "upper" / "written").read_text() == "w"
    assert not mountinfo_mentions(target)


class OldKernel(Linux):
    """A kernel without the new mount API: fsopen and open_tree fail with ENOSYS."""

    def fsopen(self, fstype: str) -> int:
        raise from_oserror(f"fsopen {fstype}", OSError(errno.ENOSYS, "no fsopen"))

    def open_tree(self, path: str, recursive: bool = True) -> int:
        raise from_oserror(f"open tree {path}", OSError(errno.ENOSYS, "no open_tree"))


class StringLayersKernel(Linux):
    """Linux 6.8 to 6.12: overlay takes layers as strings only, not descriptors."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    def fsconfig(self, fd, cmd, key=None, value=None, aux=0, label=""):
        if cmd == consts.FSCONFIG_SET_FD:
            self.refused += 1
            raise from_oserror(f"fsconfig {label}", OSError(errno.EINVAL, "bad value"))
        super().fsconfig(fd, cmd, key, value, aux, label)


def test_fallback_to_mount2_from_a_forked_child_for_cwd(layers):
    before = os.getcwd()
    with mounts.detached([overlay_record(layers, cwd=str(layers))], OldKernel()) as path:
        assert not path.startswith("/proc/self/fd/")
        assert len(mountinfo_mentions(path)) == 1  # mount(2): a real mount point
        assert (Path(path) / "top").read_text() == "1"
        os.unlink(Path(path) / "gone")
        assert os.getcwd() == before
    assert stat.S_ISCHR(os.lstat(layers / "upper" / "gone").st_mode)
    assert not os.path.exists(path)
    assert not mountinfo_mentions(layers) and not mountinfo_mentions(path)


def test_fallback_bind_remounted_read_only(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    mounts.mount_at([Mount(type="bind", source=str(src), options=("ro", "rbind"))],
                    str(target), OldKernel())
    try:
        assert len(mountinfo_mentions(target)) == 1
        with pytest.raises(OSError):
            (target / "x").write_text("no")
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_layers_as_names_when_descriptors_are_refused(layers):
    kernel = StringLayersKernel()
    with mounts.detached([overlay_record(layers, cwd=str(layers))], kernel) as path:
        assert (Path(path) / "bottom").read_text() == "3"
    assert kernel.refused == 1  # once refused, the rest go by name
    assert not mountinfo_mentions(layers)
