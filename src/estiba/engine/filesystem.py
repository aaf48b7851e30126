"""A Docker container's files: archive (``docker cp``), export, changes (``docker diff``)
and commit.

Where the files are: while the container has a task (created, running or exited but
not deleted), its root filesystem is mounted in the task's bundle (``<bundle>/rootfs``,
the very mount the container's processes see, so what is copied in is seen at once);
otherwise its snapshot is mounted detached for the duration of the call, under the
containers' lock so that a start cannot mount the same upper directory meanwhile.

Containment. A running container can change its tree while the daemon walks it (swap a
directory for a symlink to ``/``). So nothing here resolves a path string through the
container's tree: every path is walked one component at a time from a descriptor of the
root (``O_PATH | O_NOFOLLOW``), a symlink met on the way is resolved *inside* the root
(an absolute target restarts at the root, ``..`` stops there), and entries are read
through ``/proc/self/fd/<parent>/<name>``, where only the last component is looked up
and never followed. Extraction goes through ``images.layer.apply_layer`` on the root's
descriptor, which contains every entry the same way. Before it the tar is spooled and
checked (names or hard links that climb out of the destination, device nodes and
whiteout names are refused: nothing is written), then rebased below the destination,
so that its symlinks resolve against the container's root, as in Docker.

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
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from typing import Any, BinaryIO

    from estiba.engine.containers import Containers
    from estiba.engine.images import Images

PATH_STAT_HEADER = "X-Docker-Container-Path-Stat"
KINDS = {"C": 0, "A": 1, "D": 2}  # docker diff's letters to the API's Kind
_MAX_LINKS = 40
_CHUNK = 1 << 20
_XATTR_PAX = "SCHILY.xattr."
_OVERLAY_XATTR = "trusted.overlay."
_WHITEOUT = ".wh."

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


# --- pure: paths, stats, configs ------------------------------------------------------


class Source(Record):
    """A path of ``GET /containers/{id}/archive`` as Docker reads it: ``parts`` from the
    root (cleaned lexically, ``..`` stops at the root), whether the last one is followed
    (a trailing ``/`` or ``/.``), and ``name``, the stat's name and the archive's top
    entry (``etc``; ``.`` for ``/etc/.``; ``/`` for the root)."""

    parts: tuple[str, ...]
    follow_last: bool
    name: str


def clean_parts(path: str) -> tuple[str, ...]:
    """The components of ``path`` taken from ``/``, ``.`` dropped and ``..`` applied
    lexically (never above the root), as Go's ``filepath.Join("/", path)`` (pure)."""
    parts: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts:
                parts.pop()
            continue
        parts.append(comp)
    return tuple(parts)


def source_of(path: str) -> Source:
    """How the archive path ``path`` is resolved and named (pure)."""
    parts = clean_parts(path)
    contents = path == "." or path.endswith("/.")
    if contents:
        return Source(parts=parts, follow_last=True, name=".")
    if not parts:
        return Source(parts=(), follow_last=True, name="/")
    return Source(parts=parts, follow_last=path.endswith("/"), name=parts[-1])


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


# the files the engine binds over the rootfs: the runtime makes their mount points in
# the writable layer, which Docker keeps in a layer of their own, out of diff and commit
BOUND_FILES = ("etc/hostname", "etc/hosts", "etc/resolv.conf")


def mount_points(upper: str, lowers: Sequence[str]) -> frozenset[str]:
    """The paths (relative) of the writable layer that are only the bound files' mount
    points: empty files the image does not have."""
    found = set()
    for rel in BOUND_FILES:
        try:
            st = os.lstat(os.path.join(upper, rel))
        except OSError:
            continue
        if (stat.S_ISREG(st.st_mode) and st.st_size == 0
                and not any(os.path.lexists(os.path.join(lower, rel)) for lower in lowers)):
            found.add(rel)
    return frozenset(found)


def without_mount_points(changes: Sequence[Any], points: frozenset[str]) -> list[Any]:
    """``changes`` without the mount points, and without their directory's change when
    nothing else changed in it (pure)."""
    if not points:
        return list(changes)
    kept = [c for c in changes if c.path.lstrip("/") not in points]
    parents = {"/" + os.path.dirname(p) for p in points}
    busy = {p for p in parents if any(c.path.startswith(p + "/") for c in kept)}
    return [c for c in kept if c.path not in parents - busy]


