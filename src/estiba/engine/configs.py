"""A Docker create's Config and HostConfig as an OCI spec, and the Config as inspect
shows it (pure but for what HostConfig asks of this host: its devices and init read,
the missing source directories of its binds made, as Docker makes them)."""

from __future__ import annotations

import os

from estiba.core import spec as specs
from estiba.engine import health, hostconfig

# the image config's fields a container's Config takes when it sets none
INHERITED = ("ExposedPorts", "Volumes", "StopSignal", "Healthcheck", "OnBuild")


def build_spec(namespace: str, cid: str, image_config: dict, config: dict,
               host_config: dict, cgroup_parent: str) -> tuple[dict, dict]:
    """(the OCI spec, the Config as inspect shows it) of a Docker create: pure but for
    what HostConfig asks of this host (its devices and init read, the missing source
    directories of its binds made, as Docker makes them)."""
    inner = dict(image_config.get("config") or {})
    entrypoint = config.get("Entrypoint")
    if isinstance(entrypoint, str):
        entrypoint = [entrypoint]
    cmd = config.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if entrypoint is not None:
        inner["Entrypoint"] = entrypoint
        inner["Cmd"] = cmd or []
    elif cmd:
        inner["Cmd"] = cmd
    tty = bool(config.get("Tty"))
    user = config.get("User") or inner.get("User") or ""
    spec = specs.default_spec(namespace, cid, cgroup_parent=cgroup_parent)
    # a named user is looked up in the rootfs when the task is made
    spec = specs.with_image_config(spec, {"config": inner}, env=list(config.get("Env") or []),
                                   cwd=config.get("WorkingDir") or "", terminal=tty,
                                   user=user if specs.numeric_user(user) else "0")
    hostname = config.get("Hostname") or (
        os.uname().nodename if host_config.get("NetworkMode") == "host" else cid[:12])
    spec["hostname"] = hostname
    if tty:
        from estiba.engine.execs import console_size

        # the client's terminal size from the first moment, as Docker gives it, rather
        # than only from the resize the client sends once the process runs
        size = console_size(host_config.get("ConsoleSize"))
        if size is not None:
            spec["process"]["consoleSize"] = {"height": size[0], "width": size[1]}
    spec, directories = hostconfig.apply(spec, host_config, hostconfig.LocalHost())
    hostconfig.make_directories(directories)
    # what the container takes of its image's config when the request has none
    inherited = {k: inner[k] for k in INHERITED if inner.get(k) and not config.get(k)}
    shown = {**inherited, **config, "Hostname": hostname, "Env": spec["process"]["env"],
             "Cmd": inner.get("Cmd"), "Entrypoint": inner.get("Entrypoint"),
             "WorkingDir": config.get("WorkingDir") or inner.get("WorkingDir") or "",
             "Labels": {**(inner.get("Labels") or {}), **(config.get("Labels") or {})},
             "Tty": tty, "User": user}
    healthcheck = health.merge(config.get("Healthcheck"), inner.get("Healthcheck"))
    if healthcheck is not None:
        shown["Healthcheck"] = healthcheck
    return spec, shown
