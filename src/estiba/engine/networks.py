"""``docker network``: Docker's network verbs and JSON over the daemon's
``NetworkService`` — create (``IPAM.Config``, ``Internal``, ``Options``, ``Labels``),
list with Docker's filters, inspect with the attached containers, remove, prune,
connect and disconnect (kept in the container's members; a running container's
endpoint made or deleted at once)."""

from __future__ import annotations

import time

from estiba import errors
from estiba.engine import filters as filtering
from estiba.engine import networking
from estiba.engine.inspect import parse_time
from estiba.engine.labels import NAME

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from estiba.engine.containers import Containers
    from estiba.metadata.networks import EndpointRecord, NetworkRecord

LIST_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")
BUILTIN_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.driver.mtu": "1500",
}


class Networks:
    def __init__(self, service: Any, namespace: str, containers: Containers) -> None:
        self.service = service
        self.ns = namespace
        self.containers = containers
        self.emit: Callable[..., None] = lambda *args, **kw: None

    # --- verbs ---------------------------------------------------------------------

    def create(self, body: dict) -> dict:
        """``POST /networks/create``: {"Id", "Warning"}."""
        if not isinstance(body, dict):
            raise errors.InvalidArgument("invalid JSON: an object is expected")
        name = body.get("Name")
        if not isinstance(name, str) or not name:
            raise errors.InvalidArgument("network name cannot be empty")
        if name in ("bridge", "host", "none", "default"):
            raise errors.PermissionDenied(f"{name} is a pre-defined network and cannot "
                                          "be created")
        if body.get("EnableIPv6"):
            raise errors.Unimplemented("IPv6 networks are not supported yet")
        ipam = body.get("IPAM") or {}
        if not isinstance(ipam, dict):
            raise errors.InvalidArgument("invalid IPAM: an object is expected")
        if (ipam.get("Driver") or "default") != "default":
            raise errors.NotFound(f"plugin \"{ipam['Driver']}\" not found")
        pools = ipam.get("Config") or []
        if not isinstance(pools, list) or not all(isinstance(p, dict) for p in pools):
            raise errors.InvalidArgument("invalid IPAM.Config: a list of objects is "
                                         "expected")
        if len(pools) > 1:
            raise errors.Unimplemented("more than one IPv4 pool per network is not "
                                       "supported yet")
        pool = pools[0] if pools else {}
        for key in ("Options", "Labels"):
            value = body.get(key)
            if value is not None and not (isinstance(value, dict) and all(
                    isinstance(v, str) for v in value.values())):
                raise errors.InvalidArgument(f"invalid {key}: a map of strings is expected")
        network = self.service.create(
            self.ns, name, driver=body.get("Driver") or "bridge",
            subnet=str(pool.get("Subnet") or ""), gateway=str(pool.get("Gateway") or ""),
            ip_range=str(pool.get("IPRange") or ""), internal=bool(body.get("Internal")),
            options=body.get("Options") or {}, labels=body.get("Labels") or {},
            attachable=bool(body.get("Attachable")))
        self.emit("network", "create", network.id,
                  {"name": network.name, "type": network.driver})
        return {"Id": network.id, "Warning": ""}

    def list(self, filters: str = "") -> list[dict]:
        wanted = filtering.parse(filters, LIST_FILTERS)
        every = self.service.list(self.ns)
        used = {e.network_id for e in self.service.endpoints(self.ns)}
        return [self._json(n, {}) for n in every if _matches(n, wanted, n.id in used)]

    def inspect(self, ref: str) -> dict:
        network = self.service.get(self.ns, ref)
        return self._json(network, self._members(network))

    def remove(self, ref: str) -> None:
        network = self.service.get(self.ns, ref)
        if (network.config or {}).get("builtin"):
            raise errors.PermissionDenied(f"{network.name} is a pre-defined network and "
                                          "cannot be removed")
        try:
            self.service.remove(self.ns, network.id)
        except errors.FailedPrecondition as err:
            raise errors.PermissionDenied(str(err)) from err
        self.emit("network", "destroy", network.id,
                  {"name": network.name, "type": network.driver})

    def prune(self, filters: str = "") -> dict:
        """``POST /networks/prune``: every user-defined network without endpoints
        (``until``, ``label`` filters)."""
        wanted = filtering.parse(filters, ("until", "label", "label!"))
        until = (filtering.parse_until(wanted["until"][0], time.time())
                 if "until" in wanted else None)
        used = {e.network_id for e in self.service.endpoints(self.ns)}
        deleted = []
        for network in self.service.list(self.ns):
            labels = dict(network.labels)
            if (network.config or {}).get("builtin") or network.id in used:
                continue
            if not filtering.labels_pass(labels, wanted):
                continue
            if until is not None and parse_time(network.created_at) >= until:
                continue
            try:
                self.remove(network.id)
            except (errors.PermissionDenied, errors.NotFound):
                continue
            deleted.append(network.name)
        return {"NetworksDeleted": deleted or None}

    def connect(self, ref: str, body: dict) -> None:
        """``POST /networks/{id}/connect``: the container a member; attached now when it
        runs."""
        network = self.service.get(self.ns, ref)
        container_ref = body.get("Container") if isinstance(body, dict) else None
        if not isinstance(container_ref, str) or not container_ref:
            raise errors.InvalidArgument("container is required")
        settings = body.get("EndpointConfig") or {}
        if not isinstance(settings, dict):
            raise errors.InvalidArgument("invalid EndpointConfig: an object is expected")
        if network.driver != "bridge":
            raise errors.PermissionDenied(
                f"container cannot be disconnected from host network or connected to "
                f"{network.name} network" if network.driver == "host" else
                "container cannot be connected to multiple networks with one of the "
                "networks in private (none) mode")
        networking.check_endpoint(network, settings)
        self.containers.change_networks(container_ref, network, settings, connect=True)
        self.emit("network", "connect", network.id,
                  {"name": network.name, "type": network.driver,
                   "container": self.containers.resolve(container_ref)})

    def disconnect(self, ref: str, body: dict) -> None:
        network = self.service.get(self.ns, ref)
        container_ref = body.get("Container") if isinstance(body, dict) else None
        if not isinstance(container_ref, str) or not container_ref:
            raise errors.InvalidArgument("container is required")
        self.containers.change_networks(container_ref, network, {}, connect=False)
        self.emit("network", "disconnect", network.id,
                  {"name": network.name, "type": network.driver,
                   "container": self.containers.resolve(container_ref)})

    # --- JSON ------------------------------------------------------------------------

    def _members(self, network: NetworkRecord) -> dict[str, dict]:
        out = {}
        for endpoint in self.service.endpoints(self.ns, network_id=network.id):
            out[endpoint.container_id] = self._member(network, endpoint)
        return out

    def _member(self, network: NetworkRecord, endpoint: EndpointRecord) -> dict:
        try:
            name = dict(self.containers.record(endpoint.container_id).labels).get(NAME, "")
        except errors.NotFound:
            name = ""
        prefix = str((network.config or {}).get("subnet", "/0")).split("/")[1]
        return {"Name": name.lstrip("/"),
                "EndpointID": (endpoint.config or {}).get("endpoint_id", ""),
                "MacAddress": endpoint.mac,
                "IPv4Address": f"{endpoint.address}/{prefix}" if endpoint.address else "",
                "IPv6Address": ""}

    @staticmethod
    def _json(network: NetworkRecord, members: dict) -> dict:
        config = network.config or {}
        pools = []
        if network.driver == "bridge":
            pool = {"Subnet": config["subnet"], "Gateway": config["gateway"]}
            if config.get("ip_range") and config["ip_range"] != config["subnet"]:
                pool["IPRange"] = config["ip_range"]
            pools.append(pool)
        if config.get("builtin") and network.driver == "bridge":
            options = {**BUILTIN_OPTIONS, "com.docker.network.bridge.name": config["bridge"]}
        else:
            options = dict(config.get("options") or {})
        return {
            "Name": network.name, "Id": network.id, "Created": network.created_at,
            "Scope": "local", "Driver": network.driver, "EnableIPv4": True,
            "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None if config.get("builtin") else {},
                     "Config": pools},
            "Internal": bool(config.get("internal")),
            "Attachable": bool(config.get("attachable")), "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
            "Containers": members, "Options": options, "Labels": dict(network.labels),
        }


def _matches(network: NetworkRecord, wanted: dict[str, list[str]], used: bool) -> bool:
    builtin = bool((network.config or {}).get("builtin"))
    if "driver" in wanted and network.driver not in wanted["driver"]:
        return False
    if "id" in wanted and not any(network.id.startswith(v) for v in wanted["id"]):
        return False
    if "name" in wanted and not any(v in network.name for v in wanted["name"]):
        return False
    if "scope" in wanted and "local" not in wanted["scope"]:
        return False
    if not filtering.labels_pass(dict(network.labels), wanted):
        return False
    for kind in wanted.get("type", ()):
        if kind not in ("custom", "builtin"):
            raise errors.InvalidArgument(f"invalid filter: 'type'='{kind}'")
    if "type" in wanted and ("builtin" if builtin else "custom") not in wanted["type"]:
        return False
    dangling = filtering.boolean(wanted, "dangling")
    return dangling is None or dangling == (not builtin and not used)

