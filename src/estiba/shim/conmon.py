"""conmon as the per-container shim: its command line, its pipes, its files.

The protocol, as measured with conmon 2.1.6 (Debian) and checked against its source:

- Start: ``conmon --api-version 1 -c ID -u UUID -n NAME -r RUNTIME -b BUNDLE
  -p PIDFILE -l k8s-file:LOG --exit-dir DIR --socket-dir-path DIR --conmon-pidfile FILE
  --runtime-arg ... [--log-level error --syslog] [-t] [-i]`` with the environment
  ``_OCI_SYNCPIPE=<fd>`` (conmon writes to it) and ``_OCI_STARTPIPE=<fd>`` (conmon reads
  one byte from it before it calls the runtime). The process we start forks and exits
  at once; the child (``setsid``, a child subreaper for the container, stdio on
  /dev/null) does the work and is the shim. It is reparented to our nearest subreaper
  (or pid 1): whoever that is reaps it.
- conmon runs ``RUNTIME <runtime args> create --bundle BUNDLE --pid-file PIDFILE ID``
  (``--console-socket`` with ``-t``), then writes one JSON line to the sync pipe:
  ``{"data": <container pid>}``, or ``{"data": -1, "message": "<runtime's stderr>"}``
  when create failed. It does not call ``start``: the caller does.
- With ``-e --exec-process-spec FILE`` conmon runs ``RUNTIME exec --detach
  --process FILE --pid-file PIDFILE ID`` instead; the sync pipe then carries the pid,
  and at the exec'd process's exit a second line with its exit status. ``-b`` is then
  a directory of the exec's own: conmon makes its ``ctl`` and ``winsz`` FIFOs there.
- Output: conmon reads the container's stdout and stderr (or pty) and appends CRI log
  lines to LOG: ``<RFC 3339 nanoseconds> stdout|stderr F|P <text>`` (P: a partial
  line, continued by the next one).
- Exit: when the container's init exits, conmon writes its status as decimal text to
  ``<exit-dir>/<ID>`` (``128 + n`` when killed by signal n: 137 for SIGKILL), then exits.
  The exit file's appearance (or conmon's exit: a pidfd of it turns readable) is the
  container's exit.
- Files: ``BUNDLE/ctl`` and ``BUNDLE/winsz`` (FIFOs: resize and log reopen requests),
  ``BUNDLE/attach`` (the attach socket, when attach is in use) reached through the
  symlink ``<socket-dir>/<UUID>`` → BUNDLE, which keeps socket paths short (108 bytes);
  conmon leaves the symlink behind: ``remove_socket_link`` does it.
- Errors of conmon itself (a missing socket directory ...) go to its stderr, which is
  /dev/null after the fork, or to syslog with ``--syslog``: the sync pipe then closes
  without a line. conmon tries to lower its ``oom_score_adj`` to -999, which a process
  may not do here ("failed to write to /proc/self/oom_score_adj: Permission denied");
  no option turns the attempt off, and 2.1.6 logs the failure at debug level, so at
  ``--log-level error`` it is not seen.
- ``--exit-command`` (a program run after the exit) is not used: the core watches
  conmon's pid instead.

Attach, resize (conmon 2.1.6's ``conn_sock.c``, ``ctrl.c``, ``ctr_stdio.c``; checked
by the integration tests of ``ctr run -t``/``tasks attach``):

- The attach socket: ``AF_UNIX``/``SOCK_SEQPACKET``, bound at ``BUNDLE/attach`` and
  reached as ``<socket-dir>/<UUID>/attach`` (``attach_path``). conmon makes it for every
  create and exec (not only with ``-i``); any number of clients may connect.
- conmon → client: each read of the container's output (at most 8192 bytes) is sent to
  every client as one packet ``<tag><bytes>``, tag 2 for stdout, 3 for stderr (its
  ``stdpipe_t``: 0 none, 1 stdin, 2 stdout, 3 stderr); with ``-t`` the pty is one stream,
  always tag 2. The same bytes go to the log. conmon writes with blocking writes: a
  client that stops reading stalls the container's output (and its log).
- client → conmon: each packet's bytes (no tag) are written to the container's stdin:
  the pty with ``-t``, else a pipe that exists only with ``-i`` (without either, stdin
  is /dev/null and what clients send is dropped).
- stdin's end: when a client's socket reads EOF (it shut down its write side, or
  closed), conmon closes the container's stdin (the pipe; with ``-t`` the pty master's
  input) when ``-i`` was given, unless ``--leave-stdin-open``: the first client to go
  ends stdin, as Docker's ``StdinOnce``. A process with a terminal is given
  ``--leave-stdin-open``: as with Docker, a client that goes (``docker attach``'s
  ctrl-p ctrl-q) leaves the terminal's input open for the next.
- When the container exits, conmon drains the output, closes every client's socket
  (EOF), then writes the exit file and exits.
- ``BUNDLE/ctl`` (FIFO, conmon keeps a writer open so it never sees EOF): lines
  ``<type> <height> <width>\n``, type 1 resizes the pty (``resize_message``), type 2
  reopens the log; sizes are checked to be 0..1000. conmon passes a resize on through
  ``BUNDLE/winsz`` (``<height> <width>\n``), read only once it has the pty: a resize
  sent between create and start is applied before the process runs (the pty exists
  after ``create``).
- ``--exec-attach`` (with ``-e``, env ``_OCI_ATTACHPIPE=<fd>``): conmon writes
  ``{"data": 0}`` to the attach pipe once its attach socket listens, then waits for a
  second write to the start pipe (or its EOF) before it runs ``runtime exec``: a client
  that connects in between misses none of the exec's output (``start(on_attach=)``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import select
import socket
import subprocess
import tempfile
import threading
import time

from estiba.errors import (
    EstibaError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    Unavailable,
    from_oserror,
)
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Hashable
    from typing import IO

SYNC_TIMEOUT = 60.0


class ShimFiles(Record):
    """Where one conmon keeps its files: a task's bundle directory, or an exec's."""

    dir: str  # conmon's -b: the bundle of a task, <bundle>/exec/<exec id> of an exec
    pid_file: str  # the container's (or exec'd process's) pid, written by the runtime
    conmon_pid_file: str
    exit_dir: str
    exit_file: str  # <exit_dir>/<container id>


def task_files(bundle: str, id: str) -> ShimFiles:
    return ShimFiles(dir=bundle, pid_file=os.path.join(bundle, "init.pid"),
                     conmon_pid_file=os.path.join(bundle, "conmon.pid"),
                     exit_dir=os.path.join(bundle, "exit"),
                     exit_file=os.path.join(bundle, "exit", id))


def exec_files(bundle: str, id: str, exec_id: str) -> ShimFiles:
    base = os.path.join(bundle, "exec", exec_id)
    return ShimFiles(dir=base, pid_file=os.path.join(base, "pid"),
                     conmon_pid_file=os.path.join(base, "conmon.pid"),
                     exit_dir=os.path.join(base, "exit"),
                     exit_file=os.path.join(base, "exit", id))


def socket_link_name(shim_dir: str) -> str:
    """conmon's ``-u``: the name of its link in the socket directory, short and unique
    per shim directory (a hash of its path)."""
    return hashlib.sha256(shim_dir.encode()).hexdigest()[:20]


class Launch(Record):
    """One conmon start, as data: everything ``argv`` needs."""

    conmon: str
    id: str
    runtime_path: str
    files: ShimFiles
    log_path: str
    socket_dir: str
    runtime_args: tuple[str, ...] = ()
    terminal: bool = False
    stdin: bool = False
    exec_process_file: str = ""  # set: an exec, not a create
    exec_attach: bool = False  # an exec that waits for a client (start(on_attach=))
    log_size_max: int = 0  # bytes after which conmon starts the log over; 0: none
    syslog: bool = True


def argv(launch: Launch) -> list[str]:
    """conmon's command line for ``launch`` (pure)."""
    files = launch.files
    if not launch.log_path:
        raise InvalidArgument(f"conmon for {launch.id}: no log path")
    out = [launch.conmon, "--api-version", "1", "-c", launch.id,
           "-u", socket_link_name(files.dir), "-n", launch.id, "-r", launch.runtime_path,
           "-b", files.dir, "-p", files.pid_file, "-l", f"k8s-file:{launch.log_path}",
           "--exit-dir", files.exit_dir, "--socket-dir-path", launch.socket_dir,
           "--conmon-pidfile", files.conmon_pid_file]
    for arg in launch.runtime_args:
        out += ["--runtime-arg", arg]
    if launch.terminal:
        out.append("-t")
    if launch.stdin:
        out.append("-i")
        if launch.terminal:
            out.append("--leave-stdin-open")
    if launch.exec_process_file:
        out += ["-e", "--exec-process-spec", launch.exec_process_file]
        if launch.exec_attach:
            out.append("--exec-attach")
    if launch.log_size_max > 0:
        out += ["--log-size-max", str(launch.log_size_max)]
    out += ["--log-level", "error"]
    if launch.syslog:
        out.append("--syslog")
    return out


