"""A Docker container's files: archive (``docker cp``), export, changes (``docker diff``)
and commit, the ``Filesystems`` service, and the path stat it answers ``docker cp`` with.
What it uses lives beside it: ``rootpaths`` (paths walked inside a container's root),
``archives`` (the tars written from a tree and the ones copied in), ``writablelayer``
(the writable layer's directories, mount points and changes) and ``commits`` (a commit's
config, name and image).

Where the files are: while the container has a task (created, running or exited but
not deleted), its root filesystem is mounted in the task's bundle (``<bundle>/rootfs``,
the very mount the container's processes see, so what is copied in is seen at once);
otherwise its snapshot is mounted detached for the duration of the call, under the
containers' lock so that a start cannot mount the same upper directory meanwhile.

Containment: no path string is resolved through the container's tree, every path is
walked from a descriptor of its root (``rootpaths``), and what is copied in is spooled
and checked before anything is written (``archives``).

Shapes follow Docker (moby ``daemon/archive.go``, ``api/types/container``): the path stat
header ``X-Docker-Container-Path-Stat`` is base64 of ``{name, size, mode, mtime,
linkTarget}`` with ``mode`` in Go's ``FileMode`` bits and ``mtime`` in RFC 3339 with
nanoseconds; a directory is archived under its base name (``/etc`` -> ``etc/...``), its
contents alone with a trailing ``/.`` (``./...``); the last component of a source path is
not followed (a symlink is archived as one; its stat's ``linkTarget`` is where it leads,
absolute in the container); the destination of an extraction is followed and must be a
directory.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import stat
import tarfile
import tempfile
import time

from estiba import errors
from estiba.engine.archives import (
    TreeWriter,
    check_no_overwrite,
    checked_members,
    chown_members,
    container_user,
    open_tar,
    rebase,
    tar_info,
)
from estiba.engine.commits import commit_name, merge_config, write_commit
from estiba.engine.hostconfig import STANDARD_MOUNTS
from estiba.engine.labels import config_of
from estiba.engine.rootpaths import (
    Source,
    clean_parts,
    in_root,
    not_found,
    opened,
    read_in_root,
    resolve,
    source_of,
)
from estiba.engine.writablelayer import (
    BOUND_FILES,
    changes_json,
    mount_points,
    upper_and_lowers,
    without_mount_points,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from typing import Any, BinaryIO

    from estiba.engine.containers import Containers
    from estiba.engine.images import Images

PATH_STAT_HEADER = "X-Docker-Container-Path-Stat"
_CHUNK = 1 << 20

# Go's os.FileMode type bits (io/fs): Docker sends modes in them
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
GO_DEVICE = 1 << 26
GO_NAMED_PIPE = 1 << 25
GO_SOCKET = 1 << 24
GO_SETUID = 1 << 23
GO_SETGID = 1 << 22
GO_CHAR_DEVICE = 1 << 21
GO_STICKY = 1 << 20


# --- pure: the path stat --------------------------------------------------------------


def go_file_mode(mode: int) -> int:
    """``st_mode`` as Go's ``os.FileMode`` (permission bits plus Go's type bits) (pure)."""
    result = mode & 0o777
    if mode & stat.S_ISUID:
        result |= GO_SETUID
    if mode & stat.S_ISGID:
        result |= GO_SETGID
    if mode & stat.S_ISVTX:
        result |= GO_STICKY
    kind = stat.S_IFMT(mode)
    result |= {
        stat.S_IFDIR: GO_DIR, stat.S_IFLNK: GO_SYMLINK, stat.S_IFBLK: GO_DEVICE,
        stat.S_IFCHR: GO_DEVICE | GO_CHAR_DEVICE, stat.S_IFIFO: GO_NAMED_PIPE,
        stat.S_IFSOCK: GO_SOCKET,
    }.get(kind, 0)
    return result


def go_time(ns: int) -> str:
    """A time in nanoseconds since the epoch as Go's RFC 3339 with nanoseconds in UTC:
    trailing zeros of the fraction dropped, no fraction when it is zero (pure)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    digits = f"{fraction:09d}".rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        (f".{digits}" if digits else "") + "Z"


def path_stat(name: str, st: os.stat_result, link_target: str = "") -> dict:
    """Docker's ``ContainerPathStat`` of an entry, from its lstat (pure)."""
    return {"name": name, "size": st.st_size, "mode": go_file_mode(st.st_mode),
            "mtime": go_time(st.st_mtime_ns), "linkTarget": link_target}


