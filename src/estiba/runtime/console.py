"""Terminals: handing a pty master to the caller's console socket (SCM_RIGHTS), as
containerd and runc do, and the receiving side used by ``run`` without one."""

from __future__ import annotations

import os
import socket

from estiba.errors import from_oserror


def connect(path: str) -> int:
    """A connected descriptor on the console socket at ``path`` (in the host's view)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as err:
        sock.close()
        raise from_oserror(f"connect to console socket {path}", err) from err
    return sock.detach()


def send_master(sock_fd: int, master: int) -> None:
    sock = socket.socket(fileno=sock_fd)
    try:
        socket.send_fds(sock, [b"/dev/ptmx"], [master])
    finally:
        sock.detach()
    os.close(sock_fd)


def receive_master(sock_fd: int) -> int:
    sock = socket.socket(fileno=sock_fd)
    try:
        _, fds, _, _ = socket.recv_fds(sock, 4096, 1)
    finally:
        sock.detach()
    if not fds:
        raise from_oserror("receive the console", OSError(71, "protocol error"))
    return fds[0]


def setup_pty(kernel, console_fd: int, size: tuple[int, int] | None) -> str:  # noqa: ANN001
    """Make a pty in the devpts the process sees, hand its master to the console socket
    and make its slave the process's stdio and controlling terminal. Returns the slave's
    path (for /dev/console)."""
    master, slave = os.openpty()
    os.set_inheritable(master, False)
    if size:
        kernel.set_window_size(slave, size[0], size[1])
    slave_path = os.ttyname(slave)
    send_master(console_fd, master)
    os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    kernel.set_controlling_tty(0)
    if slave > 2:
        os.close(slave)
    return slave_path