def changes_json(changes: Iterable[Any]) -> list[dict]:
    """``GET /containers/{id}/changes``: ``Change`` records (kind A, C or D) as
    ``[{"Path", "Kind"}]`` with Kind 0 modified, 1 added, 2 deleted (pure)."""
    return [{"Path": c.path, "Kind": KINDS[c.kind]} for c in changes]


def check_member(member: tarfile.TarInfo) -> None:
    """Refuse an entry an archive copied into a container may not hold: a name or hard
    link that climbs out of the destination, a device node, or a layer's whiteout name
    (which extraction would read as a deletion) (pure)."""
    from estiba.images.layer import entry_path

    name = member.name
    try:
        parts = entry_path(name)
        if member.islnk():
            entry_path(member.linkname)
    except errors.InvalidArgument as err:
        raise errors.InvalidArgument(
            f"copy to container: archive entry {name!r} leads outside the destination") \
            from err
    if member.ischr() or member.isblk():
        raise errors.InvalidArgument(
            f"copy to container: archive entry {name!r} is a device node: not accepted")
    if parts and parts[-1].startswith(_WHITEOUT):
        raise errors.InvalidArgument(
            f"copy to container: archive entry {name!r}: names starting with "
            f"{_WHITEOUT!r} are reserved")


def merge_config(user: Mapping[str, Any], container: Mapping[str, Any]) -> dict:
    """A commit's config: what the request gives (its changes applied), completed from
    the container's Config as Docker's commit does (moby ``daemon/commit.go`` merge):
    User, WorkingDir, StopSignal, Cmd/Entrypoint taken when unset; Env, Labels,
    ExposedPorts and Volumes merged, the request's keys winning (pure)."""
    out = dict(user)
    for key in ("User", "WorkingDir", "StopSignal"):
        if not out.get(key) and container.get(key):
            out[key] = container[key]
    for key in ("ExposedPorts", "Volumes", "Labels"):
        mine = dict(out.get(key) or {})
        for name, value in (container.get(key) or {}).items():
            mine.setdefault(name, value)
        if mine or key == "Labels":
            out[key] = mine
    env = list(out.get("Env") or [])
    names = {e.partition("=")[0] for e in env}
    env += [e for e in container.get("Env") or [] if e.partition("=")[0] not in names]
    if env:
        out["Env"] = env
    if not out.get("Entrypoint"):
        if not out.get("Cmd") and container.get("Cmd"):
            out["Cmd"] = container["Cmd"]
        if out.get("Entrypoint") is None and container.get("Entrypoint"):
            out["Entrypoint"] = container["Entrypoint"]
    if container.get("Healthcheck") and not out.get("Healthcheck"):
        out["Healthcheck"] = container["Healthcheck"]
    return out


def commit_image_config(base: Mapping[str, Any], config: Mapping[str, Any], *,
                        diff_id: str, created: str, author: str = "", comment: str = "",
                        created_by: str = "", container_id: str = "") -> dict:
    """The image config of a commit (pure): the base image's with ``config`` as its
    container config, the new layer's ``diff_id`` appended to its rootfs and one history
    entry appended, as Docker writes them."""
    rootfs = dict(base.get("rootfs") or {})
    diff_ids = [*(rootfs.get("diff_ids") or []), diff_id]
    entry: dict[str, object] = {"created": created}
    if author:
        entry["author"] = author
    if created_by:
        entry["created_by"] = created_by
    if comment:
        entry["comment"] = comment
    out: dict[str, Any] = {
        "architecture": base.get("architecture") or "",
        "os": base.get("os") or "linux",
        "created": created,
        "config": dict(config),
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [*(base.get("history") or []), entry],
    }
    for key in ("variant", "os.version", "os.features"):
        if base.get(key):
            out[key] = base[key]
    if author:
        out["author"] = author
    if comment:
        out["comment"] = comment
    if container_id:
        out["container"] = container_id
    return out


def commit_name(repo: str, tag: str) -> str:
    """The image name a commit asks for: ``repo:tag``, ``repo`` (``latest``), or "" for
    an untagged image; InvalidArgument for a tag without a repository (pure)."""
    if not repo:
        if tag:
            raise errors.InvalidArgument("tag is specified without a repository")
        return ""
    from estiba.oci import reference

    name = f"{repo}:{tag}" if tag else repo
    try:
        return str(reference.parse(name))
    except Exception as err:  # noqa: BLE001 - any parse failure is the client's
        raise errors.InvalidArgument(f"invalid reference format: {err}") from err


