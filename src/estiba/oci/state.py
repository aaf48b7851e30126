"""The state of a container as the OCI runtime spec defines it (runtime.md, "State").

``status`` is one of the spec's ``creating``, ``created``, ``running``, ``stopped``, plus
runc's ``paused``, which the tools that drive runc expect to read.
"""

from __future__ import annotations

import time

from estiba.oci.record import Record

OCI_VERSION = "1.2.0"

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"


def timestamp() -> str:
    """Now, in RFC 3339 with nanoseconds in UTC, as runc writes ``created``."""
    secs, nanos = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{nanos:09d}Z"


class State(Record):
    id: str
    status: str
    pid: int
    bundle: str
    annotations: tuple[tuple[str, str], ...] = ()
    oci_version: str = OCI_VERSION

    def to_json(self) -> dict[str, object]:
        """The spec's JSON shape; a stopped container reports no pid, as the spec asks."""
        out: dict[str, object] = {
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": self.status,
            "pid": self.pid if self.status != STOPPED else 0,
            "bundle": self.bundle,
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out
