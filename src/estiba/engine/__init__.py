"""The engine: dockerd's role above the core. Docker's semantics (names, Config and
HostConfig turned into an OCI spec, start/stop/kill/wait/attach/logs of Docker
containers, AutoRemove, the images as Docker lists them) on the core's services, in the
core namespace ``docker``. ``api/docker`` is its thin adapter.

Modules: ``containers.py`` (``Containers``: the verbs), ``names.py`` (names, random
names, id and prefix lookup; pure), ``inspect.py`` (Docker's JSON of a container: inspect,
list, status strings; pure), ``configs.py`` (a create's Config and HostConfig as an OCI
spec), ``etcfiles.py`` (/etc/hostname, /etc/hosts), ``jsontypes.py`` (the request
fields' types), ``images.py`` (``Images``: list, inspect, the built-in
pull), ``execs.py`` (``Execs``: ``docker exec``), ``filesystem.py`` (``Filesystems``:
a container's files: archive, export, changes, commit; the path stat), ``rootpaths.py``
(paths walked inside a container's root through descriptors), ``archives.py`` (the tars
of a container's files: written from its tree, checked and extracted when copied in),
``writablelayer.py`` (the writable layer's directories, bound files' mount points and
changes; pure but for ``mount_points``), ``commits.py`` (a commit's config, name and
image config, pure; the image written), ``hostconfig.py`` (HostConfig
into the OCI spec; pure but for its ``LocalHost``), ``policy.py`` (restart policies;
pure), ``supervisor.py`` (exits: AutoRemove and restarts), ``health.py`` (health
checks: the Healthcheck, its probes, State.Health), ``filters.py`` (Docker's
``filters`` argument; pure), ``stats.py`` (stats and top JSON; pure), ``networks.py``
(``Networks``: ``docker network``), ``networking.py`` (a container's networks and its
NetworkSettings; pure), ``volumes.py`` (``Volumes``: ``docker volume``; a container's
volumes), ``journal.py`` (``Journal``: what each container's verbs did below the Docker
API, for ``--explain``). May import
``core``, ``oci``, ``errors``, ``signals``, ``kernel.capabilities`` (the capability names)
and the standard library.

Docker-level state lives in the core container's labels (``estiba.docker.*``: the name,
the Config and HostConfig as given, the time of the last start, restarts by policy,
whether a user stopped it); the exit status and time and an OOM kill come from the task.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAMESPACE = "docker"


class Engine:
    """The engine over one core: ``containers``, ``images`` and, given the daemon's
    network and volume services, ``networks`` and ``volumes``."""

    def __init__(self, core: Any, namespace: str = NAMESPACE,
                 network: Any = None, volumes: Any = None) -> None:
        from estiba.engine.containers import Containers
        from estiba.engine.events import Events
        from estiba.engine.execs import Execs
        from estiba.engine.filesystem import Filesystems
        from estiba.engine.health import Health
        from estiba.engine.images import Images

        self.core = core
        self.namespace = namespace
        self.events = Events(core, namespace)
        self.images = Images(core, namespace)
        self.containers = Containers(core, namespace, self.images)
        self.networks = None
        self.volumes = None
        if volumes is not None:
            from estiba.engine.volumes import Volumes

            self.containers.volumes = volumes
            self.volumes = Volumes(volumes, namespace, self.containers.volume_users)
            self.volumes.emit = self.events.emit
        if network is not None:
            from estiba.engine.networks import Networks

            self.containers.ensure_namespace()
            network.ensure_defaults(namespace)
            self.containers.network = network
            self.networks = Networks(network, namespace, self.containers)
            self.networks.emit = self.events.emit
        self.execs = Execs(core, namespace, self.containers)
        self.filesystems = Filesystems(core, namespace, self.containers, self.images)
        self.containers.exec_ids = self.execs.ids_of
        self.containers.user_ids = self.filesystems.user_ids
        self.containers.copy_up = self.filesystems.copy_up
        self.containers.emit = self.execs.emit = self.images.emit = self.events.emit
        # the core's services and the network service tell the containers' journals
        # their steps (a part without a ``note``, a test's, is left as it is)
        self.journal = self.containers.journal
        for part in (core, getattr(core, "tasks", None), network):
            if hasattr(part, "note"):
                part.note = self.journal.note
        self.containers.supervise()
        self.health = Health(core, namespace, emit=self.events.emit,
                             state_path=lambda cid: f"{self.containers.files_dir(cid)}"
                                                    "/health.json")
        self.containers.health_of = self.health.health

    def explain(self, ref: str) -> list[dict]:
        """``GET /containers/{id}/explain`` (estiba's own): the journal's steps of the
        container ``ref`` names, of a removed one too while its journal is kept."""
        from estiba import errors

        try:
            ref = self.containers.resolve(ref)
        except errors.NotFound:
            pass  # removed: the journal knows its id and name
        return self.journal.explain(ref)

    def close(self) -> None:
        self.health.close()
        self.containers.close()
        self.events.close()
