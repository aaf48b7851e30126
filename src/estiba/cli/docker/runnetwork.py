"""The ports and networks of ``run``/``create``: ``-p`` and ``--expose`` as docker's
nat package reads them (ExposedPorts, PortBindings), ``--network`` (its short and CSV
forms) with ``--network-alias``, ``--link``, ``--ip``, ``--ip6``, ``--mac-address`` and
``--link-local-ip`` as the EndpointsConfig docker's CLI sends. Pure."""

from __future__ import annotations

from estiba.cli.docker.gonumbers import decimal_int, decimal_uint
from estiba.cli.docker.runopts import ConfigError
from estiba.cli.docker.runvalues import _csv_fields, _ip, is_mac

# --- ports ---------------------------------------------------------------------------------


def _split_proto(raw: str) -> tuple[str, str]:
    """nat.SplitProtoPort: (protocol, port); tcp unless given."""
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _port_range(text: str) -> tuple[int, int]:
    if not text:
        raise ValueError("empty string specified for ports")
    if "-" not in text:
        start = decimal_uint(text, 16)
        return start, start
    parts = text.split("-")
    start, end = decimal_uint(parts[0], 16), decimal_uint(parts[1], 16)
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    return start, end


def _publish_standard(raw: str) -> str:
    """``-p``'s long syntax (``target=80,published=8080,protocol=udp``) in the short."""
    if "=" not in raw:
        return raw
    params = {"protocol": "tcp"}
    for param in raw.split(","):
        key, sep, value = param.partition("=")
        if not sep or not key:
            raise ConfigError(f"invalid publish opts format (should be name=value but "
                              f"got '{param}')")
        params[key] = value
    return f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}"


def port_specs(specs: list[str]) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """``-p [IP:][HOST[-END]:]PORT[-END][/PROTO]`` as (ExposedPorts, PortBindings)."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict]] = {}
    for raw in (_publish_standard(s) for s in specs):
        parts = raw.split(":")
        container = parts[-1]
        ip, host = (":".join(parts[:-2]), parts[-2]) if len(parts) > 2 else \
            ("", parts[0] if len(parts) == 2 else "")
        proto, container = _split_proto(container)
        if ip.startswith("["):
            if not ip.endswith("]"):
                raise ConfigError(f"invalid IP address {ip}: address {ip}:: missing ']' "
                                  "in address")
            ip = ip[1:-1]
        if ip and _ip(ip) is None:
            raise ConfigError(f"invalid IP address: {ip}")
        if not container:
            raise ConfigError(f"no port specified: {raw}<empty>")
        try:
            start, end = _port_range(container)
        except ValueError:
            raise ConfigError(f"invalid containerPort: {container}") from None
        host_start = host_end = 0
        if host:
            try:
                host_start, host_end = _port_range(host)
            except ValueError:
                raise ConfigError(f"invalid hostPort: {host}") from None
            if end - start != host_end - host_start and end != start:
                raise ConfigError("invalid ranges specified for container and host Ports: "
                                  f"{container} and {host}")
        proto = proto.lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise ConfigError(f"invalid proto: {proto}")
        count = end - start + 1
        for i in range(count):
            port = f"{start + i}/{proto}"
            host_port = ""
            if host:
                host_port = str(host_start + i)
                if count == 1 and host_start != host_end:
                    host_port += f"-{host_end}"
            exposed.setdefault(port, {})
            bindings.setdefault(port, []).append({"HostIp": ip, "HostPort": host_port})
    return exposed, bindings


def expose(spec: str) -> list[str]:
    """``--expose PORT[-END][/PROTO]``: the ports it adds to ExposedPorts."""
    if ":" in spec:
        raise ConfigError(f"invalid port format for --expose: {spec}")
    proto, port = _split_proto(spec)
    try:
        start, end = _port_range(port)
    except ValueError as err:
        raise ConfigError(f"invalid range format for --expose: {spec}, error: {err}"
                          ) from None
    return [f"{p}/{proto}" for p in range(start, end + 1)]


# --- networks --------------------------------------------------------------------------------


def network_attachment(text: str) -> dict:
    """``--network NAME`` or its long form (``name=N,alias=A,ip=...``)."""
    att: dict = {"Target": text, "Aliases": [], "Links": [], "IPv4Address": "",
                 "IPv6Address": "", "MacAddress": "", "LinkLocalIPs": [],
                 "DriverOpts": {}, "GwPriority": 0}
    if not _long_syntax(text):
        return att
    att["Target"] = ""
    for field in _csv_fields(text):
        key, sep, value = field.lower().partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"invalid field {field}")
        if key == "name":
            att["Target"] = value
        elif key == "alias":
            att["Aliases"].append(value)
        elif key == "ip":
            att["IPv4Address"] = value
        elif key == "ip6":
            att["IPv6Address"] = value
        elif key == "mac-address":
            att["MacAddress"] = value
        elif key == "link-local-ip":
            att["LinkLocalIPs"].append(value)
        elif key == "driver-opt":
            k, eq, v = value.partition("=")
            if not eq:
                raise ValueError("invalid key value pair format in driver options")
            att["DriverOpts"][k.strip().lower()] = v.strip()
        elif key == "gw-priority":
            att["GwPriority"] = decimal_int(value)
        else:
            raise ValueError(f"invalid field key {key}")
    if not att["Target"]:
        raise ValueError("network name/id is not specified")
    return att


def _long_syntax(text: str) -> bool:
    """docker's test for the long form: a word, ``=``, a word, somewhere in it."""
    def word(c: str) -> bool:
        return c.isascii() and (c.isalnum() or c == "_")

    return any(c == "=" and 0 < i < len(text) - 1 and word(text[i - 1])
               and word(text[i + 1]) for i, c in enumerate(text))


