"""The daemon's unix sockets: checked before binding (another daemon answering makes
this one refuse to start; a stale socket file left by a killed daemon is removed), then
secured: mode 0660 owned by root and the configured group, 0600 without a group, in a
directory of mode 0711 (it lets users reach the sockets the group allows, and list
nothing)."""

from __future__ import annotations

import os
import socket

from estiba import errors


def group_id(group: str) -> int:
    """The gid of a group name (or number); -1 for none."""
    if not group:
        return -1
    if group.isdigit():
        return int(group)
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError as err:
        raise errors.NotFound(f"socket group {group}: no such group") from err


def answers(path: str) -> bool:
    """Whether a process accepts connections on the socket at ``path``."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(path)
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
        return False
    except TimeoutError:
        return True  # someone is there, and busy
    except OSError as err:
        raise errors.from_oserror(f"connect to {path}", err) from err
    finally:
        s.close()
    return True


def prepare(path: str) -> None:
    """Make the socket's directory (0711 when made here); refuse a socket another
    daemon answers on; remove a stale one."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        try:
            os.makedirs(parent, mode=0o711, exist_ok=True)
            os.chmod(parent, 0o711)  # makedirs' mode is masked by the umask
        except OSError as err:
            raise errors.from_oserror(f"make socket directory {parent}", err) from err
    if answers(path):
        raise errors.Conflict(f"socket {path}: another daemon is answering on it")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise errors.from_oserror(f"remove stale socket {path}", err) from err


def secure(path: str, gid: int) -> None:
    """0660 root:group, or 0600 without a group. (The socket is bound under a umask
    that already allows no more, so there is no moment it is open to others.)"""
    try:
        if gid >= 0:
            os.chown(path, 0 if os.geteuid() == 0 else -1, gid)
        os.chmod(path, 0o660 if gid >= 0 else 0o600)
    except OSError as err:
        raise errors.from_oserror(f"secure socket {path}", err) from err


def identity(path: str) -> tuple[int, int, int]:
    """What tells the socket file this daemon bound from a later one at the same path:
    device, inode (numbers are reused at once) and change time (taken once secured)."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_ctime_ns


def remove(path: str, bound: tuple[int, int, int] | None = None) -> None:
    """Remove the socket file; with ``bound``, only if it is still the one this daemon
    bound (a daemon started meanwhile may have replaced it)."""
    try:
        if bound is not None and identity(path) != bound:
            return
        os.unlink(path)
    except FileNotFoundError:
        pass