def upper_and_lowers(records: Sequence[Any]) -> tuple[str, list[str]]:
    """The writable directory and the lower ones (top first) of a container snapshot's
    mount records (pure)."""
    from estiba.mounts import plan

    if len(records) != 1:
        raise errors.InvalidArgument(f"container snapshot: expected one mount, got "
                                     f"{len(records)}")
    record = records[0]
    if record.type == "bind":
        return record.source, []
    params = plan(record).params
    upper = [p.value for p in params if p.key == "upperdir"]
    if not upper:
        raise errors.FailedPrecondition("container snapshot: not writable")
    return upper[0], [p.value for p in params if p.key == "lowerdir+"]


# --- walking a root through descriptors ------------------------------------------------


def _not_found(err: OSError) -> bool:
    return err.errno in (errno.ENOENT, errno.ENOTDIR)


def resolve(root_fd: int, parts: Sequence[str], follow_last: bool) -> int:
    """An ``O_PATH`` descriptor of ``parts`` below the directory ``root_fd``: symlinks
    resolved inside the root (the last one only with ``follow_last``); OSError
    (ENOENT, ENOTDIR, ELOOP) as the kernel gives it. The caller closes it."""
    stack = [os.dup(root_fd)]
    pending = list(reversed(parts))
    hops = 0
    try:
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            st = os.stat(part, dir_fd=stack[-1], follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode) and (pending or follow_last):
                hops += 1
                if hops > _MAX_LINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links")
                target = os.readlink(part, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                pending.extend(reversed([p for p in target.split("/") if p]))
                continue
            if pending and not stat.S_ISDIR(st.st_mode):
                raise OSError(errno.ENOTDIR, "not a directory")
            # O_NOFOLLOW: swapped for a symlink meanwhile, it is opened as one and the
            # next step fails with ENOTDIR instead of leaving the root
            stack.append(os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC,
                                 dir_fd=stack[-1]))
        return stack.pop()
    finally:
        for fd in stack:
            os.close(fd)


def _in_root(root_fd: int, fd: int) -> str:
    """The path of ``fd`` relative to the root, absolute (``/bin/busybox``)."""
    root = os.readlink(f"/proc/self/fd/{root_fd}").rstrip("/")
    here = os.readlink(f"/proc/self/fd/{fd}")
    if here == root:
        return "/"
    return here[len(root):] if here.startswith(root + "/") else here


def _tar_info(arcname: str, full: str, st: os.stat_result) -> tarfile.TarInfo | None:
    """The entry of ``full`` (a ``/proc/self/fd/<dir>/<name>`` path); None for a
    socket (not archivable, as in Docker)."""
    info = tarfile.TarInfo(arcname)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        info.type, info.size = tarfile.REGTYPE, st.st_size
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(full)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        return None
    try:
        names = sorted(os.listxattr(full, follow_symlinks=False))
    except OSError:
        names = []
    for name in names:
        if name.startswith(_OVERLAY_XATTR):
            continue
        with contextlib.suppress(OSError):
            value = os.getxattr(full, name, follow_symlinks=False)
            info.pax_headers[_XATTR_PAX + name] = value.decode("utf-8", "surrogateescape")
    return info


