"""OCI bundles for tests: a default config.json like ``runc spec`` writes, and helpers
that tweak it.

``default_config`` returns plain JSON data (a dict), the input a runtime reads; the
helpers edit it in place and return it, so they chain. ``Bundle`` is a directory holding
config.json; its rootfs is usually the session's shared busybox rootfs, named by an
absolute ``root.path``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from estiba.oci import defaults

OCI_VERSION = "1.2.0"

# runc's defaults: a small capability set, no new privileges, one rlimit.
DEFAULT_CAPABILITIES = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
DEFAULT_NAMESPACES = ("pid", "network", "ipc", "uts", "mount")
DEFAULT_PATH = defaults.DEFAULT_PATH
CAPABILITY_SETS = ("bounding", "effective", "permitted", "ambient")



def default_config(
    args: Sequence[str], terminal: bool = False, *, root_path: str = "rootfs",
    readonly: bool = True,
) -> dict[str, Any]:
    """The config.json ``runc spec`` writes, running args; terminal False by default (a
    test has no console socket unless it makes one)."""
    env = [DEFAULT_PATH] + (["TERM=xterm"] if terminal else [])
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": env,
            "cwd": "/",
            "capabilities": {s: list(DEFAULT_CAPABILITIES) for s in CAPABILITY_SETS},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": root_path, "readonly": readonly},
        "hostname": "estiba",
        "mounts": defaults.linux_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in DEFAULT_NAMESPACES],
            "maskedPaths": list(defaults.MASKED_PATHS),
            "readonlyPaths": list(defaults.READONLY_PATHS),
        },
    }


# --- tweaks: each edits the config in place and returns it ---------------------------


def set_args(config: dict[str, Any], *args: str) -> dict[str, Any]:
    config["process"]["args"] = list(args)
    return config


def set_env(config: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    """Set one variable of process.env, replacing an earlier value."""
    env = [e for e in config["process"].get("env", []) if e.partition("=")[0] != name]
    config["process"]["env"] = env + [f"{name}={value}"]
    return config


def set_user(
    config: dict[str, Any], uid: int, gid: int, additional_gids: Iterable[int] = (),
    umask: int | None = None,
) -> dict[str, Any]:
    user: dict[str, Any] = {"uid": uid, "gid": gid}
    if additional_gids:
        user["additionalGids"] = list(additional_gids)
    if umask is not None:
        user["umask"] = umask
    config["process"]["user"] = user
    return config


def set_capabilities(
    config: dict[str, Any], caps: Iterable[str], sets: Iterable[str] = CAPABILITY_SETS,
) -> dict[str, Any]:
    """Give the named sets (default: bounding, effective, permitted, ambient) exactly caps."""
    caps = list(caps)
    table = config["process"].setdefault("capabilities", {})
    for name in sets:
        table[name] = list(caps)
    return config


def set_rlimit(config: dict[str, Any], type: str, soft: int, hard: int) -> dict[str, Any]:
    """Set one rlimit (``RLIMIT_NOFILE`` ...), replacing an earlier one of that type."""
    rlimits = [r for r in config["process"].get("rlimits", []) if r["type"] != type]
    config["process"]["rlimits"] = rlimits + [{"type": type, "hard": hard, "soft": soft}]
    return config


def add_namespace(config: dict[str, Any], type: str, path: str | None = None) -> dict[str, Any]:
    """Add a namespace (or make an existing one join path)."""
    remove_namespace(config, type)
    entry = {"type": type} if path is None else {"type": type, "path": path}
    config["linux"].setdefault("namespaces", []).append(entry)
    return config


def remove_namespace(config: dict[str, Any], type: str) -> dict[str, Any]:
    namespaces = config["linux"].get("namespaces", [])
    config["linux"]["namespaces"] = [n for n in namespaces if n["type"] != type]
    return config


def set_id_mappings(
    config: dict[str, Any], host_uid: int, host_gid: int, size: int = 65536,
) -> dict[str, Any]:
    """A user namespace mapping container ids 0..size-1 to host ids from host_uid/gid."""
    add_namespace(config, "user")
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host_uid, "size": size}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host_gid, "size": size}]
    return config


def add_mount(
    config: dict[str, Any], destination: str, source: str, type: str = "bind",
    options: Iterable[str] = ("rbind", "rw"),
) -> dict[str, Any]:
    config.setdefault("mounts", []).append(
        {"destination": destination, "type": type, "source": source, "options": list(options)}
    )
    return config


def add_hook(
    config: dict[str, Any], stage: str, path: str, args: Iterable[str] = (),
    env: Iterable[str] = (), timeout: int | None = None,
) -> dict[str, Any]:
    """Add a hook to a stage (``prestart``, ``createRuntime``, ``poststart`` ...)."""
    hook: dict[str, Any] = {"path": path}
    if args:
        hook["args"] = list(args)
    if env:
        hook["env"] = list(env)
    if timeout is not None:
        hook["timeout"] = timeout
    config.setdefault("hooks", {}).setdefault(stage, []).append(hook)
    return config


def set_resources(config: dict[str, Any], **resources: Any) -> dict[str, Any]:
    """Merge LinuxResources sections, e.g. ``set_resources(c, pids={"limit": 10})``."""
    config["linux"].setdefault("resources", {}).update(resources)
    return config


def set_cgroups_path(config: dict[str, Any], path: str) -> dict[str, Any]:
    config["linux"]["cgroupsPath"] = path
    return config


class Bundle:
    """A bundle directory: ``path`` holds config.json, written from ``config``."""

    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        self.path = Path(path)
        self.config = config

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    def write(self) -> Path:
        """Write ``config`` to config.json (atomically) and return its path."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "config.json.tmp"
        tmp.write_text(json.dumps(self.config, indent=2) + "\n")
        os.replace(tmp, self.config_path)
        return self.config_path

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r})"


def make_bundle(
    path: Path, rootfs: Path | str, args: Sequence[str], terminal: bool = False,
    readonly: bool = False,
) -> Bundle:
    """A bundle at path whose root.path is rootfs (absolute, shared, not copied)."""
    bundle = Bundle(path, default_config(
        args, terminal, root_path=os.fspath(rootfs), readonly=readonly,
    ))
    bundle.write()
    return bundle