def _user_defined(mode: str) -> bool:
    return mode not in ("default", "bridge", "host", "none") and \
        not mode.startswith("container:")


def _endpoint(att: dict) -> dict:
    """An attachment's EndpointSettings."""
    if not att["Target"].strip():
        raise ConfigError("no name set for network")
    if not _user_defined(att["Target"]):
        if att["Aliases"]:
            raise ConfigError("network-scoped aliases are only supported for "
                              "user-defined networks")
        if att["Links"]:
            raise ConfigError("links are only supported for user-defined networks")
    ep = {"Aliases": att["Aliases"] or None, "DNSNames": None,
          "DriverOpts": att["DriverOpts"] or None, "EndpointID": "", "Gateway": "",
          "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
          "GwPriority": att["GwPriority"], "IPAMConfig": None, "IPAddress": "",
          "IPPrefixLen": 0, "IPv6Gateway": "", "Links": att["Links"] or None,
          "MacAddress": "", "NetworkID": ""}
    if att["IPv4Address"] or att["IPv6Address"] or att["LinkLocalIPs"]:
        ipam = {"IPv4Address": att["IPv4Address"], "IPv6Address": att["IPv6Address"],
                "LinkLocalIPs": att["LinkLocalIPs"]}
        ep["IPAMConfig"] = {k: v for k, v in ipam.items() if v}
    if att["MacAddress"]:
        if not is_mac(att["MacAddress"]):
            raise ConfigError(f"{att['MacAddress']} is not a valid mac address")
        ep["MacAddress"] = att["MacAddress"]
    return ep


def endpoints(networks: list[dict], *, aliases: list[str], links: list[str], ipv4: str,
              ipv6: str, mac: str, link_local: list[str]) -> dict[str, dict]:
    """NetworkingConfig's EndpointsConfig: the first network (``default`` when none is
    named) takes ``--network-alias``, ``--link``, ``--ip``, ``--ip6``,
    ``--mac-address`` and ``--link-local-ip``."""
    implicit = not networks
    if implicit:
        networks = [network_attachment("default")]
    out: dict[str, dict] = {}
    kinds = set()
    for i, att in enumerate(networks):
        kinds.add(_user_defined(att["Target"]))
        if i == 0:
            _apply_container_options(att, aliases, links, ipv4, ipv6, mac, link_local)
        ep = _endpoint(att)
        if att["Target"] in out:
            raise ConfigError(f'network "{att["Target"]}" is specified multiple times')
        if not implicit and len(networks) == 1 and not any(ep.values()):
            continue  # the daemon makes the endpoint of a lone plain network
        out[att["Target"]] = ep
    if not implicit and len(kinds) > 1:
        raise ConfigError("conflicting options: cannot attach both user-defined and "
                          "non-user-defined network-modes")
    return out


def _apply_container_options(att: dict, aliases: list[str], links: list[str], ipv4: str,
                             ipv6: str, mac: str, link_local: list[str]) -> None:
    for mine, theirs, what in ((att["Aliases"], aliases, "--network-alias and per-network "
                                "alias"), (att["Links"], links, "--link and per-network "
                                "links"), (att["IPv4Address"], ipv4, "--ip and per-network "
                                "IPv4 address"), (att["IPv6Address"], ipv6, "--ip6 and "
                                "per-network IPv6 address"), (att["MacAddress"], mac,
                                "--mac-address and per-network MAC address"),
                               (att["LinkLocalIPs"], link_local, "--link-local-ip and "
                                "per-network link-local IP addresses")):
        if mine and theirs:
            raise ConfigError(f"conflicting options: cannot specify both {what}")
    if aliases:
        att["Aliases"] = list(aliases)
    if _user_defined(att["Target"]) and links:
        # on a user-defined network a link is an alias; on the default bridge, a
        # legacy link in HostConfig.Links
        att["Links"] = list(links)
    att["IPv4Address"] = ipv4 or att["IPv4Address"]
    att["IPv6Address"] = ipv6 or att["IPv6Address"]
    att["MacAddress"] = mac or att["MacAddress"]
    if link_local:
        att["LinkLocalIPs"] = list(link_local)