class SyncMessage(Record):
    data: int
    message: str = ""


def parse_sync(text: bytes | str) -> list[SyncMessage]:
    """The JSON lines conmon wrote to the sync pipe (pure)."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
            out.append(SyncMessage(data=int(value["data"]),
                                   message=str(value.get("message") or "")))
        except (ValueError, KeyError, TypeError) as err:
            raise Internal(f"conmon sync pipe: malformed line {line!r}") from err
    return out


def parse_exit_status(text: str) -> int:
    """The status an exit file holds (decimal text; pure)."""
    try:
        return int(text.strip())
    except ValueError as err:
        raise Internal(f"conmon exit file: not a number: {text.strip()[:40]!r}") from err


def read_exit_file(path: str) -> tuple[int, float] | None:
    """(exit status, time written) from an exit file, or None while there is none."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read()
            written = os.fstat(f.fileno()).st_mtime
    except FileNotFoundError:
        return None
    except OSError as err:
        raise from_oserror(f"read exit file {path}", err) from err
    if not text.strip():  # written with a rename (g_file_set_contents): never partial
        return None
    return parse_exit_status(text), written


def read_pid_file(path: str) -> int:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except OSError as err:
        raise from_oserror(f"read pid file {path}", err) from err
    try:
        pid = int(text)
    except ValueError as err:
        raise Internal(f"pid file {path}: not a pid: {text[:40]!r}") from err
    if pid <= 0:
        raise Internal(f"pid file {path}: not a pid: {pid}")
    return pid


