"""A test double of the core's services (``estiba.core.interfaces``), in memory, with
the real records. Used by the core API's unit tests and, when the real core cannot be
built, by the daemon's integration test (``build_fake_core``).

``FakeCore.calls`` records (service, method, args) of every call; ``FakeCore.fail``
maps "service.method" to an exception to raise instead.
"""

from __future__ import annotations

import fnmatch
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from estiba.content.store import BlobInfo
from estiba.core import spec as specs
from estiba.core.records import Container, Event, ExecProcess, Task
from estiba.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from estiba.metadata.images import Image
from estiba.metadata.leases import Lease
from estiba.metadata.namespaces import Namespace
from estiba.snapshots import Info, Mount, Usage

NOW = "2026-01-02T03:04:05Z"
DIGEST = "sha256:" + "ab" * 32
CONFIG = {"config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"}}


class _Service:
    def __init__(self, core: FakeCore, name: str) -> None:
        self.core = core
        self.name = name

    def _call(self, method: str, *args: Any) -> None:
        self.core.calls.append((self.name, method, args))
        exc = self.core.fail.get(f"{self.name}.{method}")
        if exc is not None:
            raise exc


class FakeNamespaces(_Service):
    def __init__(self, core: FakeCore) -> None:
        super().__init__(core, "namespaces")
        self.items: dict[str, Namespace] = {"default": Namespace(name="default",
                                                                  created_at=NOW)}

    def list(self) -> list[Namespace]:
        self._call("list")
        return list(self.items.values())

    def create(self, name: str, labels: Mapping[str, str] | None = None) -> Namespace:
        self._call("create", name, labels)
        if name in self.items:
            raise AlreadyExists(f"namespace {name}: already exists")
        ns = Namespace(name=name, created_at=NOW, labels=tuple(sorted((labels or {}).items())))
        self.items[name] = ns
        return ns

    def delete(self, name: str) -> None:
        self._call("delete", name)
        if self.items.pop(name, None) is None:
            raise NotFound(f"namespace {name}: not found")


class FakeContent(_Service):
    def __init__(self, core: FakeCore) -> None:
        super().__init__(core, "content")
        self.blobs = {DIGEST: (BlobInfo(digest=DIGEST, size=1234, created_at=1.5e9,
                                        updated_at=1.5e9), {"a": "b"})}

    def list(self, namespace: str) -> list[tuple[BlobInfo, dict[str, str]]]:
        self._call("list", namespace)
        return list(self.blobs.values())

    def info(self, namespace: str, digest: str) -> tuple[BlobInfo, dict[str, str]]:
        self._call("info", namespace, digest)
        if digest not in self.blobs:
            raise NotFound(f"blob {digest}: not found")
        return self.blobs[digest]

    def delete(self, namespace: str, digest: str) -> None:
        self._call("delete", namespace, digest)
        if self.blobs.pop(digest, None) is None:
            raise NotFound(f"blob {digest}: not found")


class FakeImages(_Service):
    def __init__(self, core: FakeCore) -> None:
        super().__init__(core, "images")
        self.items: dict[str, Image] = {}
        self.add("docker.io/library/busybox:latest")

    def add(self, name: str) -> Image:
        image = Image(name=name, target_digest=DIGEST,
                      target_media_type="application/vnd.oci.image.manifest.v1+json",
                      target_size=500, created_at=NOW, updated_at=NOW)
        self.items[name] = image
        return image

    def list(self, namespace: str) -> list[Image]:
        self._call("list", namespace)
        return list(self.items.values())

    def get(self, namespace: str, name: str) -> Image:
        self._call("get", namespace, name)
        if name not in self.items:
            raise NotFound(f"image {name}: not found")
        return self.items[name]

    def manifest(self, namespace: str, name: str) -> tuple[object, str]:
        raise NotFound(f"image {name}: no manifest in this fake")

    def import_archive(self, namespace: str, stream: BinaryIO, *, tag: str = "",
                       unpack: bool = True) -> list[Image]:
        refused = self.core.fail.get("images.import_archive")
        if refused is not None:
            raise refused  # before reading the body, as a check of its start would
        data = stream.read()
        self._call("import_archive", namespace, len(data), tag, unpack)
        if not data.startswith(b"TAR"):
            raise InvalidArgument("import: not a tar archive")
        return [self.add(tag or "docker.io/library/imported:latest")]

    def export_archive(self, namespace: str, names: Sequence[str], out: BinaryIO) -> None:
        self._call("export_archive", namespace, list(names))
        for name in names:
            if name not in self.items:
                raise NotFound(f"image {name}: not found")
        for name in names:
            out.write(f"TAR {name}\n".encode())
            out.write(b"x" * 100000)

    def tag(self, namespace: str, source: str, target: str) -> Image:
        self._call("tag", namespace, source, target)
        image = self.get(namespace, source)
        self.items[target] = image.replace(name=target)
        return self.items[target]

    def delete(self, namespace: str, name: str) -> None:
        self._call("delete", namespace, name)
        if self.items.pop(name, None) is None:
            raise NotFound(f"image {name}: not found")

    def provide_busybox(self, namespace: str) -> Image:
        return self.add("docker.io/library/busybox:latest")

    def unpack(self, namespace: str, name: str) -> str:
        self._call("unpack", namespace, name)
        self.get(namespace, name)
        return "sha256:" + "cd" * 32

    def config(self, namespace: str, name: str) -> dict:
        self._call("config", namespace, name)
        return CONFIG


