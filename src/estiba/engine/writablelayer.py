"""A container's writable layer as ``docker diff`` shows it and commit writes it: its
directories from the snapshot's mount record (``upper_and_lowers``), the mount points of
the files the engine binds over the rootfs kept out of it (``BOUND_FILES``,
``mount_points``, ``without_mount_points``), and its changes as Docker's JSON
(``changes_json``).
"""

from __future__ import annotations

import os
import stat

from estiba import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

KINDS = {"C": 0, "A": 1, "D": 2}  # docker diff's letters to the API's Kind

# the files the engine binds over the rootfs: the runtime makes their mount points in
# the writable layer, which Docker keeps in a layer of their own, out of diff and commit
BOUND_FILES = ("etc/hostname", "etc/hosts", "etc/resolv.conf")


def mount_points(upper: str, lowers: Sequence[str]) -> frozenset[str]:
    """The paths (relative) of the writable layer that are only the bound files' mount
    points: empty files the image does not have."""
    found = set()
    for rel in BOUND_FILES:
        try:
            st = os.lstat(os.path.join(upper, rel))
        except OSError:
            continue
        if (stat.S_ISREG(st.st_mode) and st.st_size == 0
                and not any(os.path.lexists(os.path.join(lower, rel)) for lower in lowers)):
            found.add(rel)
    return frozenset(found)


def without_mount_points(changes: Sequence[Any], points: frozenset[str]) -> list[Any]:
    """``changes`` without the mount points, and without their directory's change when
    nothing else changed in it (pure)."""
    if not points:
        return list(changes)
    kept = [c for c in changes if c.path.lstrip("/") not in points]
    parents = {"/" + os.path.dirname(p) for p in points}
    busy = {p for p in parents if any(c.path.startswith(p + "/") for c in kept)}
    return [c for c in kept if c.path not in parents - busy]


def changes_json(changes: Iterable[Any]) -> list[dict]:
    """``GET /containers/{id}/changes``: ``Change`` records (kind A, C or D) as
    ``[{"Path", "Kind"}]`` with Kind 0 modified, 1 added, 2 deleted (pure)."""
    return [{"Path": c.path, "Kind": KINDS[c.kind]} for c in changes]


def upper_and_lowers(records: Sequence[Any]) -> tuple[str, list[str]]:
    """The writable directory and the lower ones (top first) of a container snapshot's
    mount records (pure)."""
    from estiba.mounts import plan

    if len(records) != 1:
        raise errors.InvalidArgument(f"container snapshot: expected one mount, got "
                                     f"{len(records)}")
    record = records[0]
    if record.type == "bind":
        return record.source, []
    params = plan(record).params
    upper = [p.value for p in params if p.key == "upperdir"]
    if not upper:
        raise errors.FailedPrecondition("container snapshot: not writable")
    return upper[0], [p.value for p in params if p.key == "lowerdir+"]
