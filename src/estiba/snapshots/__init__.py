"""Snapshots: copy-on-write filesystems for image layers and container root filesystems,
as containerd's snapshotters (``core/snapshots/snapshotter.go``) have them.

Owns: the snapshot verbs (prepare, view, mounts, commit, remove, stat, usage, walk), the
directories ``<root>/snapshots/<id>/{fs,work}`` (plus ``<root>/snapshots/l/<short>``
links for overlay) and the ``Mount`` records that describe how to see a snapshot.
A snapshotter never mounts anything: it returns ``Mount`` records (containerd's
``core/mount/mount.go``) and whoever runs the container mounts them.

Kinds: ``active`` (writable, made by ``prepare``), ``view`` (read-only, made by ``view``),
``committed`` (made from an active snapshot by ``commit``; immutable, and the only kind
that may be a parent; any number of snapshots share one committed parent, stored once).

Implementations: ``overlay.OverlaySnapshotter`` (overlayfs, the default) and
``native.CopySnapshotter`` (a full copy per snapshot, where overlay is missing).
Records of which key is which snapshot live in ``estiba.metadata.snapshots``.
May import: ``estiba.errors``, ``estiba.oci``, ``estiba.kernel``, ``estiba.content``,
``estiba.metadata``.
"""

from __future__ import annotations

from estiba.oci.record import Record


class Mount(Record):
    """One mount(2) call: ``mount -t <type> -o <options> <source> <target>``.

    ``target`` is a path relative to the root the caller mounts into ("" for the root
    itself). ``cwd``, when set, is the directory the mounting side must ``chdir`` to
    before the call: the options then name paths relative to it. Overlay uses this when
    absolute lower directories would not fit in the one page (4096 bytes) the kernel
    copies the options into, as Docker's overlay2 does.
    """

    type: str
    source: str
    target: str = ""
    options: tuple[str, ...] = ()
    cwd: str = ""


class Info(Record):
    """What ``stat`` and ``walk`` report of one snapshot; ``name`` is its key (its name
    once committed); ``parent`` is the parent's name, "" for a base snapshot."""

    kind: str  # "view" | "active" | "committed"
    name: str
    parent: str = ""
    created_at: str = ""
    updated_at: str = ""
    labels: tuple[tuple[str, str], ...] = ()


class Usage(Record):
    """Disk used by a snapshot's own directory (not its parents): bytes allocated and
    inodes, each inode counted once however many hard links name it."""

    size: int = 0
    inodes: int = 0


class Snapshotter:
    """The interface every snapshotter implements (checked by one conformance suite).

    Keys and names belong to the namespace the snapshotter was made for.
    Errors: ``NotFound`` (no such key), ``AlreadyExists`` (key or name taken),
    ``FailedPrecondition`` (wrong kind: a parent not committed, a commit of a view),
    ``Conflict`` (removing a parent), ``InvalidArgument`` (a malformed key).
    """

    def prepare(self, key: str, parent: str = "",
                labels: dict[str, str] | None = None) -> list[Mount]:
        """Make active snapshot ``key``, writable, on top of committed ``parent`` (empty
        without one); return the mounts that show it."""
        raise NotImplementedError

    def view(self, key: str, parent: str = "",
             labels: dict[str, str] | None = None) -> list[Mount]:
        """Make read-only snapshot ``key`` of committed ``parent``; return its mounts."""
        raise NotImplementedError

    def mounts(self, key: str) -> list[Mount]:
        """The mounts of active or view snapshot ``key`` (again)."""
        raise NotImplementedError

    def commit(self, name: str, key: str) -> None:
        """Turn active ``key`` into committed ``name``; ``key`` is gone afterwards. Nothing
        may have the snapshot mounted by then."""
        raise NotImplementedError

    def remove(self, key: str) -> None:
        """Remove snapshot ``key`` and its directory; a parent of others is refused."""
        raise NotImplementedError

    def stat(self, key: str) -> Info:
        raise NotImplementedError

    def usage(self, key: str) -> Usage:
        raise NotImplementedError

    def walk(self) -> list[Info]:
        """Every snapshot of the namespace, oldest first."""
        raise NotImplementedError
