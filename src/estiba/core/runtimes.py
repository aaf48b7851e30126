"""OCI runtimes driven through their command line: runc's contract, which
``estiba-runtime``, runc and crun all speak (``../shared/notes/oci-runtime-cli-in-practice.md``).

Every call is ``RUNTIME --root STATE [--log FILE --log-format json] VERB [flags] ID``,
one short-lived process per operation. ``STATE`` is per runtime and namespace:
``<exec_root>/runtime/<runtime name>/<namespace>``, so two namespaces may hold containers
of the same id. ``create`` is not here: the shim (``estiba.shim.conmon``) runs it, so that
the container's stdio and its reaping belong to the shim, not to the daemon.

The argv builders are pure (``state_argv`` ...); ``RuntimeCLI`` runs them and turns a
failure into the error taxonomy: the message is the ``msg`` of the last JSON line of the
``--log`` file when there is one, else what the runtime wrote on stderr (runc's logfmt
``msg="..."``, estiba-runtime's ``estiba-runtime: ...``); ``error_for`` picks the class
from the words (``does not exist`` → NotFound ...).
"""

from __future__ import annotations

import json
import os
import re
import subprocess

from estiba.errors import (
    AlreadyExists,
    EstibaError,
    FailedPrecondition,
    Internal,
    NotFound,
    Unavailable,
    from_oserror,
)
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

RUNC = "/usr/bin/runc"
DEFAULT_TIMEOUT = 60.0


class Runtime(Record):
    """A configured runtime: its name (``estiba``, ``runc``) and binary."""

    name: str
    path: str


def state_root(exec_root: str, runtime: str, namespace: str) -> str:
    """The runtime's ``--root`` for one namespace."""
    return os.path.join(exec_root, "runtime", runtime, namespace)


# --- argv (pure) ---------------------------------------------------------------------


def global_argv(path: str, root: str, log: str = "") -> list[str]:
    argv = [path, "--root", root]
    if log:
        argv += ["--log", log, "--log-format", "json"]
    return argv


def start_argv(path: str, root: str, id: str, log: str = "") -> list[str]:
    return [*global_argv(path, root, log), "start", id]


def state_argv(path: str, root: str, id: str, log: str = "") -> list[str]:
    return [*global_argv(path, root, log), "state", id]


def list_argv(path: str, root: str, log: str = "") -> list[str]:
    return [*global_argv(path, root, log), "list", "--format", "json"]


def kill_argv(path: str, root: str, id: str, signal: int = 15, all: bool = False,
              log: str = "") -> list[str]:
    return [*global_argv(path, root, log), "kill", *(["--all"] if all else []), id,
            str(int(signal))]


def delete_argv(path: str, root: str, id: str, force: bool = False,
                log: str = "") -> list[str]:
    return [*global_argv(path, root, log), "delete", *(["--force"] if force else []), id]


def pause_argv(path: str, root: str, id: str, log: str = "") -> list[str]:
    return [*global_argv(path, root, log), "pause", id]


def resume_argv(path: str, root: str, id: str, log: str = "") -> list[str]:
    return [*global_argv(path, root, log), "resume", id]


def ps_argv(path: str, root: str, id: str, log: str = "") -> list[str]:
    return [*global_argv(path, root, log), "ps", "--format", "json", id]


def update_argv(path: str, root: str, id: str, log: str = "") -> list[str]:
    """``update --resources -``: the LinuxResources JSON goes on stdin."""
    return [*global_argv(path, root, log), "update", "--resources", "-", id]


def exec_argv(path: str, root: str, id: str, process_file: str, pid_file: str,
              console_socket: str = "", log: str = "") -> list[str]:
    """``exec --detach``: returns once the process runs; its pid is in ``pid_file``."""
    argv = [*global_argv(path, root, log), "exec", "--process", process_file, "--detach",
            "--pid-file", pid_file]
    if console_socket:
        argv += ["--console-socket", console_socket]
    return [*argv, id]


# --- errors (pure) -------------------------------------------------------------------

_LOGFMT_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')
_NOT_FOUND = ("does not exist", "not found", "no such container", "no such file")
_EXISTS = ("already exists", "already in use")
_STATE = ("not running", "is running", "not paused", "is paused", "is stopped",
          "not stopped", "cannot", "can't", "not created", "is not in", "running state",
          "created state", "paused state", "stopped state")


