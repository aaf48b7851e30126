"""The copy snapshotter, containerd's "native": where overlayfs is missing (or refused,
as on some nested or network filesystems), each snapshot is a full copy of its parent in
``<id>/fs``, shown by a bind mount (rw when active, ro for a view).

The copy keeps what a root filesystem needs: owners, modes (setuid included: owner is set
before mode, since chown clears it), extended attributes (capabilities, ACLs; ones this
kernel refuses are skipped), times, hard links (within the tree), symbolic links,
fifos, sockets and device nodes (these through the kernel boundary's ``mknod``). Regular
files are copied with ``shutil.copyfile`` (sendfile).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat

from estiba.errors import from_oserror
from estiba.snapshots import Mount
from estiba.snapshots.storage import DirectorySnapshotter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.kernel.linux import Linux
    from estiba.metadata.db import Database
    from estiba.metadata.snapshots import SnapshotRecord

# xattrs a filesystem may refuse without the copy being wrong (labels of another LSM)
_SKIPPABLE = (errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM, errno.EINVAL)


class CopySnapshotter(DirectorySnapshotter):
    def __init__(self, root: str, db: Database, namespace: str,
                 kernel: Linux | None = None) -> None:
        super().__init__(root, db, namespace)
        self._kernel = kernel

    @property
    def kernel(self) -> Linux:
        if self._kernel is None:
            from estiba.kernel.linux import Linux

            self._kernel = Linux()
        return self._kernel

    def _populate(self, path: str, kind: str, chain: list[int]) -> None:
        dest = os.path.join(path, "fs")
        if not chain:
            try:
                os.mkdir(dest, 0o755)
            except OSError as err:
                raise from_oserror(f"make {dest}", err) from err
            return
        copy_tree(self.fs(chain[0]), dest, self.kernel)

    def _plan(self, record: SnapshotRecord, chain: list[int]) -> list[Mount]:
        mode = "rw" if record.kind == "active" else "ro"
        return [Mount(type="bind", source=self.fs(record.id), options=(mode, "rbind"))]


def copy_tree(src: str, dest: str, kernel: Linux) -> None:
    """Copy directory ``src`` to ``dest`` (which must not exist), metadata included."""
    try:
        top = os.lstat(src)
        os.mkdir(dest, 0o700)
    except OSError as err:
        raise from_oserror(f"copy {src} to {dest}", err) from err
    _copy_dir(src, dest, kernel, {})
    _copy_metadata(src, dest, top, kernel)


def _copy_dir(src: str, dest: str, kernel: Linux, links: dict[tuple[int, int], str]) -> None:
    try:
        with os.scandir(src) as it:
            entries = sorted(it, key=lambda entry: entry.name)
    except OSError as err:
        raise from_oserror(f"read directory {src}", err) from err
    for entry in entries:
        source = entry.path
        target = os.path.join(dest, entry.name)
        try:
            info = entry.stat(follow_symlinks=False)
            mode = info.st_mode
            if stat.S_ISDIR(mode):
                os.mkdir(target, 0o700)
                _copy_dir(source, target, kernel, links)
                _copy_metadata(source, target, info, kernel)
                continue
            if info.st_nlink > 1:
                ident = (info.st_dev, info.st_ino)
                first = links.get(ident)
                if first is not None:
                    os.link(first, target)
                    continue
                links[ident] = target
            if stat.S_ISREG(mode):
                shutil.copyfile(source, target, follow_symlinks=False)
            elif stat.S_ISLNK(mode):
                os.symlink(os.readlink(source), target)
            elif stat.S_ISFIFO(mode):
                os.mkfifo(target, 0o600)
            else:  # socket, character or block device (an overlay whiteout is 0/0)
                kernel.mknod(target, mode, os.major(info.st_rdev), os.minor(info.st_rdev))
        except OSError as err:
            raise from_oserror(f"copy {source} to {target}", err) from err
        _copy_metadata(source, target, info, kernel)


def _copy_metadata(src: str, dest: str, info: os.stat_result, kernel: Linux) -> None:
    kernel.chown(dest, info.st_uid, info.st_gid)
    link = stat.S_ISLNK(info.st_mode)
    try:
        if not link:  # Linux has no lchmod: a link's mode is always 0777
            os.chmod(dest, stat.S_IMODE(info.st_mode))
        for name in os.listxattr(src, follow_symlinks=False):
            value = os.getxattr(src, name, follow_symlinks=False)
            try:
                os.setxattr(dest, name, value, follow_symlinks=False)
            except OSError as err:
                if err.errno not in _SKIPPABLE:
                    raise
        os.utime(dest, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)
    except OSError as err:
        raise from_oserror(f"copy metadata of {src} to {dest}", err) from err