def is_conmon_of(pid: int, shim_dir: str, proc: str = "/proc") -> bool:
    """Whether process ``pid`` is the conmon of ``shim_dir`` (not a process that got its
    pid after it exited): its command line names that directory with ``-b``."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    try:
        return args[args.index(b"-b") + 1] == shim_dir.encode()
    except (ValueError, IndexError):
        return False


def attach_path(socket_dir: str, shim_dir: str) -> str:
    """The attach socket of the conmon of ``shim_dir``, through its short link."""
    return os.path.join(socket_dir, socket_link_name(shim_dir), "attach")


def connect_attach(path: str, what: str) -> socket.socket:
    """A client of the attach socket at ``path`` (``attach_path``), connected."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        conn.connect(path)
    except OSError as err:
        conn.close()
        if err.errno in (errno.ENOENT, errno.ECONNREFUSED):
            raise FailedPrecondition(f"attach to {what}: {path}: no shim listens") from err
        raise from_oserror(f"attach to {what}: connect {path}", err) from err
    return conn


def resize_message(height: int, width: int) -> bytes:
    """The ``ctl`` line that resizes the pty (pure)."""
    if not (0 <= height <= 1000 and 0 <= width <= 1000):
        raise InvalidArgument(f"resize to {height}x{width}: height and width must be "
                              "0..1000")
    return f"1 {height} {width}\n".encode()


def write_ctl(shim_dir: str, message: bytes) -> None:
    """Send one line to the ``ctl`` FIFO of the conmon of ``shim_dir`` (without
    blocking: ENXIO when no conmon reads it any more)."""
    path = os.path.join(shim_dir, "ctl")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        if err.errno in (errno.ENXIO, errno.ENOENT):  # no reader, no FIFO
            raise NotFound(f"write {path}: its conmon is gone") from err
        raise from_oserror(f"open {path}", err) from err
    try:
        os.write(fd, message)
    except OSError as err:
        raise from_oserror(f"write {path}", err) from err
    finally:
        os.close(fd)


