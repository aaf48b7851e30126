"""Docker's containers on the core: a Docker container is a core container of the
engine's namespace (same id, 64 hex digits) plus, once started, its task. Docker-level
state is kept in the container's labels (``estiba.docker.*``).

- create: the Config's image resolved (busybox provided), its config merged with the
  request's Entrypoint/Cmd/Env/WorkingDir/User/Tty into the core's default spec
  (``core.spec``); ``HostConfig.NetworkMode`` ``host`` drops the network namespace,
  anything else keeps the container's own (loopback only).
- the task is made lazily, by ``attach`` (the CLI attaches before it starts) or
  ``start``, with ``terminal = Tty`` and ``stdin = OpenStdin``; a stopped task is deleted
  and made again (a restart).
- ``AutoRemove``: a thread waits for the task's exit, then deletes task and container.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time

from estiba import errors
from estiba.core import spec as specs
from estiba.engine import hostconfig, names
from estiba.engine.inspect import View, inspect, summary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from socket import socket
    from typing import Any

    from estiba.engine.images import Images

PREFIX = "estiba.docker."
NAME = PREFIX + "name"
IMAGE = PREFIX + "image"
CONFIG = PREFIX + "config"
HOST_CONFIG = PREFIX + "host-config"
STARTED_AT = PREFIX + "started-at"
POLL = 0.02  # how often a wait looks for a task to appear or a container to go


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


class Containers:
    def __init__(self, core: Any, namespace: str, images: Images) -> None:
        self.core = core
        self.ns = namespace
        self.images = images
        self._lock = threading.Lock()  # names are checked and taken under it
        self._ns_ready = False
        self._closing = threading.Event()

    def close(self) -> None:
        """End the waits in progress (Unavailable): the daemon is stopping."""
        self._closing.set()

    def _check_open(self) -> None:
        if self._closing.is_set():
            raise errors.Unavailable("wait: the daemon is stopping")

    # --- lookup ---------------------------------------------------------------------

    def _ensure_namespace(self) -> None:
        if self._ns_ready:
            return
        with contextlib.suppress(errors.AlreadyExists, errors.Conflict):
            self.core.namespaces.create(self.ns)
        self._ns_ready = True

    def _all(self) -> list[Any]:
        self._ensure_namespace()
        return [c for c in self.core.containers.list(self.ns)
                if NAME in dict(c.labels)]

    def resolve(self, ref: str) -> str:
        """The id of the container ``ref`` (id, name or id prefix) names."""
        return names.resolve(ref, {c.id: dict(c.labels)[NAME] for c in self._all()})

    def _get(self, ref: str) -> tuple[Any, Any]:
        """(container, task or None)."""
        cid = self.resolve(ref)
        try:
            container = self.core.containers.get(self.ns, cid)
        except errors.NotFound as err:
            raise errors.NotFound(f"No such container: {ref}") from err
        return container, self._task(cid)

    def _task(self, cid: str) -> Any:
        try:
            return self.core.tasks.get(self.ns, cid)
        except errors.NotFound:
            return None

    # --- create ---------------------------------------------------------------------

    def create(self, name: str, body: dict) -> dict:
        """``POST /containers/create``: {"Id", "Warnings"}."""
        image_name = body.get("Image") or ""
        if not image_name:
            raise errors.InvalidArgument("config cannot be empty in order to create a "
                                         "container")
        host_config = body.get("HostConfig") or {}
        config = {k: v for k, v in body.items()
                  if k not in ("HostConfig", "NetworkingConfig")}
        image = self.images.resolve(image_name)
        image_config = self.core.images.config(self.ns, image.name)
        cid = secrets.token_hex(32)
        spec, config = build_spec(self.ns, cid, image_config, config, host_config,
                                  getattr(self.core, "cgroup_parent", "estiba"))
        labels = {IMAGE: image_name, CONFIG: json.dumps(config),
                  HOST_CONFIG: json.dumps(host_config)}
        with self._lock:
            taken = {dict(c.labels)[NAME]: c.id for c in self._all()}
            wanted = names.check_name(name) if name else names.random_name(taken)
            if wanted in taken:
                raise errors.Conflict(
                    f'Conflict. The container name "{wanted}" is already in use by '
                    f'container "{taken[wanted]}". You have to remove (or rename) that '
                    "container to be able to reuse that name.")
            labels[NAME] = wanted
            self.core.new_container(self.ns, cid, image.name, labels=labels, spec=spec)
        return {"Id": cid, "Warnings": []}

    # --- run --------------------------------------------------------------------------

    def _ensure_task(self, container: Any, task: Any) -> Any:
        """The container's task, made (again, if it stopped) with its Config's terminal
        and stdin."""
        cid = container.id
        if task is not None and task.exit_status is not None:
            self.core.tasks.delete(self.ns, cid)
            task = None
        if task is None:
            config = json.loads(dict(container.labels).get(CONFIG) or "{}")
            mounts = self.core.snapshots.mounts(self.ns, container.snapshot_key)
            task = self.core.tasks.create(container, mounts,
                                          stdin=bool(config.get("OpenStdin")),
                                          terminal=bool(config.get("Tty")))
        return task

    def attach(self, ref: str) -> tuple[socket | None, bool]:
        """A connected attach socket of the container's task (made if needed, so that
        the CLI can attach before it starts; None when it cannot be made), and whether
        it has a terminal."""
        with self._lock:
            container, task = self._get(ref)
            try:
                task = self._ensure_task(container, task)
            except errors.EstibaError:
                # what the runtime refuses (no such executable) is start's error, as in
                # Docker: the attach gets no output
                config = json.loads(dict(container.labels).get(CONFIG) or "{}")
                return None, bool(config.get("Tty"))
        return self.core.tasks.attach(self.ns, container.id), task.terminal

    def start(self, ref: str) -> bool:
        """Start the container; False when it is running already (Docker's 304)."""
        with self._lock:
            container, task = self._get(ref)
            if task is not None and task.exit_status is None and task.status != "created":
                return False
            host_config = json.loads(dict(container.labels).get(HOST_CONFIG) or "{}")
            try:
                task = self._ensure_task(container, task)
                self.core.containers.update(container.replace(labels=tuple(sorted(
                    {**dict(container.labels), STARTED_AT: _now()}.items()))))
                self.core.tasks.start(self.ns, container.id)
            except errors.EstibaError:
                if host_config.get("AutoRemove"):
                    with contextlib.suppress(errors.EstibaError):
                        self._remove(container.id, force=True)
                raise
        if host_config.get("AutoRemove"):
            threading.Thread(target=self._remove_after_exit, args=(container.id,),
                             name=f"autoremove-{container.id[:12]}", daemon=True).start()
        return True

    def _remove_after_exit(self, cid: str) -> None:
        with contextlib.suppress(errors.EstibaError):
            self.core.tasks.wait(self.ns, cid)
            self._remove(cid, force=True)

    def wait(self, ref: str, condition: str = "not-running") -> dict:
        return self.waiter(ref, condition)()

    def waiter(self, ref: str, condition: str = "not-running") -> Callable[[], dict]:
        """``POST /containers/{id}/wait``: checks now (NotFound, a bad condition), then
        a blocking function returning {"StatusCode", "Error"} once the condition holds:
        ``not-running`` (now, if it is not running), ``next-exit`` (the next exit, the
        container started meanwhile if need be), ``removed`` (that exit, and the
        container gone). Docker answers the head at once, the body at the end: the CLI
        starts the container only once its wait is answered."""
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise errors.InvalidArgument(f"invalid condition: {condition!r}")
        container, task = self._get(ref)
        cid = container.id
        seen = task.exited_at if task is not None and task.exit_status is not None else None
        code = task.exit_status if task is not None and seen else 0
        if condition in ("", "not-running") and (task is None or seen):
            return lambda: {"StatusCode": code or 0, "Error": None}
        return lambda: self._wait(cid, condition, seen, code)

    def _wait(self, cid: str, condition: str, seen: str | None, code: int | None) -> dict:
        while True:
            self._check_open()
            task = self._task(cid)
            if task is not None and task.exit_status is None:
                try:
                    task = self.core.tasks.wait(self.ns, cid, timeout=POLL * 25)
                except errors.Unavailable:
                    continue  # still running: the daemon may be stopping meanwhile
                except errors.NotFound:
                    continue
                code = task.exit_status if task.exit_status is not None else code
                break
            if task is not None and task.exited_at != seen:
                code = task.exit_status
                break
            if not self._exists(cid):
                break
            time.sleep(POLL)
        if condition == "removed":
            while self._exists(cid):
                self._check_open()
                time.sleep(POLL)
        return {"StatusCode": code or 0, "Error": None}

    def _exists(self, cid: str) -> bool:
        try:
            self.core.containers.get(self.ns, cid)
        except errors.NotFound:
            return False
        return True

    def resize(self, ref: str, height: int, width: int) -> None:
        container, task = self._get(ref)
        if task is None or task.exit_status is not None:
            raise errors.Conflict(f"Container {container.id} is not running")
        self.core.tasks.resize(self.ns, container.id, height, width)

    def kill(self, ref: str, signal: int = 9) -> None:
        container, task = self._get(ref)
        if task is None or task.exit_status is not None or task.status == "created":
            raise errors.Conflict(f"cannot kill container: {ref}: container "
                                  f"{container.id} is not running")
        self.core.tasks.kill(self.ns, container.id, signal, all=True)

    def stop(self, ref: str, timeout: float | None = None, signal: int = 15) -> bool:
        """SIGTERM (or ``signal``), SIGKILL after ``timeout`` seconds (10); False when
        it was not running (Docker's 304)."""
        container, task = self._get(ref)
        if task is None or task.exit_status is not None or task.status == "created":
            return False
        cid = container.id
        self.core.tasks.kill(self.ns, cid, signal, all=True)
        try:
            self.core.tasks.wait(self.ns, cid, timeout=10 if timeout is None else timeout)
        except errors.Unavailable:
            self.core.tasks.kill(self.ns, cid, 9, all=True)
            self.core.tasks.wait(self.ns, cid)
        return True

    def remove(self, ref: str, force: bool = False) -> None:
        """``DELETE /containers/{id}``: refused while running unless ``force`` (then
        SIGKILL first)."""
        self._remove(self.resolve(ref), force)

    def _remove(self, ref: str, force: bool) -> None:
        container, task = self._get(ref)
        cid = container.id
        if task is not None:
            if task.exit_status is None and task.status != "created":
                if not force:
                    name = dict(container.labels).get(NAME, cid)
                    raise errors.Conflict(
                        f'cannot remove container "{name}": container is running: stop '
                        "the container before removing or force remove")
                self.core.tasks.kill(self.ns, cid, 9, all=True)
                with contextlib.suppress(errors.Unavailable):
                    self.core.tasks.wait(self.ns, cid, timeout=10)
            with contextlib.suppress(errors.NotFound):
                self.core.tasks.delete(self.ns, cid, force=True)
        with contextlib.suppress(errors.NotFound):
            self.core.remove_container(self.ns, cid)

    # --- views ------------------------------------------------------------------------

    def _view(self, container: Any, task: Any) -> View:
        labels = dict(container.labels)
        config = json.loads(labels.get(CONFIG) or "{}")
        status, pid, code, finished = "created", 0, 0, ""
        if task is not None:
            if task.exit_status is not None:
                status, code, finished = "exited", task.exit_status, task.exited_at
            elif task.status != "created":
                status, pid = "running", task.pid
        args = tuple(((container.spec or {}).get("process") or {}).get("args") or ())
        try:
            image_id = self.images.image_id(container.image)
        except errors.NotFound:
            image_id = ""
        return View(id=container.id, name=labels.get(NAME, "/" + container.id[:12]),
                    created=container.created_at, image=labels.get(IMAGE, container.image),
                    image_id=image_id, args=args, config=config,
                    host_config=json.loads(labels.get(HOST_CONFIG) or "{}"),
                    status=status, pid=pid, exit_code=code,
                    started_at=labels.get(STARTED_AT, "") if task is not None else "",
                    finished_at=finished)

    def inspect(self, ref: str) -> dict:
        return inspect(self._view(*self._get(ref)))

    def list(self, all: bool = False) -> list[dict]:
        now = time.time()
        tasks = {t.id: t for t in self.core.tasks.list(self.ns)}
        views = [self._view(c, tasks.get(c.id)) for c in self._all()]
        views.sort(key=lambda v: v.created, reverse=True)
        return [summary(v, now) for v in views if all or v.status == "running"]

    def log_source(self, ref: str) -> tuple[str, bool, Any]:
        """(the task's CRI log path, whether it has a terminal, ``exited(timeout)``
        for a follower) of the container; ('', ...) before its first start."""
        container, task = self._get(ref)
        config = json.loads(dict(container.labels).get(CONFIG) or "{}")
        cid = container.id

        def exited(timeout: float) -> Any:
            try:
                current = self.core.tasks.wait(self.ns, cid, timeout=timeout)
            except errors.Unavailable:
                return None
            except errors.NotFound:
                return True
            return current if current.exit_status is not None else None

        return (task.log_path if task is not None else ""), bool(config.get("Tty")), exited


def build_spec(namespace: str, cid: str, image_config: dict, config: dict,
               host_config: dict, cgroup_parent: str) -> tuple[dict, dict]:
    """(the OCI spec, the Config as inspect shows it) of a Docker create (pure)."""
    inner = dict(image_config.get("config") or {})
    entrypoint = config.get("Entrypoint")
    if isinstance(entrypoint, str):
        entrypoint = [entrypoint]
    cmd = config.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if entrypoint is not None:
        inner["Entrypoint"] = entrypoint
        inner["Cmd"] = cmd or []
    elif cmd:
        inner["Cmd"] = cmd
    tty = bool(config.get("Tty"))
    spec = specs.default_spec(namespace, cid, cgroup_parent=cgroup_parent)
    spec = specs.with_image_config(spec, {"config": inner}, env=list(config.get("Env") or []),
                                   cwd=config.get("WorkingDir") or "", terminal=tty,
                                   user=config.get("User") or "")
    hostname = config.get("Hostname") or cid[:12]
    spec["hostname"] = hostname
    spec = hostconfig.apply(spec, host_config)
    shown = {**config, "Hostname": hostname, "Env": spec["process"]["env"],
             "Cmd": inner.get("Cmd"), "Entrypoint": inner.get("Entrypoint"),
             "WorkingDir": config.get("WorkingDir") or inner.get("WorkingDir") or "",
             "Labels": config.get("Labels") or {}, "Tty": tty}
    return spec, shown
