"""The keywords of ``containers.create``/``run`` as Docker's create body (Config with
its HostConfig and NetworkingConfig): pure, so that each translation is tested alone.

The shapes taken:

- ``command``/``entrypoint``: a list is the argv; a string is the shell form
  (``["/bin/sh", "-c", text]``), as a Dockerfile's ``CMD text`` is. Never split on
  spaces: quoting would be lost.
- ``environment``: ``{"K": "v"}`` or ``["K=v"]``; ``labels``: a dict, or a list of
  names (empty values).
- ``ports``: ``{"80/tcp": 8080}``; a port without protocol is tcp; the host side is a
  port, ``None`` (the daemon picks one), ``(ip, port)``, ``(ip,)`` or a list of those.
- ``volumes``: ``{"src": {"bind": "/dst", "mode": "ro"}}``, ``{"src": "/dst"}`` or
  ``["src:/dst:ro", "/anonymous"]`` (``src`` a host path or a volume's name; a lone
  container path is an anonymous volume).
- ``network``: the network to join (with ``network_aliases``); ``network_mode``:
  ``host``, ``none``, ``container:NAME``; not both.
- ``mem_limit``/``shm_size``/``memswap_limit``: bytes, or ``"64m"`` as the CLI's flags.
- ``auto_remove``: the daemon removes the container when it exits (``--rm``).
"""

from __future__ import annotations

from estiba import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

HostPort = int | str | None | tuple[str] | tuple[str, int | str | None]


class CreateRequest:
    """The body of ``POST /containers/create`` and its query's name and platform (a
    plain class: ``dataclasses`` would cost the command line ~6 ms to import)."""

    __slots__ = ("body", "name", "platform")

    def __init__(self, body: dict[str, Any], name: str = "", platform: str = "") -> None:
        self.body = body
        self.name = name
        self.platform = platform


def argv(command: str | Sequence[str] | None) -> list[str] | None:
    if command is None:
        return None
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    return list(command)


