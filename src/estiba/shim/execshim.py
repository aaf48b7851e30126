"""The faster shim of an exec into a container of estiba's own runtime: a conmon in
Python, forked from a helper that has the runtime loaded, so that an exec pays neither
conmon's start nor a Python start for ``estiba-runtime exec`` (about 15 ms of the 20).

To the core it looks as conmon does (``conmon.py``): the same files in the exec's
directory — ``pid``, ``conmon.pid``, the exit file, the ``ctl`` FIFO, the
``attach`` socket (``SOCK_SEQPACKET``, packets ``<tag><bytes>``, tag 2 stdout, 3
stderr) and its link in the socket directory, the CRI log — and the same rules for
stdin's end. The exec'd process is the shim's child: the shim waits for it, writes its
status, and exits.

``ExecHelper`` (the daemon's side) starts the helper, ``python -S`` running ``serve``:
single-threaded, it accepts one connection per exec, forks, and the child becomes that
exec's shim. The connection carries the launch (one JSON line), ``attach`` once the
attach socket listens (the caller connects, then says ``go``), and the result: the
process's pid or the runtime's error. The helper ends when the daemon does (its stdin,
a pipe from the daemon, reads end of file); shims live on.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import threading

from estiba.errors import Internal, Unavailable
from estiba.shim import conmon

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

START_TIMEOUT = 20.0
_STDOUT, _STDERR = 2, 3  # conmon's tags


class ExecHelper:
    """The helper process of a daemon, started on first use; its socket is ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the helper (once) and wait until it listens."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
                __file__))))
            code = (f"import sys; sys.path.insert(0, {src!r}); "
                    "from estiba.shim.execshim import serve; serve(sys.argv[1])")
            proc = subprocess.Popen(
                [sys.executable, "-S", "-c", code, self.path], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, close_fds=True, start_new_session=True)
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
            if not ready or proc.stdout.readline().strip() != b"ready":
                proc.kill()
                proc.wait()
                raise Unavailable(f"exec helper at {self.path}: did not start")
            self._proc = proc

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                self._proc.kill()
                self._proc.wait()
                self._proc = None

    def launch(self, launch: conmon.Launch,
               on_attach: Callable[[], object] | None = None) -> tuple[int, int]:
        """As ``conmon.start`` for an exec: (the exec'd process's pid, the shim's)."""
        self.start()
        what = f"exec in {launch.id}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
            s.settimeout(START_TIMEOUT)
            try:
                s.connect(self.path)
                s.sendall(json.dumps(_launch_json(launch)).encode() + b"\n")
                reader = s.makefile("rb")
                while True:
                    line = reader.readline()
                    if not line:
                        raise Internal(f"{what}: its shim ended without a word")
                    reply = json.loads(line)
                    if "attach" in reply:
                        if on_attach is not None:
                            on_attach()
                        s.sendall(b"go\n")
                    elif "error" in reply:
                        raise conmon.ShimError(what, str(reply["error"]))
                    else:
                        return int(reply["pid"]), int(reply["shim_pid"])
            except OSError as err:
                raise Internal(f"{what}: exec helper at {self.path}: {err}") from err


def _launch_json(launch: conmon.Launch) -> dict:
    files = launch.files
    return {"id": launch.id, "dir": files.dir, "pid_file": files.pid_file,
            "conmon_pid_file": files.conmon_pid_file, "exit_dir": files.exit_dir,
            "exit_file": files.exit_file, "log_path": launch.log_path,
            "socket_dir": launch.socket_dir, "state_root": _runtime_root(launch),
            "terminal": launch.terminal, "stdin": launch.stdin,
            "process_file": launch.exec_process_file, "attach": launch.exec_attach}


def _runtime_root(launch: conmon.Launch) -> str:
    for arg in launch.runtime_args:
        if arg.startswith("--root="):
            return arg.removeprefix("--root=")
    raise Internal(f"exec in {launch.id}: no runtime root in {launch.runtime_args}")


# --- the helper ------------------------------------------------------------------------

