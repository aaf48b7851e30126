"""A task's bundle on disk (the layout: ``core/tasks.py``): JSON files written atomically,
the mounts below it, its removal that never crosses into a mount, and the shims' pids.
"""

from __future__ import annotations

import contextlib
import json
import os

from estiba.errors import Conflict, EstibaError, InvalidArgument, from_oserror
from estiba.shim import conmon as shim


def exec_log_path(files: shim.ShimFiles) -> str:
    return os.path.join(files.dir, "output.log")


def shim_alive(files: shim.ShimFiles) -> bool:
    try:
        pid = shim.read_pid_file(files.conmon_pid_file)
    except EstibaError:
        return False
    return bool(pid) and shim.is_conmon_of(pid, files.dir)


def reap_exited_shim(pid_file: str) -> None:
    """Reap the conmon of an exit found at adopt when it is our child (a service
    restarted in the same process, as tests do); a daemon restarted for real is not its
    parent. Checked by name and parent: the pid may be another process's by now."""
    from estiba.kernel import proc

    try:
        pid = shim.read_pid_file(pid_file)
        with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
            comm = f.read().strip()
    except (EstibaError, OSError):
        return
    found = proc.stat(pid)
    if comm == "conmon" and found is not None and found.ppid == os.getpid():
        # it wrote the exit file: it is gone, or about to be
        with contextlib.suppress(EstibaError):
            shim.await_exit(pid, 2.0)


def reap(pid: int) -> None:
    """Collect the exited shim when it is our child (we are its subreaper)."""
    if pid <= 0:
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def makedirs(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise from_oserror(f"make {path}", err) from err


def listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except OSError as err:
        raise from_oserror(f"read {path}", err) from err
    except ValueError as err:
        raise InvalidArgument(f"read {path}: not JSON") from err
    if not isinstance(value, dict):
        raise InvalidArgument(f"read {path}: not a JSON object")
    return value


def remove_tree(path: str) -> None:
    """rm -r that does not cross into another filesystem: whatever is still mounted
    below is left (and seen), not emptied."""
    device = os.lstat(path).st_dev if os.path.lexists(path) else None
    if device is None:
        return

    def remove(dir: str) -> None:
        for entry in os.scandir(dir):
            if entry.is_dir(follow_symlinks=False):
                if entry.stat(follow_symlinks=False).st_dev != device:
                    raise Conflict(f"remove {dir}: {entry.path} is a mount point")
                remove(entry.path)
                os.rmdir(entry.path)
            else:
                os.unlink(entry.path)

    try:
        remove(path)
        os.rmdir(path)
    except OSError as err:
        raise from_oserror(f"remove {path}", err) from err