def env_list(environment: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    if not environment:
        return []
    if isinstance(environment, dict):
        return [f"{k}={'' if v is None else v}" for k, v in environment.items()]
    return list(environment)  # type: ignore[arg-type]


def label_dict(labels: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    if not labels:
        return {}
    if isinstance(labels, dict):
        return {str(k): str(v) for k, v in labels.items()}
    return dict.fromkeys(labels, "")  # type: ignore[arg-type]


def port_key(port: int | str) -> str:
    text = str(port)
    return text if "/" in text else f"{text}/tcp"


def _binding(host: HostPort) -> dict[str, str]:
    if isinstance(host, tuple):
        ip = host[0]
        port = host[1] if len(host) > 1 else None
        return {"HostIp": ip, "HostPort": "" if port is None else str(port)}
    return {"HostIp": "", "HostPort": "" if host is None else str(host)}


def port_bindings(ports: Mapping[int | str, HostPort | list[HostPort]]
                  ) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    """(ExposedPorts, PortBindings) of ``ports``."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for port, host in ports.items():
        key = port_key(port)
        exposed[key] = {}
        hosts = host if isinstance(host, list) else [host]
        bindings[key] = [_binding(h) for h in hosts]
    return exposed, bindings


def binds(volumes: Mapping[str, Any] | Sequence[str]
          ) -> tuple[list[str], dict[str, dict]]:
    """(HostConfig.Binds, Config.Volumes: the anonymous ones) of ``volumes``."""
    out: list[str] = []
    anonymous: dict[str, dict] = {}
    if isinstance(volumes, dict):
        for source, target in volumes.items():
            if isinstance(target, str):
                out.append(f"{source}:{target}")
                continue
            mode = target.get("mode", "")
            out.append(f"{source}:{target['bind']}" + (f":{mode}" if mode else ""))
        return out, anonymous
    for spec in volumes:
        if ":" in spec:
            out.append(spec)
        else:
            anonymous[spec] = {}
    return out, anonymous


def byte_count(value: int | str, what: str) -> int:
    if isinstance(value, int):
        return value
    from estiba.units import ram_in_bytes

    try:
        return ram_in_bytes(value)
    except ValueError:
        raise errors.InvalidArgument(f"{what} {value!r}: not a size") from None


def container_config(
    image: str, command: str | Sequence[str] | None = None, *,
    name: str = "", platform: str = "",
    entrypoint: str | Sequence[str] | None = None,
    environment: Mapping[str, Any] | Sequence[str] | None = None,
    labels: Mapping[str, str] | Sequence[str] | None = None,
    ports: Mapping[int | str, Any] | None = None,
    volumes: Mapping[str, Any] | Sequence[str] | None = None,
    mounts: Sequence[Mapping[str, Any]] | None = None,
    network: str = "", network_aliases: Sequence[str] = (),
    network_mode: str = "",
    working_dir: str = "", user: str = "", hostname: str = "", domainname: str = "",
    tty: bool = False, stdin_open: bool = False, stdin_once: bool = False,
    auto_remove: bool = False,
    restart_policy: str | Mapping[str, Any] | None = None,
    privileged: bool = False, read_only: bool = False, init: bool | None = None,
    cap_add: Sequence[str] = (), cap_drop: Sequence[str] = (),
    security_opt: Sequence[str] = (), devices: Sequence[str] = (),
    mem_limit: int | str | None = None, memswap_limit: int | str | None = None,
    shm_size: int | str | None = None, cpu_shares: int | None = None,
    nano_cpus: int | None = None, pids_limit: int | None = None,
    dns: Sequence[str] = (), extra_hosts: Mapping[str, str] | Sequence[str] = (),
    tmpfs: Mapping[str, str] | Sequence[str] = (),
    sysctls: Mapping[str, str] | None = None,
    ulimits: Sequence[Mapping[str, Any]] = (),
    log_config: Mapping[str, Any] | None = None,
    healthcheck: Mapping[str, Any] | None = None,
    stop_signal: str = "", stop_timeout: int | None = None,
    pid_mode: str = "", ipc_mode: str = "", group_add: Sequence[str] = (),
) -> CreateRequest:
    """The create request of ``containers.create``'s keywords (a keyword it does not
    know is a TypeError, as for any function)."""
    if network and network_mode:
        raise errors.InvalidArgument(
            f"network {network!r} and network_mode {network_mode!r}: give one of them")
    if network_aliases and not network:
        raise errors.InvalidArgument("network_aliases need a network")
    body: dict[str, Any] = {"Image": image, "Tty": tty, "OpenStdin": stdin_open}
    if stdin_once:
        # the stdin of the first attach is the process's: its end ends the process's
        body.update({"StdinOnce": True, "AttachStdin": True})
    host: dict[str, Any] = {}
    if (cmd := argv(command)) is not None:
        body["Cmd"] = cmd
    if (entry := argv(entrypoint)) is not None:
        body["Entrypoint"] = entry
    if env := env_list(environment):
        body["Env"] = env
    if found := label_dict(labels):
        body["Labels"] = found
    for key, value in (("WorkingDir", working_dir), ("User", user),
                       ("Hostname", hostname), ("Domainname", domainname),
                       ("StopSignal", stop_signal)):
        if value:
            body[key] = value
    if stop_timeout is not None:
        body["StopTimeout"] = stop_timeout
    if healthcheck:
        body["Healthcheck"] = dict(healthcheck)
    if ports:
        body["ExposedPorts"], host["PortBindings"] = port_bindings(ports)
    if volumes:
        host_binds, anonymous = binds(volumes)
        if host_binds:
            host["Binds"] = host_binds
        if anonymous:
            body["Volumes"] = anonymous
    if mounts:
        host["Mounts"] = [dict(m) for m in mounts]
    if network:
        host["NetworkMode"] = network
        endpoint: dict[str, Any] = {}
        if network_aliases:
            endpoint["Aliases"] = list(network_aliases)
        body["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint}}
    elif network_mode:
        host["NetworkMode"] = network_mode
    if isinstance(restart_policy, str):
        restart_policy = {"Name": restart_policy}
    if restart_policy:
        host["RestartPolicy"] = dict(restart_policy)
    for key, flag in (("AutoRemove", auto_remove), ("Privileged", privileged),
                      ("ReadonlyRootfs", read_only)):
        if flag:
            host[key] = True
    if init is not None:
        host["Init"] = init
    for key, items in (("CapAdd", cap_add), ("CapDrop", cap_drop),
                       ("SecurityOpt", security_opt), ("Dns", dns),
                       ("GroupAdd", group_add)):
        if items:
            host[key] = list(items)
    if devices:
        host["Devices"] = [device(d) for d in devices]
    if extra_hosts:
        host["ExtraHosts"] = ([f"{k}:{v}" for k, v in extra_hosts.items()]
                              if isinstance(extra_hosts, dict) else list(extra_hosts))
    if tmpfs:
        host["Tmpfs"] = (dict(tmpfs) if isinstance(tmpfs, dict)
                         else dict(_tmpfs_entry(t) for t in tmpfs))
    if sysctls:
        host["Sysctls"] = dict(sysctls)
    if ulimits:
        host["Ulimits"] = [dict(u) for u in ulimits]
    if log_config:
        host["LogConfig"] = dict(log_config)
    for key, size, what in (("Memory", mem_limit, "mem_limit"),
                            ("MemorySwap", memswap_limit, "memswap_limit"),
                            ("ShmSize", shm_size, "shm_size")):
        if size is not None:
            host[key] = byte_count(size, what)
    for key, number in (("CpuShares", cpu_shares), ("NanoCpus", nano_cpus),
                        ("PidsLimit", pids_limit)):
        if number is not None:
            host[key] = number
    if pid_mode:
        host["PidMode"] = pid_mode
    if ipc_mode:
        host["IpcMode"] = ipc_mode
    if host:
        body["HostConfig"] = host
    return CreateRequest(body, name, platform)


def device(spec: str) -> dict[str, str]:
    """``/dev/x[:/dev/y[:rwm]]`` as HostConfig's Devices entry."""
    parts = spec.split(":")
    on_host = parts[0]
    in_container = parts[1] if len(parts) > 1 and parts[1] else on_host
    permissions = parts[2] if len(parts) > 2 else "rwm"
    return {"PathOnHost": on_host, "PathInContainer": in_container,
            "CgroupPermissions": permissions}


def _tmpfs_entry(spec: str) -> tuple[str, str]:
    path, _, options = spec.partition(":")
    return path, options


_UPDATE_KEYS = {
    "cpu_shares": "CpuShares", "cpu_period": "CpuPeriod", "cpu_quota": "CpuQuota",
    "cpuset_cpus": "CpusetCpus", "cpuset_mems": "CpusetMems", "nano_cpus": "NanoCpus",
    "blkio_weight": "BlkioWeight", "pids_limit": "PidsLimit",
    "mem_limit": "Memory", "mem_reservation": "MemoryReservation",
    "memswap_limit": "MemorySwap", "kernel_memory": "KernelMemory",
    "restart_policy": "RestartPolicy",
}
_SIZES = {"mem_limit", "mem_reservation", "memswap_limit", "kernel_memory"}


def update_body(**changes: Any) -> dict[str, Any]:
    """The body of ``POST /containers/{id}/update`` from ``Container.update``'s keywords;
    TypeError for one it does not know."""
    body: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in _UPDATE_KEYS:
            raise TypeError(f"update() got an unexpected keyword argument {key!r}")
        if value is None:
            continue
        if key in _SIZES:
            value = byte_count(value, key)
        elif key == "restart_policy" and isinstance(value, str):
            value = {"Name": value}
        body[_UPDATE_KEYS[key]] = value
    return body
