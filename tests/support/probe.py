"""The in-container probe (tests/probe/probe.c): building it and reading its report.

The probe is a static C program that prints one JSON object describing what its process
sees (ids, capabilities, namespaces, mounts, rlimits, fds ...). ``build_probe`` compiles
it once and reuses the binary while it is newer than the source; ``parse_probe`` turns its
output into a ``ProbeReport``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.paths import BUILD_DIR, REPO

PROBE_SOURCE = REPO / "tests" / "probe" / "probe.c"

# RLIM_INFINITY as the probe prints it (the kernel's unsigned value).
UNLIMITED = (1 << 64) - 1

# Capability numbers, from linux/capability.h.
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

CAP_SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


class ProbeError(Exception):
    """The probe could not be built, or its output is not a probe report."""


def build_probe(build_dir: Path = BUILD_DIR) -> Path:
    """Compile the probe (``gcc -static -O2``) into build_dir, unless the binary there is
    newer than probe.c; return the binary's path."""
    binary = build_dir / "probe"
    if binary.exists() and binary.stat().st_mtime >= PROBE_SOURCE.stat().st_mtime:
        return binary
    gcc = shutil.which("gcc")
    if gcc is None:
        raise ProbeError("gcc is missing: run scripts/install.sh")
    build_dir.mkdir(parents=True, exist_ok=True)
    # build beside the target and rename: parallel sessions never see half a binary
    fd, tmp = tempfile.mkstemp(prefix=".probe.", dir=build_dir)
    os.close(fd)
    try:
        result = subprocess.run(
            [gcc, "-static", "-O2", "-Wall", "-Wextra", "-o", tmp, str(PROBE_SOURCE)],
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise ProbeError(f"building the probe failed:\n{result.stderr}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, binary)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return binary


@dataclass(frozen=True)
class Mount:
    id: int
    parent: int
    root: str
    target: str
    options: tuple[str, ...]
    propagation: tuple[str, ...]
    fstype: str
    source: str
    super_options: tuple[str, ...]


@dataclass(frozen=True)
class Fd:
    fd: int
    target: str | None


@dataclass(frozen=True)
class ProbeReport:
    """What the probe saw. ``raw`` keeps the decoded JSON object as printed."""

    argv: tuple[str, ...]
    pid: int
    ppid: int
    pgid: int
    sid: int
    uid: int
    gid: int
    euid: int
    egid: int
    groups: tuple[int, ...]
    umask: int
    capabilities: dict[str, int]
    no_new_privs: int | None
    seccomp: int | None
    uid_map: tuple[tuple[int, int, int], ...]
    gid_map: tuple[tuple[int, int, int], ...]
    hostname: str | None
    domainname: str | None
    cwd: str | None
    namespaces: dict[str, str | None]
    cgroups: tuple[str, ...]
    mounts: tuple[Mount, ...]
    rlimits: dict[str, tuple[int, int]]
    env: tuple[str, ...]
    fds: tuple[Fd, ...]
    oom_score_adj: int | None
    raw: dict[str, Any]

    def caps(self, cap_set: str = "CapEff") -> frozenset[str]:
        """The names of the capabilities in one set (CapInh, CapPrm, CapEff, CapBnd,
        CapAmb); unknown bits show as ``CAP_<n>``."""
        return cap_names(self.capabilities[cap_set])

    def environ(self) -> dict[str, str]:
        return dict(item.partition("=")[::2] for item in self.env)

    def mount(self, target: str) -> Mount:
        """The topmost mount at target."""
        found = [m for m in self.mounts if m.target == target]
        if not found:
            raise KeyError(f"no mount at {target}")
        return found[-1]

    def fd_targets(self) -> dict[int, str | None]:
        return {f.fd: f.target for f in self.fds}

    def cgroup_paths(self) -> dict[str, str]:
        """controllers -> path from /proc/self/cgroup ("" for the v2 unified line)."""
        paths = {}
        for line in self.cgroups:
            _, controllers, path = line.split(":", 2)
            paths[controllers] = path
        return paths


def cap_names(mask: int) -> frozenset[str]:
    names = set()
    bit = 0
    while mask >> bit:
        if mask >> bit & 1:
            names.add(CAPABILITIES[bit] if bit < len(CAPABILITIES) else f"CAP_{bit}")
        bit += 1
    return frozenset(names)


def cap_mask(names: Any) -> int:
    """The bit mask of capability names (as a config.json lists them)."""
    mask = 0
    for name in names:
        mask |= 1 << CAPABILITIES.index(name)
    return mask


def parse_probe(text: str | bytes) -> ProbeReport:
    """Parse the probe's output (one JSON object); raise ProbeError when it is not one."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ProbeError(f"probe output is not JSON: {err}: {text[:500]!r}") from err
    if not isinstance(data, dict):
        raise ProbeError(f"probe output is not an object: {text[:500]!r}")
    try:
        return ProbeReport(
            argv=tuple(data["argv"]),
            pid=data["pid"],
            ppid=data["ppid"],
            pgid=data["pgid"],
            sid=data["sid"],
            uid=data["uid"],
            gid=data["gid"],
            euid=data["euid"],
            egid=data["egid"],
            groups=tuple(data["groups"]),
            umask=int(data["umask"], 8),
            capabilities={k: int(v, 16) for k, v in data["capabilities"].items() if v},
            no_new_privs=data["no_new_privs"],
            seccomp=data["seccomp"],
            uid_map=tuple(tuple(m) for m in data["uid_map"]),
            gid_map=tuple(tuple(m) for m in data["gid_map"]),
            hostname=data["hostname"],
            domainname=data["domainname"],
            cwd=data["cwd"],
            namespaces=dict(data["namespaces"]),
            cgroups=tuple(data["cgroups"]),
            mounts=tuple(
                Mount(
                    id=m["id"], parent=m["parent"], root=m["root"], target=m["target"],
                    options=tuple(m["options"].split(",")),
                    propagation=tuple(m["propagation"]),
                    fstype=m["fstype"], source=m["source"],
                    super_options=tuple((m["super_options"] or "").split(",")),
                )
                for m in data["mounts"]
            ),
            rlimits={
                name: (v["soft"], v["hard"]) for name, v in data["rlimits"].items() if v
            },
            env=tuple(data["env"]),
            fds=tuple(Fd(fd=f["fd"], target=f["target"]) for f in data["fds"]),
            oom_score_adj=data["oom_score_adj"],
            raw=data,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ProbeError(f"probe output lacks or mistypes {err}: {text[:500]!r}") from err