class FakeSnapshots(_Service):
    def __init__(self, core: FakeCore) -> None:
        super().__init__(core, "snapshots")
        chain = "sha256:" + "cd" * 32
        self.items: dict[str, Info] = {chain: Info(kind="committed", name=chain,
                                                    created_at=NOW, updated_at=NOW)}

    def list(self, namespace: str) -> list[Info]:
        self._call("list", namespace)
        return list(self.items.values())

    def info(self, namespace: str, key: str) -> Info:
        self._call("info", namespace, key)
        if key not in self.items:
            raise NotFound(f"snapshot {key}: not found")
        return self.items[key]

    def usage(self, namespace: str, key: str) -> Usage:
        self.info(namespace, key)
        return Usage(size=4096, inodes=3)

    def prepare(self, namespace: str, key: str, parent: str) -> list[Mount]:
        self._call("prepare", namespace, key, parent)
        if key in self.items:
            raise AlreadyExists(f"snapshot {key}: already exists")
        self.items[key] = Info(kind="active", name=key, parent=parent, created_at=NOW)
        return self.mounts(namespace, key)

    def mounts(self, namespace: str, key: str) -> list[Mount]:
        return [Mount(type="bind", source=f"/snap/{key}", options=("rbind", "rw"))]

    def remove(self, namespace: str, key: str) -> None:
        self._call("remove", namespace, key)
        if self.items.pop(key, None) is None:
            raise NotFound(f"snapshot {key}: not found")


class FakeContainers(_Service):
    def __init__(self, core: FakeCore) -> None:
        super().__init__(core, "containers")
        self.items: dict[tuple[str, str], Container] = {}

    def create(self, container: Container) -> Container:
        self._call("create", container)
        key = (container.namespace, container.id)
        if key in self.items:
            raise AlreadyExists(f"container {container.id}: already exists")
        created = container.replace(created_at=NOW, updated_at=NOW,
                                    runtime=container.runtime or "estiba")
        self.items[key] = created
        return created

    def get(self, namespace: str, id: str) -> Container:
        self._call("get", namespace, id)
        if (namespace, id) not in self.items:
            raise NotFound(f"container {id}: not found")
        return self.items[namespace, id]

    def list(self, namespace: str) -> list[Container]:
        self._call("list", namespace)
        return [c for (ns, _), c in self.items.items() if ns == namespace]

    def update(self, container: Container) -> Container:
        self.items[container.namespace, container.id] = container
        return container

    def delete(self, namespace: str, id: str) -> None:
        self._call("delete", namespace, id)
        if self.items.pop((namespace, id), None) is None:
            raise NotFound(f"container {id}: not found")


