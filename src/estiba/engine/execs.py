"""``docker exec``: exec instances of a running Docker container, on the core's task
execs (``core.tasks.exec``, ``exec_attached``, ``get_exec``, ``resize``).

As in dockerd, exec instances live in the engine's memory only: made by ``create``
(checked against the container then, run by ``start``), inspected while and after they
run, and forgotten once their container is removed. The process of an exec is the
container's own (``core.tasks.exec_process``: env, cwd, user, capabilities,
rlimits ...) with what the ExecConfig gives over it: Cmd, Env merged by key, WorkingDir,
User (the container's Config.User when not given), all capabilities when Privileged.
An exec that the runtime refuses to start gets Docker's exit code for the reason
(``start_failure``): 127 for a command that is not there, 126 for one that cannot be
run (not executable, a directory).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
from dataclasses import dataclass, field

from estiba import errors
from estiba.core import spec as specs
from estiba.engine import hostconfig, jsontypes
from estiba.engine.labels import config_of
from estiba.kernel.capabilities import NAMES as ALL_CAPABILITIES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from socket import socket
    from typing import Any

    from estiba.engine.containers import Containers

NOT_FOUND = 127  # Docker's exit code of an exec whose command is not there
CANNOT_RUN = 126  # ... whose command cannot be run (permission denied, a directory)
# dockerd leaves the code of a start failure it does not classify unset (null, which
# the docker CLI reads as 0): a non-zero code keeps such a failure from reading as success
START_FAILED = CANNOT_RUN
START_TIMEOUT = 10.0  # how long a resize waits for its exec to start (dockerd's too)
_CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted")
# what precedes a runtime's reason in the core's error: the exec, the runtime's name
_PREFIXES = re.compile(r"^(exec [^:]*: )?(([\w.-]*runtime|runc|crun): )?")
# dockerd's classification of a start failure (translateContainerdStartErr), by words
_MISSING = ("executable file not found", "no such file or directory",
            "system cannot find the file specified", "failed to run runc create/exec call")
_UNABLE = "unable to start container process: "


@dataclass
class Exec:
    """One exec instance (mutable, under ``Execs``'s lock)."""

    id: str
    container_id: str
    config: dict  # the ExecConfig as given, Cmd a list
    user: str  # the exec's User, or the container's
    process: dict  # what the exec sets over the container's process (core.tasks)
    started: bool = False
    pid: int = 0
    exit_code: int | None = None
    ready: threading.Event = field(default_factory=threading.Event)  # started (or failed)

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))


@dataclass(frozen=True)
class Started:
    """What ``start`` gives an attached exec: a socket connected to its conmon's attach
    socket, or the error that kept it from starting (then ``conn`` is None)."""

    conn: socket | None
    tty: bool
    stdin: bool = False  # the client's input goes to the process
    error: str = ""
    streams: frozenset[int] = frozenset({1, 2})  # what it attached: 1 stdout, 2 stderr


def command_of(config: dict) -> list[str]:
    """The exec's Cmd as a list; InvalidArgument when it is missing or empty (pure)."""
    cmd = config.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if not cmd or not all(isinstance(arg, str) for arg in cmd):
        raise errors.InvalidArgument("No exec command specified")
    return list(cmd)


def exec_overrides(config: dict, container_env: list[str], user: str,
                   ids: tuple[int, int, list[int]] | None = None,
                   available: tuple[str, ...] = ALL_CAPABILITIES) -> dict:
    """What an exec's process sets over its container's (``core.tasks.exec_process``
    keeps the rest): args, the env merged by key (``TERM=xterm`` with a terminal unless
    set), cwd and user when given, the console size of a terminal, every capability
    of ``available`` (the daemon's, as for ``run --privileged``) when privileged (pure);
    ``ids`` the user's ids when it is named (read from the container's /etc/passwd)."""
    process: dict = {"args": command_of(config)}
    env = specs.merge_env(list(container_env), list(config.get("Env") or []))
    if config.get("Tty") and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    process["env"] = env
    if config.get("WorkingDir"):
        process["cwd"] = config["WorkingDir"]
    if ids is not None:
        process["user"] = {"uid": ids[0], "gid": ids[1], "additionalGids": ids[2]}
    elif user:
        uid, gid = specs.parse_user(user)
        process["user"] = {"uid": uid, "gid": gid}
    size = console_size(config.get("ConsoleSize")) if config.get("Tty") else None
    if size is not None:
        # a runtime that honours it sizes the pty before the process runs (runc does);
        # start resizes it too, for one that does not
        process["consoleSize"] = {"height": size[0], "width": size[1]}
    if config.get("Privileged"):
        process["capabilities"] = {name: list(available) for name in _CAPABILITY_SETS}
    return process