def encode_path_stat(value: Mapping[str, object]) -> str:
    """The ``X-Docker-Container-Path-Stat`` header's value (pure)."""
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


# --- the service ----------------------------------------------------------------------


class Filesystems:
    def __init__(self, core: Any, namespace: str, containers: Containers,
                 images: Images) -> None:
        self.core = core
        self.ns = namespace
        self.containers = containers
        self.images = images

    def _get(self, ref: str) -> tuple[Any, Any]:
        """(container, task or None)."""
        cid = self.containers.resolve(ref)
        try:
            container = self.core.containers.get(self.ns, cid)
        except errors.NotFound as err:
            raise errors.NotFound(f"No such container: {ref}") from err
        try:
            task = self.core.tasks.get(self.ns, cid)
        except errors.NotFound:
            task = None
        return container, task

    def _kernel(self) -> Any:
        kernel = getattr(self.core.tasks, "kernel", None) or \
            getattr(self.core.images, "kernel", None)
        if kernel is None:
            from estiba.kernel.linux import Linux

            kernel = Linux()
        return kernel

    @contextlib.contextmanager
    def _root(self, ref: str, parts: tuple[str, ...] = ()) -> Iterator[tuple[Any, int]]:
        """(container, an ``O_PATH`` descriptor of its merged root filesystem) for the
        block: its task's mount, or its snapshot mounted detached. For ``parts`` at or
        below a bind or tmpfs of a running container (``-v``, ``--tmpfs``), the
        container's own view of its root, as Docker copies through them."""
        container, task = self._get(ref)
        if (parts and task is not None and task.exit_status is None and task.pid
                and task.status != "created"
                and user_mounted(container.spec or {}, "/" + "/".join(parts))):
            with opened(f"/proc/{task.pid}/root") as fd:
                yield container, fd
            return
        if task is not None:
            rootfs = os.path.join(self.core.tasks.bundle_dir(self.ns, container.id),
                                  "rootfs")
            if os.path.ismount(rootfs):
                with opened(rootfs) as fd:
                    yield container, fd
                return
        from estiba import mounts

        # a start meanwhile would mount the same upper directory a second time
        with self.containers.lock_of(container.id):  # start holds it while it mounts
            records = self.core.snapshots.mounts(self.ns, container.snapshot_key)
            with mounts.detached(records, self._kernel()) as root, opened(root) as fd:
                yield container, fd

    def user_ids(self, container: Any, user: str) -> tuple[int, int, list[int]]:
        """(uid, gid, more gids) of ``user`` as the container's /etc/passwd and
        /etc/group give them."""
        from estiba.core.spec import resolve_user

        with self._root(container.id) as (_, fd):
            passwd = read_in_root(fd, "/etc/passwd")
            group = read_in_root(fd, "/etc/group")
        return resolve_user(user, passwd, group)

    def copy_up(self, cid: str, path: str, to: str) -> None:
        """What the container's image has at the directory ``path`` copied into the
        directory ``to`` (a new volume's data): owners, modes and times kept, links
        copied as links. Nothing when the image has no directory there."""
        with self._root(cid) as (_, root_fd):
            try:
                fd = resolve(root_fd, clean_parts(path), follow_last=True)
            except OSError:
                return
            try:
                source = f"/proc/self/fd/{fd}"
                if os.path.isdir(source):
                    copy_tree(source, to)
            finally:
                os.close(fd)

    # --- archive ----------------------------------------------------------------------

    def _stat_at(self, root_fd: int, source: Source, ref: str, path: str
                 ) -> tuple[int, str, dict]:
        """(the parent's descriptor, the entry's name in it, its path stat); the caller
        closes the descriptor. ``name`` is "" when the entry is the parent itself."""
        missing = errors.NotFound(f"Could not find the file {path} in container {ref}")
        try:
            if source.follow_last:
                fd = resolve(root_fd, source.parts, follow_last=True)
                st = os.fstat(fd)
                if not stat.S_ISDIR(st.st_mode):  # "/etc/passwd/": ENOTDIR, as lstat says
                    os.close(fd)
                    raise missing
                return fd, "", path_stat(source.name, st)
            parent = resolve(root_fd, source.parts[:-1], follow_last=True)
        except OSError as err:
            if not_found(err) or err.errno == errno.ELOOP:
                raise missing from err
            raise errors.from_oserror(f"stat {path}", err) from err
        name = source.parts[-1]
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            link = ""
            if stat.S_ISLNK(st.st_mode):
                link = self._link_target(root_fd, parent, name)
        except OSError as err:
            os.close(parent)
            if not_found(err):
                raise missing from err
            raise errors.from_oserror(f"stat {path}", err) from err
        return parent, name, path_stat(source.name, st, link)

    @staticmethod
    def _link_target(root_fd: int, parent: int, name: str) -> str:
        """Where a symlink leads, absolute in the container (what a missing target
        would be named, when it is missing)."""
        try:
            fd = resolve(parent, (name,), follow_last=True)
        except OSError:
            target = os.readlink(name, dir_fd=parent)
            base = in_root(root_fd, parent)
            joined = target if target.startswith("/") else f"{base.rstrip('/')}/{target}"
            return "/" + "/".join(clean_parts(joined))
        try:
            return in_root(root_fd, fd)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _source_root(self, ref: str, source: Source) -> Iterator[tuple[int, Source]]:
        """The root to read ``source`` from, and ``source`` in it: one of the files the
        engine binds over the rootfs (/etc/hostname ...) is read from the engine's
        copy, which the container's processes see and write."""
        rel = "/".join(source.parts)
        if rel in BOUND_FILES and not source.follow_last:
            container, _ = self._get(ref)
            files = self.containers.files_dir(container.id)
            if os.path.exists(os.path.join(files, source.parts[-1])):
                with opened(files) as fd:
                    yield fd, source.replace(parts=source.parts[-1:])
                return
        with self._root(ref, source.parts) as (_, root_fd):
            yield root_fd, source

    def stat(self, ref: str, path: str) -> dict:
        """``HEAD /containers/{id}/archive``: the path's stat."""
        with self._source_root(ref, source_of(path)) as (root_fd, source):
            fd, _, found = self._stat_at(root_fd, source, ref, path)
            os.close(fd)
        return found

    def archive(self, ref: str, path: str) -> tuple[dict, Callable[[BinaryIO], None]]:
        """``GET /containers/{id}/archive``: the path's stat now (NotFound before any
        byte goes out), and the writer of its tar, streamed (a whole rootfs is never
        held in memory)."""
        found = self.stat(ref, path)

        def write(out: BinaryIO) -> None:
            with self._source_root(ref, source_of(path)) as (root_fd, source):
                fd, name, _ = self._stat_at(root_fd, source, ref, path)
                try:
                    with open_tar(out) as tar:
                        writer = TreeWriter(tar)
                        if name:
                            writer.add(fd, name, source.name)
                        else:
                            self._add_dir(writer, fd, source.name)
                finally:
                    os.close(fd)

        return found, write

    @staticmethod
    def _add_dir(writer: TreeWriter, path_fd: int, arcname: str) -> None:
        dir_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=path_fd)
        try:
            info = tar_info(arcname, f"/proc/self/fd/{dir_fd}", os.fstat(dir_fd))
            if info is not None:
                writer.tar.addfile(info)
            writer.add_contents(dir_fd, arcname)
        finally:
            os.close(dir_fd)

    def export(self, ref: str, out: BinaryIO) -> None:
        """``GET /containers/{id}/export``: the whole merged root filesystem as a tar,
        names relative to the root."""
        with self._root(ref) as (_, root_fd):
            dir_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC,
                             dir_fd=root_fd)
            try:
                with open_tar(out) as tar:
                    TreeWriter(tar).add_contents(dir_fd, "")
            finally:
                os.close(dir_fd)

    def extract(self, ref: str, path: str, body: BinaryIO, *,
                no_overwrite_dir_non_dir: bool = False, copy_uid_gid: bool = False) -> None:
        """``PUT /containers/{id}/archive``: the tar (plain, gzip or zstd) read from
        ``body`` extracted into the directory ``path`` (followed, inside the root).
        The archive is spooled and checked first: a hostile one writes nothing."""
        from estiba.images.layer import apply_layer

        tmp_dir = getattr(self.core, "tmp_dir", None)
        with tempfile.TemporaryFile(dir=tmp_dir) as spool:
            while chunk := body.read(_CHUNK):
                spool.write(chunk)
            spool.flush()
            spool.seek(0)
            members = checked_members(spool)
            with self._root(ref, clean_parts(path)) as (container, root_fd):
                try:
                    dest = resolve(root_fd, clean_parts(path), follow_last=True)
                except OSError as err:
                    if not_found(err) or err.errno == errno.ELOOP:
                        raise errors.NotFound(
                            f"Could not find the file {path} in container {ref}") from err
                    raise errors.from_oserror(f"resolve {path}", err) from err
                try:
                    if not stat.S_ISDIR(os.fstat(dest).st_mode):
                        raise errors.InvalidArgument("extraction point is not a directory")
                    if no_overwrite_dir_non_dir:
                        check_no_overwrite(dest, members)
                    spool.seek(0)
                    prefix = in_root(root_fd, dest).strip("/")
                    with tempfile.TemporaryFile(dir=tmp_dir) as rebased:
                        if prefix:
                            rebase(spool, prefix, rebased)
                            rebased.seek(0)
                        try:
                            apply_layer(rebased if prefix else spool,
                                        f"/proc/self/fd/{root_fd}", kernel=self._kernel())
                        except errors.EstibaError:
                            raise
                        except (OSError, EOFError, tarfile.TarError) as err:
                            raise errors.InvalidArgument(
                                f"Error processing tar file: {err}") from err
                    if copy_uid_gid:
                        owner = container_user(root_fd, container)
                        chown_members(dest, members, owner)
                finally:
                    os.close(dest)

    # --- changes and commit -------------------------------------------------------------

    def _layers(self, container: Any) -> tuple[str, list[str]]:
        records = self.core.snapshots.mounts(self.ns, container.snapshot_key)
        return upper_and_lowers(records)

    def changes(self, ref: str) -> list[dict]:
        """``GET /containers/{id}/changes``: what the writable layer changes."""
        from estiba.images import diff

        container, _ = self._get(ref)
        upper, lowers = self._layers(container)
        found = diff.changes(upper, lowers)
        return changes_json(without_mount_points(found, mount_points(upper, lowers)))

    def commit(self, ref: str, *, repo: str = "", tag: str = "", comment: str = "",
               author: str = "", pause: bool = True, changes: Sequence[str] = (),
               config: Mapping[str, Any] | None = None) -> dict:
        """``POST /commit``: a new image of the container's image plus its writable
        layer, named ``repo:tag`` (untagged without ``repo``): {"Id"}."""
        from estiba.images.instructions import apply_changes

        name = commit_name(repo, tag)
        container, task = self._get(ref)
        container_config = config_of(container)
        wanted = apply_changes(dict(config or {}), changes)
        merged = merge_config(wanted, container_config)
        base_config = self.core.images.config(self.ns, container.image)
        base_manifest, base_digest = self.core.images.manifest(self.ns, container.image)
        raw_manifest = json.loads(self.core.store.read(base_digest))
        running = task is not None and task.exit_status is None and \
            task.status == "running"
        paused = False
        if running and pause:
            self.core.tasks.pause(self.ns, container.id)
            paused = True
        try:
            upper, lowers = self._layers(container)
            return write_commit(self.core, self.ns, container, upper, lowers, name=name,
                                config=merged, container_config=container_config,
                                base_config=base_config, base_manifest=raw_manifest,
                                author=author, comment=comment)
        finally:
            if paused:
                with contextlib.suppress(errors.EstibaError):
                    self.core.tasks.resume(self.ns, container.id)