def start(launch: Launch, timeout: float = SYNC_TIMEOUT,
          on_attach: Callable[[], object] | None = None) -> tuple[int, int]:
    """Start conmon for ``launch``; return (container or exec'd process pid, conmon
    pid) once the runtime has created it. The runtime's failure raises ``ShimError``
    with its words, for the caller to classify (``runtimes.error_for``). With
    ``launch.exec_attach``, ``on_attach()`` is called once the attach socket listens
    and before the exec runs (to connect to it)."""
    for path in (launch.files.exit_dir, launch.socket_dir):
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as err:
            raise from_oserror(f"make {path}", err) from err
    what = f"{'exec in' if launch.exec_process_file else 'create'} {launch.id}"
    # stderr goes to a file, not a pipe: the forked shim may keep it open
    with tempfile.TemporaryFile() as errors:
        returncode, first = _spawn(launch, what, errors, timeout, on_attach)
        errors.seek(0)
        stderr = errors.read(4096).decode(errors="replace").strip()
    if returncode != 0:
        raise Internal(f"{what}: conmon exited {returncode}: {stderr}")
    messages = parse_sync(first)
    if not messages or messages[0].data <= 0:
        # conmon exits after a failure: wait for it (and reap it when it is our
        # child), so that its bundle directory may go
        with contextlib.suppress(EstibaError):
            await_exit(read_pid_file(launch.files.conmon_pid_file))
    if not messages:
        raise Internal(f"{what}: conmon exited before reporting a pid (its errors go "
                       "to syslog)")
    if messages[0].data <= 0:
        raise ShimError(what, messages[0].message.strip() or "runtime failed")
    conmon_pid = _wait_pid_file(launch.files.conmon_pid_file, what)
    return messages[0].data, conmon_pid


