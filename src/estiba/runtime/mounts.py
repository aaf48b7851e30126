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
