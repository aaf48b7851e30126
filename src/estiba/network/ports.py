"""Published and exposed ports: Docker's ``Config.ExposedPorts``,
``HostConfig.PortBindings`` and ``PublishAllPorts`` turned into ``Mapping`` records, host
ports chosen for those that leave it open, and the shapes Docker shows back
(``NetworkSettings.Ports``, the lines of ``docker port``).

A port key is ``PORT[-LAST][/PROTO]``, the protocol ``tcp`` when absent; ``sctp`` parses
but Estiba's firewall may refuse it. Only IPv4 host addresses are published: a binding
on ``""`` or ``0.0.0.0`` means every host address, and shows as ``0.0.0.0``.

Pure but for ``local_range``, which reads the kernel's ephemeral port range, where Docker
takes the ports it chooses from.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from estiba.errors import Conflict, InvalidArgument, NotFound, Unavailable, Unimplemented

PROTOS = ("tcp", "udp", "sctp")
ANY_IP = "0.0.0.0"
DEFAULT_RANGE = (32768, 60999)  # the kernel's default ip_local_port_range


@dataclass(frozen=True)
class Mapping:
    """One published port: container ``port``/``proto`` reached on ``host_ip``:
    ``host_port``. ``host_port`` 0 means "to choose", from ``host_range`` when the user
    gave one (``-p 8000-8010:80``: any free port of it) or else the ephemeral range."""

    proto: str
    port: int
    host_ip: str = ANY_IP
    host_port: int = 0
    host_range: tuple[int, int] | None = None

    @property
    def key(self) -> str:
        return f"{self.port}/{self.proto}"


def port_key(key: str) -> tuple[int, int, str]:
    """``"80/tcp"``, ``"80"`` (tcp), ``"8000-8010/udp"`` as (first, last, proto)."""
    port, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOS:
        raise InvalidArgument(f"invalid proto: {proto}")
    span = _port_range(port)
    if span is None:
        raise InvalidArgument(f"invalid port specification: {_quoted(port)}")
    return span[0], span[1], proto


def requested(exposed: dict | None, bindings: dict | None, publish_all: bool) -> list[Mapping]:
    """The mappings a container asks for: every binding of ``bindings``
    (``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}``), then, with ``publish_all``,
    every port of ``exposed`` not bound yet, on a port to choose.

    A container range bound to a host range of the same size is spread one to one; a
    single container port bound to a host range may take any free port of it.
    """
    mappings: list[Mapping] = []
    bound: set[tuple[str, int]] = set()
    for key, entries in (bindings or {}).items():
        first, last, proto = port_key(key)
        for entry in entries or ():
            host_ip = _host_ip(str((entry or {}).get("HostIp") or ""))
            host_text = str((entry or {}).get("HostPort") or "")
            host = _host_ports(host_text)
            ports = range(first, last + 1)
            if host is None:
                mappings += [Mapping(proto, port, host_ip) for port in ports]
            elif first == last and host[0] != host[1]:
                mappings.append(Mapping(proto, first, host_ip, 0, host))
            elif host[1] - host[0] == last - first:
                mappings += [Mapping(proto, port, host_ip, host[0] + i)
                             for i, port in enumerate(ports)]
            else:
                port_text = key.partition("/")[0]
                raise InvalidArgument("invalid ranges specified for container and host "
                                      f"Ports: {port_text} and {host_text}")
            bound.update((proto, port) for port in ports)
    if publish_all:
        for key in exposed or {}:
            first, last, proto = port_key(key)
            mappings += [Mapping(proto, port) for port in range(first, last + 1)
                         if (proto, port) not in bound]
    return mappings


def choose(mappings: Sequence[Mapping], in_use: Callable[[str, str, int], bool],
           port_range: tuple[int, int] = DEFAULT_RANGE) -> list[Mapping]:
    """``mappings`` with every host port to choose replaced by a free one.

    ``in_use(proto, host_ip, port)`` says whether a host port is taken already (by
    another container or a listener of the host). Explicit ports are claimed first, so a
    chosen port never steals one the user named. Two mappings of the same protocol never
    share a host port when either listens on every address.
    """
    claimed: list[tuple[str, str, int]] = []

    def clashes(proto: str, host_ip: str, port: int) -> bool:
        return any(p == proto and n == port and (ip == host_ip or ANY_IP in (ip, host_ip))
                   for p, ip, n in claimed)

    for m in mappings:
        if m.host_port:
            if clashes(m.proto, m.host_ip, m.host_port) or in_use(m.proto, m.host_ip,
                                                                  m.host_port):
                raise Conflict(f"Bind for {m.host_ip}:{m.host_port} failed: "
                               "port is already allocated")
            claimed.append((m.proto, m.host_ip, m.host_port))

    chosen = []
    for m in mappings:
        if not m.host_port:
            lo, hi = m.host_range or port_range
            port = next((n for n in range(lo, hi + 1)
                         if not clashes(m.proto, m.host_ip, n)
                         and not in_use(m.proto, m.host_ip, n)), 0)
            if not port:
                raise Unavailable(f"publish {m.key} on {m.host_ip}: all ports from {lo} "
                                  f"to {hi} are allocated")
            claimed.append((m.proto, m.host_ip, port))
            m = replace(m, host_port=port)
        chosen.append(m)
    return chosen


def local_range(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> tuple[int, int]:
    """The kernel's ephemeral port range, where chosen host ports come from (as in
    Docker); the kernel's default when the file is missing or odd."""
    try:
        with open(path) as f:
            lo, hi = (int(word) for word in f.read().split())
    except (OSError, ValueError):
        return DEFAULT_RANGE
    if not 1 <= lo <= hi <= 65535:
        return DEFAULT_RANGE
    return lo, hi


