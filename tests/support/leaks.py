"""What containers and tests leave behind in the kernel: a snapshot of the kernel
objects a container engine creates, taken before the tests, compared with one taken
after.

Watched: mounts of type overlay, under /run/estiba* or under the tests' temporary roots;
cgroup directories with "estiba" in their path (or docker's /docker/<id>); links named
es-* and ves*; named network namespaces (/run/netns); nft tables named estiba*; and
processes in PID namespaces other than ours. Only what is new since the snapshot counts,
so what the machine ran before the tests is not blamed on them. Read-only: nothing here
cleans up, so a leak is seen rather than hidden.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
NET_CLASS = Path("/sys/class/net")
NETNS_DIR = Path("/run/netns")
_DOCKER_CGROUP = re.compile(r"(^|/)docker/[0-9a-f]{12,}")

Snapshot = dict[str, frozenset[str]]


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as \ooo
    return re.sub(r"\\([0-3][0-7]{2})", lambda m: chr(int(m.group(1), 8)), field)


def mounts(roots: Iterable[str] = (), mountinfo: str = "/proc/self/mountinfo") -> frozenset[str]:
    """Mounts of type overlay, or whose mount point is under /run/estiba* or a root."""
    prefixes = tuple(r.rstrip("/") + "/" for r in roots)
    found = set()
    with open(mountinfo) as f:
        for line in f:
            fields = line.split()
            try:
                dash = fields.index("-", 6)
            except ValueError:
                continue
            target, fstype = _unescape(fields[4]), fields[dash + 1]
            if (fstype == "overlay" or target.startswith("/run/estiba")
                    or (target + "/").startswith(prefixes)):
                found.add(f"mount {target} ({fstype})")
    return frozenset(found)


def mounts_under(directory: str, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points under directory, of any type."""
    prefix = directory.rstrip("/") + "/"
    with open(mountinfo) as f:
        targets = [_unescape(line.split()[4]) for line in f if len(line.split()) > 4]
    return sorted(t for t in targets if t.startswith(prefix))


def cgroups(root: Path = CGROUP_ROOT, max_depth: int = 6) -> frozenset[str]:
    """Cgroup directories with "estiba" in their path, or docker's /docker/<id>."""
    found = set()
    base_depth = len(root.parts)
    for dirpath, dirnames, _ in os.walk(root):
        depth = len(Path(dirpath).parts) - base_depth
        if depth >= max_depth:
            dirnames.clear()
        rel = os.path.relpath(dirpath, root)
        if depth >= 1 and ("estiba" in rel or _DOCKER_CGROUP.search(rel)):
            found.add(f"cgroup {dirpath}")
    return frozenset(found)


def links(net_class: Path = NET_CLASS) -> frozenset[str]:
    """Network links named es-* (bridges) or ves* (host veth ends)."""
    try:
        names = os.listdir(net_class)
    except OSError:
        return frozenset()
    return frozenset(f"link {n}" for n in names if n.startswith(("es-", "ves")))


def netns(netns_dir: Path = NETNS_DIR) -> frozenset[str]:
    """Named network namespaces, as `ip netns list` shows them."""
    try:
        return frozenset(f"netns {n}" for n in os.listdir(netns_dir))
    except OSError:
        return frozenset()


def nft_tables() -> frozenset[str]:
    """nft tables whose name starts with estiba (none when nft is not installed)."""
    nft = shutil.which("nft")
    if nft is None:
        return frozenset()
    try:
        result = subprocess.run([nft, "list", "tables"], capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(
        f"nft {line.strip()}" for line in result.stdout.splitlines()
        if line.split()[-1:] and line.split()[-1].startswith("estiba")
    )


def foreign_processes() -> frozenset[str]:
    """Processes in PID namespaces other than ours, as "pid start-time cmdline"; the
    start time tells a reused pid from the process that had it."""
    own = os.readlink("/proc/self/ns/pid")
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") == own:
                continue
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or a kernel thread we may not read
            continue
        start = stat.rpartition(")")[2].split()[19]
        found.add(f"process {entry} {start} {cmdline[:100]}")
    return frozenset(found)


def snapshot(roots: Iterable[str] = ()) -> Snapshot:
    """The kernel objects that count as leaks when new; roots are the directories the
    tests make mounts under (their temporary roots)."""
    roots = tuple(roots)
    return {
        "mounts": mounts(roots),
        "cgroups": cgroups(),
        "links": links(),
        "netns": netns(),
        "nft": nft_tables(),
        "processes": foreign_processes(),
    }


def new_since(before: Snapshot, after: Snapshot) -> list[str]:
    """What after has that before had not, sorted by kind then name."""
    return [item for kind in after for item in sorted(after[kind] - before.get(kind, set()))]


def check(before: Snapshot, roots: Iterable[str] = (), grace: float = 3.0) -> list[str]:
    """What is new since before, waiting up to grace seconds for objects that are still
    going away (a killed process being reaped, a cgroup being removed)."""
    roots = tuple(roots)
    deadline = time.monotonic() + grace
    while True:
        found = new_since(before, snapshot(roots))
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)