def serve(path: str) -> None:
    """The helper's loop: a forked shim per connection, until stdin ends."""
    from estiba.kernel.linux import Linux
    from estiba.runtime import exec as _loaded  # noqa: F401 - loaded once, for every fork

    Linux().preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [], 1.0)
        _reap()
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
            return  # the daemon is gone
        if listener in ready:
            conn, _ = listener.accept()
            pid = os.fork()
            if pid == 0:
                listener.close()
                code = 1
                try:
                    code = _shim(conn)
                finally:
                    os._exit(code)
            conn.close()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# --- one exec's shim -------------------------------------------------------------------

def _shim(conn: socket.socket) -> int:
    os.setsid()
    sys.stdin.close()
    request = json.loads(conn.makefile("rb").readline())
    try:
        shim = _Shim(request)
    except Exception as err:  # noqa: BLE001 - told to the daemon, which raises it
        _say(conn, {"error": str(err)})
        return 1
    return shim.run(conn)


def _say(conn: socket.socket, message: dict) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(message).encode() + b"\n")


class _Shim:
    def __init__(self, request: dict) -> None:
        self.r = request
        self.dir = request["dir"]
        os.makedirs(request["exit_dir"], exist_ok=True)
        _write(request["conmon_pid_file"], str(os.getpid()))
        # bound through the short link in the socket directory, as conmon does: the
        # exec's directory is too deep for a socket's 108 bytes
        self.link = os.path.join(request["socket_dir"], conmon.socket_link_name(self.dir))
        with contextlib.suppress(FileExistsError):
            os.symlink(self.dir, self.link)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(os.path.join(self.link, "attach"))
        self.listener.listen(16)
        ctl = os.path.join(self.dir, "ctl")
        os.mkfifo(ctl, 0o600)
        self.ctl = os.open(ctl, os.O_RDONLY | os.O_NONBLOCK)
        self._ctl_writer = os.open(ctl, os.O_WRONLY)  # never an end of file
        self.clients: list[socket.socket] = []  # the output goes to each
        self.readers: list[socket.socket] = []  # those whose input has not ended
        self.log = open(request["log_path"], "ab")  # noqa: SIM115
        self.stdin: int | None = None
        self.outputs: dict[int, int] = {}  # fd -> tag

    def run(self, conn: socket.socket) -> int:
        if self.r["attach"]:
            _say(conn, {"attach": True})
            while True:  # the client connects, then says go
                ready, _, _ = select.select([self.listener, conn], [], [], START_TIMEOUT)
                if not ready:
                    return 1
                if self.listener in ready:
                    self._accept()
                if conn in ready:
                    if conn.recv(16).strip() == b"go":
                        break
                    return 1
        try:
            pid = self._exec()
        except Exception as err:  # noqa: BLE001 - the runtime's words, to the daemon
            _say(conn, {"error": str(err)})
            return 1
        _say(conn, {"pid": pid, "shim_pid": os.getpid()})
        conn.close()
        status = self._relay(pid)
        for client in self.clients:
            client.close()
        _write(self.r["exit_file"], str(status))
        return 0

    def _exec(self) -> int:
        from estiba.kernel.linux import Linux
        from estiba.oci.runtime_config import parse_process
        from estiba.runtime.container import Container
        from estiba.runtime.exec import exec_process

        with open(self.r["process_file"], encoding="utf-8") as f:
            process = parse_process(json.load(f))
        container = Container.load(self.r["state_root"], self.r["id"])
        devnull = os.open(os.devnull, os.O_RDWR)
        if self.r["terminal"]:
            console = os.path.join(self.link, "console.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
                listener.bind(console)
                listener.listen(1)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.close(devnull)
                # the process's runtime connects and sends the pty's master before it
                # runs the program: it waits in the connection until accepted here
                exec_process(Linux(), container, process, detach=True,
                             pid_file=self.r["pid_file"], console_socket=console)
                listener.settimeout(START_TIMEOUT)
                conn, _ = listener.accept()
                with conn:
                    _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
            if not fds:
                raise Internal("the exec's terminal did not come")
            self.outputs[fds[0]] = _STDOUT
            if self.r["stdin"]:
                self.stdin = fds[0]
            return conmon.read_pid_file(self.r["pid_file"])
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r = devnull
        if self.r["stdin"]:
            in_r, self.stdin = os.pipe()
        for fd, source in ((0, in_r), (1, out_w), (2, err_w)):
            os.dup2(source, fd)
        try:
            exec_process(Linux(), container, process, detach=True,
                         pid_file=self.r["pid_file"])
        finally:
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            for fd in {out_w, err_w, in_r, devnull}:
                os.close(fd)
        self.outputs = {out_r: _STDOUT, err_r: _STDERR}
        return conmon.read_pid_file(self.r["pid_file"])

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        self.clients.append(client)
        self.readers.append(client)

    def _relay(self, pid: int) -> int:
        exited = os.pidfd_open(pid)
        status: int | None = None
        while status is None or self.outputs:
            watched = [self.listener, self.ctl, *self.readers, *self.outputs]
            if status is None:
                watched.append(exited)
            ready, _, _ = select.select(watched, [], [], None if status is None else 0)
            if not ready and status is not None:
                break  # drained what was there
            for item in ready:
                if item == exited:
                    status = _status(os.waitpid(pid, 0)[1])
                elif item is self.listener:
                    self._accept()
                elif item == self.ctl:
                    self._control()
                elif isinstance(item, socket.socket):
                    self._from_client(item)
                else:
                    self._output(item)
        os.close(exited)
        return status

    def _output(self, fd: int) -> None:
        try:
            data = os.read(fd, 8192)
        except OSError:
            data = b""
        if not data:
            del self.outputs[fd]
            os.close(fd)
            return
        tag = self.outputs[fd]
        for client in list(self.clients):
            try:
                client.send(bytes([tag]) + data)
            except OSError:
                self.clients.remove(client)
                if client in self.readers:
                    self.readers.remove(client)
                client.close()
        _log(self.log, "stdout" if tag == _STDOUT else "stderr", data)

    def _from_client(self, client: socket.socket) -> None:
        try:
            data = client.recv(65536)
        except OSError:
            data = b""
        if data:
            if self.stdin is not None:
                with contextlib.suppress(OSError):
                    os.write(self.stdin, data)
            return
        # its input ended (a half-close): it still reads the output
        self.readers.remove(client)
        # conmon's rule: a client's end ends stdin, but a terminal's stays open
        if self.stdin is not None and not self.r["terminal"]:
            os.close(self.stdin)
            self.stdin = None

    def _control(self) -> None:
        try:
            data = os.read(self.ctl, 4096)
        except OSError:
            return
        for line in data.decode(errors="replace").splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[0] == "1" and self.r["terminal"]:
                with contextlib.suppress(ValueError, OSError):
                    from estiba.kernel.linux import Linux

                    master = next(iter(self.outputs), None)
                    if master is not None:
                        Linux().set_window_size(master, int(fields[1]), int(fields[2]))


def _status(wait_status: int) -> int:
    """conmon's exit status: the code, or 128 and the signal."""
    code = os.waitstatus_to_exitcode(wait_status)
    return code if code >= 0 else 128 - code


def _log(log: object, stream: str, data: bytes) -> None:
    """CRI log lines, as conmon writes them: full lines ``F``, a partial one ``P``."""
    from estiba.oci.state import timestamp

    stamp = timestamp().encode()
    lines = data.split(b"\n")
    out = [stamp + f" {stream} F ".encode() + line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(stamp + f" {stream} P ".encode() + lines[-1] + b"\n")
    with contextlib.suppress(OSError):
        log.write(b"".join(out))  # type: ignore[attr-defined]
        log.flush()  # type: ignore[attr-defined]


def _write(path: str, text: str) -> None:
    """Written to a new file, then renamed: a reader never sees half of it."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
    os.rename(tmp, path)
