"""A Docker container's networks: which it belongs to (its ``HostConfig.NetworkMode``
and ``NetworkingConfig``, kept in a label), what its task is attached with, and the
``NetworkSettings`` inspect shows (pure, but for nothing).

Docker's modes: ``bridge`` (the default network; ``default`` and "" say the same),
a user-defined network's name or id, ``host`` (the host's namespace), ``none`` (a
namespace with loopback only), ``container:<name|id>`` (another running container's).
"""

from __future__ import annotations

import ipaddress
import json

from estiba.engine.labels import NETWORKS
from estiba.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from estiba.metadata.networks import EndpointRecord, NetworkRecord
    from estiba.network.ports import Mapping

DEFAULT = "bridge"


def mode_of(host_config: dict) -> str:
    mode = host_config.get("NetworkMode") or DEFAULT
    if not isinstance(mode, str):
        raise InvalidArgument("invalid NetworkMode: a string is expected")
    return DEFAULT if mode == "default" else mode


def is_own(mode: str) -> bool:
    """Whether the mode gives the container endpoints of its own on networks."""
    return mode not in ("host", "none") and not mode.startswith("container:")


def members(host_config: dict, networking_config: dict | None) -> dict[str, dict]:
    """{network name or id: its EndpointSettings as given} for a create (pure)."""
    mode = mode_of(host_config)
    if mode.startswith("container:") and not mode.removeprefix("container:"):
        raise InvalidArgument("invalid NetworkMode: container: names no container")
    if not is_own(mode):
        return {}
    given = (networking_config or {}).get("EndpointsConfig") or {}
    if not isinstance(given, dict):
        raise InvalidArgument("invalid NetworkingConfig.EndpointsConfig: an object is "
                              "expected")
    given = {DEFAULT if name == "default" else name: settings
             for name, settings in given.items()}
    out = {mode: dict(given.get(mode) or {})}
    for name, settings in given.items():
        if name not in out:
            out[name] = dict(settings or {})
    return out


def members_of(container: Any) -> dict[str, dict]:
    return json.loads(dict(container.labels).get(NETWORKS) or "{}")


def published(config: dict, host_config: dict) -> list[Mapping]:
    """The ports the container asks to publish (``-p``, ``-P``); a bad one refused."""
    from estiba.network.ports import requested

    return requested(config.get("ExposedPorts"), host_config.get("PortBindings"),
                     bool(host_config.get("PublishAllPorts")))


def ports_json(config: dict, mappings: list[Mapping]) -> dict:
    """``NetworkSettings.Ports`` of a running container."""
    from estiba.network.ports import settings_ports

    return settings_ports(config.get("ExposedPorts"), mappings)


def port_list(ports: dict) -> list[dict]:
    """The ``Ports`` of a container in ``GET /containers/json``."""
    out: list[dict] = []
    for key, bindings in ports.items():
        port, _, proto = key.partition("/")
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto})
            continue
        out.extend({"IP": b.get("HostIp", ""), "PrivatePort": int(port),
                    "PublicPort": int(b["HostPort"]), "Type": proto}
                   for b in bindings if b.get("HostPort"))
    return out


def static_address(settings: dict) -> str:
    ipam = settings.get("IPAMConfig") or {}
    return str(ipam.get("IPv4Address") or "")


