"""``Core``: the core's services composed for one daemon root, as containerd's
``services`` wire its plugins. The daemon makes one and hands its services to the front
ends; nothing here picks a runtime (the task service is given).

Under ``root``::

    metadata.db        the metadata database (``metadata.db``)
    content/           the content store (``content.store``)
    snapshots/         the overlay snapshotter's layers (``snapshots.overlay``), one
                       snapshotter object per namespace over the one directory
    tmp/               temporary copies of archives being imported or exported

Garbage collection (``collect_garbage``) runs under the exclusive side of the
``CollectorLock``; imports take its shared side until their lease holds what they
stored. Every service may be called from any thread.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading

from estiba.content.store import ContentStore
from estiba.core import steps
from estiba.core.containers import Containers
from estiba.core.content import Content
from estiba.core.events import Events
from estiba.core.images import Images
from estiba.core.leases import CollectorLock, Leases
from estiba.core.namespaces import Namespaces
from estiba.core.records import Container
from estiba.core.snapshots import Snapshots
from estiba.errors import AlreadyExists, FailedPrecondition, NotFound, from_oserror
from estiba.images.unpack import DEFAULT_SNAPSHOTTER
from estiba.metadata import gc
from estiba.metadata import leases as lease_records
from estiba.metadata.containers import check_id
from estiba.metadata.db import Database
from estiba.snapshots.overlay import OverlaySnapshotter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from estiba.core.interfaces import TaskService
    from estiba.core.steps import Note
    from estiba.kernel.linux import Linux
    from estiba.snapshots import Snapshotter


# the label of the temporary leases of the daemon's own work (metadata.leases.temporary)
WORK_LABEL = "estiba.work"


class Core:
    def __init__(self, root: str, tasks: TaskService | None = None, *,
                 kernel: Linux | None = None, events: Events | None = None,
                 cgroup_parent: str = "estiba",
                 failpoint: Callable[[str], None] | None = None) -> None:
        self.root = os.path.abspath(os.fspath(root))
        # the daemon's debug fault points (daemon/failpoints.py): a no-op unless on
        self._failpoint = failpoint or _no_failpoint
        # a container's steps, for its journal (core/steps.py): given by the engine
        self.note: Note = steps.no_note
        self.cgroup_parent = cgroup_parent  # containers' cgroups go under it
        self.tmp_dir = os.path.join(self.root, "tmp")
        try:
            os.makedirs(self.tmp_dir, mode=0o700, exist_ok=True)
        except OSError as err:
            raise from_oserror(f"make {self.tmp_dir}", err) from err
        self.db = Database(os.path.join(self.root, "metadata.db"))
        self.store = ContentStore(os.path.join(self.root, "content"))
        self.snapshotter_name = DEFAULT_SNAPSHOTTER
        self._snapshotters: dict[str, Snapshotter] = {}
        self._snapshotters_lock = threading.Lock()
        self._collector = CollectorLock()
        self.events = events or Events()
        publish = self.events.publish
        self.namespaces = Namespaces(self.db, publish)
        self.content = Content(self.store, self.db)
        self.snapshots = Snapshots(self.db, self.snapshotter, self.snapshotter_name)
        self.images = Images(self.store, self.db, self.snapshotter,
                             snapshotter_name=self.snapshotter_name,
                             collector=self._collector, publish=publish, kernel=kernel,
                             tmp_dir=self.tmp_dir, failpoint=failpoint)
        self.containers = Containers(self.db, publish)
        self.leases = Leases(self.db)
        self.tasks = tasks

    def snapshotter(self, namespace: str) -> Snapshotter:
        """The namespace's snapshotter (made once; it makes the namespace if missing)."""
        with self._snapshotters_lock:
            found = self._snapshotters.get(namespace)
            if found is None:
                found = OverlaySnapshotter(self.root, self.db, namespace)
                self._snapshotters[namespace] = found
            return found

    def collect_garbage(self, ingest_grace: float = gc.INGEST_GRACE) -> gc.GCResult:
        """Delete every blob, snapshot and ingest nothing reaches (``metadata.gc``)."""
        with self._collector.exclusive():
            return gc.collect(self.db, self.store, {self.snapshotter_name: self.snapshotter},
                              ingest_grace=ingest_grace)

    def recover(self) -> tuple[list[tuple[str, str]], gc.GCResult]:
        """What a crash left, taken back at the daemon's start, when no work is in
        flight (call it after the tasks are adopted, before serving): the temporary
        leases of the daemon's own work (labelled ``estiba.work``: an import, an unpack,
        a container being made) are deleted, as are the temporary copies under ``tmp/``;
        then a collection frees what only they held (blobs committed but never named,
        snapshots prepared for no container, layers unpacked half-way) and every
        ingest. Returns the (namespace, id) of the leases deleted and the collection's
        result. Leases made by clients are left to expire."""
        dropped = []
        for namespace in self.namespaces.list():
            for lease in self.leases.list(namespace.name):
                if WORK_LABEL in dict(lease.labels):
                    with contextlib.suppress(NotFound):
                        self.leases.delete(namespace.name, lease.id)
                    dropped.append((namespace.name, lease.id))
        for name in _listdir(self.tmp_dir):
            path = os.path.join(self.tmp_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        return dropped, self.collect_garbage(ingest_grace=0.0)

    def new_container(self, namespace: str, id: str, image: str, *, runtime: str = "",
                      args: Sequence[str] | None = None, env: Sequence[str] = (),
                      cwd: str = "", terminal: bool = False,
                      labels: Mapping[str, str] | None = None,
                      spec: dict | None = None) -> Container:
        """A container of ``image`` (provided if built in, unpacked if needed): its
        snapshot ``id`` prepared on the image's top layer, its spec the default one with
        the image's config and ``args``, ``env``, ``cwd``, ``terminal`` applied (or
        ``spec`` as given)."""
        check_id(id)
        found = self.images.resolve(namespace, image)
        with contextlib.suppress(NotFound):
            self.containers.get(namespace, id)
            raise AlreadyExists(f"container {id}: already exists")
        top = self.images.unpack(namespace, found.name)
        if spec is None:
            spec = _build_spec(namespace, id, self.images.config(namespace, found.name),
                               cgroup_parent=self.cgroup_parent,
                               args=args, env=env, cwd=cwd, terminal=terminal)
        snapshotter = self.snapshotter(namespace)
        # held until the record refers to it: a collection meanwhile keeps it
        with lease_records.temporary(self.db, namespace, "container") as hold:
            hold("snapshot", id)
            # AlreadyExists: another container's, left alone
            prepared = snapshotter.prepare(id, top)
            self.note(id, "core", "snapshots.prepare", lambda: steps.prepared(
                self.snapshotter_name, id, top, prepared))
            try:
                self._failpoint("container-after-snapshot")
                made = self.containers.create(Container(
                    namespace=namespace, id=id, image=found.name, runtime=runtime,
                    snapshotter=self.snapshotter_name, snapshot_key=id, spec=spec,
                    labels=tuple(sorted((labels or {}).items()))))
                self.note(id, "core", "containers.create", {
                    "namespace": namespace, "image": found.name,
                    "runtime": runtime or "(the default)", "snapshot key": id})
            except BaseException:
                with contextlib.suppress(NotFound):
                    snapshotter.remove(id)
                raise
            self._failpoint("container-after-record")
            return made

    def remove_container(self, namespace: str, id: str) -> None:
        """Delete the container's record, then its snapshot; refused while it has a
        task. A snapshot left by a failure here is unreferenced: the collector takes it."""
        container = self.containers.get(namespace, id)
        if self.tasks is not None:
            try:
                task = self.tasks.get(namespace, id)
            except NotFound:
                pass
            else:
                raise FailedPrecondition(
                    f"remove container {id}: it has a task ({task.status}); delete it first")
        self.containers.delete(namespace, id)
        self.note(id, "core", "containers.delete", {"namespace": namespace})
        if self.tasks is not None:
            self.tasks.remove_log(namespace, id)
        if container.snapshot_key and container.snapshotter == self.snapshotter_name:
            with contextlib.suppress(NotFound):
                self.snapshotter(namespace).remove(container.snapshot_key)
                self.note(id, "core", "snapshots.remove", {
                    "key": container.snapshot_key, "removes": "its upperdir and workdir"})

    def close(self) -> None:
        self.events.close()
        self.db.close()


def _no_failpoint(name: str) -> None:
    pass


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _build_spec(namespace: str, id: str, image_config: dict, *, cgroup_parent: str,
                args: Sequence[str] | None, env: Sequence[str], cwd: str,
                terminal: bool) -> dict:
    from estiba.core import spec as specs

    spec = specs.default_spec(namespace, id, cgroup_parent=cgroup_parent)
    return specs.with_image_config(spec, image_config,
                                   args=None if args is None else list(args),
                                   env=list(env), cwd=cwd, terminal=terminal)