def error_message(stderr: str, log: str = "") -> str:
    """The runtime's reason for a failure: the last JSON ``msg`` of its log, else its
    stderr's last line (logfmt ``msg`` unquoted, a ``name: `` prefix dropped)."""
    for line in reversed(log.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                msg = json.loads(line).get("msg")
            except (ValueError, AttributeError):
                continue
            if msg:
                return str(msg).strip()
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    match = _LOGFMT_MSG.search(last)
    if match:
        return match.group(1).replace('\\"', '"').replace("\\\\", "\\")
    if last.startswith("{"):
        try:
            msg = json.loads(last).get("msg")
            if msg:
                return str(msg)
        except (ValueError, AttributeError):
            pass
    name, sep, rest = last.partition(": ")
    if sep and " " not in name and ("runtime" in name or name in ("runc", "crun")):
        return rest
    return last


def error_for(what: str, message: str) -> EstibaError:
    """The taxonomy's error for a runtime failure of ``what`` saying ``message``."""
    lowered = message.lower()
    text = f"{what}: {message}" if message else f"{what}: failed"
    if any(word in lowered for word in _NOT_FOUND):
        return NotFound(text)
    if any(word in lowered for word in _EXISTS):
        return AlreadyExists(text)
    if any(word in lowered for word in _STATE):
        return FailedPrecondition(text)
    return Internal(text)


# --- running -------------------------------------------------------------------------


class RuntimeCLI:
    """One runtime at one state root (a namespace's): runs the verbs, parses replies."""

    def __init__(self, runtime: Runtime, root: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.runtime = runtime
        self.root = root
        self.timeout = timeout

    def _run(self, what: str, argv: Sequence[str], input: str | None = None,
             log: str = "") -> str:
        try:
            done = subprocess.run(
                list(argv), input=input, capture_output=True, text=True,
                stdin=subprocess.DEVNULL if input is None else None, timeout=self.timeout,
            )
        except FileNotFoundError as err:
            raise Unavailable(f"{what}: runtime {self.runtime.name} "
                              f"({self.runtime.path}) not found") from err
        except subprocess.TimeoutExpired as err:
            raise Internal(f"{what}: {self.runtime.name} did not answer within "
                           f"{self.timeout:g}s") from err
        except OSError as err:
            raise from_oserror(f"{what}: run {self.runtime.path}", err) from err
        if done.returncode != 0:
            log_text = ""
            if log:
                try:
                    with open(log, encoding="utf-8", errors="replace") as f:
                        log_text = f.read()
                except OSError:
                    pass
            raise error_for(what, error_message(done.stderr, log_text))
        return done.stdout

    def state(self, id: str) -> dict:
        out = self._run(f"state of {id}", state_argv(self.runtime.path, self.root, id))
        try:
            state = json.loads(out)
        except ValueError as err:
            raise Internal(f"state of {id}: {self.runtime.name} printed no JSON") from err
        if not isinstance(state, dict):
            raise Internal(f"state of {id}: {self.runtime.name} printed no JSON object")
        return state

    def states(self) -> dict[str, dict]:
        """Every container of the root: id → its state (``list --format json``; runc
        prints ``null`` for none)."""
        if not os.path.isdir(self.root):
            return {}
        out = self._run(f"list containers of {self.root}",
                        list_argv(self.runtime.path, self.root))
        try:
            rows = json.loads(out or "null") or []
        except ValueError as err:
            raise Internal(f"list: {self.runtime.name} printed no JSON") from err
        return {row["id"]: row for row in rows if isinstance(row, dict) and "id" in row}

    def start(self, id: str) -> None:
        self._run(f"start {id}", start_argv(self.runtime.path, self.root, id))

    def kill(self, id: str, signal: int = 15, all: bool = False) -> None:
        self._run(f"kill {id}", kill_argv(self.runtime.path, self.root, id, signal, all))

    def delete(self, id: str, force: bool = False) -> None:
        self._run(f"delete {id}", delete_argv(self.runtime.path, self.root, id, force))

    def pause(self, id: str) -> None:
        self._run(f"pause {id}", pause_argv(self.runtime.path, self.root, id))

    def resume(self, id: str) -> None:
        self._run(f"resume {id}", resume_argv(self.runtime.path, self.root, id))

    def ps(self, id: str) -> list[int]:
        out = self._run(f"ps {id}", ps_argv(self.runtime.path, self.root, id))
        try:
            pids = json.loads(out or "[]")
        except ValueError as err:
            raise Internal(f"ps {id}: {self.runtime.name} printed no JSON") from err
        return sorted(int(p) for p in pids or [])

    def update(self, id: str, resources: dict) -> None:
        self._run(f"update {id}", update_argv(self.runtime.path, self.root, id),
                  input=json.dumps(resources))


class InProcessEstiba(RuntimeCLI):
    """``estiba-runtime``'s own verbs that fork nothing — ``start`` and ``delete`` of a
    container without hooks for them, and ``kill`` — run here, in the caller's process,
    on the same state directory: the faster path for the built-in runtime that the
    core's runtime contract allows. Each would otherwise cost a Python start (about
    10 ms). A container with poststart or poststop hooks (which fork) goes through the
    command line, as every other verb does; so do ``create`` and ``exec``, which the
    shim runs."""

    def start(self, id: str) -> None:
        from estiba.runtime import start as starting

        container = self._load(id)
        if container is None or container.hooks("poststart"):
            super().start(id)
            return
        try:
            starting.start(container)
        except EstibaError as err:
            raise type(err)(f"start {id}: {err}") from err

    def delete(self, id: str, force: bool = False) -> None:
        from estiba.runtime import delete as deleting

        container = self._load(id)
        if container is None or container.hooks("poststop"):
            super().delete(id, force)
            return
        try:
            deleting.delete_container(container, force=force)
        except EstibaError as err:
            raise type(err)(f"delete {id}: {err}") from err

    def kill(self, id: str, signal: int = 15, all: bool = False) -> None:
        from estiba.runtime import kill as killing

        container = self._load(id)
        if container is None:
            super().kill(id, signal, all)
            return
        try:
            killing.kill(container, int(signal), all_processes=all)
        except EstibaError as err:
            raise type(err)(f"kill {id}: {err}") from err

    def _load(self, id: str) -> object | None:
        """The runtime's record of ``id``; None when the command line should answer
        (no such container, an unreadable state: it says what is wrong)."""
        from estiba.runtime.container import Container

        try:
            return Container.load(self.root, id)
        except EstibaError:
            return None
