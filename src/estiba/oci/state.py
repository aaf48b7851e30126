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


def timestamp(ns: int | None = None) -> str:
    """``ns`` (nanoseconds since the epoch; now by default) in RFC 3339 with all nine
    fraction digits in UTC, as runc writes ``created``: ``2026-11-28T20:36:12.123456789Z``."""
    secs, nanos = divmod(time.time_ns() if ns is None else ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{nanos:09d}Z"


_TIME = None  # compiled at first use: ``re`` would cost the runtime's start


def parse_timestamp(text: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time (``Z`` or an offset, up to nine
    fraction digits); None if it is not one."""
    global _TIME
    import calendar
    import re

    if _TIME is None:
        _TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                           r"(Z|[+-]\d\d:\d\d)$")
    found = _TIME.match(text or "")
    if found is None:
        return None
    fields = tuple(int(found.group(i)) for i in range(1, 7))
    fraction = int((found.group(7) or "0").ljust(9, "0"))
    zone = found.group(8)
    offset = 0
    if zone != "Z":
        offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * 60 * (-1 if zone[0] == "-" else 1)
    try:
        seconds = calendar.timegm((*fields, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    return (seconds - offset) * 1_000_000_000 + fraction


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
