"""The files Docker gives every container at /etc/hostname, /etc/hosts and
/etc/resolv.conf: their text and their bind mounts (pure), and ``write``, which makes
them. They live beside the container's other engine files, not in its writable layer,
so that diff, export and commit leave them out."""

from __future__ import annotations

import contextlib
import os

from estiba.engine.jsontypes import mismatch
from estiba.errors import InvalidArgument

DEFAULT_DNS = ("8.8.8.8", "8.8.4.4")  # Docker's, when the host gives none usable

LOCALHOST = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def hosts_text(extra_hosts: list[str] | None = None,
               addresses: list[tuple[str, str]] | None = None) -> str:
    """/etc/hosts: localhost, ``--add-host name:ip`` entries, then the container's own
    ``(address, names)`` lines."""
    lines = [LOCALHOST]
    if extra_hosts is not None and not isinstance(extra_hosts, list):
        raise mismatch(extra_hosts, "HostConfig.ExtraHosts", "[]string")
    for entry in extra_hosts or []:
        if not isinstance(entry, str):
            raise InvalidArgument("invalid ExtraHosts: a list of strings is expected")
        # name:ip, ip may hold colons (IPv6); "name=ip" is the newer CLI's spelling
        name, sep, address = entry.partition("=") if "=" in entry else entry.partition(":")
        if not sep or not name or not address:
            raise InvalidArgument(f"invalid argument \"{entry}\" for \"--add-host\" flag: "
                                  "bad format for add-host")
        lines.append(f"{address.strip('[]')}\t{name}\n")
    for address, names in addresses or []:
        lines.append(f"{address}\t{names}\n")
    return "".join(lines)


def _resolv_fields(host_text: str) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, search domains, options) of a resolv.conf."""
    servers, search, options = [], [], []
    for line in host_text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith(("#", ";")):
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            search = fields[1:]
        elif fields[0] == "options":
            options.extend(fields[1:])
    return servers, search, options


def _given(host_config: dict, key: str) -> list[str] | None:
    given = host_config.get(key)
    if given is not None and not isinstance(given, list):
        raise mismatch(given, f"HostConfig.{key}", "[]string")
    return [str(v) for v in given] if given else None


def upstreams(host_text: str, host_config: dict) -> list[str]:
    """The servers the embedded DNS forwards to: ``--dns``, else the host's (its
    loopback ones too: they are asked from the host's namespace)."""
    return _given(host_config, "Dns") or _resolv_fields(host_text)[0]


def resolv_text(host_text: str, host_config: dict, embedded: bool = False) -> str:
    """/etc/resolv.conf: the host's, without the nameservers on its own loopback (they
    are not the container's); ``--dns``, ``--dns-search`` and ``--dns-option`` replace
    its lines of each kind. Without any nameserver left, Docker's public defaults. On a
    user-defined network (``embedded``) the one nameserver is the embedded DNS server,
    which forwards to the others."""
    servers, search, options = _resolv_fields(host_text)
    servers = [s for s in servers if not s.startswith("127.") and s != "::1"]
    servers = _given(host_config, "Dns") or servers or list(DEFAULT_DNS)
    search = _given(host_config, "DnsSearch") or search
    options = _given(host_config, "DnsOptions") or options
    if embedded:
        from estiba.network.resolver import ADDRESS

        servers = [ADDRESS]
        if not any(o.startswith("ndots:") for o in options):
            options = [*options, "ndots:0"]
    lines = [f"nameserver {server}\n" for server in servers]
    if search:
        lines.append(f"search {' '.join(search)}\n")
    if options:
        lines.append(f"options {' '.join(options)}\n")
    return "".join(lines)


def host_resolv() -> str:
    with contextlib.suppress(OSError), open("/etc/resolv.conf", encoding="utf-8") as f:
        return f.read()
    return ""


FILES = ("hostname", "hosts", "resolv.conf")


def mounts(directory: str, readonly: bool) -> list[dict]:
    """The OCI mounts of the container's /etc/hostname, /etc/hosts and
    /etc/resolv.conf, read-only with a read-only root, as Docker makes them."""
    options = ["rbind", "rprivate", "ro" if readonly else "rw"]
    return [{"destination": f"/etc/{name}", "type": "bind",
             "source": f"{directory}/{name}", "options": list(options)}
            for name in FILES]


def write(directory: str, hostname: str, host_config: dict) -> None:
    """The container's /etc/hostname, /etc/hosts and /etc/resolv.conf."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    _write(directory, "hostname", hostname + "\n")
    write_resolv(directory, host_config, embedded=False)
    write_hosts(directory, host_config, [])


def write_resolv(directory: str, host_config: dict, embedded: bool) -> None:
    _write(directory, "resolv.conf", resolv_text(host_resolv(), host_config, embedded))


def write_hosts(directory: str, host_config: dict,
                addresses: list[tuple[str, str]]) -> None:
    """/etc/hosts with the container's own ``(address, names)``; with the host's
    network, the host's /etc/hosts, as Docker copies it."""
    hosts = hosts_text(host_config.get("ExtraHosts"), addresses)
    if host_config.get("NetworkMode") == "host":
        with contextlib.suppress(OSError), open("/etc/hosts", encoding="utf-8") as f:
            hosts = f.read() + hosts[len(LOCALHOST):]
    _write(directory, "hosts", hosts)


def _write(directory: str, name: str, text: str) -> None:
    # written in place: a bind mount holds the file's inode, so a new file renamed over
    # it would not show in a container that has it mounted
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o644)
