"""``<exec_root>/estibad.pid``: the daemon's pid, under an exclusive ``flock`` held for
the daemon's life, so that two daemons never share an exec root (and a daemon started
while another is still stopping waits for nothing and refuses at once). The lock goes
with the process, however it ends; the file is left for readers.
"""

from __future__ import annotations

import fcntl
import os

from estiba import errors


class PidFile:
    def __init__(self, exec_root: str) -> None:
        self.path = os.path.join(exec_root, "estibad.pid")
        self._fd = -1

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise errors.from_oserror(f"open {self.path}", err) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise errors.Conflict(f"{self.path}: another estibad (pid {holder}) uses this "
                                  "exec root") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