class FakeTasks(_Service):
    """Tasks that "run" until killed; their log is a CRI log file the test names."""

    def __init__(self, core: FakeCore) -> None:
        super().__init__(core, "tasks")
        self.items: dict[tuple[str, str], Task] = {}
        self.cond = threading.Condition()

    def create(self, container: Container, mounts: Sequence[Mount], *,
               stdin: bool = False, terminal: bool = False, log_path: str = "") -> Task:
        self._call("create", container.id, list(mounts), stdin, terminal, log_path)
        key = (container.namespace, container.id)
        if key in self.items:
            raise AlreadyExists(f"task {container.id}: already exists")
        task = Task(namespace=container.namespace, id=container.id, pid=4242,
                    status="created", terminal=terminal, stdin=stdin, log_path=log_path)
        self.items[key] = task
        return task

    def get(self, namespace: str, id: str) -> Task:
        self._call("get", namespace, id)
        with self.cond:
            if (namespace, id) not in self.items:
                raise NotFound(f"task {id}: not found")
            return self.items[namespace, id]

    def list(self, namespace: str) -> list[Task]:
        self._call("list", namespace)
        return [t for (ns, _), t in self.items.items() if ns == namespace]

    def _set(self, namespace: str, id: str, **changes: Any) -> Task:
        with self.cond:
            task = self.get(namespace, id).replace(**changes)
            self.items[namespace, id] = task
            self.cond.notify_all()
            return task

    def start(self, namespace: str, id: str) -> Task:
        self._call("start", namespace, id)
        if self.get(namespace, id).status != "created":
            raise FailedPrecondition(f"task {id}: not created")
        self.core.events.publish("/tasks/start", namespace, {"id": id})
        return self._set(namespace, id, status="running")

    def exit(self, namespace: str, id: str, status: int) -> None:
        self._set(namespace, id, status="stopped", exit_status=status, exited_at=NOW)
        self.core.events.publish("/tasks/exit", namespace, {"id": id})

    def kill(self, namespace: str, id: str, signal: int = 15, all: bool = False) -> None:
        self._call("kill", namespace, id, signal, all)
        self.exit(namespace, id, 128 + signal)

    def wait(self, namespace: str, id: str, timeout: float | None = None) -> Task:
        self._call("wait", namespace, id)
        with self.cond:
            self.cond.wait_for(lambda: self.get(namespace, id).exit_status is not None,
                               timeout)
            return self.get(namespace, id)

    def delete(self, namespace: str, id: str, force: bool = False) -> Task:
        self._call("delete", namespace, id, force)
        task = self.get(namespace, id)
        if task.exit_status is None and not force:
            raise FailedPrecondition(f"task {id}: still running")
        del self.items[namespace, id]
        return task

    def pause(self, namespace: str, id: str) -> None:
        self._call("pause", namespace, id)
        self._set(namespace, id, status="paused")

    def resume(self, namespace: str, id: str) -> None:
        self._call("resume", namespace, id)
        self._set(namespace, id, status="running")

    def ps(self, namespace: str, id: str) -> list[int]:
        self._call("ps", namespace, id)
        return [self.get(namespace, id).pid, 4243]

    def metrics(self, namespace: str, id: str) -> dict:
        self._call("metrics", namespace, id)
        self.get(namespace, id)
        return {"memory": {"usage": 1024}, "pids": {"current": 2}}

    def exec(self, namespace: str, id: str, exec_id: str, process: dict, *,
             terminal: bool = False) -> ExecProcess:
        self._call("exec", namespace, id, exec_id, process, terminal)
        self.get(namespace, id)
        return ExecProcess(namespace=namespace, id=id, exec_id=exec_id, pid=5000,
                           status="running")

    def wait_exec(self, namespace: str, id: str, exec_id: str,
                  timeout: float | None = None) -> ExecProcess:
        self._call("wait_exec", namespace, id, exec_id)
        return ExecProcess(namespace=namespace, id=id, exec_id=exec_id, pid=5000,
                           status="stopped", exit_status=3)

    def adopt(self) -> list[Task]:
        self._call("adopt")
        return []


class FakeLeases(_Service):
    def __init__(self, core: FakeCore) -> None:
        super().__init__(core, "leases")
        self.items: dict[tuple[str, str], Lease] = {}

    def list(self, namespace: str) -> list[Lease]:
        self._call("list", namespace)
        return [v for (ns, _), v in self.items.items() if ns == namespace]

    def create(self, namespace: str, id: str, expires_in: float | None = None) -> Lease:
        self._call("create", namespace, id, expires_in)
        lease = Lease(namespace=namespace, id=id, created_at=1.5e9,
                      expires_at=None if expires_in is None else 1.5e9 + expires_in)
        self.items[namespace, id] = lease
        return lease

    def delete(self, namespace: str, id: str) -> None:
        self._call("delete", namespace, id)
        if self.items.pop((namespace, id), None) is None:
            raise NotFound(f"lease {id}: not found")


