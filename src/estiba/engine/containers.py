"""Docker's containers on the core: a Docker container is a core container of the
engine's namespace (same id, 64 hex digits) plus, once started, its task. Docker-level
state is kept in the container's labels (``estiba.docker.*``).

- create: the Config's image resolved (busybox provided), its config merged with the
  request's Entrypoint/Cmd/Env/WorkingDir/User/Tty into the core's default spec
  (``core.spec``); the HostConfig is applied by ``hostconfig.apply`` (limits, mounts,
  security, namespaces, init).
- the task is made lazily, by ``attach`` (the CLI attaches before it starts) or
  ``start``, with ``terminal = Tty`` and ``stdin = OpenStdin``; a stopped task is deleted
  and made again (a restart).
- exits are the supervisor's (``supervisor.py``): ``AutoRemove``, restart policies.
- stop and kill mark the container stopped by a user (no restart by its policy until a
  user starts it again); a paused container is thawed after the signal, so that it can
  act on it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import secrets
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from estiba import errors
from estiba.core import spec as specs
from estiba.engine import (
    configs,
    etcfiles,
    health,
    hostconfig,
    jsontypes,
    logconfig,
    names,
    networking,
    policy,
)
from estiba.engine import filters as filtering
from estiba.engine import stats as stats_json
from estiba.engine.hostconfig import STANDARD_MOUNTS
from estiba.engine.inspect import FILTERS, View, inspect, matches, parse_time, summary
from estiba.engine.journal import Journal, mount_steps, spec_details
from estiba.engine.labels import (
    CONFIG,
    HOST_CONFIG,
    IMAGE,
    NAME,
    NETWORKS,
    RESTART_COUNT,
    STARTED_AT,
    STOPPED_BY_USER,
    VOLUMES,
    config_of,
    host_config_of,
)
from estiba.oci.state import timestamp
from estiba.signals import signal_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from socket import socket
    from typing import Any

    from estiba.engine.images import Images
    from estiba.engine.supervisor import Supervisor

# what ``docker update`` may change
UPDATABLE = ("BlkioWeight", "CpuShares", "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems",
             "Memory", "MemoryReservation", "MemorySwap", "NanoCpus", "PidsLimit",
             "RestartPolicy")
POLL = 0.02  # how often a wait looks for a task to appear or a container to go


class Containers:
    def __init__(self, core: Any, namespace: str, images: Images) -> None:
        self.core = core
        self.ns = namespace
        self.images = images
        self._names = threading.Lock()  # names are checked and taken under it
        self._locks: dict[str, threading.RLock] = {}  # one per container: lock_of
        self._locks_guard = threading.Lock()
        self._ns_ready = False
        self._closing = threading.Event()
        self.supervisor: Supervisor | None = None
        # the daemon's networks (network.service.NetworkService); None: every container
        # gets a namespace with loopback only, whatever its mode
        self.network: Any = None
        self._side: ThreadPoolExecutor | None = None  # network attaches beside creates
        # the daemon's volumes (volumes.service.VolumeService); None: volumes refused
        self.volumes: Any = None
        self._volumes_mounted: set[str] = set()  # containers told mounted, not unmounted
        # copy an image's path into a volume (Filesystems.copy_up)
        self.copy_up: Callable[[str, str, str], None] = lambda cid, path, to: None
        self.exec_ids: Callable[[str], list[str]] = lambda cid: []
        self.health_of: Callable[[str], dict | None] = lambda cid: None  # Health.health
        # (uid, gid, more gids) of a named user in a container's rootfs: Filesystems
        self.user_ids: Callable[[Any, str], tuple[int, int, list[int]]] = _no_user_ids
        # Docker's events only the engine knows (kill, stop, rename ...): Events.emit
        self.emit: Callable[..., None] = lambda *args, **kw: None
        # what each container's verbs did below the Docker API (``--explain``)
        self.journal = Journal()

    def supervise(self) -> None:
        """Start the supervisor: exits handled from now on, missed ones looked at."""
        from estiba.engine.supervisor import Supervisor

        self.ensure_namespace()
        self._remove_stray_files()
        self.supervisor = Supervisor(self.core, self.ns, self)
        self.supervisor.start()

    def close(self) -> None:
        """End the waits in progress (Unavailable): the daemon is stopping."""
        self._closing.set()
        if self.supervisor is not None:
            self.supervisor.close()
        if self._side is not None:
            self._side.shutdown(wait=False)

    def _check_open(self) -> None:
        if self._closing.is_set():
            raise errors.Unavailable("wait: the daemon is stopping")

    # --- lookup ---------------------------------------------------------------------

    def lock_of(self, cid: str) -> threading.RLock:
        """The lock of one container, held across what changes its task or labels
        (start, stop's mark, update, rename; a mount of its snapshot). Reentrant: a
        start that reads the rootfs's /etc/passwd mounts it under the same lock."""
        with self._locks_guard:
            lock = self._locks.get(cid)
            if lock is None:
                lock = self._locks[cid] = threading.RLock()
            return lock

    def ensure_namespace(self) -> None:
        if self._ns_ready:
            return
        with contextlib.suppress(errors.AlreadyExists, errors.Conflict):
            self.core.namespaces.create(self.ns)
        self._ns_ready = True

    def _all(self) -> list[Any]:
        self.ensure_namespace()
        return [c for c in self.core.containers.list(self.ns)
                if NAME in dict(c.labels)]

    def resolve(self, ref: str) -> str:
        """The id of the container ``ref`` (id, name or id prefix) names."""
        return names.resolve(ref, {c.id: dict(c.labels)[NAME] for c in self._all()})

    def _taken_names(self) -> dict[str, str]:
        """Name -> id of every container."""
        return {dict(c.labels)[NAME]: c.id for c in self._all()}

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

    def _relabel(self, container: Any, **changes: str | None) -> Any:
        """The container with its labels changed (None removes one), stored."""
        labels = dict(container.labels)
        for key, value in changes.items():
            if value is None:
                labels.pop(key, None)
            else:
                labels[key] = value
        changed = container.replace(labels=tuple(sorted(labels.items())))
        self.core.containers.update(changed)
        return changed

    # --- what the supervisor reads ---------------------------------------------------

    def records(self) -> list[Any]:
        return self._all()

    def record(self, cid: str) -> Any:
        return self.core.containers.get(self.ns, cid)

    def task_of(self, cid: str) -> Any:
        return self._task(cid)

    @staticmethod
    def host_config(container: Any) -> dict:
        return host_config_of(container)

    @staticmethod
    def started_at(container: Any) -> str:
        return dict(container.labels).get(STARTED_AT, "")

    @staticmethod
    def restart_state(container: Any) -> tuple[int, bool]:
        """(restarts by its policy so far, whether a user stopped it)."""
        labels = dict(container.labels)
        return int(labels.get(RESTART_COUNT) or 0), bool(labels.get(STOPPED_BY_USER))

    def ran_for(self, container: Any) -> float:
        """Seconds between its last start and its exit."""
        task = self._task(container.id)
        end = parse_time(task.exited_at) if task is not None and task.exited_at else time.time()
        return max(0.0, end - parse_time(self.started_at(container)))

    # --- create ---------------------------------------------------------------------

    def create(self, name: str, body: dict) -> dict:
        """``POST /containers/create``: {"Id", "Warnings"}."""
        jsontypes.check_config(body)
        image_name = body.get("Image") or ""
        if not image_name:
            raise errors.InvalidArgument("config cannot be empty in order to create a "
                                         "container")
        host_config = dict(body.get("HostConfig") or {})
        host_config["RestartPolicy"] = policy.check(host_config.get("RestartPolicy"),
                                                    bool(host_config.get("AutoRemove")))
        logconfig.size_max(host_config.get("LogConfig"))
        config = {k: v for k, v in body.items()
                  if k not in ("HostConfig", "NetworkingConfig")}
        health.validate(config.get("Healthcheck"))
        image = self.images.resolve(image_name)
        image_config = self.core.images.config(self.ns, image.name)
        cid = secrets.token_hex(32)
        spec, config = configs.build_spec(self.ns, cid, image_config, config, host_config,
                                  getattr(self.core, "cgroup_parent", "estiba"))
        labels = {IMAGE: image_name, CONFIG: json.dumps(config),
                  HOST_CONFIG: json.dumps(host_config)}
        networking.published(config, host_config)  # refused here when malformed
        members = networking.members(host_config, body.get("NetworkingConfig"))
        if self.network is not None and members:
            # by name, as Docker keeps them; a network that is not there is a 404
            members = {self.network.get(self.ns, ref).name: settings
                       for ref, settings in members.items()}
            labels[NETWORKS] = json.dumps(members)
        files = self.files_dir(cid)
        spec["mounts"] = [*spec["mounts"], *etcfiles.mounts(
            files, bool(host_config.get("ReadonlyRootfs")))]
        image_volumes = list((image_config.get("config") or {}).get("Volumes") or {})
        made_volumes: list[str] = []
        try:
            if self.volumes is not None:
                mounted = self._mount_volumes(spec, config, host_config, image_volumes,
                                              made_volumes)
                labels[VOLUMES] = json.dumps(mounted)
            # no hostname in the spec: the host's UTS namespace, the host's name
            etcfiles.write(files, spec.get("hostname") or os.uname().nodename,
                             host_config)
            with self._names:
                taken = self._taken_names()
                wanted = names.check_name(name) if name else names.random_name(taken)
                _check_free(wanted, taken)
                labels[NAME] = wanted
                self._journal_create(cid, wanted, image_name, image.name, spec,
                                     json.loads(labels.get(VOLUMES) or "[]"), made_volumes)
                self.core.new_container(self.ns, cid, image.name, labels=labels, spec=spec)
            if self.volumes is not None:
                self._fill_volumes(cid, json.loads(labels[VOLUMES]), made_volumes)
        except BaseException:
            self.journal.ended(cid)
            shutil.rmtree(files, ignore_errors=True)
            for volume in made_volumes:
                with contextlib.suppress(errors.EstibaError):
                    self.volumes.remove(self.ns, volume)
            raise
        return {"Id": cid, "Warnings": []}

    def _journal_create(self, cid: str, name: str, image_name: str, image: str,
                        spec: dict, volumes: list[dict], made: list[str]) -> None:
        self.journal.begin(cid, name, {"api": "POST /containers/create", "id": cid,
                                       "name": name, "image": image_name,
                                       "resolved": image})
        self.journal.note(cid, "engine", "OCI spec", lambda: spec_details(spec))
        mountpoint = self.volumes.mountpoint if self.volumes is not None else None
        self.journal.note_all(cid, mount_steps(spec, volumes, made, STANDARD_MOUNTS,
                                               mountpoint))

    def _mount_volumes(self, spec: dict, config: dict, host_config: dict,
                       image_volumes: list[str], made: list[str]) -> list[dict]:
        """The create's volumes made where missing (their names added to ``made``) and
        bound in ``spec``; what the container's label keeps of them."""
        from estiba.engine import volumes as docker_volumes

        user = [m for m in spec["mounts"] if m["destination"] not in STANDARD_MOUNTS]
        wanted = docker_volumes.requests(config, host_config, image_volumes,
                                         [m["destination"] for m in user])
        wanted.extend(self._volumes_from(host_config, user))
        seen = {m["destination"] for m in user}
        kept = []
        for want in wanted:
            if want.destination in seen:
                raise errors.InvalidArgument(f"Duplicate mount point: {want.destination}")
            seen.add(want.destination)
            record, new = self.volumes.create(
                self.ns, want.name, driver=want.driver, options=want.options,
                labels=want.labels, anonymous=not want.name)
            if new:
                made.append(record.name)
                self.emit("volume", "create", record.name, {"driver": record.driver})
            kept.append({"Name": record.name, "Destination": want.destination,
                         "RW": not want.read_only, "Anonymous": record.anonymous,
                         "Copy": not want.nocopy})
            user.append({"destination": want.destination, "type": "bind",
                         "source": self.volumes.mountpoint(record.name),
                         "options": ["rbind", *(["ro"] if want.read_only else []),
                                     "rprivate"]})
        # the standard mounts first, then the others, each parent before what is in it
        spec["mounts"] = [m for m in spec["mounts"]
                          if m["destination"] in STANDARD_MOUNTS] + sorted(
            user, key=lambda m: m["destination"].rstrip("/").count("/"))
        return kept

    def _volumes_from(self, host_config: dict, user: list[dict]) -> list[Any]:
        """``--volumes-from C[:ro|rw]``: C's volumes (and binds, into ``user``), read-only
        with ``:ro``."""
        from estiba.engine.volumes import Request, used_by

        out = []
        for entry in host_config.get("VolumesFrom") or ():
            if not isinstance(entry, str) or not entry:
                raise errors.InvalidArgument(f"invalid VolumesFrom entry: {entry!r}")
            ref, _, mode = entry.partition(":")
            if mode not in ("", "ro", "rw"):
                raise errors.InvalidArgument(f"invalid mode for volumes-from: {mode}")
            other, _ = self._get(self.resolve(ref))
            for volume in used_by(other):
                out.append(Request(volume["Name"], volume["Destination"],
                                   read_only=mode == "ro" or (not mode and not volume["RW"]),
                                   nocopy=True))
            for mount in (other.spec or {}).get("mounts") or ():
                if (mount.get("type") == "bind"
                        and mount["destination"] not in STANDARD_MOUNTS
                        and not mount["source"].startswith(self.volumes.root)):
                    options = [o for o in mount.get("options") or () if o not in ("ro",
                                                                                 "rw")]
                    if mode == "ro" or (not mode and "ro" in (mount.get("options") or ())):
                        options.append("ro")
                    user.append({**mount, "options": options})
        return out

    def _fill_volumes(self, cid: str, mounted: list[dict], made: list[str]) -> None:
        """A new volume is first filled with what the image has at its path (Docker's
        copy; not with nocopy, not for one with a driver's mount)."""
        for entry in mounted:
            name = entry["Name"]
            if (name in made and entry.get("Copy") and self.volumes.is_empty(name)
                    and not dict(self.volumes.get(self.ns, name).options)):
                self.copy_up(cid, entry["Destination"], self.volumes.mountpoint(name))

    def files_dir(self, cid: str) -> str:
        """Where the engine keeps a container's own files (/etc/hostname, /etc/hosts)."""
        return os.path.join(getattr(self.core, "root", "/var/lib/estiba"), "engine",
                            self.ns, cid)

    def _remove_stray_files(self) -> None:
        """The files of containers that are gone (a create or remove cut short)."""
        parent = os.path.dirname(self.files_dir("x"))
        try:
            found = os.listdir(parent)
        except FileNotFoundError:
            return
        known = {c.id for c in self.core.containers.list(self.ns)}
        for cid in found:
            if cid not in known:
                shutil.rmtree(os.path.join(parent, cid), ignore_errors=True)

    # --- run --------------------------------------------------------------------------

    def _ensure_task(self, container: Any, task: Any) -> Any:
        """The container's task, made (again, if it stopped) with its Config's terminal
        and stdin."""
        cid = container.id
        if task is not None and task.exit_status is not None:
            self.core.tasks.delete(self.ns, cid)
            task = None
        if task is None:
            config = config_of(container)
            user = config.get("User") or ""
            if not specs.numeric_user(user):
                uid, gid, more = self.user_ids(container, user)
                spec = copy.deepcopy(container.spec)
                spec["process"]["user"] = {**spec["process"].get("user", {}), "uid": uid,
                                           "gid": gid, "additionalGids": more}
                container = container.replace(spec=spec)
            container, attaching = self._join_network(container)
            try:
                self._ready_volumes(container)
                mounts = self.core.snapshots.mounts(self.ns, container.snapshot_key)
                self.journal.note(cid, "core", "snapshots.mounts",
                                  {"key": container.snapshot_key, "mounts": len(mounts)})
                task = self.core.tasks.create(
                    container, mounts, stdin=bool(config.get("OpenStdin")),
                    terminal=bool(config.get("Tty")),
                    log_size_max=logconfig.size_max(
                        self.host_config(container).get("LogConfig")))
                try:
                    if attaching is not None:
                        attaching.result()
                except BaseException:
                    with contextlib.suppress(errors.EstibaError):
                        self.core.tasks.delete(self.ns, cid, force=True)
                    raise
            except BaseException:
                if attaching is not None:
                    with contextlib.suppress(BaseException):
                        attaching.result()  # no release while it still attaches
                if self.network is not None:
                    self.network.release(self.ns, cid)
                raise
        return task

    def _join_network(self, container: Any) -> tuple[Any, Future | None]:
        """The container with the network namespace its task joins: its own, being
        attached to its networks meanwhile (the future says when it is, before the task
        starts); another running container's; or as the spec says (``host``: none;
        ``none``: a new one with loopback only)."""
        host_config = self.host_config(container)
        mode = networking.mode_of(host_config)
        if mode.startswith("container:"):
            other = self.resolve(mode.removeprefix("container:"))
            task = self._task(other)
            if not _running(task):
                raise errors.Conflict(f"cannot join network namespace of a non running "
                                      f"container: {other}")
            path = f"/proc/{task.pid}/ns/net"
            attaching = None
        elif self.network is None or not networking.is_own(mode):
            return container, None
        else:
            self.network.release(self.ns, container.id)  # what an earlier task left
            # The namespace now; its veths, addresses and routes while the runtime
            # starts: they are needed only when the process runs.
            path = self.network.sandbox(container.id)
            attaching = self._side_work().submit(self._attach_network, container,
                                                 host_config)
        spec = copy.deepcopy(container.spec)
        spaces = spec.setdefault("linux", {}).setdefault("namespaces", [])
        spaces[:] = [ns for ns in spaces if ns.get("type") != "network"]
        spaces.append({"type": "network", "path": path})
        return container.replace(spec=spec), attaching

    def _attach_network(self, container: Any, host_config: dict) -> None:
        members = networking.members_of(container)
        attachments = [self.network_attachment(name, settings, container)
                       for name, settings in members.items()]
        if attachments:  # ports are published through the first network
            attachments[0].ports = tuple(networking.published(config_of(container),
                                                              host_config))
        _, endpoints = self.network.attach(
            self.ns, container.id, attachments,
            dns=etcfiles.upstreams(etcfiles.host_resolv(), host_config))
        files = self.files_dir(container.id)
        spec_hostname = (container.spec or {}).get("hostname") or ""
        etcfiles.write_hosts(files, host_config, [
            (e.address, spec_hostname) for e in endpoints[:1] if e.address])
        etcfiles.write_resolv(files, host_config,
                              embedded=self.network.user_defined(self.ns, endpoints))

    def _side_work(self) -> ThreadPoolExecutor:
        with self._locks_guard:
            if self._side is None:
                self._side = ThreadPoolExecutor(4, thread_name_prefix="network-attach")
            return self._side

    def network_attachment(self, name: str, settings: dict, container: Any) -> Any:
        from estiba.network.service import Attachment

        aliases = networking.aliases_of(settings)
        return Attachment(name, address=networking.static_address(settings),
                          aliases=aliases,
                          names=[self._name(container), container.id[:12], *aliases])

    def change_networks(self, ref: str, network: Any, settings: dict,
                        connect: bool) -> None:
        """``docker network connect/disconnect``: the container's members changed, and
        a running container's endpoint made or deleted at once."""
        cid = self.resolve(ref)
        with self.lock_of(cid):
            container, task = self._get(cid)
            mode = networking.mode_of(self.host_config(container))
            if mode == "none" and connect:
                raise errors.PermissionDenied(
                    "container cannot be connected to multiple networks with one of the "
                    "networks in private (none) mode")
            if not networking.is_own(mode):
                raise errors.PermissionDenied(
                    "container sharing network namespace with another container or host "
                    "cannot be connected to any other network")
            members = networking.members_of(container)
            if connect:
                if network.name in members:
                    raise errors.PermissionDenied(f"endpoint with name "
                                                  f"{self._name(container)} already "
                                                  f"exists in network {network.name}")
                members[network.name] = settings
            elif network.name not in members:
                raise errors.PermissionDenied(f"container {cid} is not connected to "
                                              f"network {network.name}")
            else:
                del members[network.name]
            if _running(task):
                if connect:
                    self.network.connect(self.ns, cid, self.network_attachment(
                        network.name, settings, container))
                else:
                    self.network.disconnect(self.ns, cid, network.id)
            self._relabel(container, **{NETWORKS: json.dumps(members)})

    @staticmethod
    def _name(container: Any) -> str:
        return dict(container.labels).get(NAME, "/" + container.id[:12]).lstrip("/")

    def release_ended(self, cid: str) -> None:
        """What its task's end frees, unless its task runs (a start got there first):
        the container's endpoints and namespace, and its volumes' mounts that no other
        running container needs."""
        if self.network is None and self.volumes is None:
            return
        with self.lock_of(cid):
            task = self._task(cid)
            if task is not None and task.exit_status is None:
                return
            if self.network is not None:
                self.network.release(self.ns, cid)
            with contextlib.suppress(errors.NotFound):
                self._release_volumes(self.record(cid))

    def _ready_volumes(self, container: Any) -> None:
        """The mounts of its volumes that have a driver's options (tmpfs, a bind, a
        device), made before its task is."""
        if self.volumes is None:
            return
        from estiba.engine.volumes import used_by

        self._volumes_mounted.add(container.id)
        for entry in used_by(container):
            self.volumes.mount(self.ns, entry["Name"])
            self.emit("volume", "mount", entry["Name"], {
                "container": container.id, "destination": entry["Destination"],
                "driver": "local", "propagation": "",
                "read/write": "true" if entry["RW"] else "false"})

    def _release_volumes(self, container: Any) -> None:
        from estiba.engine.volumes import used_by

        if self.volumes is None:
            return
        running = set()
        tasks = {t.id: t for t in self.core.tasks.list(self.ns)}
        for other in self._all():
            if other.id != container.id and _running(tasks.get(other.id)):
                running.update(v["Name"] for v in used_by(other))
        told = container.id in self._volumes_mounted
        self._volumes_mounted.discard(container.id)
        for entry in used_by(container):
            if entry["Name"] not in running:
                self.volumes.unmount(self.ns, entry["Name"])
            if told:  # once per start, however many times its end is looked at
                self.emit("volume", "unmount", entry["Name"],
                          {"container": container.id, "driver": "local"})

    def volume_users(self) -> dict[str, list[str]]:
        """{volume name: the containers that mount it}, stopped ones included."""
        from estiba.engine.volumes import used_by

        users: dict[str, list[str]] = {}
        for container in self._all():
            for entry in used_by(container):
                users.setdefault(entry["Name"], []).append(container.id)
        return users

    def attach(self, ref: str) -> tuple[socket | None, bool, bool]:
        """A connected attach socket of the container's task (made if needed, so that
        the CLI can attach before it starts; None when it cannot be made), whether it
        has a terminal, and whether the end of an attached stdin ends the process's
        (Docker's rule: ``StdinOnce`` and no terminal)."""
        cid = self.resolve(ref)
        self.journal.note(cid, "engine", "attach", {
            "api": "POST /containers/{id}/attach",
            "why": "the task is made now, so that none of its output is missed"})
        with self.lock_of(cid):
            container, task = self._get(cid)
            try:
                task = self._ensure_task(container, task)
            except errors.EstibaError:
                # what the runtime refuses (no such executable) is start's error, as in
                # Docker: the attach gets no output
                return None, bool(config_of(container).get("Tty")), False
        conn = self.core.tasks.attach(self.ns, container.id)
        self.emit("container", "attach", container.id)
        once = bool(config_of(container).get("StdinOnce"))
        return conn, task.terminal, once and not task.terminal

    def start(self, ref: str) -> bool:
        """Start the container; False when it is running already (Docker's 304)."""
        cid = self.resolve(ref)
        with self.lock_of(cid):
            container, task = self._get(cid)
            if self.supervisor is not None:
                self.supervisor.cancel(container.id)
            return self._start(container, task, {STOPPED_BY_USER: None})

    def restart_by_policy(self, cid: str, at_boot: bool = False) -> None:
        """The supervisor's restart: not if a user stopped, started or removed it
        meanwhile, unless the daemon is starting (``always`` then starts even those)."""
        with self.lock_of(cid):
            try:
                container, task = self._get(cid)
            except errors.NotFound:
                return
            restarts, by_user = self.restart_state(container)
            if at_boot:
                self._start(container, task, {STOPPED_BY_USER: None})
            elif not by_user:
                self._start(container, task, {RESTART_COUNT: str(restarts + 1)})

    def _start(self, container: Any, task: Any, labels: dict[str, str | None]) -> bool:
        if _running(task):
            return False
        host_config = self.host_config(container)
        self.journal.note(container.id, "engine", "start", {
            "api": "POST /containers/{id}/start" if STOPPED_BY_USER in labels
            else "restart policy", "task": "made already" if task is not None
            and task.exit_status is None else "to make"})
        try:
            task = self._ensure_task(container, task)
            self._relabel(container, **{STARTED_AT: timestamp(), **labels})
            self.core.tasks.start(self.ns, container.id)
        except errors.EstibaError:
            if host_config.get("AutoRemove"):
                with contextlib.suppress(errors.EstibaError):
                    self._remove(container.id, force=True)
            raise
        return True

    def wait(self, ref: str, condition: str = "not-running") -> dict:
        for step in self.waiter(ref, condition):
            if step is not None:
                return step
        raise errors.Internal("wait: ended without a status")

    def waiter(self, ref: str, condition: str = "not-running") -> Iterator[dict | None]:
        """``POST /containers/{id}/wait``: checks now (NotFound, a bad condition), then
        the steps of the wait: None at least every half second while it waits (a
        thread of the pool is held for one step, never for the whole wait), last
        {"StatusCode", "Error"} once the condition holds: ``not-running`` (now, if it is
        not running), ``next-exit`` (the next exit, the container started meanwhile if
        need be), ``removed`` (that exit, and the container gone). Docker answers the
        head at once, the body at the end: the CLI starts the container only once its
        wait is answered."""
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise errors.InvalidArgument(f"invalid condition: {condition!r}")
        container, task = self._get(ref)
        cid = container.id
        seen = task.exited_at if task is not None and task.exit_status is not None else None
        code = task.exit_status if task is not None and seen else 0
        if condition in ("", "not-running") and (task is None or seen):
            return iter([{"StatusCode": code or 0, "Error": None}])
        return self._wait(cid, condition, seen, code)

    def _wait(self, cid: str, condition: str, seen: str | None,
              code: int | None) -> Iterator[dict | None]:
        step = POLL * 25
        ticks = _Ticks(step)
        while True:
            self._check_open()
            task = self._task(cid)
            if task is not None and task.exit_status is None:
                try:
                    task = self.core.tasks.wait(self.ns, cid, timeout=step)
                except errors.Unavailable:
                    yield None  # still running: the daemon may be stopping meanwhile
                    continue
                except errors.NotFound:
                    continue
                code = task.exit_status if task.exit_status is not None else code
                break
            if task is not None and task.exited_at != seen:
                code = task.exit_status
                break
            if not self._exists(cid):
                break
            yield from ticks.sleep()
        if condition == "removed":
            # woken by the record's deletion (the supervisor's, for AutoRemove);
            # subscribed before the look, so that a deletion in between is not missed
            deleted = self.core.events.subscribe(("/containers/delete",), self.ns)
            try:
                while self._exists(cid):
                    self._check_open()
                    if deleted.get(timeout=step) is None:
                        yield None
            finally:
                deleted.close()
        yield {"StatusCode": code or 0, "Error": None}

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
        self.emit("container", "resize", container.id,
                  {"height": str(height), "width": str(width)})

    def _signal(self, container: Any, task: Any, signal: int) -> bool:
        """Send ``signal`` to every process of the task, which a user stopped: no
        restart by its policy; a paused task is thawed to act on it. False when the
        task exited meanwhile (nothing to signal)."""
        cid = container.id
        if self.supervisor is not None:
            self.supervisor.cancel(cid)
        with self.lock_of(cid):
            current = self.record(cid)
            if not self.restart_state(current)[1]:
                self._relabel(current, **{STOPPED_BY_USER: "1"})
        try:
            self.core.tasks.kill(self.ns, cid, signal, all=True)
        except errors.FailedPrecondition:
            return False  # it exited between the look and the signal
        self.emit("container", "kill", cid, {"signal": str(signal)})
        if task.status == "paused":
            with contextlib.suppress(errors.EstibaError):
                self.core.tasks.resume(self.ns, cid)
        return True

    def kill(self, ref: str, signal: int = 9) -> None:
        container, task = self._get(ref)
        self.journal.note(container.id, "engine", "kill", {
            "api": "POST /containers/{id}/kill", "signal": signal})
        if not _running(task) or not self._signal(container, task, signal):
            raise errors.Conflict(f"cannot kill container: {ref}: container "
                                  f"{container.id} is not running")

    def stop(self, ref: str, timeout: float | None = None,
             signal: int | None = None) -> bool:
        """The Config's StopSignal (SIGTERM) or ``signal``, SIGKILL after ``timeout``
        seconds (the Config's StopTimeout, 10); False when it was not running (Docker's
        304)."""
        container, task = self._get(ref)
        if not _running(task):
            if self.supervisor is not None and self.supervisor.restarting(container.id):
                self.supervisor.cancel(container.id)
                with self.lock_of(container.id):
                    self._relabel(self.record(container.id), **{STOPPED_BY_USER: "1"})
                return True
            return False
        config = config_of(container)
        if signal is None:
            signal = signal_number(config.get("StopSignal") or "SIGTERM")
        if timeout is None:
            timeout = config.get("StopTimeout")
        cid = container.id
        self.journal.note(cid, "engine", "stop", {
            "api": "POST /containers/{id}/stop", "signal": signal,
            "then": f"SIGKILL after {10 if timeout is None else timeout}s"})
        self._signal(container, task, signal)
        try:
            self.core.tasks.wait(self.ns, cid, timeout=10 if timeout is None else timeout)
        except errors.Unavailable:
            try:
                self.core.tasks.kill(self.ns, cid, 9, all=True)
                self.emit("container", "kill", cid, {"signal": "9"})
            except errors.FailedPrecondition:
                pass  # it exited at the last moment
            self.core.tasks.wait(self.ns, cid)
        # as Docker's stop returns: its addresses and ports are free again
        self.release_ended(cid)
        self.emit("container", "stop", cid)
        return True

    def restart(self, ref: str, timeout: float | None = None,
                signal: int | None = None) -> None:
        """``POST /containers/{id}/restart``: stop (if running), then start."""
        cid = self.resolve(ref)
        self.stop(cid, timeout=timeout, signal=signal)
        self.start(cid)
        self.emit("container", "restart", cid)

    def pause(self, ref: str) -> None:
        container, task = self._get(ref)
        if not _running(task):
            raise errors.Conflict(f"Container {container.id} is not running")
        if task.status == "paused":
            raise errors.Conflict(f"Container {container.id} is already paused")
        self.core.tasks.pause(self.ns, container.id)

    def unpause(self, ref: str) -> None:
        container, task = self._get(ref)
        if not _running(task) or task.status != "paused":
            raise errors.Conflict(f"Container {container.id} is not paused")
        self.core.tasks.resume(self.ns, container.id)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """``DELETE /containers/{id}``: refused while running unless ``force`` (then
        SIGKILL first); ``volumes`` (``rm -v``): its anonymous volumes too, those no
        other container uses."""
        cid = self.resolve(ref)
        anonymous = []
        if volumes and self.volumes is not None:
            from estiba.engine.volumes import used_by

            anonymous = [v["Name"] for v in used_by(self.record(cid)) if v["Anonymous"]]
        self._remove(cid, force)
        if anonymous:
            users = self.volume_users()
            for name in anonymous:
                if not users.get(name):
                    with contextlib.suppress(errors.NotFound):
                        self.volumes.remove(self.ns, name)
                        self.emit("volume", "destroy", name, {"driver": "local"})

    def _remove(self, ref: str, force: bool) -> None:
        container, task = self._get(ref)
        cid = container.id
        if force or not _running(task):
            self.journal.note(cid, "engine", "remove", {"force": force})
        if self.supervisor is not None:
            self.supervisor.cancel(cid)
        if task is not None:
            if _running(task):
                if not force:
                    name = dict(container.labels).get(NAME, cid)
                    raise errors.Conflict(
                        f'cannot remove container "{name}": container is running: stop '
                        "the container before removing or force remove")
                self._signal(container, task, 9)
                with contextlib.suppress(errors.Unavailable):
                    self.core.tasks.wait(self.ns, cid, timeout=10)
            with contextlib.suppress(errors.NotFound):
                self.core.tasks.delete(self.ns, cid, force=True)
        with contextlib.suppress(errors.NotFound):
            self.core.remove_container(self.ns, cid)
        shutil.rmtree(self.files_dir(cid), ignore_errors=True)
        if self.network is not None:
            # last: the kernel's teardown of the namespace it sets off would slow the
            # unmounts and cgroup removals above
            self.network.release(self.ns, cid)
        with contextlib.suppress(errors.EstibaError):
            self._release_volumes(container)
        with self._locks_guard:
            self._locks.pop(cid, None)
        self.journal.ended(cid)

    # --- views ------------------------------------------------------------------------

    def _view(self, container: Any, task: Any, image_ids: dict[str, str] | None = None,
              networks: tuple[dict, dict] | None = None) -> View:
        """What inspect and list show; ``image_ids`` and ``networks`` (``_networks_now``)
        are read once for a list."""
        labels = dict(container.labels)
        status, pid, code, finished = "created", 0, 0, ""
        if task is not None:
            if task.exit_status is not None:
                status, code, finished = "exited", task.exit_status, task.exited_at
            elif task.status != "created":
                status = "paused" if task.status == "paused" else "running"
                pid = task.pid
        args = tuple(((container.spec or {}).get("process") or {}).get("args") or ())
        image_ids = {} if image_ids is None else image_ids
        if container.image not in image_ids:
            try:
                image_ids[container.image] = self.images.image_id(container.image)
            except errors.NotFound:
                image_ids[container.image] = ""
        restarts, _ = self.restart_state(container)
        restarting = (status == "exited" and self.supervisor is not None
                      and self.supervisor.restarting(container.id))
        return View(id=container.id, name=labels.get(NAME, "/" + container.id[:12]),
                    created=container.created_at, image=labels.get(IMAGE, container.image),
                    image_id=image_ids[container.image], args=args,
                    config=config_of(container), host_config=host_config_of(container),
                    status=status, pid=pid, exit_code=code,
                    started_at=labels.get(STARTED_AT, "") if task is not None else "",
                    finished_at=finished,
                    oom_killed=bool(task is not None and task.oom_killed),
                    restarting=restarting, restart_count=restarts,
                    exec_ids=tuple(self.exec_ids(container.id)),
                    health=self.health_of(container.id),
                    log_path=task.log_path if task is not None else "",
                    network_settings=self._network_settings(container, task, networks),
                    volume_mounts=self._volume_mounts(container))

    def _volume_mounts(self, container: Any) -> tuple[dict, ...]:
        if self.volumes is None:
            return ()
        from estiba.engine.volumes import mount_json, used_by

        return tuple(mount_json(v, self.volumes.mountpoint(v["Name"]))
                     for v in used_by(container))

    def _networks_now(self, container_id: str = "") -> tuple[dict, dict] | None:
        """(networks by name, {container id: {network id: endpoint}}) read at once: of
        every container for a list, of one for an inspect."""
        if self.network is None:
            return None
        endpoints: dict[str, dict[str, Any]] = {}
        for e in self.network.endpoints(self.ns, container_id=container_id):
            endpoints.setdefault(e.container_id, {})[e.network_id] = e
        return {n.name: n for n in self.network.list(self.ns)}, endpoints

    def _network_settings(self, container: Any, task: Any,
                          now: tuple[dict, dict] | None) -> dict | None:
        """Inspect's NetworkSettings."""
        if self.network is None:
            return None
        by_name, every = now or self._networks_now(container.id)  # type: ignore[misc]
        running = task is not None and task.exit_status is None
        endpoints = every.get(container.id, {}) if running else {}
        members = networking.members_of(container)
        mode = networking.mode_of(self.host_config(container))
        if not networking.is_own(mode) and mode in by_name:
            members = {mode: {}}
        rows = [(by_name[name], endpoints.get(by_name[name].id), given)
                for name, given in members.items() if name in by_name]
        sandbox = self.network.sandbox_path(container.id) if endpoints else ""
        ports = None
        if endpoints:
            mappings = [m for e in endpoints.values() for m in self.network.mappings(e)]
            ports = networking.ports_json(config_of(container), mappings)
        return networking.settings(rows, sandbox, ports)

    def inspect(self, ref: str) -> dict:
        return inspect(self._view(*self._get(ref)))

    def list(self, all: bool = False, filters: str = "", limit: int | None = None,
             size: bool = False) -> list[dict]:
        """``GET /containers/json``: running ones (``all``: every one), newest first,
        passing Docker's ``filters``; ``limit`` the newest N of every one; ``size``: with
        the sizes of the writable layer and of the whole root filesystem."""
        wanted = filtering.parse(filters, FILTERS)
        now = time.time()
        tasks = {t.id: t for t in self.core.tasks.list(self.ns)}
        image_ids: dict[str, str] = {}
        records = {c.id: c for c in self._all()}
        networks = self._networks_now()
        views = [self._view(c, tasks.get(c.id), image_ids, networks)
                 for c in records.values()]
        views.sort(key=lambda v: parse_time(v.created), reverse=True)
        ancestors = None
        if "ancestor" in wanted:
            ancestors = set()
            for name in wanted["ancestor"]:
                with contextlib.suppress(errors.EstibaError):
                    ancestors.add(self.images.image_id(self.images.resolve(name).name))
        bounds = {}
        for key in ("before", "since"):
            if key in wanted:
                ref = self.resolve(wanted[key][0])
                bounds[key] = next(parse_time(v.created) for v in views if v.id == ref)
        if limit is not None and limit > 0:
            all, views = True, views[:limit]
        if not all and "status" not in wanted and "exited" not in wanted:
            views = [v for v in views if v.running]
        out = [summary(v, now) for v in views
               if matches(v, wanted, ancestors, bounds.get("before"), bounds.get("since"))]
        if size:
            image_sizes = {i["Id"]: i["Size"] for i in self.images.list()}
            for item in out:
                item["SizeRw"] = self._writable_size(records[item["Id"]])
                item["SizeRootFs"] = item["SizeRw"] + image_sizes.get(item["ImageID"], 0)
        return out

    def update(self, ref: str, body: dict) -> dict:
        """``POST /containers/{id}/update``: new limits (a zero value changes nothing,
        as the CLI sends every field) and restart policy, kept for the next starts and
        applied to the running task."""
        if not isinstance(body, dict):
            raise errors.InvalidArgument("update: an object is expected")
        jsontypes.check(body, jsontypes.UPDATE_FIELDS, "UpdateConfig")
        changed = {k: v for k, v in body.items() if k in UPDATABLE and v not in (None, 0, "")}
        cid = self.resolve(ref)
        with self.lock_of(cid):
            container, task = self._get(cid)
            host_config = self.host_config(container)
            if "RestartPolicy" in changed:
                if not (changed["RestartPolicy"] or {}).get("Name"):
                    del changed["RestartPolicy"]
                else:
                    changed["RestartPolicy"] = policy.check(
                        changed["RestartPolicy"], bool(host_config.get("AutoRemove")))
            updated = {**host_config, **changed}
            resources = hostconfig.resources(updated)
            spec = copy.deepcopy(container.spec)
            spec["linux"]["resources"] = {**spec["linux"].get("resources", {}), **resources}
            if _running(task) and resources:
                self.core.tasks.update(self.ns, container.id, resources)
            labels = {**dict(container.labels), HOST_CONFIG: json.dumps(updated)}
            self.core.containers.update(container.replace(
                spec=spec, labels=tuple(sorted(labels.items()))))
        self.emit("container", "update", container.id)
        return {"Warnings": []}

    def rename(self, ref: str, new_name: str) -> None:
        """``POST /containers/{id}/rename?name=``."""
        if not new_name:
            raise errors.InvalidArgument("Neither old nor new names may be empty")
        wanted = names.check_name(new_name)
        cid = self.resolve(ref)
        with self._names, self.lock_of(cid):
            container, _ = self._get(cid)
            old = dict(container.labels).get(NAME, "")
            if wanted == old:
                raise errors.InvalidArgument("Renaming a container with the same name as "
                                             "its current name")
            _check_free(wanted, self._taken_names())
            self._relabel(container, **{NAME: wanted})
        self.emit("container", "rename", container.id, {"oldName": old})

    def top(self, ref: str, ps_args: str = "") -> dict:
        """``GET /containers/{id}/top?ps_args=``: the host's ``ps`` (``-ef``) cut down
        to the container's processes."""
        import shlex
        import subprocess

        container, task = self._get(ref)
        if not _running(task):
            raise errors.Conflict(f"Container {container.id} is not running")
        pids = set(self.core.tasks.ps(self.ns, container.id))
        argv = ["ps", *(shlex.split(ps_args) if ps_args else ["-ef"])]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise errors.Internal(f"ps: {err}") from err
        if done.returncode != 0:
            raise errors.InvalidArgument(f"Error running ps: {done.stderr.strip()}")
        return stats_json.top(done.stdout, pids)

    def stats(self, ref: str, previous: dict | None = None) -> dict:
        """One ``docker stats`` object of the container (zeros when it is not
        running); ``previous`` the last one of the stream."""
        container, task = self._get(ref)
        name = dict(container.labels).get(NAME, "")
        metrics = None
        if _running(task):
            with contextlib.suppress(errors.NotFound):
                metrics = self.core.tasks.metrics(self.ns, container.id)
        with open("/proc/stat", encoding="ascii") as f:
            system_cpu = stats_json.system_cpu_ns(f.read())
        with open("/proc/meminfo", encoding="ascii") as f:
            memory_total = stats_json.mem_total(f.read())
        return stats_json.sample(metrics, name=name, id=container.id, read=timestamp(),
                                 system_cpu=system_cpu,
                                 online_cpus=len(os.sched_getaffinity(0)),
                                 memory_total=memory_total, previous=previous)

    def prune(self, filters: str = "") -> dict:
        """``POST /containers/prune``: every stopped container (``until``, ``label``
        filters) removed."""
        wanted = filtering.parse(filters, ("until", "label", "label!"))
        until = (filtering.parse_until(wanted["until"][0], time.time())
                 if "until" in wanted else None)
        deleted, reclaimed = [], 0
        tasks = {t.id: t for t in self.core.tasks.list(self.ns)}
        for container in self._all():
            task = tasks.get(container.id)
            if _running(task):
                continue
            labels = config_of(container).get("Labels") or {}
            if not filtering.labels_pass(labels, wanted):
                continue
            if until is not None and parse_time(container.created_at) >= until:
                continue
            size = self._writable_size(container)
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                self._remove(container.id, force=False)
                deleted.append(container.id)
                reclaimed += size  # only what was removed
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def _writable_size(self, container: Any) -> int:
        with contextlib.suppress(errors.EstibaError, AttributeError):
            return int(self.core.snapshots.usage(self.ns, container.snapshot_key).size)
        return 0

    def log_source(self, ref: str) -> logconfig.LogSource:
        """What ``docker logs`` reads of the container (its path "" before its first
        start)."""
        container, task = self._get(ref)
        config = config_of(container)
        tty = bool(config.get("Tty"))
        cid = container.id

        def exited(timeout: float) -> Any:
            try:
                current = self.core.tasks.wait(self.ns, cid, timeout=timeout)
            except errors.Unavailable:
                return None
            except errors.NotFound:
                return True
            return current if current.exit_status is not None else None

        attrs = logconfig.attributes(self.host_config(container).get("LogConfig"),
                                     config.get("Labels") or {}, config.get("Env") or ())
        return logconfig.LogSource(task.log_path if task is not None else "", tty,
                                   exited, tuple(sorted(attrs.items())))


class _Ticks:
    """Sleeps of ``POLL`` seconds that tell (a None to yield) after each ``step``."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.waited = 0.0

    def sleep(self) -> Iterator[None]:
        time.sleep(POLL)
        self.waited += POLL
        if self.waited >= self.step:
            self.waited = 0.0
            yield None


def _check_free(wanted: str, taken: dict[str, str]) -> None:
    if wanted in taken:
        raise errors.Conflict(
            f'Conflict. The container name "{wanted}" is already in use by container '
            f'"{taken[wanted]}". You have to remove (or rename) that container to be '
            "able to reuse that name.")


def _no_user_ids(container: Any, user: str) -> tuple[int, int, list[int]]:
    raise errors.Unimplemented(f"user {user!r}: names need the container's /etc/passwd")


def _running(task: Any) -> bool:
    """Started and not exited (paused counts as running, as in Docker)."""
    return task is not None and task.exit_status is None and task.status != "created"
