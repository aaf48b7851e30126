"""Mount options and safe path resolution inside a rootfs.

``parse_options`` turns the spec's option strings into mount(2) flags, a propagation
change and filesystem data. ``secure_join`` resolves a path under a root the way the
kernel would if the root were ``/``: symlinks — absolute ones included — and ``..`` can
never leave it, so a hostile image cannot make the runtime mount over a host path.
"""

from __future__ import annotations

import os

from estiba.errors import InvalidArgument
from estiba.kernel import consts as k
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.kernel.linux import Linux

# option → (flags to set, flags to clear)
FLAG_OPTIONS: dict[str, tuple[int, int]] = {
    "ro": (k.MS_RDONLY, 0), "rw": (0, k.MS_RDONLY),
    "nosuid": (k.MS_NOSUID, 0), "suid": (0, k.MS_NOSUID),
    "nodev": (k.MS_NODEV, 0), "dev": (0, k.MS_NODEV),
    "noexec": (k.MS_NOEXEC, 0), "exec": (0, k.MS_NOEXEC),
    "sync": (k.MS_SYNCHRONOUS, 0), "async": (0, k.MS_SYNCHRONOUS),
    "dirsync": (k.MS_DIRSYNC, 0),
    "remount": (k.MS_REMOUNT, 0),
    "mand": (k.MS_MANDLOCK, 0), "nomand": (0, k.MS_MANDLOCK),
    "noatime": (k.MS_NOATIME, 0), "atime": (0, k.MS_NOATIME),
    "nodiratime": (k.MS_NODIRATIME, 0), "diratime": (0, k.MS_NODIRATIME),
    "relatime": (k.MS_RELATIME, 0), "norelatime": (0, k.MS_RELATIME),
    "strictatime": (k.MS_STRICTATIME, 0), "nostrictatime": (0, k.MS_STRICTATIME),
    "lazytime": (k.MS_LAZYTIME, 0), "nolazytime": (0, k.MS_LAZYTIME),
    "nosymfollow": (k.MS_NOSYMFOLLOW, 0), "symfollow": (0, k.MS_NOSYMFOLLOW),
    "bind": (k.MS_BIND, 0), "rbind": (k.MS_BIND | k.MS_REC, 0),
}

PROPAGATION: dict[str, int] = {
    "private": k.MS_PRIVATE, "rprivate": k.MS_PRIVATE | k.MS_REC,
    "shared": k.MS_SHARED, "rshared": k.MS_SHARED | k.MS_REC,
    "slave": k.MS_SLAVE, "rslave": k.MS_SLAVE | k.MS_REC,
    "unbindable": k.MS_UNBINDABLE, "runbindable": k.MS_UNBINDABLE | k.MS_REC,
}

# Options runc knows that change nothing in the kernel's flags; accepted and ignored.
IGNORED_OPTIONS = frozenset(("defaults",))


class MountOptions(Record):
    flags: int = 0
    propagation: tuple[int, ...] = ()
    data: str = ""

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & k.MS_BIND)


def parse_options(options: tuple[str, ...] | list[str]) -> MountOptions:
    flags = 0
    propagation: list[int] = []
    data: list[str] = []
    for option in options:
        if option in FLAG_OPTIONS:
            set_, clear = FLAG_OPTIONS[option]
            flags = (flags | set_) & ~clear
        elif option in PROPAGATION:
            propagation.append(PROPAGATION[option])
        elif option in IGNORED_OPTIONS:
            continue
        elif option in ("idmap", "ridmap", "tmpcopyup"):
            raise InvalidArgument(f"mount option {option!r} is not supported")
        else:
            data.append(option)
    return MountOptions(flags=flags, propagation=tuple(propagation), data=",".join(data))


def clean(path: str) -> str:
    """Lexically clean an absolute path: no ``.``, no ``..`` above ``/``, no ``//``."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def secure_join(root: str, path: str, readlink: Callable[[str], str] = os.readlink) -> str:
    """Resolve ``path`` inside ``root``, following symlinks as if ``root`` were ``/``.

    The result is always ``root`` or below it. Components that do not exist yet are kept
    as they are (the caller creates them). ``readlink`` is a parameter so the resolution
    can be tested on a described tree.
    """
    root = root.rstrip("/") or "/"
    pending = [p for p in path.split("/") if p]
    pending.reverse()
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root + "/" + "/".join([*resolved, part])
        try:
            target = readlink(candidate)
        except OSError:  # not a symlink, or does not exist yet
            resolved.append(part)
            continue
        hops += 1
        if hops > 255:
            raise InvalidArgument(f"resolve {path} in {root}: too many levels of symbolic links")
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p]
        parts.reverse()
        pending.extend(parts)
    return root + "/" + "/".join(resolved) if resolved else root


def within(root: str, path: str) -> bool:
    root = root.rstrip("/")
    return path == root or path.startswith(root + "/") or root == ""


def open_parent(kernel: Linux, root_fd: int, root: str, path: str, make: str = ""
                ) -> tuple[int, str]:
    """An ``O_PATH`` descriptor of the directory holding ``path`` (a ``secure_join``
    result, under ``root``, whose descriptor is ``root_fd``) and the entry's name,
    reached without following any symlink, the missing directories made on the way,
    and the entry itself when ``make`` is ``"dir"`` or ``"file"``.

    The resolution and the use of a path are two moments: something that writes into
    the rootfs (a container sharing a volume) may swap a directory of the path for a
    symlink to the host in between, and a plain ``makedirs`` or ``mount`` would follow
    it (runc's CVE-2021-30465). Opened with openat2's RESOLVE_NO_SYMLINKS and
    RESOLVE_BENEATH (or, to make what is missing, one component at a time without
    following symlinks), such a swap is refused; nothing is made or mounted outside
    ``root``. The caller closes the descriptor."""
    if not within(root, path):
        raise InvalidArgument(f"{path} is not under {root}")
    relative = path[len(root.rstrip("/")):].strip("/")
    parent, _, name = relative.rpartition("/")
    dir_flags = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        fd = kernel.open_beneath(root_fd, parent, dir_flags)
    except FileNotFoundError:
        fd = os.dup(root_fd)
        try:
            for part in parent.split("/"):
                fd = _step(fd, part, path)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            raise
    except OSError as err:
        if err.errno not in _SWAPPED:
            raise
        raise _swapped(path, err) from None
    if name and make:
        try:
            if make == "dir":
                os.mkdir(name, 0o755, dir_fd=fd)
            else:
                os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY
                                 | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=fd))
        except FileExistsError:
            pass
        except BaseException:
            os.close(fd)
            raise
    return fd, name or "."


# what opening without following symlinks says of a symlink on the way (ELOOP, ENOTDIR
# with O_DIRECTORY) or of a way out of the root (EXDEV)
_SWAPPED = (40, 20, 18)


def _swapped(path: str, err: OSError) -> InvalidArgument:
    return InvalidArgument(f"{path}: {(err.strerror or str(err)).lower()} on the way: a "
                           "symlink was put there while the container was being set up")


def _step(fd: int, part: str, path: str) -> int:
    """The descriptor of directory ``part`` under ``fd``, made if missing (``fd`` is
    closed); a symlink or a file there is refused (O_DIRECTORY and O_NOFOLLOW)."""
    flags = os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        try:
            return os.open(part, flags, dir_fd=fd)
        except FileNotFoundError:
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass  # made meanwhile: opened below, and checked the same way
            return os.open(part, flags, dir_fd=fd)
    except OSError as err:
        if err.errno not in _SWAPPED:
            raise
        raise _swapped(path, err) from None
    finally:
        os.close(fd)
