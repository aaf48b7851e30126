"""Docker's JSON of a container (pure): ``docker inspect``'s object, ``docker ps``'s
summary and its status phrases ("Up 3 seconds", "Exited (0) 2 seconds ago")."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

from estiba.engine import health as healthcheck
from estiba.engine.filters import Filters, labels_match
from estiba.engine.networking import port_list
from estiba.errors import InvalidArgument
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
    oom_killed: bool = False
    restarting: bool = False
    restart_count: int = 0
    exec_ids: tuple[str, ...] = ()
    health: dict | None = None  # State.Health (engine/health.py)
    log_path: str = ""
    network_settings: dict | None = None  # engine/networking.py; None: no networks
    volume_mounts: tuple[dict, ...] = ()  # inspect's Mounts of its volumes

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused")


# the filters of GET /containers/json (Docker's; volume matches nothing of these
# containers yet)
FILTERS = ("ancestor", "before", "expose", "exited", "health", "id", "isolation",
           "is-task", "label", "name", "network", "publish", "since", "status", "volume")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def matches(view: View, filters: Filters, ancestors: set[str] | None = None,
            before: float | None = None, since: float | None = None) -> bool:
    """Whether ``view`` passes ``filters`` (values of one key: any; keys: all).
    ``ancestors`` are the image ids the ``ancestor`` values name; ``before``/``since``
    the creation times of the containers those name."""
    for status in filters.get("status", ()):
        if status not in STATUSES:
            raise InvalidArgument(f"invalid filter 'status={status}'")
    healthcheck.check_filter(filters.get("health", ()))
    checks = {
        "id": lambda v: view.id.startswith(v),
        "name": lambda v: re.search(v, view.name.lstrip("/")) is not None,
        "status": lambda v: v == view.status,
        "exited": lambda v: view.status == "exited" and str(view.exit_code) == v,
        "health": lambda v: v == ((view.health or {}).get("Status") or "none"),
        "network": lambda v: any(v in (name, settings.get("NetworkID"))
                                 for name, settings in _networks(view).items()),
        "publish": lambda v: _port_matches(v, _published(view)),
        "expose": lambda v: _port_matches(v, _exposed(view)),
    }
    for key, check in checks.items():
        values = filters.get(key)
        if values and not any(check(v) for v in values):
            return False
    if "label" in filters and not labels_match(view.config.get("Labels") or {},
                                               filters["label"]):
        return False
    if ancestors is not None and view.image_id not in ancestors:
        return False
    created = parse_time(view.created)
    if before is not None and created >= before:
        return False
    if since is not None and created <= since:
        return False
    return not any(k in filters for k in ("volume", "is-task"))


def _networks(view: View) -> dict[str, dict]:
    return (view.network_settings or {}).get("Networks") or {}


def _published(view: View) -> set[tuple[int, str]]:
    ports = (view.network_settings or {}).get("Ports") or {}
    return {_port(key) for key, bindings in ports.items() if bindings}


def _exposed(view: View) -> set[tuple[int, str]]:
    ports = (view.network_settings or {}).get("Ports") or {}
    return {_port(key) for key in (*ports, *(view.config.get("ExposedPorts") or {}))}


def _port(key: str) -> tuple[int, str]:
    number, _, proto = key.partition("/")
    return int(number), proto or "tcp"


def _port_matches(value: str, ports: set[tuple[int, str]]) -> bool:
    """``80``, ``80/udp``, ``8000-8080`` (any of the range) against ``ports``."""
    span, _, proto = value.partition("/")
    first, _, last = span.partition("-")
    try:
        low, high = int(first), int(last or first)
    except ValueError:
        raise InvalidArgument(f"invalid filter value {value!r}: a port or a range of "
                              "ports is expected") from None
    return any(low <= n <= high and p == (proto or "tcp") for n, p in ports)


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
    if view.restarting:
        ago = human_duration(now - parse_time(view.finished_at))
        return f"Restarting ({view.exit_code}) {ago} ago"
    if view.status in ("running", "paused"):
        up = "Up " + human_duration(now - parse_time(view.started_at))
        if view.status == "paused":
            return up + " (Paused)"
        if view.health is not None:
            return f"{up} ({healthcheck.shown(view.health['Status'])})"
        return up
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
        "Ports": port_list((view.network_settings or {}).get("Ports") or {}),
        "Labels": dict(view.config.get("Labels") or {}),
        "State": "restarting" if view.restarting else view.status,
        "Status": status_text(view, now),
        "HostConfig": {"NetworkMode": view.host_config.get("NetworkMode") or "bridge"},
        "NetworkSettings": {"Networks": (view.network_settings or {}).get("Networks") or {}},
        "Mounts": [*shown_mounts(view.host_config), *view.volume_mounts],
    }


def shown_host_config(host_config: dict) -> dict:
    """The HostConfig as inspect shows it: the log driver the container got (the daemon's
    default, ``json-file``, when it named none), which docker-py reads after ``run``."""
    shown = dict(host_config)
    log_config = dict(shown.get("LogConfig") or {})
    log_config["Type"] = log_config.get("Type") or "json-file"
    log_config["Config"] = log_config.get("Config") or {}
    shown["LogConfig"] = log_config
    return shown


_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")


def shown_mounts(host_config: dict) -> list[dict]:
    """Inspect's ``Mounts``: the binds (``Binds``, and ``Mounts`` of type bind) and the
    tmpfs ``Mounts``, in Docker's shape (pure; what create refused is not there)."""
    shown: list[dict] = []
    for entry in host_config.get("Binds") or ():
        if not isinstance(entry, str) or not entry.startswith("/"):
            continue  # a volume: the view's volume_mounts
        parts = entry.split(":")
        if len(parts) not in (2, 3):
            continue
        modes = parts[2].split(",") if len(parts) == 3 else []
        propagation = next((m for m in modes if m in _PROPAGATIONS), "rprivate")
        shown.append({"Type": "bind", "Source": parts[0], "Destination": parts[1],
                      "Mode": parts[2] if len(parts) == 3 else "",
                      "RW": "ro" not in modes, "Propagation": propagation})
    for entry in host_config.get("Mounts") or ():
        if not isinstance(entry, dict) or entry.get("Type") not in ("bind", "tmpfs"):
            continue
        bind = entry["Type"] == "bind"
        propagation = (entry.get("BindOptions") or {}).get("Propagation") or "rprivate"
        shown.append({"Type": entry["Type"], "Source": entry.get("Source") or "",
                      "Destination": entry.get("Target") or "", "Mode": "",
                      "RW": not entry.get("ReadOnly"),
                      "Propagation": propagation if bind else ""})
    return shown