def exec_inspect(ex: Exec) -> dict:
    """Docker's ExecInspect of ``ex`` (pure)."""
    cmd = ex.process["args"]
    running = ex.started and ex.exit_code is None
    return {
        "ID": ex.id,
        "Running": running,
        "ExitCode": ex.exit_code,
        "ProcessConfig": {"tty": ex.tty, "entrypoint": cmd[0], "arguments": cmd[1:],
                          "privileged": bool(ex.config.get("Privileged")),
                          "user": ex.user},
        "OpenStdin": bool(ex.config.get("AttachStdin")),
        "OpenStderr": bool(ex.config.get("AttachStderr")),
        "OpenStdout": bool(ex.config.get("AttachStdout")),
        "CanRemove": False,
        "ContainerID": ex.container_id,
        "DetachKeys": ex.config.get("DetachKeys") or "",
        "Pid": ex.pid,
    }


def start_error(message: str) -> str:
    """What the client is shown when an exec's process could not start, in Docker's
    words: the runtime's reason (``message``, a core error's text) without the
    ``exec in <id>:`` and runtime-name prefixes (pure)."""
    reason = _PREFIXES.sub("", message, count=1)
    if not reason.startswith(_UNABLE):
        reason = _UNABLE + reason
    return f"OCI runtime exec failed: exec failed: {reason}: unknown"


def start_failure(message: str) -> tuple[int, str]:
    """(the exit code, the error in Docker's words) of an exec whose process could not
    start, as dockerd classifies the runtime's reason (``message``, a core error's
    text): a command not there 127, one that cannot be run 126 (pure)."""
    text = start_error(message)
    lowered = text.lower()
    code = START_FAILED
    if any(words in lowered for words in _MISSING):
        code = NOT_FOUND
    if "permission denied" in lowered:  # EACCES
        code = CANNOT_RUN
    if "is a directory" in lowered:  # EISDIR
        # dockerd adds EACCES's words to a directory's error, as the docker CLI tells
        # 126 by them (Go's exec.LookPath says "is a directory" since Go 1.20)
        return CANNOT_RUN, f"{text}: permission denied"
    if "not a directory" in lowered:  # ENOTDIR
        code = NOT_FOUND
        text += (": Are you trying to mount a directory onto a file (or vice-versa)? "
                 "Check if the specified host path exists and is the expected type")
    return code, text


def console_size(value: Any) -> tuple[int, int] | None:
    """ConsoleSize ``[height, width]`` as a pair; None when absent or zero (pure)."""
    if not value:
        return None
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(n, int) and n >= 0 for n in value)):
        raise errors.InvalidArgument(f"invalid ConsoleSize {value!r}: want [height, width]")
    height, width = value
    return (height, width) if height and width else None


