"""Paths inside a container's root filesystem, walked through descriptors: an archive
path as Docker reads it (``Source``, ``clean_parts``, ``source_of``), its resolution from
a descriptor of the root (``resolve``), the path of a descriptor in the root
(``in_root``) and a small file of the root read as text (``read_in_root``).

Containment. A running container can change its tree while the daemon walks it (swap a
directory for a symlink to ``/``). So nothing here resolves a path string through the
container's tree: every path is walked one component at a time from a descriptor of the
root (``O_PATH | O_NOFOLLOW``), a symlink met on the way is resolved *inside* the root
(an absolute target restarts at the root, ``..`` stops there), and entries are read
through ``/proc/self/fd/<parent>/<name>``, where only the last component is looked up
and never followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

_MAX_LINKS = 40


# --- pure: archive paths --------------------------------------------------------------


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


# --- walking a root through descriptors ------------------------------------------------


def not_found(err: OSError) -> bool:
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


def in_root(root_fd: int, fd: int) -> str:
    """The path of ``fd`` relative to the root, absolute (``/bin/busybox``)."""
    root = os.readlink(f"/proc/self/fd/{root_fd}").rstrip("/")
    here = os.readlink(f"/proc/self/fd/{fd}")
    if here == root:
        return "/"
    return here[len(root):] if here.startswith(root + "/") else here


def read_in_root(root_fd: int, path: str) -> str:
    """The text of the regular file ``path`` of the root (its first MiB); "" when there
    is none or it cannot be read."""
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


@contextlib.contextmanager
def opened(path: str) -> Iterator[int]:
    """An ``O_PATH`` descriptor of the directory ``path`` for the block."""
    fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)
