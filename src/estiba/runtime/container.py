"""A container as the runtime keeps it between calls: its state directory.

Layout under ``--root`` (default ``/run/estiba-runtime``), one directory per container:

    <root>/<id>/state.json   the record below, written atomically (temp + rename)
    <root>/<id>/exec.fifo    exists while the container is ``created``: the init blocks
                             opening it for writing until ``start`` opens it for reading

state.json (format version 1): ``version``, ``id``, ``bundle``, ``rootfs``, ``pid`` and
``start_time`` (the init's start time in clock ticks, from /proc/<pid>/stat, so a
recycled pid is never taken for the container), ``created`` (RFC 3339), ``owner``,
``cgroups_path``, ``cgroup_paths`` (hierarchy → directory), ``config`` (the bundle's
config.json as decoded, so ``exec`` and ``delete`` work after the bundle changed).

The status is derived, never stored: the init gone or a zombie → stopped; the fifo there
→ created; the cgroup frozen → paused; otherwise running.
"""

from __future__ import annotations

import os

from estiba.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from estiba.kernel import proc
from estiba.oci import json_codec
from estiba.oci import state as oci_state

STATE_FILE = "state.json"
FIFO = "exec.fifo"
FORMAT_VERSION = 1

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cgroups import CgroupManager


def check_id(container_id: str) -> None:
    """Ids become directory names: refuse anything that is not a plain name."""
    if not container_id:
        raise InvalidArgument("container id cannot be empty")
    if container_id in (".", "..") or "/" in container_id or "\0" in container_id:
        raise InvalidArgument(f"invalid container id {container_id!r}")
    if len(container_id) > 1024:
        raise InvalidArgument("container id is too long")
    for ch in container_id:
        if not (ch.isascii() and (ch.isalnum() or ch in "_+-.")):
            raise InvalidArgument(f"invalid container id {container_id!r}: "
                                  "use letters, digits and _ + - .")


class Container:
    """One container's state directory and what can be read from the kernel about it."""

    def __init__(self, root: str, container_id: str, data: dict) -> None:
        self.root = root
        self.id = container_id
        self.data = data

    # --- the directory ---------------------------------------------------------------

    @property
    def dir(self) -> str:
        return os.path.join(self.root, self.id)

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, FIFO)

    @classmethod
    def make_dir(cls, root: str, container_id: str) -> str:
        check_id(container_id)
        os.makedirs(root, mode=0o711, exist_ok=True)
        path = os.path.join(root, container_id)
        try:
            os.mkdir(path, 0o711)
        except FileExistsError:
            raise AlreadyExists(f"container with id {container_id} already exists") from None
        return path

    @classmethod
    def load(cls, root: str, container_id: str) -> Container:
        check_id(container_id)
        path = os.path.join(root, container_id, STATE_FILE)
        try:
            with open(path, "rb") as f:
                data = json_codec.loads(f.read())
        except FileNotFoundError:
            raise NotFound(f"container {container_id} does not exist") from None
        except ValueError as err:
            raise InvalidArgument(f"read {path}: {err}") from err
        if data.get("version") != FORMAT_VERSION:
            raise InvalidArgument(f"read {path}: unknown state format {data.get('version')}")
        return cls(root, container_id, data)

    @classmethod
    def list(cls, root: str) -> list[Container]:
        try:
            names = sorted(os.listdir(root))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            try:
                out.append(cls.load(root, name))
            except (NotFound, InvalidArgument):
                continue  # a container being created or deleted right now
        return out

    def save(self) -> None:
        self.commit(self.stage())

    def stage(self) -> str:
        """Write the record beside the state file, for ``commit`` to put in place: a
        caller that has to wait anyway writes it meanwhile."""
        tmp = os.path.join(self.dir, STATE_FILE + ".tmp")
        with open(tmp, "w") as f:
            f.write(json_codec.dumps(self.data))
        return tmp

    def commit(self, staged: str) -> None:
        os.rename(staged, os.path.join(self.dir, STATE_FILE))

    def remove_dir(self) -> None:
        for name in (STATE_FILE, STATE_FILE + ".tmp", FIFO):
            try:
                os.unlink(os.path.join(self.dir, name))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.dir)
        except FileNotFoundError:
            pass

    # --- what it is ------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return int(self.data["pid"])

    @property
    def bundle(self) -> str:
        return self.data["bundle"]

    @property
    def config(self) -> dict:
        return self.data["config"]

    @property
    def annotations(self) -> dict[str, str]:
        return self.config.get("annotations") or {}

    def hooks(self, kind: str) -> tuple:
        """The config's hooks of one kind (``poststart``, ``poststop``), parsed only when
        there are some: most containers have none, and the calls that run these hooks
        should not pay for parsing the whole config."""
        if not (self.config.get("hooks") or {}).get(kind):
            return ()
        from estiba.oci.runtime_config import parse_config

        return getattr(parse_config(self.config).hooks, kind)

    def cgroup(self) -> CgroupManager:
        from estiba.cgroups import cgroup_from_paths

        return cgroup_from_paths(self.data["cgroup_paths"])

    def alive(self) -> bool:
        return proc.alive(self.pid, self.data.get("start_time"))

    def status(self) -> str:
        if not self.alive():
            return oci_state.STOPPED
        if os.path.exists(self.fifo):
            return oci_state.CREATED
        if self.data.get("cgroup_paths") and self.cgroup().frozen():
            return oci_state.PAUSED
        return oci_state.RUNNING

    def state(self) -> oci_state.State:
        return oci_state.State(
            id=self.id,
            status=self.status(),
            pid=self.pid,
            bundle=self.bundle,
            annotations=tuple(self.annotations.items()),
        )

    def require(self, *statuses: str, action: str) -> str:
        status = self.status()
        if status not in statuses:
            raise FailedPrecondition(f"cannot {action} container {self.id}: it is {status}")
        return status