def user_mounted(spec: dict, path: str) -> bool:
    """Whether ``path`` is at or below a bind or tmpfs the container's user asked for
    (pure)."""
    for mount in spec.get("mounts") or ():
        target = mount.get("destination", "")
        if target in STANDARD_MOUNTS or mount.get("type") not in ("bind", "tmpfs"):
            continue
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return True
    return False


def copy_tree(source: str, target: str) -> None:
    """``source``'s entries into the existing directory ``target``, as ``cp -a`` does:
    nothing followed, every owner, mode and time kept; ``target`` takes ``source``'s."""
    for entry in os.scandir(source):
        _copy_entry(entry.path, os.path.join(target, entry.name))
    _copy_meta(source, target, os.lstat(source))


def _copy_entry(source: str, target: str) -> None:
    st = os.lstat(source)
    if stat.S_ISDIR(st.st_mode):
        os.mkdir(target, 0o700)
        for entry in os.scandir(source):
            _copy_entry(entry.path, os.path.join(target, entry.name))
    elif stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(source), target)
    elif stat.S_ISREG(st.st_mode):
        with open(source, "rb") as src, open(target, "xb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    else:  # devices, fifos, sockets
        os.mknod(target, st.st_mode, st.st_rdev)
    _copy_meta(source, target, st)


def _copy_meta(source: str, target: str, st: os.stat_result) -> None:
    os.chown(target, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(target, stat.S_IMODE(st.st_mode))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
