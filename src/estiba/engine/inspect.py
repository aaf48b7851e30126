"""Docker's JSON of a container (pure): ``docker inspect``'s object, ``docker ps``'s
summary and its status phrases ("Up 3 seconds", "Exited (0) 2 seconds ago")."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

from estiba.units import human_duration

ZERO_TIME = "0001-01-01T00:00:00Z"
_FRACTION = re.compile(r"\.(\d+)")


@dataclasses.dataclass(frozen=True)
class View:
    """What the engine knows of a Docker container at one moment."""

    id: str
    name: str  # "/name"
    created: str  # RFC 3339
    image: str  # as the client named it
    image_id: str  # "sha256:<config digest>"
    args: tuple[str, ...]  # the process's argv
    config: dict
    host_config: dict
    status: str = "created"  # created | running | exited
    pid: int = 0
    exit_code: int = 0
    started_at: str = ""
    finished_at: str = ""
    labels: tuple[tuple[str, str], ...] = ()


def parse_time(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (nanoseconds allowed); 0 for ''."""
    if not text:
        return 0.0
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def status_text(view: View, now: float) -> str:
    if view.status == "running":
        return "Up " + human_duration(now - parse_time(view.started_at))
    if view.status == "exited":
        ago = human_duration(now - parse_time(view.finished_at))
        return f"Exited ({view.exit_code}) {ago} ago"
    return "Created"


def command_text(args: tuple[str, ...]) -> str:
    return " ".join(args)


def summary(view: View, now: float) -> dict:
    """An item of ``GET /containers/json``."""
    return {
        "Id": view.id, "Names": [view.name], "Image": view.image, "ImageID": view.image_id,
        "Command": command_text(view.args), "Created": int(parse_time(view.created)),
        "Ports": [], "Labels": dict(view.config.get("Labels") or {}),
        "State": view.status, "Status": status_text(view, now),
        "HostConfig": {"NetworkMode": view.host_config.get("NetworkMode") or "bridge"},
        "NetworkSettings": {"Networks": {}}, "Mounts": [],
    }


def inspect(view: View) -> dict:
    """``GET /containers/{id}/json``."""
    running = view.status == "running"
    return {
        "Id": view.id,
        "Created": view.created,
        "Path": view.args[0] if view.args else "",
        "Args": list(view.args[1:]),
        "State": {
            "Status": view.status, "Running": running, "Paused": False,
            "Restarting": False, "OOMKilled": False, "Dead": False,
            "Pid": view.pid if running else 0, "ExitCode": view.exit_code, "Error": "",
            "StartedAt": view.started_at or ZERO_TIME,
            "FinishedAt": view.finished_at or ZERO_TIME,
        },
        "Image": view.image_id,
        "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "", "LogPath": "",
        "Name": view.name,
        "RestartCount": 0,
        "Driver": "overlayfs",
        "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": view.host_config,
        "GraphDriver": {"Name": "overlayfs", "Data": None},
        "Mounts": [],
        "Config": view.config,
        "NetworkSettings": {"Bridge": "", "SandboxID": "", "Ports": {},
                            "SandboxKey": "", "Networks": {}},
    }
