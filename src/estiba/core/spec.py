"""The OCI runtime spec (config.json) of a container, as containerd's ``oci`` package
makes it: ``default_spec`` is ``oci.WithDefaultSpec`` for Linux, ``with_image_config``
is ``oci.WithImageConfig`` (plus the process options ``ctr run`` takes). Pure: JSON data
in, new JSON data out; the input is never changed.

Defaults (containerd's ``populateDefaultUnixSpec``): the mounts /proc, /dev, /dev/pts,
/dev/shm, /dev/mqueue, /sys and /sys/fs/cgroup (read-only); Docker's default capability
set for bounding, effective and permitted; no new privileges off, as Docker; RLIMIT_NOFILE
1024; the pid, ipc, uts, mount and network namespaces (a network namespace of its own,
where the runtime brings up loopback only); masked and read-only /proc and /sys paths; a
device cgroup that denies everything (the runtime adds the standard devices);
``cgroupsPath`` ``/<cgroup parent>/<namespace>-<id>``.
"""

from __future__ import annotations

import copy

from estiba.errors import InvalidArgument, Unimplemented
from estiba.oci import defaults

OCI_VERSION = "1.2.0"
DEFAULT_PATH = defaults.DEFAULT_PATH
DEFAULT_CGROUP_PARENT = "estiba"

# Docker's default capabilities (moby oci/caps/defaults.go), the set containerd uses too
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
DEFAULT_NAMESPACES = ("pid", "ipc", "uts", "mount", "network")

# containerd's additions to runc's masked paths
MASKED_PATHS = (*defaults.MASKED_PATHS, "/sys/devices/virtual/powercap")
READONLY_PATHS = defaults.READONLY_PATHS


def cgroups_path(namespace: str, id: str, cgroup_parent: str = DEFAULT_CGROUP_PARENT) -> str:
    """``/<parent>/<namespace>-<id>``: one cgroup per container, named for the leak
    check and for ``systemd-cgls`` readers."""
    parent = cgroup_parent.strip("/")
    if not parent:
        raise InvalidArgument("cgroup parent: empty")
    return f"/{parent}/{namespace}-{id}"


def default_spec(namespace: str, id: str, *,
                 cgroup_parent: str = DEFAULT_CGROUP_PARENT) -> dict:
    """The default config.json of container ``id`` of ``namespace``: runs ``sh`` until
    ``with_image_config`` (or the caller) sets the process; ``root.path`` "rootfs"."""
    caps = list(DEFAULT_CAPABILITIES)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [DEFAULT_PATH],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": list(caps),
                             "permitted": list(caps)},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": False,
        },
        "root": {"path": "rootfs", "readonly": False},
        "mounts": defaults.linux_mounts(proc_options=("nosuid", "noexec", "nodev")),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "cgroupsPath": cgroups_path(namespace, id, cgroup_parent),
            "namespaces": [{"type": t} for t in DEFAULT_NAMESPACES],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


def with_image_config(spec: dict, image_config: dict, args: list[str] | None = None,
                      env: tuple[str, ...] | list[str] = (), cwd: str = "",
                      terminal: bool = False, user: str = "") -> dict:
    """``spec`` with the process an image describes: ``args`` (or the image's Cmd) after
    its Entrypoint, its Env over the spec's (``env`` over both, ``KEY=VALUE`` replacing
    by key), ``cwd`` or its WorkingDir, ``user`` or its User (numeric ``uid[:gid]`` or
    ``root``; names need the rootfs's /etc/passwd: Unimplemented for now), a terminal
    (with ``TERM=xterm`` unless set). ``image_config`` is the image config document (its
    ``config`` object is read) or that object itself."""
    config = image_config.get("config", image_config) if image_config else {}
    config = config or {}
    spec = copy.deepcopy(spec)
    process = spec.setdefault("process", {})
    entrypoint = list(config.get("Entrypoint") or [])
    command = list(args) if args else list(config.get("Cmd") or [])
    argv = entrypoint + command
    if not argv:
        raise InvalidArgument("image config: no command specified (no Entrypoint, Cmd "
                              "or arguments)")
    process["args"] = argv
    merged = merge_env(process.get("env") or [DEFAULT_PATH], config.get("Env") or [])
    merged = merge_env(merged, list(env))
    if terminal and not any(e.startswith("TERM=") for e in merged):
        merged.append("TERM=xterm")
    process["env"] = merged
    process["cwd"] = cwd or config.get("WorkingDir") or "/"
    process["terminal"] = bool(terminal)
    uid, gid = parse_user(user or config.get("User") or "")
    process["user"] = {**(process.get("user") or {}), "uid": uid, "gid": gid}
    return spec


