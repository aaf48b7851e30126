"""The core's records: what its services hand out and the core API encodes as JSON
(field names as they are). Immutable; change one with ``replace``."""

from __future__ import annotations

from estiba.oci.record import Record

# task statuses, as containerd's (``unknown`` when the runtime cannot tell)
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"
UNKNOWN = "unknown"


class Container(Record):
    """A container: a record, not a process (that is its task)."""

    namespace: str
    id: str
    image: str = ""  # normalised image name; "" for a container made from a spec alone
    runtime: str = ""  # a configured runtime's name ("estiba", "runc"); "" = the default
    snapshotter: str = ""
    snapshot_key: str = ""  # the container's active snapshot, its rootfs
    spec: dict | None = None  # the OCI runtime config (config.json) as a JSON object
    labels: tuple[tuple[str, str], ...] = ()
    created_at: str = ""  # RFC 3339
    updated_at: str = ""


class Task(Record):
    """The running (or exited, not yet deleted) process of a container."""

    namespace: str
    id: str  # the container's id
    pid: int = 0
    status: str = UNKNOWN
    exit_status: int | None = None  # None while it runs; 128 + n when killed by signal n
    exited_at: str = ""  # RFC 3339, once stopped
    terminal: bool = False
    stdin: bool = False
    log_path: str = ""  # the CRI log the shim writes
    runtime: str = ""
    shim_pid: int = 0
    oom_killed: bool = False  # the OOM killer killed one of its processes


class ExecProcess(Record):
    """A process started in a running task (``tasks exec``)."""

    namespace: str
    id: str  # the container's id
    exec_id: str
    pid: int = 0
    status: str = UNKNOWN
    exit_status: int | None = None
    terminal: bool = False


class Event(Record):
    """Something that happened in the core, published to subscribers of its topic."""

    topic: str  # "/containers/create", "/tasks/exit", "/images/delete" ...
    namespace: str
    timestamp: str  # RFC 3339 with nanoseconds
    attributes: tuple[tuple[str, str], ...] = ()
