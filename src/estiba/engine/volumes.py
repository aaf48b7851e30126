"""Docker's volumes over the daemon's ``VolumeService``: which volumes a container asks
for (``-v name:/path``, ``--mount type=volume``, the image's and the create's
``Volumes``, ``--volumes-from``; pure), and ``docker volume`` (create, ls with Docker's
filters, inspect, rm, prune) with Docker's JSON."""

from __future__ import annotations

import json
import os

from estiba import errors
from estiba.engine import filters as filtering
from estiba.engine.labels import VOLUMES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from estiba.metadata.volumes import VolumeRecord

LIST_FILTERS = ("dangling", "driver", "label", "name")
PRUNE_FILTERS = ("label", "label!", "all")


class Request:
    """One volume a container mounts: ``name`` "" for a new anonymous one."""

    __slots__ = ("name", "destination", "read_only", "nocopy", "options", "labels",
                 "driver")

    def __init__(self, name: str, destination: str, read_only: bool = False,
                 nocopy: bool = False, options: dict | None = None,
                 labels: dict | None = None, driver: str = "local") -> None:
        self.name = name
        self.destination = destination
        self.read_only = read_only
        self.nocopy = nocopy
        self.options = dict(options or {})
        self.labels = dict(labels or {})
        self.driver = driver


def is_volume_bind(entry: str) -> bool:
    """Whether a ``Binds`` entry names a volume (``name:/path``), not a host path."""
    return not entry.startswith("/")


def requests(config: dict, host_config: dict, image_volumes: Iterable[str],
             taken: Iterable[str]) -> list[Request]:
    """The volumes of a create: its ``Binds`` of volumes, its ``Mounts`` of type volume,
    then an anonymous one for each path of the image's and the create's ``Volumes``
    that nothing else (``taken``: binds, tmpfs) is mounted on (pure)."""
    out: list[Request] = []
    for entry in host_config.get("Binds") or ():
        if isinstance(entry, str) and is_volume_bind(entry):
            out.append(_bind_request(entry))
    for entry in host_config.get("Mounts") or ():
        if isinstance(entry, dict) and entry.get("Type") == "volume":
            out.append(_mount_request(entry))
    mounted = {r.destination for r in out} | {os.path.normpath(t) for t in taken}
    wanted = [*image_volumes, *(config.get("Volumes") or {})]
    for path in dict.fromkeys(wanted):
        if not isinstance(path, str) or not path.startswith("/"):
            raise errors.InvalidArgument(f"invalid volume path {path!r}: it must be "
                                         "absolute")
        if os.path.normpath(path) not in mounted:
            out.append(Request("", os.path.normpath(path)))
    return out


def _bind_request(entry: str) -> Request:
    parts = entry.split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise errors.InvalidArgument(f"invalid volume specification: '{entry}'")
    name, target = parts[0], parts[1]
    if not target.startswith("/"):
        raise errors.InvalidArgument(f'invalid mount config for type "volume": invalid '
                                     f"mount path: '{target}' mount path must be absolute")
    read_only, nocopy = False, False
    for mode in parts[2].split(",") if len(parts) == 3 else ():
        if mode in ("ro", "rw"):
            read_only = mode == "ro"
        elif mode == "nocopy":
            nocopy = True
        elif mode not in ("z", "Z", "consistent", "cached", "delegated"):
            raise errors.InvalidArgument(f"invalid mode: {parts[2]}")
    return Request(name, os.path.normpath(target), read_only, nocopy)


def _mount_request(entry: dict) -> Request:
    target = entry.get("Target") or ""
    if not isinstance(target, str) or not target.startswith("/"):
        raise errors.InvalidArgument(f'invalid mount config for type "volume": invalid '
                                     f"mount path: '{target}' mount path must be absolute")
    options = entry.get("VolumeOptions") or {}
    driver = options.get("DriverConfig") or {}
    return Request(str(entry.get("Source") or ""), os.path.normpath(target),
                   bool(entry.get("ReadOnly")), bool(options.get("NoCopy")),
                   driver.get("Options") or {}, options.get("Labels") or {},
                   driver.get("Name") or "local")


