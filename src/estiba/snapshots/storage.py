"""The on-disk half both snapshotters share: ``<root>/snapshots/<id>/{fs,work}``.

A new snapshot's directory is filled under a temporary name (``new-*``), then renamed to
its id inside the transaction that records it, so a crash leaves either both or a
``new-*`` leftover, never a record without its directory. Removal is the reverse: the
record goes in a transaction, the directory is renamed to ``rm-<id>`` and deleted.
Subclasses say how a directory is filled (``_populate``) and shown (``_plan``).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile

from estiba.errors import FailedPrecondition, from_oserror
from estiba.metadata.namespaces import Namespaces
from estiba.metadata.snapshots import SnapshotRecords, check_key
from estiba.snapshots import Info, Mount, Snapshotter, Usage

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.metadata.db import Database
    from estiba.metadata.snapshots import SnapshotRecord


class DirectorySnapshotter(Snapshotter):
    def __init__(self, root: str, db: Database, namespace: str) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.dir = os.path.join(self.root, "snapshots")
        self.namespace = namespace
        Namespaces(db).ensure(namespace)
        self.records = SnapshotRecords(db, namespace)
        self.db = db
        try:
            os.makedirs(self.dir, mode=0o700, exist_ok=True)
        except OSError as err:
            raise from_oserror(f"make {self.dir}", err) from err

    # --- subclass hooks ----------------------------------------------------------------

    def _populate(self, path: str, kind: str, chain: list[int]) -> None:
        """Fill new snapshot directory ``path`` on top of ``chain`` (parent first)."""
        raise NotImplementedError

    def _placed(self, snapshot_id: int) -> None:
        """Called inside the recording transaction once ``<id>/`` is in place."""

    def _removed(self, snapshot_id: int) -> None:
        """Called after the record of ``snapshot_id`` is gone."""

    def _plan(self, record: SnapshotRecord, chain: list[int]) -> list[Mount]:
        raise NotImplementedError

    # --- the verbs ---------------------------------------------------------------------

    def prepare(self, key: str, parent: str = "",
                labels: dict[str, str] | None = None) -> list[Mount]:
        return self._create("active", key, parent, labels)

    def view(self, key: str, parent: str = "",
             labels: dict[str, str] | None = None) -> list[Mount]:
        return self._create("view", key, parent, labels)

    def mounts(self, key: str) -> list[Mount]:
        record = self.records.get(key)
        if record.kind == "committed":
            raise FailedPrecondition(
                f"mounts of snapshot {key}: it is committed; prepare or view a child")
        return self._plan(record, self.records.chain(record.parent_id))

    def commit(self, name: str, key: str) -> None:
        with self.db.transaction() as conn:
            self.records.commit(conn, name, key)

    def remove(self, key: str) -> None:
        with self.db.transaction() as conn:
            record = self.records.delete(conn, key)
        self._removed(record.id)
        path = self.path(record.id)
        doomed = os.path.join(self.dir, f"rm-{record.id}")
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return
        except OSError as err:
            raise from_oserror(f"remove snapshot {key}: rename {path}", err) from err
        _rmtree(doomed, f"remove snapshot {key}")

    def stat(self, key: str) -> Info:
        return _info(self.records.get(key))

    def usage(self, key: str) -> Usage:
        record = self.records.get(key)
        return disk_usage(self.fs(record.id))

    def walk(self) -> list[Info]:
        return [_info(record) for record in self.records.list()]

    def cleanup(self) -> list[str]:
        """Delete what a crash left in ``<root>/snapshots``: half-made ``new-*`` and
        half-removed ``rm-*`` directories, and ``<id>`` directories no record names (in
        any namespace). Only while no other process uses this root, as at daemon start.
        Returns the names deleted."""
        known = {str(row[0]) for row in self.db.conn.execute("SELECT id FROM snapshots")}
        try:
            names = sorted(os.listdir(self.dir))
        except OSError as err:
            raise from_oserror(f"list {self.dir}", err) from err
        doomed = [name for name in names if name.startswith(("new-", "rm-"))
                  or (name.isdigit() and name not in known)]
        for name in doomed:
            _rmtree(os.path.join(self.dir, name), "clean up snapshots")
        return doomed

    # --- paths -------------------------------------------------------------------------

    def path(self, snapshot_id: int) -> str:
        return os.path.join(self.dir, str(snapshot_id))

    def fs(self, snapshot_id: int) -> str:
        return os.path.join(self.dir, str(snapshot_id), "fs")

    # --- creation ----------------------------------------------------------------------

    def _create(self, kind: str, key: str, parent: str,
                labels: dict[str, str] | None) -> list[Mount]:
        check_key(key)
        # checked again in the transaction; this only spares a useless copy
        base = self.records.get(parent) if parent else None
        chain = self.records.chain(base.id if base else None)
        try:
            work = tempfile.mkdtemp(prefix="new-", dir=self.dir)
        except OSError as err:
            raise from_oserror(f"prepare snapshot {key}: make a directory in {self.dir}",
                               err) from err
        placed = ""
        try:
            self._populate(work, kind, chain)
            with self.db.transaction() as conn:
                record = self.records.insert(conn, kind, key, parent, labels)
                placed = self.path(record.id)
                try:
                    os.rename(work, placed)
                except OSError as err:
                    placed = ""
                    raise from_oserror(f"prepare snapshot {key}: rename {work}", err) from err
                self._placed(record.id)
        except BaseException:
            # the record is rolled back: its id may be handed out again
            for leftover in (work, placed):
                if leftover and os.path.lexists(leftover):
                    shutil.rmtree(leftover, ignore_errors=True)
            if placed:
                self._removed(record.id)
            raise
        return self._plan(record, chain)


def _info(record: SnapshotRecord) -> Info:
    return Info(kind=record.kind, name=record.key, parent=record.parent,
                created_at=record.created_at, updated_at=record.updated_at,
                labels=record.labels)


def _rmtree(path: str, what: str) -> None:
    def fail(function: object, name: str, info: tuple) -> None:
        exc = info[1]
        if isinstance(exc, OSError):
            raise from_oserror(f"{what}: delete {name}", exc) from exc
        raise exc

    shutil.rmtree(path, onerror=fail)  # onexc from Python 3.12


def disk_usage(path: str) -> Usage:
    """Bytes allocated (st_blocks) and inodes under ``path``, each inode once, as
    containerd's ``fs.DiskUsage``; symbolic links are counted, never followed."""
    seen: set[tuple[int, int]] = set()
    size = 0
    pending = [path]
    try:
        top = os.lstat(path)
    except OSError as err:
        raise from_oserror(f"usage of {path}", err) from err
    seen.add((top.st_dev, top.st_ino))
    size += top.st_blocks * 512
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(info.st_mode):
                        pending.append(entry.path)
                    ident = (info.st_dev, info.st_ino)
                    if ident not in seen:
                        seen.add(ident)
                        size += info.st_blocks * 512
        except OSError as err:
            raise from_oserror(f"usage of {directory}", err) from err
    return Usage(size=size, inodes=len(seen))
