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


def write_spec(bundle: str) -> str:
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise AlreadyExists(f"{path} exists: remove it first")
    try:
        with open(path, "x") as f:
            json.dump(default_config(), f, indent=2)
            f.write("\n")
    except OSError as err:
        raise from_oserror(f"write {path}", err) from err
    return path