def inspect(view: View) -> dict:
    """``GET /containers/{id}/json``."""
    running = view.running
    return {
        "Id": view.id,
        "Created": view.created,
        "Path": view.args[0] if view.args else "",
        "Args": list(view.args[1:]),
        "State": {
            "Status": "restarting" if view.restarting else view.status,
            "Running": running, "Paused": view.status == "paused",
            "Restarting": view.restarting, "OOMKilled": view.oom_killed, "Dead": False,
            "Pid": view.pid if running else 0, "ExitCode": view.exit_code, "Error": "",
            "StartedAt": view.started_at or ZERO_TIME,
            "FinishedAt": view.finished_at or ZERO_TIME,
            **({"Health": view.health} if view.health is not None else {}),
        },
        "Image": view.image_id,
        "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "",
        "LogPath": view.log_path,
        "Name": view.name,
        "RestartCount": view.restart_count,
        "Driver": "overlayfs",
        "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": list(view.exec_ids) or None,
        "HostConfig": shown_host_config(view.host_config),
        "GraphDriver": {"Name": "overlayfs", "Data": None},
        "Mounts": [*shown_mounts(view.host_config), *view.volume_mounts],
        "Config": view.config,
        "NetworkSettings": view.network_settings or {
            "Bridge": "", "SandboxID": "", "Ports": {}, "SandboxKey": "", "Networks": {}},
    }