class Execs:
    """The engine's exec instances (thread-safe)."""

    def __init__(self, core: Any, namespace: str, containers: Containers) -> None:
        self.core = core
        self.ns = namespace
        self.containers = containers
        self._lock = threading.Lock()
        self._execs: dict[str, Exec] = {}
        self.emit: Callable[..., None] = lambda *args, **kw: None  # Events.emit

    # --- create -----------------------------------------------------------------------

    def create(self, ref: str, body: dict) -> dict:
        """``POST /containers/{id}/exec``: {"Id"}; the container must be running."""
        jsontypes.check(body, jsontypes.EXEC_FIELDS, "ExecConfig")
        command_of(body)
        cid = self.containers.resolve(ref)
        try:
            container = self.core.containers.get(self.ns, cid)
        except errors.NotFound as err:
            raise errors.NotFound(f"No such container: {ref}") from err
        self._check_running(ref, cid)
        spec_process = (container.spec or {}).get("process") or {}
        container_config = config_of(container)
        user = body.get("User") or container_config.get("User") or ""
        config = {**body, "Cmd": command_of(body)}
        asked = body.get("User") or ""
        ids = None if specs.numeric_user(asked) else self.containers.user_ids(container,
                                                                                asked)
        available = (hostconfig.LocalHost().capabilities() if body.get("Privileged")
                     else ALL_CAPABILITIES)
        ex = Exec(id=secrets.token_hex(32), container_id=cid, config=config, user=user,
                  process=exec_overrides(config, spec_process.get("env") or [], asked,
                                         ids, available))
        self._forget_removed()
        with self._lock:
            self._execs[ex.id] = ex
        self.emit("container", "exec_create: " + _command_text(config["Cmd"]), cid,
                  {"execID": ex.id})
        return {"Id": ex.id}

    def _check_running(self, ref: str, cid: str) -> None:
        try:
            task = self.core.tasks.get(self.ns, cid)
        except errors.NotFound:
            task = None
        if task is None or task.exit_status is not None or task.status in ("created",
                                                                          "stopped"):
            raise errors.Conflict(f"Container {cid} is not running")
        if task.status == "paused":
            raise errors.Conflict(f"Container {ref} is paused, unpause the container "
                                  "before exec")

    def _forget_removed(self) -> None:
        """Forget the execs of containers removed since (dockerd drops them with their
        container)."""
        with self._lock:
            cids = {ex.container_id for ex in self._execs.values()}
        gone = set()
        for cid in cids:
            try:
                self.core.containers.get(self.ns, cid)
            except errors.NotFound:
                gone.add(cid)
        if gone:
            with self._lock:
                for exec_id in [i for i, ex in self._execs.items() if ex.container_id in gone]:
                    del self._execs[exec_id]

    # --- lookup -----------------------------------------------------------------------

    def _get(self, exec_id: str) -> Exec:
        with self._lock:
            ex = self._execs.get(exec_id)
        if ex is None:
            raise errors.NotFound(f"No such exec instance: {exec_id}")
        try:
            self.core.containers.get(self.ns, ex.container_id)
        except errors.NotFound:
            with self._lock:
                self._execs.pop(exec_id, None)
            raise errors.NotFound(f"No such exec instance: {exec_id}") from None
        return ex

    def _refresh(self, ex: Exec) -> None:
        """The exit code of a started exec, from the core once it has exited."""
        if not ex.started or ex.exit_code is not None or not ex.ready.is_set():
            return
        try:
            found = self.core.tasks.get_exec(self.ns, ex.container_id, ex.id)
        except errors.NotFound:
            return  # its task was deleted (the container stopped and was started again)
        if found.exit_status is not None:
            self._exited(ex, found.exit_status)

    def _exited(self, ex: Exec, code: int) -> None:
        """Keep the exit code here; the core's files of the exec and its shim's link
        can go."""
        with self._lock:
            ex.exit_code = code
        with contextlib.suppress(errors.EstibaError):
            self.core.tasks.delete_exec(self.ns, ex.container_id, ex.id)

    def ids_of(self, container_id: str) -> list[str]:
        """The ids of the container's exec instances that have not exited (inspect's
        ``ExecIDs``), oldest first."""
        with self._lock:
            mine = [ex for ex in self._execs.values() if ex.container_id == container_id]
        for ex in mine:
            self._refresh(ex)
        return [ex.id for ex in mine if ex.exit_code is None]

    def inspect(self, exec_id: str) -> dict:
        """``GET /exec/{id}/json``."""
        ex = self._get(exec_id)
        self._refresh(ex)
        return exec_inspect(ex)

    # --- start, wait, resize ----------------------------------------------------------

    def startable(self, exec_id: str) -> bool:
        """Whether an exec that ``start`` would run now has a terminal: what it would refuse
        (NotFound, Conflict) raised first, so that an attached start can answer that
        before its stream's head and start the process after the head, as dockerd does
        (a client reading the head apart from the stream then loses no output)."""
        ex = self._get(exec_id)
        self._refresh(ex)
        if ex.started:
            state = "is already running" if ex.exit_code is None else "has already run"
            raise errors.Conflict(f"Error: Exec command {exec_id} {state}")
        self._check_running(ex.container_id, ex.container_id)
        return ex.tty

    def start(self, exec_id: str, detach: bool) -> Started | None:
        """``POST /exec/{id}/start``: run the exec; detached, None once it runs (its
        start's error raised); attached, its ``Started``."""
        ex = self._get(exec_id)
        self._refresh(ex)
        with self._lock:
            if ex.started:
                state = "is already running" if ex.exit_code is None else "has already run"
                raise errors.Conflict(f"Error: Exec command {exec_id} {state}")
            ex.started = True
        size = console_size(ex.config.get("ConsoleSize")) if ex.tty else None
        stdin = bool(ex.config.get("AttachStdin")) and not detach
        try:
            self._check_running(ex.container_id, ex.container_id)
            if detach:
                record = self.core.tasks.exec(self.ns, ex.container_id, ex.id, ex.process,
                                              terminal=ex.tty, stdin=False)
                conn = None
            else:
                record, conn = self.core.tasks.exec_attached(
                    self.ns, ex.container_id, ex.id, ex.process, terminal=ex.tty,
                    stdin=stdin)
        except errors.Conflict:
            ex.exit_code = START_FAILED
            ex.ready.set()
            raise
        except errors.EstibaError as err:
            ex.exit_code, reason = start_failure(str(err))
            ex.ready.set()
            if detach:
                # the runtime refused the process: the request's fault, as in Docker
                kind = type(err) if isinstance(err, errors.Internal | errors.Unavailable) \
                    else errors.InvalidArgument
                raise kind(reason) from err
            return Started(None, ex.tty, error=reason)
        ex.pid = record.pid
        ex.ready.set()
        self.emit("container", "exec_start: " + _command_text(ex.config["Cmd"]),
                  ex.container_id, {"execID": ex.id})
        if size is not None:
            with contextlib.suppress(errors.EstibaError):
                self.core.tasks.resize(self.ns, ex.container_id, *size, exec_id=ex.id)
        streams = frozenset(n for n, key in ((1, "AttachStdout"), (2, "AttachStderr"))
                            if ex.config.get(key))
        return None if conn is None else Started(conn, ex.tty, stdin, streams=streams)

    def wait(self, exec_id: str, timeout: float | None = None) -> int | None:
        """The exit code of a started exec once it has exited (None after ``timeout``
        seconds, or when its task is gone)."""
        ex = self._get(exec_id)
        if ex.exit_code is not None or not ex.started:
            return ex.exit_code
        try:
            found = self.core.tasks.wait_exec(self.ns, ex.container_id, ex.id,
                                              timeout=timeout)
        except (errors.Unavailable, errors.NotFound):
            return None
        if found.exit_status is not None:
            self._exited(ex, found.exit_status)
        return ex.exit_code

    def resize(self, exec_id: str, height: int, width: int) -> None:
        """``POST /exec/{id}/resize``: the size of the exec's pty; an exec not started
        yet is waited for a while, as dockerd does."""
        ex = self._get(exec_id)
        if not ex.ready.wait(START_TIMEOUT):
            raise errors.Internal("timeout waiting for exec session ready")
        self._refresh(ex)
        if ex.exit_code is not None:
            raise errors.NotFound("no such exec")
        try:
            self.core.tasks.resize(self.ns, ex.container_id, height, width, exec_id=ex.id)
        except errors.FailedPrecondition as err:
            raise errors.NotFound("no such exec") from err


def _command_text(cmd: list[str]) -> str:
    """An exec's command as Docker's event action shows it: the program, a space, the
    arguments (``true `` for ``true``)."""
    return f"{cmd[0]} {' '.join(cmd[1:])}"
