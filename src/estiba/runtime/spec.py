"""``spec``: write a starting config.json into a bundle, as runc's ``spec`` does."""

from __future__ import annotations

import json
import os

from estiba.errors import AlreadyExists, from_oserror
from estiba.oci import defaults
from estiba.oci.state import OCI_VERSION

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_config() -> dict:
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [defaults.DEFAULT_PATH, "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": _CAPS, "effective": _CAPS, "permitted": _CAPS},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "estiba",
        "mounts": defaults.linux_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in
                           ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": list(defaults.MASKED_PATHS),
            "readonlyPaths": list(defaults.READONLY_PATHS),
        },
    }


def rootless_config(config: dict, uid: int, gid: int) -> dict:
    """``config`` for a caller without privileges (``spec --rootless``): a user
    namespace mapping the container's root to the caller alone, no network namespace
    (nothing could wire one), the host's /sys bound (sysfs needs a network namespace of
    its own), no uid=/gid= mount options (those ids are not mapped) and no resources
    (cgroups are the host's to set)."""
    linux = config["linux"]
    linux["namespaces"] = [ns for ns in linux["namespaces"]
                           if ns["type"] not in ("network", "user")] + [{"type": "user"}]
    linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
    linux.pop("resources", None)
    mounts = []
    for mount in config["mounts"]:
        if os.path.normpath(mount["destination"]) == "/sys":
            mounts.append({"destination": "/sys", "type": "none", "source": "/sys",
                           "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
            continue
        options = [o for o in mount.get("options", ())
                   if not o.startswith(("uid=", "gid="))]
        mounts.append({**mount, "options": options})
    config["mounts"] = mounts
    return config


def write_spec(bundle: str, rootless: bool = False) -> str:
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise AlreadyExists(f"{path} exists: remove it first")
    try:
        with open(path, "x") as f:
            config = default_config()
            if rootless:
                config = rootless_config(config, os.geteuid(), os.getegid())
            json.dump(config, f, indent=2)
            f.write("\n")
    except OSError as err:
        raise from_oserror(f"write {path}", err) from err
    return path
