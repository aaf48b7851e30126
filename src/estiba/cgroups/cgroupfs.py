"""File operations on a cgroup filesystem: the one place this package touches the kernel.

A cgroup is a directory of a cgroupfs mount; the kernel creates its control files on
mkdir, takes settings as writes to them and reports state in reads; rmdir removes a cgroup
that has no processes and no child cgroups, whatever files it shows. ``CgroupFS`` does
these plain operations and lets ``OSError`` through; the managers add what failed on what.
Tests pass a subclass that plays the kernel's part on a tree in a temporary directory.
"""

from __future__ import annotations

import errno
import os
import time

from estiba.errors import NotFound, Unavailable, from_oserror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.cgroups.resources import Write

_O_WRITE = os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC


class CgroupFS:
    """The real cgroupfs: plain system calls on the paths given."""

    def mkdir(self, path: str) -> None:
        os.mkdir(path, 0o755)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)

    def read(self, path: str) -> str:
        with open(path, encoding="utf-8") as f:
            return f.read()

    def write(self, path: str, value: str) -> None:
        # O_TRUNC is ignored by cgroupfs; it makes a plain file in a test tree hold the
        # last value written, as a control file reads back the last setting.
        data = value.encode()
        fd = os.open(path, _O_WRITE)
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.EIO, "short write")
        finally:
            os.close(fd)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def subdirs(self, path: str) -> list[str]:
        """The child directories of ``path`` (its child cgroups), as full paths."""
        with os.scandir(path) as it:
            return [e.path for e in it if e.is_dir(follow_symlinks=False)]


# --- helpers the managers share ------------------------------------------------------


def write_file(fs: CgroupFS, directory: str, name: str, value: str) -> None:
    try:
        fs.write(f"{directory}/{name}", value)
    except OSError as err:
        raise from_oserror(f"write {name} in {directory}", err) from err


def read_file(fs: CgroupFS, directory: str, name: str) -> str:
    try:
        return fs.read(f"{directory}/{name}")
    except OSError as err:
        raise from_oserror(f"read {name} in {directory}", err) from err


def read_optional(fs: CgroupFS, directory: str, name: str) -> str | None:
    """The file's content, or None when the host lacks it."""
    try:
        return fs.read(f"{directory}/{name}")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise from_oserror(f"read {name} in {directory}", err) from err


def parse_int(text: str) -> int | None:
    """A counter or limit as the kernel prints it; None for "max" and v1's unlimited."""
    text = text.strip()
    if text == "max":
        return None
    n = int(text)
    return None if n >= (1 << 63) - (1 << 20) else n


def parse_keyed(text: str) -> dict[str, int]:
    """A flat keyed file (memory.stat, cpu.stat, cgroup.events): ``key value`` lines."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def makedirs(fs: CgroupFS, path: str) -> list[str]:
    """mkdir -p; returns the directories it created, top first."""
    missing: list[str] = []
    p = path
    while not fs.exists(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    created: list[str] = []
    for d in reversed(missing):
        try:
            fs.mkdir(d)
        except FileExistsError:
            continue  # created meanwhile by another runtime call: fine
        except OSError as err:
            raise from_oserror(f"create cgroup {d}", err) from err
        created.append(d)
    return created


def procs(fs: CgroupFS, directory: str) -> list[int]:
    """The processes of the cgroup at ``directory`` and of its descendants."""
    out: list[int] = []
    stack = [directory]
    while stack:
        d = stack.pop()
        try:
            text = fs.read(f"{d}/cgroup.procs")
            stack.extend(fs.subdirs(d))
        except FileNotFoundError:
            continue  # removed while we walked
        except OSError as err:
            raise from_oserror(f"read cgroup.procs in {d}", err) from err
        out.extend(int(line) for line in text.split())
    return sorted(set(out))


def join(fs: CgroupFS, directory: str, pid: int) -> None:
    try:
        fs.write(f"{directory}/cgroup.procs", str(pid))
    except OSError as err:
        what = f"join process {pid} to cgroup {directory}"
        if err.errno == errno.ESRCH:
            raise NotFound(f"{what}: no such process") from err
        raise from_oserror(what, err) from err


def join_calling_thread(fs: CgroupFS, directory: str) -> None:
    """Move the calling thread (pid 0 in v1's ``tasks`` file) into the cgroup."""
    try:
        fs.write(f"{directory}/tasks", "0")
    except OSError as err:
        raise from_oserror(f"join cgroup {directory}", err) from err


def remove_tree(fs: CgroupFS, directory: str, deadline: float) -> None:
    """rmdir the cgroup and its descendants, deepest first.

    A cgroup whose last process has just exited stays busy for a moment (the kernel
    finishes tearing the tasks down asynchronously), so EBUSY is retried until
    ``deadline`` (a ``time.monotonic()`` value). A directory that is gone is fine.
    """
    try:
        children = fs.subdirs(directory)
    except FileNotFoundError:
        return
    except OSError as err:
        raise from_oserror(f"remove cgroup {directory}", err) from err
    for child in children:
        remove_tree(fs, child, deadline)
    delay = 0.001
    while True:
        try:
            fs.rmdir(directory)
            return
        except FileNotFoundError:
            return
        except OSError as err:
            if err.errno != errno.EBUSY or time.monotonic() >= deadline:
                raise from_oserror(f"remove cgroup {directory}", err) from err
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def wait_for(check: Callable[[], bool], deadline: float, what: str) -> None:
    """Poll ``check()`` until it returns true; raise Internal(ETIMEDOUT) at ``deadline``."""
    delay = 0.0005
    while not check():
        if time.monotonic() >= deadline:
            raise from_oserror(what, TimeoutError(errno.ETIMEDOUT, "timed out"))
        time.sleep(delay)
        delay = min(delay * 2, 0.02)



def apply_write(fs: CgroupFS, directory: str, w: Write, lacking: str) -> None:
    """Execute one planned write in ``directory``.

    A missing file is skipped when the write is optional, replaced by its fallback when
    the host has that, and otherwise reported as Unavailable with ``lacking`` saying why
    the host would lack it (a controller not mounted or not enabled).
    """
    try:
        fs.write(f"{directory}/{w.file}", w.value)
        return
    except FileNotFoundError as err:
        if w.fallback and fs.exists(f"{directory}/{w.fallback}"):
            write_file(fs, directory, w.fallback, w.value)
            return
        if w.optional:
            return
        if not fs.exists(directory):
            raise NotFound(f"write {w.file} in {directory}: the cgroup does not exist") from err
        raise Unavailable(f"write {w.file} in {directory}: no such file ({lacking})") from err
    except OSError as err:
        raise from_oserror(f"write {w.file} in {directory}", err) from err
