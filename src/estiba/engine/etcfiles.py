"""The files Docker gives every container at /etc/hostname and /etc/hosts: their text
and their bind mounts (pure), and ``write``, which makes them. They live beside the
container's other engine files, not in its writable layer, so that diff, export and
commit leave them out."""

from __future__ import annotations

import contextlib
import os

from estiba.engine.jsontypes import mismatch
from estiba.errors import InvalidArgument

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


def mounts(directory: str, readonly: bool) -> list[dict]:
    """The OCI mounts of ``<directory>/hostname`` and ``<directory>/hosts``, read-only
    with a read-only root, as Docker makes them."""
    options = ["rbind", "rprivate", "ro" if readonly else "rw"]
    return [{"destination": f"/etc/{name}", "type": "bind",
             "source": f"{directory}/{name}", "options": list(options)}
            for name in ("hostname", "hosts")]


def write(directory: str, hostname: str, host_config: dict) -> None:
    """The container's /etc/hostname and /etc/hosts; with the host's network, the
    host's /etc/hosts, as Docker copies it."""
    hosts = hosts_text(host_config.get("ExtraHosts"))
    if host_config.get("NetworkMode") == "host":
        with contextlib.suppress(OSError), open("/etc/hosts", encoding="utf-8") as f:
            hosts = f.read() + hosts[len(LOCALHOST):]
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for name, text in (("hostname", hostname + "\n"), ("hosts", hosts)):
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(os.path.join(directory, name), 0o644)