def endpoint_errors(network: NetworkRecord, settings: dict) -> list[str]:
    """What is wrong with EndpointSettings for ``network``, in dockerd's words and
    order (its ``validateEndpointSettings``): static addresses and aliases only on
    user-defined networks, addresses that parse, and a static IPv4 address inside the
    network's configured subnet (its ip-range when it has one; pure). The networks
    have no IPv6 subnet, so a static IPv6 address is never in one."""
    config = network.config or {}
    ipam = settings.get("IPAMConfig") or {}
    if not isinstance(ipam, dict):
        return ["invalid IPAMConfig: an object is expected"]
    v4, v6 = str(ipam.get("IPv4Address") or ""), str(ipam.get("IPv6Address") or "")
    found = []
    if config.get("builtin"):
        if v4 or v6:
            found.append("user specified IP address is supported on user defined "
                         "networks only")
        if settings.get("Aliases"):
            found.append("network-scoped alias is supported only for containers in "
                         "user defined networks")
    parsed = _ipv4(v4)
    if v4 and (parsed is None or parsed.is_unspecified):
        found.append(f"invalid IPv4 address: {v4}")
    if v6 and not _is_ipv6(v6):
        found.append(f"invalid IPv6 address: {v6}")
    for address in ipam.get("LinkLocalIPs") or ():
        if not _is_address(str(address)):
            found.append(f"invalid link-local IP address: {address}")
    # the default bridge's subnet counts as configured, as dockerd's has its pool set
    if v4 and (config.get("ipam_given") or config.get("builtin")):
        allowed = ipaddress.ip_network(config.get("ip_range") or config["subnet"],
                                       strict=False)
        if parsed is None or parsed not in allowed:
            found.append(f"no configured subnet or ip-range contain the IP address {v4}")
    elif v4:
        found.append(_NO_SUBNET)
    if v6:
        found.append(_NO_SUBNET)
    return found


def check_endpoint(network: NetworkRecord, settings: dict) -> None:
    """InvalidArgument with dockerd's message when ``endpoint_errors`` finds any."""
    found = endpoint_errors(network, settings)
    if not found:
        return
    joined = found[0] if len(found) == 1 else "* " + "\n* ".join(found)
    raise InvalidArgument(f"invalid endpoint settings:\n{joined}")


_NO_SUBNET = ("user specified IP address is supported only when connecting to networks "
              "with user configured subnets")


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address as Go's net.ParseIP(...).To4() takes it (an IPv4-mapped IPv6
    address too); None when it is not one."""
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        pass
    try:
        return ipaddress.IPv6Address(text).ipv4_mapped
    except ValueError:
        return None


def _is_ipv6(text: str) -> bool:
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return address.ipv4_mapped is None and not address.is_unspecified


def _is_address(text: str) -> bool:
    try:
        return not ipaddress.ip_address(text).is_unspecified
    except ValueError:
        return False


def aliases_of(settings: dict) -> list[str]:
    return [str(a) for a in settings.get("Aliases") or ()]


def endpoint_settings(network: NetworkRecord, endpoint: EndpointRecord | None,
                      given: dict) -> dict:
    """One entry of ``NetworkSettings.Networks``."""
    config = network.config or {}
    ep = endpoint.config or {} if endpoint is not None else {}
    prefix = str(config.get("subnet", "/0")).split("/")[1] if endpoint else ""
    return {
        "IPAMConfig": given.get("IPAMConfig") or None,
        "Links": None,
        "Aliases": aliases_of(given) or None,
        "MacAddress": endpoint.mac if endpoint else "",
        "DriverOpts": None,
        "NetworkID": network.id,
        "EndpointID": ep.get("endpoint_id", "") if endpoint else "",
        "Gateway": config.get("gateway", "") if endpoint else "",
        "IPAddress": endpoint.address if endpoint else "",
        "IPPrefixLen": int(prefix) if prefix else 0,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "DNSNames": None,
    }


def settings(networks: list[tuple[NetworkRecord, EndpointRecord | None, dict]],
             sandbox: str, ports: dict | None = None) -> dict:
    """``NetworkSettings``: the networks' entries, the first one's address also at the
    top, as Docker shows the default bridge's."""
    by_name = {net.name: endpoint_settings(net, ep, given) for net, ep, given in networks}
    first = next((by_name[net.name] for net, ep, _ in networks
                  if net.name == DEFAULT and ep is not None), None)
    top = {k: (first or {}).get(k, "" if k != "IPPrefixLen" else 0)
           for k in ("EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "MacAddress",
                     "IPv6Gateway", "GlobalIPv6Address")}
    top["GlobalIPv6PrefixLen"] = 0
    return {"Bridge": "", "SandboxID": sandbox.rsplit("/", 1)[-1] if sandbox else "",
            "SandboxKey": sandbox, "Ports": ports or {}, "HairpinMode": False,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
            **top, "Networks": by_name}