def _spawn(launch: Launch, what: str, errors: IO[bytes], timeout: float,
           on_attach: Callable[[], object] | None = None) -> tuple[int, bytes]:
    """Run conmon with its two pipes (three with ``exec_attach``), let it go, wait for
    its first process to exit (it forks the shim) and for the first sync line; (exit
    status, that line)."""
    sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
    start_r, start_w = os.pipe2(os.O_CLOEXEC)
    attach_r, attach_w = os.pipe2(os.O_CLOEXEC) if launch.exec_attach else (-1, -1)
    try:
        env = {"_OCI_SYNCPIPE": str(sync_w), "_OCI_STARTPIPE": str(start_r),
               "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        passed = (sync_w, start_r)
        if launch.exec_attach:
            env["_OCI_ATTACHPIPE"] = str(attach_w)
            passed += (attach_w,)
        try:
            proc = subprocess.Popen(
                argv(launch), pass_fds=passed, env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                cwd="/",
            )
        except FileNotFoundError as err:
            raise Unavailable(f"{what}: shim {launch.conmon} not found "
                              "(apt-get install conmon)") from err
        except OSError as err:
            raise from_oserror(f"{what}: start {launch.conmon}", err) from err
        # our copies closed, so that the pipes end when the shim's do
        os.close(sync_w)
        sync_w = -1
        os.close(start_r)
        start_r = -1
        if attach_w >= 0:
            os.close(attach_w)
            attach_w = -1
        os.write(start_w, b"0")
        if not launch.exec_attach:
            os.close(start_w)
            start_w = -1
        # a pidfd, not proc.wait(timeout): that one polls with sleeps that double from
        # 0.5 ms, which cost several ms of every create
        if not _exited(proc.pid, timeout):
            proc.kill()
            proc.wait()
            raise Internal(f"{what}: conmon did not fork within {timeout:g}s")
        proc.wait()
        if launch.exec_attach and proc.returncode == 0:
            # the socket listens once this line comes; the exec waits for our second
            # start message (or the pipe's end, should on_attach fail)
            if parse_sync(_read_line(attach_r, timeout, what)) and on_attach is not None:
                on_attach()
            os.write(start_w, b"1")
        return proc.returncode, _read_line(sync_r, timeout, what)
    finally:
        for fd in (sync_w, start_r, start_w, sync_r, attach_r, attach_w):
            if fd >= 0:
                os.close(fd)


class ShimError(Exception):
    """The runtime's create or exec failed under conmon; ``message`` is its stderr.
    Not of the taxonomy: the caller classifies it (``runtimes.error_for``)."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(f"{what}: {message}")
        self.what = what
        self.message = message


def _exited(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` exits within ``timeout`` seconds (not reaped here)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError as err:
        raise from_oserror(f"pidfd_open {pid}", err) from err
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    finally:
        os.close(fd)


def await_exit(pid: int, timeout: float = 5.0) -> bool:
    """Wait up to ``timeout`` seconds for process ``pid`` to exit (a pidfd), then reap
    it when it is our child; True once it is gone."""
    gone = _exited(pid, timeout)
    if gone:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    return gone


def _read_line(fd: int, timeout: float, what: str) -> bytes:
    """Read the sync pipe up to its first newline (or EOF), within ``timeout``."""
    data = b""
    deadline = time.monotonic() + timeout
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Internal(f"{what}: conmon reported nothing within {timeout:g}s")
        if not poller.poll(left * 1000):
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


def _wait_pid_file(path: str, what: str, timeout: float = 5.0) -> int:
    """conmon writes its pid file before it reports on the sync pipe; allow a moment
    anyway (the file is written with a rename, so it is whole once there)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read_pid_file(path)
        except NotFound:
            if time.monotonic() >= deadline:
                raise NotFound(f"{what}: conmon wrote no pid file {path}") from None
            time.sleep(0.002)


def remove_socket_link(socket_dir: str, shim_dir: str) -> None:
    """Remove the link conmon made for ``shim_dir`` in the socket directory."""
    path = os.path.join(socket_dir, socket_link_name(shim_dir))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise from_oserror(f"remove {path}", err) from err


def write_process_file(path: str, process: dict) -> None:
    """The process JSON of an exec (what ``runtime exec --process`` reads)."""
    write_json(path, process)


def write_json(path: str, value: object) -> None:
    """Write a bundle file whole (a rename), without fsync: a bundle lives in the exec
    root, runtime state that a daemon crash keeps (it is in the page cache) and a
    machine's restart loses along with the containers it describes."""
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(value, f)
        os.replace(tmp, path)
    except OSError as err:
        raise from_oserror(f"write {path}", err) from err


def runtime_args(root: str, log: str = "") -> tuple[str, ...]:
    """The runtime's global flags as conmon passes them (``--flag=value`` each)."""
    out = [f"--root={root}"]
    if log:
        out += [f"--log={log}", "--log-format=json"]
    return tuple(out)


class ExitWatcher:
    """Calls ``on_exit(key)`` once per watched process when it exits, from one thread
    of its own: a pidfd per process (``pidfd_open(2)``, Linux 5.3; readable once the
    process has exited) in one epoll set. Works for any process, child or not, so
    conmons adopted after a daemon restart are watched like those just started."""

    def __init__(self, on_exit: Callable[[Hashable], None]) -> None:
        self._on_exit = on_exit
        self._lock = threading.Lock()
        self._epoll = select.epoll()
        self._keys: dict[int, Hashable] = {}
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, key: Hashable, pid: int) -> int | None:
        """Watch ``pid`` under ``key``; return its pidfd, or None when it is gone
        already (``on_exit`` is then called here, at once)."""
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._on_exit(key)
            return None
        except OSError as err:
            raise from_oserror(f"pidfd_open {pid}", err) from err
        with self._lock:
            if self._closed:
                os.close(fd)
                raise Unavailable("exit watcher: closed")
            self._keys[fd] = key
            self._epoll.register(fd, select.EPOLLIN)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="shim-exits",
                                                daemon=True)
                self._thread.start()
        return fd

    def _run(self) -> None:
        while True:
            try:
                events = self._epoll.poll()
            except InterruptedError:
                continue
            except (OSError, ValueError):  # closed under us
                return
            for fd, _ in events:
                if fd == self._wake_r:
                    if self._closed:
                        return
                    continue
                with self._lock:
                    key = self._keys.pop(fd, None)
                    try:
                        self._epoll.unregister(fd)
                    except (OSError, ValueError):
                        pass
                os.close(fd)
                if key is not None:
                    try:
                        self._on_exit(key)
                    except Exception:  # the watcher must outlive a failing callback
                        import logging

                        logging.getLogger(__name__).exception(
                            "exit of %r: the callback failed", key)

    def close(self) -> None:
        """Stop watching (nothing is called for what still runs)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        os.write(self._wake_w, b"x")
        if thread is not None:
            thread.join(5)
        with self._lock:
            for fd in self._keys:
                os.close(fd)
            self._keys.clear()
            self._epoll.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