class FakeSubscription:
    def __init__(self, events: FakeEvents, topics: Sequence[str], namespace: str) -> None:
        self.events = events
        self.topics = list(topics)
        self.namespace = namespace
        self.queue: queue.Queue[Event] = queue.Queue()
        self.closed = False

    def wants(self, event: Event) -> bool:
        if self.namespace and event.namespace != self.namespace:
            return False
        return not self.topics or any(fnmatch.fnmatchcase(event.topic, t)
                                      for t in self.topics)

    def get(self, timeout: float | None = None) -> Event | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.closed = True
        with self.events.lock:
            if self in self.events.subscribers:
                self.events.subscribers.remove(self)


class FakeEvents:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscribers: list[FakeSubscription] = []
        self.all_subscriptions: list[FakeSubscription] = []

    def publish(self, topic: str, namespace: str,
                attributes: Mapping[str, str] | None = None) -> Event:
        event = Event(topic=topic, namespace=namespace, timestamp=NOW,
                      attributes=tuple(sorted((attributes or {}).items())))
        with self.lock:
            for sub in self.subscribers:
                if sub.wants(event):
                    sub.queue.put(event)
        return event

    def subscribe(self, topics: Sequence[str] = (), namespace: str = "") -> FakeSubscription:
        sub = FakeSubscription(self, topics, namespace)
        with self.lock:
            self.subscribers.append(sub)
            self.all_subscriptions.append(sub)
        return sub

    def wait_for_subscriber(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.subscribers and time.monotonic() < deadline:
            time.sleep(0.01)


class FakeCore:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple]] = []
        self.fail: dict[str, BaseException] = {}
        self.events = FakeEvents()
        self.namespaces = FakeNamespaces(self)
        self.content = FakeContent(self)
        self.images = FakeImages(self)
        self.snapshots = FakeSnapshots(self)
        self.containers = FakeContainers(self)
        self.tasks = FakeTasks(self)
        self.leases = FakeLeases(self)
        self.closed = False

    def new_container(self, namespace: str, id: str, image: str, *, runtime: str = "",
                      args: Sequence[str] | None = None, env: Sequence[str] = (),
                      cwd: str = "", terminal: bool = False,
                      labels: Mapping[str, str] | None = None,
                      spec: dict | None = None) -> Container:
        """As ``Core.new_container``: image unpacked, snapshot ``id`` prepared on its top
        layer, the spec from the image's config unless given."""
        self.calls.append(("core", "new_container", (namespace, id, image)))
        found = self.images.get(namespace, image)
        if (namespace, id) in self.containers.items:
            raise AlreadyExists(f"container {id}: already exists")
        top = self.images.unpack(namespace, found.name)
        if spec is None:
            spec = specs.with_image_config(specs.default_spec(namespace, id),
                                           self.images.config(namespace, found.name),
                                           args=None if args is None else list(args),
                                           env=list(env), cwd=cwd, terminal=terminal)
        self.snapshots.prepare(namespace, id, top)
        return self.containers.create(Container(
            namespace=namespace, id=id, image=found.name, runtime=runtime,
            snapshotter="overlayfs", snapshot_key=id, spec=spec,
            labels=tuple(sorted((labels or {}).items()))))

    def remove_container(self, namespace: str, id: str) -> None:
        self.calls.append(("core", "remove_container", (namespace, id)))
        container = self.containers.get(namespace, id)
        if (namespace, id) in self.tasks.items:
            raise FailedPrecondition(f"remove container {id}: it has a task; delete it "
                                     "first")
        self.containers.delete(namespace, id)
        self.snapshots.items.pop(container.snapshot_key, None)

    def close(self) -> None:
        self.closed = True


def build_fake_core(config: object) -> FakeCore:
    """``build_core`` for ``estiba.daemon.main.main``: the fake, whatever the config."""
    return FakeCore()