def settings_ports(exposed: dict | None, mappings: Sequence[Mapping]) -> dict:
    """Docker's ``NetworkSettings.Ports``: each exposed or published port to its host
    bindings, ``None`` when not published:
    ``{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None}``."""
    ports: dict[str, list[dict[str, str]] | None] = {}
    for key in exposed or {}:
        first, last, proto = port_key(key)
        for port in range(first, last + 1):
            ports.setdefault(f"{port}/{proto}", None)
    for m in mappings:
        entries = ports.get(m.key) or []
        entries.append({"HostIp": m.host_ip,
                        "HostPort": str(m.host_port) if m.host_port else ""})
        ports[m.key] = entries
    return {key: ports[key] for key in sorted(ports, key=_key_order)}


def port_lines(ports: dict, private: str = "", container: str = "") -> list[str]:
    """The lines ``docker port CONTAINER [PRIVATE]`` prints from ``NetworkSettings.Ports``:
    ``80/tcp -> 0.0.0.0:8080`` for each binding, or ``0.0.0.0:8080`` for those of
    ``private`` (``80`` meaning ``80/tcp``), in natural order."""
    if not private:
        lines = [f"{key} -> {_host_port(b)}" for key, bound in ports.items()
                 for b in bound or ()]
        return sorted(lines, key=_natural)
    port, _, proto = private.partition("/")
    if not port.isdigit() or not port.isascii() or int(port) > 65535:
        raise InvalidArgument(f"invalid port ({port})")
    bound = ports.get(f"{int(port)}/{proto or 'tcp'}")
    if not bound:
        raise NotFound(f"no public port '{private}' published for {container}".rstrip())
    return sorted((_host_port(b) for b in bound), key=_natural)


# --- helpers ---------------------------------------------------------------------------


def _port_range(text: str) -> tuple[int, int] | None:
    """``"80"`` or ``"8000-8010"`` as (first, last), or None: ports 1 to 65535."""
    first, dash, last = text.partition("-")
    if not dash:
        last = first
    numbers = []
    for part in (first, last):
        if not part.isdigit() or not part.isascii() or not 1 <= int(part) <= 65535:
            return None
        numbers.append(int(part))
    if numbers[0] > numbers[1]:
        return None
    return numbers[0], numbers[1]


def _host_ports(text: str) -> tuple[int, int] | None:
    """A binding's HostPort: None for "" or "0" (to choose), else its range."""
    if text in ("", "0"):
        return None
    span = _port_range(text)
    if span is None:
        raise InvalidArgument(f"invalid port specification: {_quoted(text)}")
    return span


def _host_ip(text: str) -> str:
    if text in ("", ANY_IP):
        return ANY_IP
    try:
        address = ipaddress.ip_address(text)
    except ValueError as err:
        raise InvalidArgument(f"invalid IP address: {text}") from err
    if address.version != 4:
        raise Unimplemented(f"publish on {text}: only IPv4 host addresses are supported")
    return str(address)


def _host_port(binding: dict) -> str:
    host_ip = str(binding.get("HostIp") or "")
    host_port = str(binding.get("HostPort") or "")
    if ":" in host_ip:  # IPv6, bracketed as Go's net.JoinHostPort does
        return f"[{host_ip}]:{host_port}"
    return f"{host_ip}:{host_port}"


def _key_order(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return int(port), proto


def _natural(text: str) -> list[int | str]:
    # digits compared as numbers, as the docker CLI sorts: 80/tcp before 443/tcp
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _quoted(text: str) -> str:
    # Go's %q, which Docker's messages use, for the strings a port can hold
    return json.dumps(text, ensure_ascii=False)
