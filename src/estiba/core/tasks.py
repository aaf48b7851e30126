"""Tasks: the running processes of containers (containerd's tasks service and its
shims), each under a ``conmon`` (``estiba.shim.conmon``) driving an OCI runtime through
its command line (``core.runtimes``).

On disk, under ``exec_root`` (a tmpfs: nothing here survives a reboot, as no process
does)::

    tasks/<namespace>/<id>/       the bundle
        config.json               the container's spec, root.path "rootfs"
        task.json                 what adopt() needs: {"version": 1, runtime, log_path,
                                  terminal, stdin, cgroups_path, mounted}
        rootfs/                   the snapshot's mounts, while the task exists
        init.pid shim.pid       the container's and its shim's pids
        exit/<id>                 the exit status, written by conmon
        runtime.log               the runtime's JSON log (create's errors)
        ctl winsz                 conmon's FIFOs (resize: ``resize``)
        attach                    conmon's attach socket (``attach``; SOCK_SEQPACKET)
        exec/<exec id>/           an exec: process.json, pid, shim.pid, exit/<id>
    runtime/<runtime>/<namespace>/  the runtime's --root
    sockets/<hash>                conmon's links to bundles (short attach socket paths)

Exits: one thread watches every shim's pid (a pidfd each; conmon exits right after it
wrote the exit file), records the status, publishes ``/tasks/exit`` and wakes
``wait``. A task's status otherwise comes from the runtime's ``state``.

Stdio: ``attach`` connects to a task's (or exec's) conmon attach socket, whose packets
are its output and take its stdin (the framing: ``shim/conmon.py``); ``exec_attached``
connects before the exec'd process runs, so none of its output is missed; ``resize``
writes to the ``ctl`` FIFO. A task gets a stdin pipe only when created with ``stdin``
(conmon ``-i``); a terminal's pty always takes input.

Events (``publish(topic, namespace, attributes)``): /tasks/create, /tasks/start,
/tasks/exit (exit_status; exec_id for an exec), /tasks/delete, /tasks/paused,
/tasks/resumed, /tasks/exec-added; attributes are strings: id, pid ...

Journal: ``note`` (``core/steps.py``) is told each step of a task — the bundle, the
rootfs mount, conmon's and the runtime's commands, the namespaces and cgroup the
process got, the exit, the unmount.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import os
import re
import shutil
import socket
import threading
import time

from estiba import mounts as mounting
from estiba.core import bundles, steps
from estiba.core import records as r
from estiba.core.runtimes import InProcessEstiba, Runtime, RuntimeCLI, error_for, state_root
from estiba.core.spec import cgroups_path as default_cgroups_path
from estiba.errors import (
    AlreadyExists,
    Conflict,
    EstibaError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    Unavailable,
    from_oserror,
)
from estiba.kernel import consts as k
from estiba.kernel.proc import mounted_under
from estiba.shim import conmon as shim

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from estiba.kernel.linux import Linux
    from estiba.shim.execshim import ExecHelper
    from estiba.snapshots import Mount

META_VERSION = 1
UNKNOWN_EXIT = 255  # the shim died without writing a status: containerd's choice too
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_STOP_TIMEOUT = 10.0


class _Exec:
    def __init__(self, exec_id: str, files: shim.ShimFiles, terminal: bool = False) -> None:
        self.exec_id = exec_id
        self.files = files
        self.terminal = terminal
        self.pid = 0
        self.shim_pid = 0
        self.exit_status: int | None = None


class _Entry:
    """What the service knows of one task (mutable, under the service's lock)."""

    def __init__(self, namespace: str, id: str, bundle: str, meta: dict) -> None:
        self.namespace = namespace
        self.id = id
        self.bundle = bundle
        self.meta = meta
        self.files = shim.task_files(bundle, id)
        self.pid = 0
        self.shim_pid = 0
        self.watched = False  # a shim is watched: its exit will be seen
        self.ready = False  # created (or adopted): visible to get, list and the rest
        self.deleting = False
        self.exit_status: int | None = None
        self.exited_at = ""
        self.oom_killed = False  # the OOM killer killed a process of its cgroup
        # created, running or paused as this service made it (or, adopted, as the
        # runtime said once), while its shim is watched (so an exit would be known);
        # None: ask the runtime (adopted: not watched, or not asked yet)
        self.status: str | None = None
        self.execs: dict[str, _Exec] = {}
        # held across a start and its event, and taken before the exit event: a process
        # that exits at once is never told as exited before it is told as started
        self.telling = threading.Lock()


def _now() -> str:
    return _rfc3339(time.time())


def _rfc3339(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def _check_name(kind: str, value: str) -> None:
    if not _NAME.match(value or ""):
        raise InvalidArgument(f"{kind} {value!r}: want letters, digits, '_', '.', '-' "
                              "(at most 128, not starting with a punctuation mark)")


def exec_process(spec_process: dict, process: dict, terminal: bool) -> dict:
    """The process of an exec: ``process`` over the container's own (env, cwd, user,
    capabilities, rlimits, noNewPrivileges, apparmor... kept unless given); pure."""
    base = {key: copy.deepcopy(value) for key, value in (spec_process or {}).items()
            if key not in ("args", "terminal", "consoleSize")}
    merged = {**base, **copy.deepcopy(process)}
    if not merged.get("args"):
        raise InvalidArgument("exec: process.args is empty")
    merged["terminal"] = bool(terminal)
    merged.setdefault("cwd", "/")
    merged.setdefault("user", {"uid": 0, "gid": 0})
    return merged


class Tasks:
    """``TaskService`` (core/interfaces.py) over conmon and runc-compatible runtimes.

    ``runtimes`` maps a runtime's name (a container's ``runtime``) to its binary;
    ``kernel`` mounts and unmounts root filesystems; ``publish`` receives events.
    Thread-safe; ``wait`` blocks the calling thread. ``close`` stops the exit watcher
    (tasks keep running under their shims)."""

    def __init__(self, exec_root: str, log_root: str, runtimes: Mapping[str, str],
                 default_runtime: str, kernel: Linux,
                 publish: Callable[[str, str, Mapping[str, str]], object] | None = None,
                 conmon: str = "conmon", cgroup_parent: str = "estiba",
                 failpoint: Callable[[str], None] | None = None,
                 in_process: Iterable[str] = ()) -> None:
        if default_runtime not in runtimes:
            raise InvalidArgument(f"default runtime {default_runtime!r} is not one of "
                                  f"{sorted(runtimes)}")
        self.exec_root = exec_root
        self.log_root = log_root
        self.runtimes = dict(runtimes)
        self.default_runtime = default_runtime
        # runtimes that are this estiba's own estiba-runtime: their start and delete run
        # in this process (core.runtimes.InProcessEstiba)
        self.in_process = frozenset(in_process)
        self.kernel = kernel
        self.conmon = conmon
        self.cgroup_parent = cgroup_parent
        self._publish = publish
        self._cond = threading.Condition()
        self._tasks: dict[tuple[str, str], _Entry] = {}
        self._watcher = shim.ExitWatcher(self._on_shim_exit)
        self.socket_dir = os.path.join(exec_root, "sockets")
        # the daemon's debug fault points (daemon/failpoints.py): a no-op unless on
        self._failpoint = failpoint or _no_failpoint
        # the steps of a container, for its journal (core/steps.py): given by the engine
        self.note: steps.Note = steps.no_note
        self.discarded: list[tuple[str, str]] = []  # half-made bundles adopt removed
        # the execs of estiba's own runtime: shims forked from a helper with the runtime
        # loaded (shim.execshim), instead of conmon and a runtime start each
        self._exec_helper: ExecHelper | None = None

    def close(self) -> None:
        self._watcher.close()
        if self._exec_helper is not None:
            self._exec_helper.close()
        self._remove_empty_parent()

    def warm(self) -> None:
        """Start now what the first exec would otherwise wait for (the exec helper)."""
        if self.in_process:
            self._exec_shim().start()

    def _exec_shim(self) -> ExecHelper:
        if self._exec_helper is None:
            from estiba.shim.execshim import ExecHelper

            with self._cond:
                if self._exec_helper is None:
                    self._exec_helper = ExecHelper(
                        os.path.join(self.exec_root, "exec-helper.sock"))
        return self._exec_helper

    def _remove_empty_parent(self) -> None:
        """The containers' cgroup parent goes when no container is left in it (never
        while tasks are created: removing it then would race with their creation), in
        every cgroup hierarchy mounted: the v1 ones and, on a hybrid host, the unified
        one, where runc puts its containers too."""
        from estiba.cgroups.layout import parse_mountinfo

        try:
            with open("/proc/self/mountinfo", encoding="utf-8") as f:
                mounts = parse_mountinfo(f.read())
        except OSError:
            return
        for mount in mounts:
            if mount.fstype in ("cgroup", "cgroup2") and \
                    mount.mount_point.startswith("/sys/fs/cgroup"):
                try:
                    os.rmdir(os.path.join(mount.mount_point, self.cgroup_parent))
                except OSError:
                    pass  # not there, or a container's cgroup is below it

    # --- helpers -----------------------------------------------------------------------

    def _emit(self, topic: str, namespace: str, **attrs: object) -> None:
        if self._publish is not None:
            self._publish(topic, namespace, {key: str(value) for key, value in attrs.items()})

    def _cli(self, runtime: str, namespace: str) -> RuntimeCLI:
        try:
            path = self.runtimes[runtime]
        except KeyError:
            raise InvalidArgument(f"runtime {runtime!r} is not configured (have "
                                  f"{', '.join(sorted(self.runtimes))})") from None
        cli = InProcessEstiba if runtime in self.in_process else RuntimeCLI
        return cli(Runtime(name=runtime, path=path),
                   state_root(self.exec_root, runtime, namespace))

    def _entry(self, namespace: str, id: str) -> _Entry:
        with self._cond:
            entry = self._tasks.get((namespace, id))
        if entry is None or not entry.ready:
            raise NotFound(f"task {id} in namespace {namespace}: not found")
        return entry

    def bundle_dir(self, namespace: str, id: str) -> str:
        return os.path.join(self.exec_root, "tasks", namespace, id)

    def _task(self, entry: _Entry, status: str, pid: int) -> r.Task:
        meta = entry.meta
        return r.Task(namespace=entry.namespace, id=entry.id, pid=pid, status=status,
                      exit_status=entry.exit_status, exited_at=entry.exited_at,
                      terminal=bool(meta.get("terminal")), stdin=bool(meta.get("stdin")),
                      log_path=meta.get("log_path", ""), runtime=meta.get("runtime", ""),
                      shim_pid=entry.shim_pid, oom_killed=entry.oom_killed)

    # --- exits ---------------------------------------------------------------------------

    def _on_shim_exit(self, key: tuple) -> None:
        """A shim exited (the watcher's thread): reap it, record the status, tell."""
        with self._cond:
            entry = self._tasks.get((key[1], key[2]))
            if entry is None:
                return
            target = entry.execs.get(key[3]) if key[0] == "exec" else entry
        if target is None:
            return
        bundles.reap(target.shim_pid)
        found = shim.read_exit_file(target.files.exit_file)
        status, written = found if found is not None else (UNKNOWN_EXIT, time.time())
        oom = target is entry and _oom_killed(entry)
        with self._cond:
            entry.oom_killed = entry.oom_killed or oom
            target.exit_status = status
            if target is entry:
                entry.exited_at = _rfc3339(written)
            self._cond.notify_all()
        attrs = {"id": entry.id, "pid": target.pid, "exit_status": status}
        if target is entry:
            self.note(entry.id, "shim", "exit", {"status": status, "pid": target.pid,
                                                 "oom killed": oom})
        if key[0] == "exec":
            attrs["exec_id"] = key[3]
        with entry.telling:
            self._emit("/tasks/exit", entry.namespace, **attrs)

    def _watch(self, key: tuple, target: _Entry | _Exec) -> None:
        self._watcher.watch(key, target.shim_pid)

    # --- create / start --------------------------------------------------------------------

    def create(self, container: r.Container, mounts: Sequence[Mount], *,
               stdin: bool = False, terminal: bool = False, log_path: str = "",
               log_size_max: int = 0) -> r.Task:
        namespace, id = container.namespace, container.id
        _check_name("namespace", namespace)
        _check_name("task id", id)
        if not container.spec:
            raise InvalidArgument(f"create task {id}: the container has no spec")
        runtime = container.runtime or self.default_runtime
        cli = self._cli(runtime, namespace)
        spec = copy.deepcopy(container.spec)
        linux = spec.setdefault("linux", {})
        linux.setdefault("cgroupsPath",
                         default_cgroups_path(namespace, id, self.cgroup_parent))
        spec.setdefault("process", {})["terminal"] = bool(terminal)
        root = spec.setdefault("root", {})
        if mounts:
            root["path"] = "rootfs"
        elif not os.path.isabs(root.get("path") or ""):
            raise InvalidArgument(f"create task {id}: no mounts, and root.path "
                                  f"{root.get('path')!r} is not an absolute path")
        log_path = log_path or os.path.join(self.log_root, namespace, id, f"{id}.log")
        meta = {"version": META_VERSION, "namespace": namespace, "id": id,
                "runtime": runtime, "log_path": log_path, "terminal": bool(terminal),
                "stdin": bool(stdin), "cgroups_path": linux["cgroupsPath"],
                "mounted": bool(mounts)}
        bundle = self.bundle_dir(namespace, id)
        with self._cond:
            if (namespace, id) in self._tasks:
                raise AlreadyExists(f"task {id} in namespace {namespace}: exists already")
            try:
                os.makedirs(os.path.dirname(bundle), exist_ok=True)
                os.mkdir(bundle, 0o711)
            except FileExistsError:
                raise AlreadyExists(f"task {id} in namespace {namespace}: bundle {bundle} "
                                    "exists already (adopt first?)") from None
            except OSError as err:
                raise from_oserror(f"make bundle {bundle}", err) from err
            entry = _Entry(namespace, id, bundle, meta)
            self._tasks[(namespace, id)] = entry
        try:
            shim.write_json(os.path.join(bundle, "config.json"), spec)
            shim.write_json(os.path.join(bundle, "task.json"), meta)
            self.note(id, "core", "tasks.create", {
                "bundle": bundle, "runtime": runtime, "terminal": bool(terminal),
                "stdin": bool(stdin), "log": log_path})
            self._failpoint("task-after-bundle")
            for path in (os.path.dirname(log_path), cli.root, self.socket_dir):
                bundles.makedirs(path)
            if mounts:
                rootfs = os.path.join(bundle, "rootfs")
                bundles.makedirs(rootfs)
                mounting.mount_at(mounts, rootfs, self.kernel)
                self.note(id, "kernel", "mount", lambda: steps.mounted(mounts, rootfs))
                self._failpoint("task-after-mount")
            launch = shim.Launch(
                conmon=self.conmon, id=id, runtime_path=cli.runtime.path,
                files=entry.files, log_path=log_path, socket_dir=self.socket_dir,
                runtime_args=shim.runtime_args(cli.root,
                                               os.path.join(bundle, "runtime.log")),
                terminal=terminal, stdin=stdin, log_size_max=log_size_max)
            try:
                pid, shim_pid = shim.start(launch)
            except shim.ShimError as err:
                raise error_for(err.what, err.message) from err
            self._failpoint("task-after-shim")
        except BaseException:
            self._discard(entry, cli)
            raise
        entry.pid, entry.shim_pid = pid, shim_pid
        self.note(id, "shim", "conmon", lambda: {"argv": shim.argv(launch), "pid": shim_pid})
        self.note(id, "runtime", "create", lambda: steps.created(launch, bundle, pid, spec))
        self.note(id, "kernel", "namespaces", steps.at_once(lambda: steps.namespaces(pid)))
        self.note(id, "kernel", "cgroup",
                  steps.at_once(lambda: steps.cgroup(pid, linux["cgroupsPath"])))
        entry.watched = entry.ready = True
        entry.status = r.CREATED
        self._watch(("task", namespace, id), entry)
        self._emit("/tasks/create", namespace, id=id, pid=pid)
        return self._task(entry, r.CREATED, pid)

    def _discard(self, entry: _Entry, cli: RuntimeCLI) -> None:
        """Undo a create that failed half-way: best effort, the first error wins."""
        try:
            cli.delete(entry.id, force=True)
        except EstibaError:
            pass
        try:
            self._remove_bundle(entry)
        finally:
            with self._cond:
                self._tasks.pop((entry.namespace, entry.id), None)

    def start(self, namespace: str, id: str) -> r.Task:
        entry = self._entry(namespace, id)
        self._failpoint("task-before-start")
        with entry.telling:
            self.note(id, "core", "tasks.start", {"pid": entry.pid})
            cli = self._cli(entry.meta["runtime"], namespace)
            cli.start(id)
            self.note(id, "runtime", "start", lambda: steps.runtime_call(cli, "start", id))
            self._set_status(entry, r.RUNNING)
            self._emit("/tasks/start", namespace, id=id, pid=entry.pid)
        # running, or stopped already (a quick process): no runtime call to ask which
        status = r.RUNNING if entry.exit_status is None else r.STOPPED
        return self._task(entry, status, entry.pid)

    # --- state ---------------------------------------------------------------------------

    def get(self, namespace: str, id: str) -> r.Task:
        entry = self._entry(namespace, id)
        if entry.exit_status is not None:
            return self._task(entry, r.STOPPED, entry.pid)
        known = self._known_status(entry)
        if known is not None:  # no runtime call: a watched shim would have told an exit
            return known
        try:
            state = self._cli(entry.meta["runtime"], namespace).state(id)
        except NotFound:
            state = {"status": r.STOPPED, "pid": 0}
        return self._from_state(entry, state)

    def _known_status(self, entry: _Entry) -> r.Task | None:
        with self._cond:
            status = entry.status if entry.watched and entry.exit_status is None else None
        return None if status is None else self._task(entry, status, entry.pid)

    def _from_state(self, entry: _Entry, state: dict) -> r.Task:
        """The task as the runtime's ``state`` shows it, the exit file having the last
        word: a runtime's "stopped" before conmon wrote it waits for it a moment."""
        status = state.get("status") or r.UNKNOWN
        if status == r.STOPPED and entry.exit_status is None and entry.watched:
            with self._cond:
                self._cond.wait_for(lambda: entry.exit_status is not None, 2.0)
        if status == r.STOPPED or entry.exit_status is not None:
            return self._task(entry, r.STOPPED, entry.pid)
        if status in (r.CREATED, r.RUNNING, r.PAUSED):
            # an adopted task whose shim is watched: known from now on, as this
            # service's own are (each later look would otherwise start the runtime)
            self._set_status(entry, status, only_unknown=True)
        return self._task(entry, status, int(state.get("pid") or 0) or entry.pid)

    def _set_status(self, entry: _Entry, status: str, only_unknown: bool = False) -> None:
        """Record what the task became, when its shim is watched; ``only_unknown``: a
        status read from the runtime, which a change made meanwhile here overrides."""
        with self._cond:
            if entry.watched and not (only_unknown and entry.status is not None):
                entry.status = status

    def list(self, namespace: str) -> list[r.Task]:
        """The namespace's tasks; one ``list`` call per runtime, not a ``state`` each."""
        with self._cond:
            entries = sorted((e for (ns, _), e in self._tasks.items()
                              if ns == namespace and e.ready), key=lambda e: e.id)
        known = {e.id: self._known_status(e) for e in entries}
        states: dict[str, dict[str, dict]] = {}
        for runtime in {e.meta["runtime"] for e in entries
                        if e.exit_status is None and known[e.id] is None}:
            states[runtime] = self._cli(runtime, namespace).states()
        out = []
        for entry in entries:
            if entry.exit_status is not None:
                out.append(self._task(entry, r.STOPPED, entry.pid))
                continue
            if known[entry.id] is not None:
                out.append(known[entry.id])
                continue
            state = states[entry.meta["runtime"]].get(entry.id)
            out.append(self._from_state(entry, state or {"status": r.STOPPED, "pid": 0}))
        return out

    def remove_log(self, namespace: str, id: str) -> None:
        """Remove the container's log directory (``<log_root>/<ns>/<id>``): its container
        is gone, and a new one of the same id starts a log of its own."""
        import shutil

        with self._cond:
            busy = (namespace, id) in self._tasks
        if busy:
            raise FailedPrecondition(f"remove log of {id}: its task still exists")
        shutil.rmtree(os.path.join(self.log_root, namespace, id), ignore_errors=True)

    def wait(self, namespace: str, id: str, timeout: float | None = None) -> r.Task:
        entry = self._entry(namespace, id)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while entry.exit_status is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise Unavailable(f"wait for task {id}: still running after "
                                      f"{timeout:g}s")
                if entry.watched:
                    self._cond.wait(left)
                    continue
                self._cond.release()  # no shim: ask the runtime now and then
                try:
                    task = self.get(namespace, id)
                    time.sleep(0.1 if left is None else min(0.1, max(left, 0)))
                finally:
                    self._cond.acquire()
                if task.status == r.STOPPED:
                    # a shim that is not watched may still have left its exit file
                    found = shim.read_exit_file(entry.files.exit_file)
                    entry.exit_status = UNKNOWN_EXIT if found is None else found[0]
                    entry.exited_at = _now() if found is None else _rfc3339(found[1])
        return self._task(entry, r.STOPPED, entry.pid)

    # --- signals, freezing, processes -----------------------------------------------------

    def kill(self, namespace: str, id: str, signal: int = 15, all: bool = False) -> None:
        entry = self._entry(namespace, id)
        if entry.exit_status is not None:
            raise FailedPrecondition(f"kill task {id}: it is stopped")
        self.note(id, "core", "tasks.kill", {"signal": signal, "all": all})
        cli = self._cli(entry.meta["runtime"], namespace)
        cli.kill(id, signal, all)
        self.note(id, "runtime", "kill",
                  lambda: steps.runtime_call(cli, "kill", id, signal, all))

    def pause(self, namespace: str, id: str) -> None:
        entry = self._entry(namespace, id)
        self._cli(entry.meta["runtime"], namespace).pause(id)
        self._set_status(entry, r.PAUSED)
        self._emit("/tasks/paused", namespace, id=id)

    def resume(self, namespace: str, id: str) -> None:
        entry = self._entry(namespace, id)
        self._cli(entry.meta["runtime"], namespace).resume(id)
        self._set_status(entry, r.RUNNING)
        self._emit("/tasks/resumed", namespace, id=id)

    def ps(self, namespace: str, id: str) -> list[int]:
        entry = self._entry(namespace, id)
        return self._cli(entry.meta["runtime"], namespace).ps(id)

    def metrics(self, namespace: str, id: str) -> dict:
        """The cgroup's counters (``CgroupManager.stats``), with its ``cgroups_path``."""
        from estiba.cgroups import open_cgroup

        entry = self._entry(namespace, id)
        path = entry.meta.get("cgroups_path", "")
        cgroup = open_cgroup(path)
        if not cgroup.exists():
            raise NotFound(f"metrics of task {id}: cgroup {path} is gone")
        return {"cgroups_path": path, **cgroup.stats()}

    def update(self, namespace: str, id: str, resources: dict) -> None:
        entry = self._entry(namespace, id)
        self._cli(entry.meta["runtime"], namespace).update(id, resources)

    # --- exec ----------------------------------------------------------------------------

    def exec(self, namespace: str, id: str, exec_id: str, process: dict, *,
             terminal: bool = False, stdin: bool = False) -> r.ExecProcess:
        return self._exec(namespace, id, exec_id, process, terminal, stdin, False)[0]

    def exec_attached(self, namespace: str, id: str, exec_id: str, process: dict, *,
                      terminal: bool = False, stdin: bool = False
                      ) -> tuple[r.ExecProcess, socket.socket]:
        """``exec``, with a socket connected to its conmon's attach socket before the
        process runs (conmon's ``--exec-attach``): none of its output is missed."""
        return self._exec(namespace, id, exec_id, process, terminal, stdin, True)

    def _exec(self, namespace: str, id: str, exec_id: str, process: dict, terminal: bool,
              stdin: bool, attach: bool) -> tuple[r.ExecProcess, socket.socket | None]:
        entry = self._entry(namespace, id)
        _check_name("exec id", exec_id)
        if entry.exit_status is not None:
            raise FailedPrecondition(f"exec in task {id}: it is stopped")
        cli = self._cli(entry.meta["runtime"], namespace)
        spec = bundles.read_json(os.path.join(entry.bundle, "config.json"))
        full = exec_process(spec.get("process") or {}, process, terminal)
        files = shim.exec_files(entry.bundle, id, exec_id)
        conns: list[socket.socket] = []
        with self._cond:
            if exec_id in entry.execs:
                raise AlreadyExists(f"exec {exec_id} in task {id}: exists already")
            proc = _Exec(exec_id, files, bool(terminal))
            entry.execs[exec_id] = proc
        try:
            bundles.makedirs(os.path.dirname(files.dir))
            os.mkdir(files.dir, 0o711)
            process_file = os.path.join(files.dir, "process.json")
            shim.write_process_file(process_file, full)
            launch = shim.Launch(
                conmon=self.conmon, id=id, runtime_path=cli.runtime.path, files=files,
                log_path=bundles.exec_log_path(files), socket_dir=self.socket_dir,
                runtime_args=shim.runtime_args(cli.root,
                                               os.path.join(files.dir, "runtime.log")),
                terminal=terminal, stdin=stdin, exec_process_file=process_file,
                exec_attach=attach)

            def connect() -> None:
                conns.append(shim.connect_attach(shim.attach_path(self.socket_dir, files.dir),
                                             f"exec {exec_id} in task {id}"))

            try:
                if isinstance(cli, InProcessEstiba):
                    proc.pid, proc.shim_pid = self._exec_shim().launch(launch, connect)
                else:
                    proc.pid, proc.shim_pid = shim.start(launch, on_attach=connect)
            except shim.ShimError as err:
                raise error_for(err.what, err.message) from err
            if attach and not conns:
                raise Internal(f"exec {exec_id} in task {id}: conmon did not say that "
                               "its attach socket listens")
        except BaseException:
            for conn in conns:
                conn.close()
            with self._cond:
                entry.execs.pop(exec_id, None)
            shim.remove_socket_link(self.socket_dir, files.dir)
            shutil.rmtree(files.dir, ignore_errors=True)
            raise
        # told before it is watched: its exit event cannot come first
        self._emit("/tasks/exec-added", namespace, id=id, exec_id=exec_id, pid=proc.pid)
        self._watch(("exec", namespace, id, exec_id), proc)
        return self._exec_record(entry, proc), (conns[0] if conns else None)

    # --- attach, resize ------------------------------------------------------------------

    def _shim_dir(self, namespace: str, id: str, exec_id: str) -> tuple[str, bool]:
        """(the shim directory of the task or of its exec, whether it has exited)."""
        entry = self._entry(namespace, id)
        if not exec_id:
            return entry.bundle, entry.exit_status is not None
        with self._cond:
            proc = entry.execs.get(exec_id)
        if proc is None:
            raise NotFound(f"exec {exec_id} in task {id}: not found")
        return proc.files.dir, proc.exit_status is not None

    def attach(self, namespace: str, id: str, exec_id: str = "") -> socket.socket:
        """A socket connected to the attach socket of the task's conmon (or of its
        exec's): packets ``<tag><bytes>`` of output (tag 2 stdout, 3 stderr) come from
        it, packets sent to it go to the process's stdin (shim/conmon.py)."""
        what = f"exec {exec_id} in task {id}" if exec_id else f"task {id}"
        dir, exited = self._shim_dir(namespace, id, exec_id)
        if exited:
            raise FailedPrecondition(f"attach to {what}: it is stopped")
        return shim.connect_attach(shim.attach_path(self.socket_dir, dir), what)

    def resize(self, namespace: str, id: str, height: int, width: int,
               exec_id: str = "") -> None:
        """Set the size of the pty of the task (or of its exec)."""
        what = f"exec {exec_id} in task {id}" if exec_id else f"task {id}"
        message = shim.resize_message(height, width)
        dir, exited = self._shim_dir(namespace, id, exec_id)
        if exited:
            raise FailedPrecondition(f"resize {what}: it is stopped")
        try:
            shim.write_ctl(dir, message)
        except NotFound as err:
            raise FailedPrecondition(f"resize {what}: its shim is gone") from err

    def exec_log(self, namespace: str, id: str, exec_id: str) -> str:
        """The CRI log of an exec's output (kept apart from the task's log, as Docker
        keeps ``exec`` output out of ``docker logs``; removed with the task)."""
        entry = self._entry(namespace, id)
        return bundles.exec_log_path(shim.exec_files(entry.bundle, id, exec_id))

    def _exec_record(self, entry: _Entry, proc: _Exec) -> r.ExecProcess:
        return r.ExecProcess(namespace=entry.namespace, id=entry.id, exec_id=proc.exec_id,
                             pid=proc.pid,
                             status=r.RUNNING if proc.exit_status is None else r.STOPPED,
                             exit_status=proc.exit_status, terminal=proc.terminal)

    def get_exec(self, namespace: str, id: str, exec_id: str) -> r.ExecProcess:
        entry = self._entry(namespace, id)
        with self._cond:
            proc = entry.execs.get(exec_id)
        if proc is None:
            raise NotFound(f"exec {exec_id} in task {id}: not found")
        return self._exec_record(entry, proc)

    def wait_exec(self, namespace: str, id: str, exec_id: str,
                  timeout: float | None = None) -> r.ExecProcess:
        entry = self._entry(namespace, id)
        with self._cond:
            proc = entry.execs.get(exec_id)
            if proc is None:
                raise NotFound(f"exec {exec_id} in task {id}: not found")
            if not self._cond.wait_for(lambda: proc.exit_status is not None, timeout):
                raise Unavailable(f"wait for exec {exec_id} in task {id}: still running "
                                  f"after {timeout:g}s")
        return self._exec_record(entry, proc)

    def delete_exec(self, namespace: str, id: str, exec_id: str) -> None:
        """Forget an exec that has exited: its files and its shim's socket link (a
        health probe's, every few seconds, would pile up until the task is deleted)."""
        entry = self._entry(namespace, id)
        with self._cond:
            proc = entry.execs.get(exec_id)
            if proc is None:
                raise NotFound(f"exec {exec_id} in task {id}: not found")
            if proc.exit_status is None:
                raise FailedPrecondition(f"delete exec {exec_id} in task {id}: it is "
                                         "running")
            del entry.execs[exec_id]
        shim.remove_socket_link(self.socket_dir, proc.files.dir)
        shutil.rmtree(proc.files.dir, ignore_errors=True)

    # --- delete --------------------------------------------------------------------------

    def delete(self, namespace: str, id: str, force: bool = False) -> r.Task:
        entry = self._entry(namespace, id)
        cli = self._cli(entry.meta["runtime"], namespace)
        task = self.get(namespace, id)
        if task.status in (r.RUNNING, r.PAUSED) and not force:
            raise FailedPrecondition(f"delete task {id}: it is {task.status} (stop it, "
                                     "or force)")
        with self._cond:
            if entry.deleting:
                raise Conflict(f"delete task {id}: being deleted already")
            entry.deleting = True
        try:
            return self._delete(entry, cli, task)
        finally:
            with self._cond:
                entry.deleting = False

    def _delete(self, entry: _Entry, cli: RuntimeCLI, task: r.Task) -> r.Task:
        namespace, id = entry.namespace, entry.id
        self.note(id, "core", "tasks.delete", {"status": task.status})
        if task.status != r.STOPPED:
            # created, or forced: the runtime kills the init (thawing a paused one)
            cli.delete(id, force=True)
            self.wait(namespace, id, timeout=_STOP_TIMEOUT)
        else:
            try:
                cli.delete(id)
            except NotFound:
                pass
        self.note(id, "runtime", "delete", lambda: {
            **steps.runtime_call(cli, "delete", id, task.status != r.STOPPED),
            "removes": [f"its state in {cli.root}/{id}",
                        f"the cgroup {entry.meta.get('cgroups_path', '')}"]})
        with self._cond:
            shims_done = self._cond.wait_for(
                lambda: entry.exit_status is not None
                and all(e.exit_status is not None for e in entry.execs.values()),
                _STOP_TIMEOUT if entry.watched else 0)
        if not shims_done and entry.watched:
            raise Conflict(f"delete task {id}: its shims did not exit")
        self._remove_bundle(entry)
        with self._cond:
            self._tasks.pop((namespace, id), None)
        self._emit("/tasks/delete", namespace, id=id, pid=entry.pid,
                   exit_status=entry.exit_status)
        return self._task(entry, r.STOPPED, entry.pid)

    def _remove_bundle(self, entry: _Entry) -> None:
        """Unmount the rootfs, remove the shims' links and the bundle directory; never
        remove through a mount still there (that would delete the snapshot's files)."""
        rootfs = os.path.join(entry.bundle, "rootfs")
        if entry.meta.get("mounted"):
            # unmounted without a look at the mount table first (a read of it costs
            # more than the unmount); what stays mounted is found below, once
            try:
                self.kernel.umount(rootfs)
            except Conflict:  # EBUSY: mounts below it (records with targets)
                self.kernel.umount(rootfs, k.MNT_DETACH)
            except (InvalidArgument, NotFound):
                pass  # EINVAL: not a mount point (unmounted already); ENOENT: no rootfs
            self.note(entry.id, "kernel", "umount", {"target": rootfs})
        shim.remove_socket_link(self.socket_dir, entry.bundle)
        for name in bundles.listdir(os.path.join(entry.bundle, "exec")):
            shim.remove_socket_link(self.socket_dir, os.path.join(entry.bundle, "exec", name))
        left = mounted_under(entry.bundle)
        if left:
            raise Conflict(f"delete task {entry.id}: still mounted: {', '.join(left)}")
        bundles.remove_tree(entry.bundle)
        self.note(entry.id, "core", "bundle removed", {"bundle": entry.bundle})

    # --- adopt ---------------------------------------------------------------------------

    def adopt(self) -> list[r.Task]:
        """Take back the tasks of ``<exec_root>/tasks`` (after a daemon restart): those
        whose shim runs are watched again; those that exited meanwhile are stopped with
        their status (``/tasks/exit`` is published for them). Bundles a create left
        half-made (killed before its shim ran: no task.json, or no init pid, no exit
        file and no shim) are removed, their rootfs unmounted (``discarded``)."""
        base = os.path.join(self.exec_root, "tasks")
        adopted: list[r.Task] = []
        try:
            namespaces = sorted(os.listdir(base))
        except FileNotFoundError:
            return []
        for namespace in namespaces:
            try:
                ids = sorted(os.listdir(os.path.join(base, namespace)))
            except NotADirectoryError:
                continue
            for id in ids:
                entry = self._adopt_one(namespace, id)
                if entry is not None:
                    try:
                        adopted.append(self.get(namespace, id))
                    except NotFound:
                        continue
        return adopted

    def _adopt_one(self, namespace: str, id: str) -> _Entry | None:
        bundle = self.bundle_dir(namespace, id)
        try:
            meta = bundles.read_json(os.path.join(bundle, "task.json"))
        except (NotFound, InvalidArgument):
            # a create that died before writing it: not a task, and in the way of one
            self._discard_half_made(namespace, id, bundle, {"mounted": True})
            return None
        if meta.get("version") != META_VERSION or meta.get("runtime") not in self.runtimes:
            return None
        with self._cond:
            if (namespace, id) in self._tasks:
                return None
        files = shim.task_files(bundle, id)
        if (not os.path.exists(files.pid_file)
                and shim.read_exit_file(files.exit_file) is None
                and not bundles.shim_alive(files)):
            # the create died before its shim made the container (or with it)
            self._discard_half_made(namespace, id, bundle, meta)
            return None
        with self._cond:
            if (namespace, id) in self._tasks:
                return None
            entry = _Entry(namespace, id, bundle, meta)
            entry.ready = True
            self._tasks[(namespace, id)] = entry
        try:
            entry.pid = shim.read_pid_file(entry.files.pid_file)
        except EstibaError:
            entry.pid = 0
        exited = self._adopt_shim(("task", namespace, id), entry)
        for name in bundles.listdir(os.path.join(bundle, "exec")):
            proc = _Exec(name, shim.exec_files(bundle, id, name))
            with contextlib.suppress(EstibaError):
                proc.pid = shim.read_pid_file(proc.files.pid_file)
            with contextlib.suppress(EstibaError):
                proc.terminal = bool(bundles.read_json(os.path.join(proc.files.dir,
                                                             "process.json")).get("terminal"))
            entry.execs[name] = proc
            self._adopt_shim(("exec", namespace, id, name), proc)
        if exited:
            self._emit("/tasks/exit", namespace, id=id, pid=entry.pid,
                       exit_status=entry.exit_status)
        return entry

    def _discard_half_made(self, namespace: str, id: str, bundle: str, meta: dict) -> None:
        entry = _Entry(namespace, id, bundle, meta)
        runtime = meta.get("runtime")
        if runtime in self.runtimes:
            # the runtime may have got as far as its state (and the cgroup)
            with contextlib.suppress(EstibaError):
                self._cli(runtime, namespace).delete(id, force=True)
        try:
            self._remove_bundle(entry)
        except EstibaError:
            return  # left as it is (still mounted?): not adopted, seen in the bundle dir
        self.discarded.append((namespace, id))

    def _adopt_shim(self, key: tuple, target: _Entry | _Exec) -> bool:
        """Watch the shim of ``target`` again; True when it had exited already."""
        found = shim.read_exit_file(target.files.exit_file)
        if found is None:
            try:
                shim_pid = shim.read_pid_file(target.files.conmon_pid_file)
            except EstibaError:
                shim_pid = 0
            if shim_pid and shim.is_conmon_of(shim_pid, target.files.dir):
                target.shim_pid = shim_pid
                if isinstance(target, _Entry):
                    target.watched = True
                self._watch(key, target)
                # it may have exited between the look at its exit file and the pidfd
                return False
            found = shim.read_exit_file(target.files.exit_file)
        if found is None:
            if isinstance(target, _Entry):
                return False  # no shim, no status: get/wait ask the runtime
            target.exit_status = UNKNOWN_EXIT
            return False
        target.exit_status = found[0]
        if isinstance(target, _Entry):
            target.exited_at = _rfc3339(found[1])
            target.oom_killed = _oom_killed(target)
        bundles.reap_exited_shim(target.files.conmon_pid_file)
        return True


def _oom_killed(entry: _Entry) -> bool:
    """Whether the OOM killer killed a process of the task's cgroup: read once its init
    has exited, while the cgroup stays until the task is deleted."""
    from estiba.cgroups import open_cgroup

    path = entry.meta.get("cgroups_path", "")
    if not path:
        return False
    try:
        memory = open_cgroup(path).stats().get("memory") or {}
    except EstibaError:
        return False
    return bool(memory.get("oom_kills"))


def _no_failpoint(name: str) -> None:
    pass