def used_by(container: Any) -> list[dict]:
    """The volumes a container mounts, as its label keeps them: {Name, Destination, RW,
    Anonymous}."""
    return json.loads(dict(container.labels).get(VOLUMES) or "[]")


def mount_json(entry: dict, mountpoint: str) -> dict:
    """An item of inspect's ``Mounts`` for a volume."""
    return {"Type": "volume", "Name": entry["Name"], "Source": mountpoint,
            "Destination": entry["Destination"], "Driver": "local",
            "Mode": "" if entry["RW"] else "ro", "RW": entry["RW"], "Propagation": ""}


class Volumes:
    """``docker volume`` in a namespace; ``users(name)`` says which containers use it."""

    def __init__(self, service: Any, namespace: str,
                 users: Callable[[], dict[str, list[str]]]) -> None:
        self.service = service
        self.ns = namespace
        self.users = users  # {volume name: [container ids]}
        self.emit: Callable[..., None] = lambda *args, **kw: None

    def create(self, body: dict) -> dict:
        if not isinstance(body, dict):
            raise errors.InvalidArgument("invalid JSON: an object is expected")
        for key in ("DriverOpts", "Labels"):
            value = body.get(key)
            if value is not None and not (isinstance(value, dict) and all(
                    isinstance(v, str) for v in value.values())):
                raise errors.InvalidArgument(f"invalid {key}: a map of strings is expected")
        record, made = self.service.create(
            self.ns, str(body.get("Name") or ""), driver=body.get("Driver") or "local",
            options=body.get("DriverOpts") or {}, labels=body.get("Labels") or {})
        if made:
            self.emit("volume", "create", record.name, {"driver": record.driver})
        return self._json(record)

    def list(self, filters: str = "") -> dict:
        wanted = filtering.parse(filters, LIST_FILTERS)
        users = self.users()
        return {"Volumes": [self._json(v) for v in self.service.list(self.ns)
                            if _matches(v, wanted, bool(users.get(v.name)))],
                "Warnings": None}

    def inspect(self, name: str) -> dict:
        return self._json(self.service.get(self.ns, name))

    def remove(self, name: str, force: bool = False) -> None:
        record = self.service.get(self.ns, name)
        users = self.users().get(name)
        if users:
            raise errors.Conflict(f"remove {name}: volume is in use - "
                                  f"[{', '.join(users)}]")
        self.service.remove(self.ns, record.name)
        self.emit("volume", "destroy", record.name, {"driver": record.driver})

    def prune(self, filters: str = "") -> dict:
        """Unused anonymous volumes (``all=true``: every unused one), label filters."""
        wanted = filtering.parse(filters, PRUNE_FILTERS)
        every = filtering.boolean(wanted, "all")
        users = self.users()
        deleted, reclaimed = [], 0
        for record in self.service.list(self.ns):
            labels = dict(record.labels)
            if users.get(record.name) or not (record.anonymous or every):
                continue
            if not filtering.labels_pass(labels, wanted):
                continue
            size = max(0, self.service.size(record.name))
            try:
                self.remove(record.name)
            except (errors.Conflict, errors.NotFound):
                continue
            deleted.append(record.name)
            reclaimed += size
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def usage(self) -> list[dict]:
        """``system df``'s volumes: each with its size and how many use it."""
        users = self.users()
        out = []
        for record in self.service.list(self.ns):
            shown = self._json(record)
            shown["UsageData"] = {"Size": self.service.size(record.name),
                                  "RefCount": len(users.get(record.name) or ())}
            out.append(shown)
        return out

    def _json(self, record: VolumeRecord) -> dict:
        return {"CreatedAt": record.created_at, "Driver": record.driver,
                "Labels": dict(record.labels) or None,
                "Mountpoint": self.service.mountpoint(record.name), "Name": record.name,
                "Options": dict(record.options) or None, "Scope": "local"}


def _matches(record: VolumeRecord, wanted: dict[str, list[str]], used: bool) -> bool:
    if "name" in wanted and not any(v in record.name for v in wanted["name"]):
        return False
    if "driver" in wanted and record.driver not in wanted["driver"]:
        return False
    if not filtering.labels_pass(dict(record.labels), wanted):
        return False
    dangling = filtering.boolean(wanted, "dangling")
    return dangling is None or dangling == (not used)