class TreeWriter:
    """Writes entries to a tar, reading each through its parent's descriptor; a file
    with several links is written once, then as hard links to its first name."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.links: dict[tuple[int, int], str] = {}

    def add(self, dir_fd: int, name: str, arcname: str) -> None:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return  # removed meanwhile (a running container)
        full = f"/proc/self/fd/{dir_fd}/{name}"
        info = _tar_info(arcname, full, st)
        if info is None:
            return
        if info.isreg():
            self._add_file(dir_fd, name, info, st)
        elif info.isdir():
            self.tar.addfile(info)
            try:
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW |
                                os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError as err:
                if _not_found(err) or err.errno == errno.ELOOP:
                    return  # replaced meanwhile: its contents are not archived
                raise
            try:
                self.add_contents(child, arcname)
            finally:
                os.close(child)
        else:
            self.tar.addfile(info)

    def add_contents(self, dir_fd: int, prefix: str) -> None:
        """The entries below ``dir_fd``, named ``<prefix>/<name>`` (``<name>`` with an
        empty prefix), sorted bytewise, a directory before its contents."""
        for name in sorted(os.listdir(dir_fd), key=os.fsencode):
            arc = name if not prefix else f"{prefix.rstrip('/')}/{name}"
            self.add(dir_fd, name, arc)

    def _add_file(self, dir_fd: int, name: str, info: tarfile.TarInfo,
                  st: os.stat_result) -> None:
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self.links.get(key)
            if first is not None:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, first, 0
                self.tar.addfile(info)
                return
            self.links[key] = info.name
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                         dir_fd=dir_fd)
        except OSError as err:
            if _not_found(err) or err.errno == errno.ELOOP:
                return
            raise
        with os.fdopen(fd, "rb") as data:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                return  # replaced meanwhile by something else
            info.size = opened.st_size
            self.tar.addfile(info, _Exactly(data, info.size))


class _Exactly:
    """``size`` bytes of a file: its data, then zeros if it shrank meanwhile."""

    def __init__(self, source: BinaryIO, size: int) -> None:
        self.source = source
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.source.read(n) if n else b""
        if len(data) < n:
            data += bytes(n - len(data))
        self.left -= len(data)
        return data


def open_tar(out: BinaryIO) -> tarfile.TarFile:
    """A PAX tar written as a stream to ``out``, names kept byte for byte."""
    return tarfile.open(fileobj=out, mode="w|",  # type: ignore[call-overload]
                        format=tarfile.PAX_FORMAT, encoding="utf-8",
                        errors="surrogateescape")


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
    def _root(self, ref: str) -> Iterator[tuple[Any, int]]:
        """(container, an ``O_PATH`` descriptor of its merged root filesystem) for the
        block: its task's mount, or its snapshot mounted detached."""
        container, task = self._get(ref)
        if task is not None:
            rootfs = os.path.join(self.core.tasks.bundle_dir(self.ns, container.id),
                                  "rootfs")
            if os.path.ismount(rootfs):
                with _opened(rootfs) as fd:
                    yield container, fd
                return
        from estiba import mounts

        # a start meanwhile would mount the same upper directory a second time
        with self.containers.lock_of(container.id):  # start holds it while it mounts
            records = self.core.snapshots.mounts(self.ns, container.snapshot_key)
            with mounts.detached(records, self._kernel()) as root, _opened(root) as fd:
                yield container, fd

    def user_ids(self, container: Any, user: str) -> tuple[int, int, list[int]]:
        """(uid, gid, more gids) of ``user`` as the container's /etc/passwd and
        /etc/group give them."""
        from estiba.core.spec import resolve_user

        with self._root(container.id) as (_, fd):
            passwd = _read_in_root(fd, "/etc/passwd")
            group = _read_in_root(fd, "/etc/group")
        return resolve_user(user, passwd, group)

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
            if _not_found(err) or err.errno == errno.ELOOP:
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
            if _not_found(err):
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
            base = _in_root(root_fd, parent)
            joined = target if target.startswith("/") else f"{base.rstrip('/')}/{target}"
            return "/" + "/".join(clean_parts(joined))
        try:
            return _in_root(root_fd, fd)
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
                with _opened(files) as fd:
                    yield fd, source.replace(parts=source.parts[-1:])
                return
        with self._root(ref) as (_, root_fd):
            yield root_fd, source

    def stat(self, ref: str, path: str) -> dict:
        """``HEAD /containers/{id}/archive``: the path's stat."""
        with self._source_root(ref, source_of(path)) as (root_fd, source):
            fd, _, found = self._stat_at(root_fd, source, ref, path)
            os.close(fd)
        return found

    def archive(self, ref: str, path: str) -> tuple[dict, bytes]:
        """``GET /containers/{id}/archive``: (the path's stat, a tar of it)."""
        import io

        out = io.BytesIO()
        with self._source_root(ref, source_of(path)) as (root_fd, source):
            fd, name, found = self._stat_at(root_fd, source, ref, path)
            try:
                with open_tar(out) as tar:
                    writer = TreeWriter(tar)
                    if name:
                        writer.add(fd, name, source.name)
                    else:
                        self._add_dir(writer, fd, source.name)
            finally:
                os.close(fd)
        return found, out.getvalue()

    @staticmethod
    def _add_dir(writer: TreeWriter, path_fd: int, arcname: str) -> None:
        dir_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=path_fd)
        try:
            info = _tar_info(arcname, f"/proc/self/fd/{dir_fd}", os.fstat(dir_fd))
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
            members = _members(spool)
            with self._root(ref) as (container, root_fd):
                try:
                    dest = resolve(root_fd, clean_parts(path), follow_last=True)
                except OSError as err:
                    if _not_found(err) or err.errno == errno.ELOOP:
                        raise errors.NotFound(
                            f"Could not find the file {path} in container {ref}") from err
                    raise errors.from_oserror(f"resolve {path}", err) from err
                try:
                    if not stat.S_ISDIR(os.fstat(dest).st_mode):
                        raise errors.InvalidArgument("extraction point is not a directory")
                    if no_overwrite_dir_non_dir:
                        _check_no_overwrite(dest, members)
                    spool.seek(0)
                    prefix = _in_root(root_fd, dest).strip("/")
                    with tempfile.TemporaryFile(dir=tmp_dir) as rebased:
                        if prefix:
                            _rebase(spool, prefix, rebased)
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
                        owner = _container_user(root_fd, container)
                        _chown_members(dest, members, owner)
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
        labels = dict(container.labels)
        from estiba.engine.containers import CONFIG

        container_config = json.loads(labels.get(CONFIG) or "{}")
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
            return self._commit(container, name, merged, container_config, base_config,
                                raw_manifest, author=author, comment=comment)
        finally:
            if paused:
                with contextlib.suppress(errors.EstibaError):
                    self.core.tasks.resume(self.ns, container.id)

    def _commit(self, container: Any, name: str, config: dict, container_config: dict,
                base_config: dict, base_manifest: dict, *, author: str,
                comment: str) -> dict:
        import hashlib
        import secrets

        from estiba.content.store import abort_staged, commit_together
        from estiba.core.images import untagged_name
        from estiba.images import diff, naming
        from estiba.metadata import leases
        from estiba.oci import image as oci
        from estiba.oci.state import timestamp

        upper, lowers = self._layers(container)
        store, db = self.core.store, self.core.db
        docker = base_manifest.get("mediaType") == oci.DOCKER_MANIFEST
        token = secrets.token_hex(8)
        staged: list[tuple[str, Any]] = []

        def stage(what: str, data: bytes) -> str:
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            writer = store.writer(f"commit-{token}-{what}", total=len(data))
            staged.append((digest, writer))
            writer.write(data)
            return digest

        created = timestamp()
        cmd = container_config.get("Cmd") or []
        with leases.temporary(db, self.ns, "commit") as hold, \
                self.core.images.collector.shared():
            try:
                writer = store.writer(f"commit-{token}-layer")
                staged.append(("", writer))
                layer = diff.write_layer(upper, writer, lower_dirs=lowers,
                                         skip=mount_points(upper, lowers))
                staged[0] = (layer.digest, writer)
                image_config = commit_image_config(
                    base_config, config, diff_id=layer.diff_id, created=created,
                    author=author, comment=comment,
                    created_by=" ".join(cmd) if isinstance(cmd, list) else str(cmd),
                    container_id=container.id)
                raw_config = _json(image_config)
                config_digest = stage("config", raw_config)
                manifest = {
                    "schemaVersion": 2,
                    "mediaType": oci.DOCKER_MANIFEST if docker else oci.OCI_MANIFEST,
                    "config": {"mediaType": oci.DOCKER_CONFIG if docker else oci.OCI_CONFIG,
                               "digest": config_digest, "size": len(raw_config)},
                    "layers": [*(base_manifest.get("layers") or []), {
                        "mediaType": oci.DOCKER_LAYER if docker else oci.OCI_LAYER,
                        "digest": layer.digest, "size": layer.size}],
                }
                manifest_digest = stage("manifest", _json(manifest))
            except BaseException:
                abort_staged(store, staged)
                raise
            for digest, _ in staged:
                hold("content", digest)
            commit_together(store, staged)
            naming.name_image(store, db, self.ns, name or untagged_name(manifest_digest),
                              manifest_digest)
        return {"Id": config_digest}