def merge_env(base: list[str], extra: list[str]) -> list[str]:
    """``base`` with each ``KEY=VALUE`` of ``extra`` replacing the same key, or appended
    (containerd's ``replaceOrAppendEnvValues``); a bare ``KEY`` in extra removes it."""
    out = list(base)
    for entry in extra:
        key, eq, _ = entry.partition("=")
        index = next((i for i, e in enumerate(out) if e.partition("=")[0] == key), None)
        if not eq:
            if index is not None:
                del out[index]
            continue
        if index is None:
            out.append(entry)
        else:
            out[index] = entry
    return out


def numeric_user(user: str) -> bool:
    """Whether ``user`` needs no /etc/passwd: empty, ``root``, ``uid`` or ``uid:gid``."""
    name, _, group = user.partition(":")
    return all(part in ("", "root") or part.isdigit() for part in (name, group))


def resolve_user(user: str, passwd: str, group: str) -> tuple[int, int, list[int]]:
    """(uid, gid, additional gids) of ``user`` (``name``, ``uid``, ``name:group``,
    ``uid:gid``) with the rootfs's /etc/passwd and /etc/group texts, as runc's user
    lookup does: a uid missing from passwd keeps gid 0; a named user gets the groups
    that list it as a member."""
    name, _, group_name = user.partition(":")
    uid = gid = 0
    login = ""
    if name:
        entry = _entry(passwd, 2 if name.isdigit() else 0, name)
        if name.isdigit():
            uid = int(name)
        elif entry is None:
            raise InvalidArgument(f"unable to find user {name}: no matching entries in "
                                  "passwd file")
        if entry is not None:
            login = entry[0]
            uid, gid = _id(entry[2], user), _id(entry[3], user)
    if group_name:
        if group_name.isdigit():
            gid = int(group_name)
        else:
            entry = _entry(group, 0, group_name)
            if entry is None:
                raise InvalidArgument(f"unable to find group {group_name}: no matching "
                                      "entries in group file")
            gid = _id(entry[2], user)
    extra = []
    if login:
        for line in group.splitlines():
            fields = line.split(":")
            if len(fields) > 3 and login in fields[3].split(","):
                found = _id(fields[2], user)
                if found != gid and found not in extra:
                    extra.append(found)
    return uid, gid, extra


def _entry(text: str, field: int, key: str) -> list[str] | None:
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > 3 and fields[field] == key:
            return fields
    return None


def _id(text: str, user: str) -> int:
    try:
        return int(text)
    except ValueError as err:
        raise InvalidArgument(f"user {user!r}: bad id {text!r} in passwd/group") from err


def parse_user(user: str) -> tuple[int, int]:
    """``""``/``root`` → (0, 0); ``uid`` → (uid, 0), as runc does for a uid missing from
    /etc/passwd; ``uid:gid`` → both. Names need the rootfs: Unimplemented."""
    if user in ("", "root", "root:root", "0", "0:0"):
        return 0, 0
    name, _, group = user.partition(":")
    try:
        uid = 0 if name == "root" else int(name)
        gid = 0 if group == "root" else int(group) if group else 0
    except ValueError as err:
        raise Unimplemented(f"user {user!r}: only numeric uid[:gid] or root for now "
                            "(names need the rootfs's /etc/passwd)") from err
    if uid < 0 or gid < 0:
        raise InvalidArgument(f"user {user!r}: negative id")
    return uid, gid
