"""Terminals: handing a pty master to the caller's console socket (SCM_RIGHTS), as
containerd and runc do, and the receiving side used by ``run`` without one."""

from __future__ import annotations

import os
import socket

from estiba.errors import from_oserror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.kernel.linux import Linux


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


def setup_pty(kernel: Linux, console_fd: int, size: tuple[int, int] | None) -> str:
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


def relay(master: int, pid: int) -> int:
    """Copy the runtime's stdin to the pty and the pty to its stdout until the process
    ``pid`` (our child) exits; the runtime's terminal, if it has one, is raw meanwhile
    and its size follows ours (SIGWINCH). Returns the exit status like ``wait``."""
    import _signal
    import select
    import termios
    import tty

    from estiba.runtime.wait import exit_code, forward_signals

    stdin_tty = os.isatty(0)
    saved = termios.tcgetattr(0) if stdin_tty else None

    def resize(_signum: int = 0, _frame: object = None) -> None:
        if stdin_tty:
            import fcntl

            size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(master, termios.TIOCSWINSZ, size)

    restore = forward_signals(pid, keep=(28,))
    previous = _signal.signal(28, resize)  # SIGWINCH: our size, not the signal, matters
    try:
        if stdin_tty:
            tty.setraw(0)
            resize()
        sources = [master, 0]
        status = None
        while status is None:
            try:
                ready, _, _ = select.select(sources, [], [], 0.1)
            except InterruptedError:
                continue
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: every holder of the slave closed it
                    data = b""
                if fd == master:
                    if data:
                        os.write(1, data)
                    else:
                        sources.remove(master)
                elif data:
                    os.write(master, data)
                else:
                    sources.remove(0)  # stdin ended: the container keeps its terminal
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = raw
        # what the program wrote just before it exited
        while True:
            try:
                data = os.read(master, 65536) if select.select([master], [], [], 0)[0] \
                    else b""
            except OSError:
                data = b""
            if not data:
                break
            os.write(1, data)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        _signal.signal(28, previous)
        restore()
        os.close(master)
    return exit_code(status)