# --- helpers of extraction -----------------------------------------------------------


@contextlib.contextmanager
def _opened(path: str) -> Iterator[int]:
    fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _members(spool: BinaryIO) -> list[tarfile.TarInfo]:
    """The checked members of the spooled archive (``check_member``)."""
    from estiba.images.compression import open_decompressed

    _, reader = open_decompressed(spool, "auto")
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            members = []
            for member in tar:
                check_member(member)
                members.append(member)
    except tarfile.TarError as err:
        raise errors.InvalidArgument(f"Error processing tar file: {err}") from err
    except (OSError, EOFError) as err:
        if isinstance(err, errors.EstibaError):
            raise
        raise errors.InvalidArgument(f"Error processing tar file: {err}") from err
    finally:
        reader.close()
    return members


def _rebase(source: BinaryIO, prefix: str, out: BinaryIO) -> None:
    """Copy the checked archive ``source`` to ``out`` with its names (and hard links'
    targets) below ``prefix``: applied at the root, its symlinks then resolve against
    the container's root, as Docker's do, not against the destination."""
    from estiba.images.compression import open_decompressed
    from estiba.images.layer import entry_path

    def rebased(name: str) -> str:
        return "/".join((prefix, *entry_path(name)))

    _, reader = open_decompressed(source, "auto")
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tin, open_tar(out) as tout:
            for member in tin:
                data = tin.extractfile(member) if member.isreg() else None
                member.name = rebased(member.name)
                member.pax_headers.pop("path", None)  # it would win over the new name
                if member.islnk():
                    member.linkname = rebased(member.linkname)
                    member.pax_headers.pop("linkpath", None)
                tout.addfile(member, data)
    finally:
        reader.close()


