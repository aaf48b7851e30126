"""The overlay snapshotter: each snapshot is one overlayfs layer, ``<id>/fs`` (its upper
directory while active) and ``<id>/work`` (overlayfs's work directory, same filesystem).

How a snapshot is shown (``plan_mounts``, pure):
- no parent: a bind mount of its own ``fs`` (rw when active, ro for a view);
- a view of a one-layer chain: a read-only bind mount of that layer;
- otherwise one overlay mount, ``lowerdir=<parent fs>:<grandparent fs>:...`` (topmost
  first), plus ``upperdir``/``workdir`` when active; a view has no upper and is read-only.

The kernel copies mount options into one page (4096 bytes, the terminating NUL included).
When absolute lower paths would not fit, the plan switches, as Docker's overlay2 does, to
short names: every snapshot has a link ``<root>/snapshots/l/<short>`` -> ``../<id>/fs``,
where ``<short>`` is the id in base 36, and the options name ``l/<short>``, ``<id>/fs``
and ``<id>/work`` relative to ``<root>/snapshots``, which the ``Mount`` record carries as
``cwd``: the mounting side chdirs there before mount(2). 500 layers (overlayfs's stack
limit) fit that way.
"""

from __future__ import annotations

import contextlib
import os

from estiba.errors import InvalidArgument, from_oserror
from estiba.snapshots import Mount
from estiba.snapshots.storage import DirectorySnapshotter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.metadata.db import Database
    from estiba.metadata.snapshots import SnapshotRecord

PAGE_SIZE = 4096
LINKS = "l"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def short_name(snapshot_id: int) -> str:
    """The id in base 36: the name of its link under ``l/``."""
    if snapshot_id < 0:
        raise InvalidArgument(f"invalid snapshot id {snapshot_id}")
    digits = ""
    while True:
        snapshot_id, rest = divmod(snapshot_id, 36)
        digits = _DIGITS[rest] + digits
        if not snapshot_id:
            return digits


def fits(options: tuple[str, ...], page_size: int = PAGE_SIZE) -> bool:
    """Whether ``options`` joined with commas, plus the NUL, fit in the kernel's page."""
    return len(",".join(options)) + 1 <= page_size


def plan_mounts(snapshots_dir: str, snapshot_id: int, kind: str, chain: list[int],
                page_size: int = PAGE_SIZE) -> list[Mount]:
    """The mounts of snapshot ``snapshot_id`` (``kind`` "active" or "view") whose parent
    chain is ``chain`` (ids, parent first), its directories under ``snapshots_dir``."""
    def fs(ident: int) -> str:
        return os.path.join(snapshots_dir, str(ident), "fs")

    writable = kind == "active"
    if not chain:
        return [Mount(type="bind", source=fs(snapshot_id),
                      options=("rw" if writable else "ro", "rbind"))]
    if not writable and len(chain) == 1:
        return [Mount(type="bind", source=fs(chain[0]), options=("ro", "rbind"))]
    for paths in (False, True):
        if paths:
            lowers = [f"{LINKS}/{short_name(ident)}" for ident in chain]
            upper, work, cwd = f"{snapshot_id}/fs", f"{snapshot_id}/work", snapshots_dir
        else:
            lowers = [fs(ident) for ident in chain]
            upper = fs(snapshot_id)
            work = os.path.join(snapshots_dir, str(snapshot_id), "work")
            cwd = ""
        options: tuple[str, ...] = ()
        if writable:
            options = (f"workdir={work}", f"upperdir={upper}")
        options += ("lowerdir=" + ":".join(lowers),)
        if fits(options, page_size):
            return [Mount(type="overlay", source="overlay", options=options, cwd=cwd)]
    raise InvalidArgument(
        f"overlay of snapshot {snapshot_id}: {len(chain)} layers do not fit in the "
        f"{page_size}-byte mount options even with short names")


def check_root(path: str) -> None:
    """overlayfs splits options at ``,`` and lower directories at ``:``."""
    bad = [ch for ch in ",:\n" if ch in path]
    if bad:
        raise InvalidArgument(f"overlay root {path!r}: a path with {bad[0]!r} cannot be "
                              "named in overlay mount options")


class OverlaySnapshotter(DirectorySnapshotter):
    def __init__(self, root: str, db: Database, namespace: str) -> None:
        check_root(os.path.abspath(os.fspath(root)))
        super().__init__(root, db, namespace)
        self.links = os.path.join(self.dir, LINKS)
        try:
            os.makedirs(self.links, mode=0o700, exist_ok=True)
        except OSError as err:
            raise from_oserror(f"make {self.links}", err) from err

    def _populate(self, path: str, kind: str, chain: list[int]) -> None:
        for name in ("fs", "work"):
            try:
                # fs is the container's root directory when there is no parent
                os.mkdir(os.path.join(path, name), 0o755 if name == "fs" else 0o700)
            except OSError as err:
                raise from_oserror(f"make {path}/{name}", err) from err

    def _placed(self, snapshot_id: int) -> None:
        link = os.path.join(self.links, short_name(snapshot_id))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(link)  # a leftover of a crash between rename and commit
        try:
            os.symlink(f"../{snapshot_id}/fs", link)
        except OSError as err:
            raise from_oserror(f"link {link}", err) from err

    def _removed(self, snapshot_id: int) -> None:
        link = os.path.join(self.links, short_name(snapshot_id))
        try:
            os.unlink(link)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise from_oserror(f"unlink {link}", err) from err

    def _plan(self, record: SnapshotRecord, chain: list[int]) -> list[Mount]:
        return plan_mounts(self.dir, record.id, record.kind, chain)