def _member_parents(dest: int, members: Iterable[tarfile.TarInfo]
                    ) -> Iterator[tuple[tarfile.TarInfo, tuple[str, ...], int]]:
    """(member, its path parts, an fd of its parent below ``dest``) of each member whose
    parent is there; the fd is closed once the caller goes on."""
    from estiba.images.layer import entry_path

    for member in members:
        parts = entry_path(member.name)
        if not parts:
            continue
        try:
            parent = resolve(dest, parts[:-1], follow_last=True)
        except OSError:
            continue
        try:
            yield member, parts, parent
        finally:
            os.close(parent)


def _check_no_overwrite(dest: int, members: Iterable[tarfile.TarInfo]) -> None:
    """Refuse to replace a directory with a non-directory or the reverse (the CLI asks
    it of every copy)."""
    for member, parts, parent in _member_parents(dest, members):
        try:
            st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and not member.isdir():
            raise errors.InvalidArgument(
                f'cannot overwrite directory "{"/".join(parts)}" with non-directory '
                f'"{member.name}"')
        if not stat.S_ISDIR(st.st_mode) and member.isdir():
            raise errors.InvalidArgument(
                f'cannot overwrite non-directory "{"/".join(parts)}" with directory '
                f'"{member.name}"')


def parse_user(user: str, passwd: str, group: str) -> tuple[int, int]:
    """(uid, gid) of a Config's ``User`` with the container's /etc/passwd and /etc/group
    texts (pure)."""
    from estiba.core.spec import resolve_user

    uid, gid, _ = resolve_user(user, passwd, group)
    return uid, gid


def _read_in_root(root_fd: int, path: str) -> str:
    try:
        fd = resolve(root_fd, clean_parts(path), follow_last=True)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        with open(f"/proc/self/fd/{fd}", encoding="utf-8", errors="replace") as f:
            return f.read(1 << 20)
    except OSError:
        return ""
    finally:
        os.close(fd)


def _container_user(root_fd: int, container: Any) -> tuple[int, int]:
    from estiba.engine.containers import CONFIG

    config = json.loads(dict(container.labels).get(CONFIG) or "{}")
    return parse_user(config.get("User") or "", _read_in_root(root_fd, "/etc/passwd"),
                      _read_in_root(root_fd, "/etc/group"))


def _chown_members(dest: int, members: Iterable[tarfile.TarInfo],
                   owner: tuple[int, int]) -> None:
    """``copyUIDGID``: every extracted entry owned by the container's user."""
    for _, parts, parent in _member_parents(dest, members):
        with contextlib.suppress(OSError):  # gone meanwhile
            os.chown(parts[-1], *owner, dir_fd=parent, follow_symlinks=False)
