"""Garbage collection of blobs and snapshots nothing refers to, as containerd's metadata
GC does (``core/metadata/gc.go``, ``docs/garbage-collection.md``): mark from the roots
along the references, then sweep what was not reached.

Nodes: a blob as seen from a namespace, ``Node("content", namespace, digest)``, and a
snapshot, ``Node("snapshot", namespace, key)``. The bytes of a blob are shared (one
content store): a blob goes only when no namespace's node for it is live. Snapshot
records are per namespace, and one database holds the records of one snapshotter (the
``snapshots`` table has no snapshotter column), so a snapshot is named by namespace and
key alone.

Roots:
- the target of every image record, in its namespace (and what the image's labels
  refer to);
- every resource of an unexpired lease: ``content`` (a digest) and ``snapshot`` (a key)
  in the lease's namespace, ``ingest`` (an ingest ref of the content store);
- every blob or snapshot labelled ``containerd.io/gc.root`` (any value);
- every container record (``metadata/containers.py``), as containerd's are: its
  ``snapshot_key`` when its ``snapshotter`` is the one collected, the target of its
  image while that image record exists, and what its gc.ref labels name.

References (labels, containerd's convention):
- ``containerd.io/gc.ref.content`` and ``containerd.io/gc.ref.content.<suffix>`` = a
  digest: a blob (or snapshot, or image) keeps that blob in its namespace (the loaders
  use ``.config``, ``.l.<i>`` for layers, ``.m.<i>`` for an index's manifests);
- ``containerd.io/gc.ref.snapshot.<snapshotter>`` = a key: keeps that snapshot of the
  namespace (unpack puts it on the image config, naming the top layer's chain id);
  labels naming another snapshotter are not followed;
- a snapshot keeps its parent, hence its whole chain.

Ingests (the content store's in-progress writes) are not nodes: one is kept while a
lease holds its ref, or while a writer holds it (``abort`` is refused then), or while it
was written to less than ``ingest_grace`` seconds ago (a writer between two calls, or a
client that has not taken a lease yet); other ingests are aborted. Expired leases are
deleted first, so what only they held goes in the same collection.

The race left: candidates are listed (blobs first, then the metadata in one
transaction) before the sweep; a reference or lease added to an old blob after that
read does not save it. Resources made after the read are not candidates. Callers that
create resources take a lease first (as unpack does), as containerd's clients must.

``mark`` and ``plan`` are pure; ``collect`` reads, plans and acts.
"""

from __future__ import annotations

import time

from estiba.errors import Conflict, InvalidArgument, NotFound
from estiba.metadata import containers as container_records
from estiba.metadata import content as content_labels
from estiba.metadata import leases as lease_records
from estiba.metadata.images import Images
from estiba.metadata.namespaces import Namespaces
from estiba.metadata.snapshots import SnapshotRecords
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Protocol

    from estiba.metadata.db import Database

    class _BlobInfo(Protocol):
        digest: str
        size: int

    class _IngestStatus(Protocol):
        ref: str
        offset: int
        updated_at: float

    class Blobs(Protocol):
        """What the collector needs of the content store."""

        def list(self) -> list[_BlobInfo]: ...
        def delete(self, digest: str) -> None: ...
        def ingests(self) -> list[_IngestStatus]: ...
        def abort(self, ref: str) -> None: ...

    class _Usage(Protocol):
        size: int

    class Snapshots(Protocol):
        """What the collector needs of a snapshotter (of one namespace)."""

        def remove(self, key: str) -> None: ...
        def usage(self, key: str) -> _Usage: ...

LABEL_ROOT = "containerd.io/gc.root"
LABEL_REF_CONTENT = "containerd.io/gc.ref.content"
LABEL_REF_SNAPSHOT = "containerd.io/gc.ref.snapshot."
CONTENT = "content"
SNAPSHOT = "snapshot"
# an ingest no lease holds is left alone this long after its last write
INGEST_GRACE = 3600.0


class Node(Record):
    kind: str  # CONTENT | SNAPSHOT
    namespace: str
    id: str  # a digest, or a snapshot key


class SnapshotEntry(Record):
    """One snapshot record, as the planner sees it."""

    namespace: str
    key: str
    parent: str = ""
    labels: tuple[tuple[str, str], ...] = ()


class IngestEntry(Record):
    ref: str
    size: int = 0
    updated_at: float = 0.0


class State(Record):
    """Everything the planner decides from, read at one moment."""

    images: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()  # ns, digest, labels
    leased: tuple[tuple[str, str, str], ...] = ()  # namespace, type, id
    labels: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()  # ns, digest, labels
    blobs: tuple[tuple[str, int], ...] = ()  # digest, size
    snapshots: tuple[SnapshotEntry, ...] = ()
    ingests: tuple[IngestEntry, ...] = ()
    containers: tuple[container_records.ContainerRoot, ...] = ()


class Plan(Record):
    live: frozenset[Node] = frozenset()
    blobs: tuple[str, ...] = ()  # digests to delete
    labels: tuple[tuple[str, str], ...] = ()  # (namespace, digest) label rows to drop
    snapshots: tuple[tuple[str, str], ...] = ()  # (namespace, key), children first
    ingests: tuple[str, ...] = ()  # refs to abort


class GCResult(Record):
    blobs_removed: tuple[str, ...] = ()
    snapshots_removed: tuple[tuple[str, str], ...] = ()  # (namespace, key)
    ingests_aborted: tuple[str, ...] = ()
    leases_expired: tuple[tuple[str, str], ...] = ()  # (namespace, id)
    labels_dropped: int = 0
    blob_bytes: int = 0
    snapshot_bytes: int = 0
    ingest_bytes: int = 0
    skipped: tuple[str, ...] = ()  # what changed under the sweep and was left alone

    @property
    def bytes_freed(self) -> int:
        return self.blob_bytes + self.snapshot_bytes + self.ingest_bytes


# --- pure ----------------------------------------------------------------------------


def is_root(labels: Iterable[tuple[str, str]]) -> bool:
    return any(key == LABEL_ROOT for key, _ in labels)


def label_refs(namespace: str, labels: Iterable[tuple[str, str]],
               snapshotter: str) -> list[Node]:
    """The nodes the gc.ref labels of an object of ``namespace`` refer to; snapshot
    references count only when they name ``snapshotter`` ("" follows none)."""
    refs = []
    for key, value in labels:
        if not value:
            continue
        if key == LABEL_REF_CONTENT or key.startswith(LABEL_REF_CONTENT + "."):
            refs.append(Node(kind=CONTENT, namespace=namespace, id=value))
        elif snapshotter and key == LABEL_REF_SNAPSHOT + snapshotter:
            refs.append(Node(kind=SNAPSHOT, namespace=namespace, id=value))
    return refs


def mark(roots: Iterable[Node], refs: Mapping[Node, Iterable[Node]]) -> set[Node]:
    """Every node reachable from ``roots`` along ``refs`` (the roots included)."""
    live: set[Node] = set()
    pending = list(roots)
    while pending:
        node = pending.pop()
        if node in live:
            continue
        live.add(node)
        pending.extend(ref for ref in refs.get(node, ()) if ref not in live)
    return live


def removal_order(snapshots: Iterable[SnapshotEntry],
                  doomed: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (namespace, key) of ``doomed`` ordered children first (deepest first), so
    that no snapshot is removed while one of its children is still there."""
    parents = {(s.namespace, s.key): s.parent for s in snapshots}

    def depth(item: tuple[str, str]) -> int:
        namespace, key = item
        seen = 0
        while parents.get((namespace, key)):
            key = parents[(namespace, key)]
            seen += 1
            if seen > len(parents):  # a cycle cannot be recorded, but never loop
                break
        return seen

    return sorted(doomed, key=lambda item: (-depth(item), item))


def plan(state: State, snapshotter: str, now: float,
         ingest_grace: float = INGEST_GRACE) -> Plan:
    """What to delete in ``state``. ``snapshotter`` is the name gc.ref.snapshot labels
    must carry to be followed; "" means no snapshotter is collected, and every
    snapshot is then kept (and keeps what it refers to)."""
    roots: list[Node] = []
    refs: dict[Node, list[Node]] = {}
    for namespace, digest, labels in state.images:
        roots.append(Node(kind=CONTENT, namespace=namespace, id=digest))
        roots.extend(label_refs(namespace, labels, snapshotter))
    for container in state.containers:
        if container.image_target:
            roots.append(Node(kind=CONTENT, namespace=container.namespace,
                              id=container.image_target))
        if snapshotter and container.snapshot_key and container.snapshotter == snapshotter:
            roots.append(Node(kind=SNAPSHOT, namespace=container.namespace,
                              id=container.snapshot_key))
        roots.extend(label_refs(container.namespace, container.labels, snapshotter))
    for namespace, kind, ident in state.leased:
        if kind in (CONTENT, SNAPSHOT):
            roots.append(Node(kind=kind, namespace=namespace, id=ident))
    for namespace, digest, labels in state.labels:
        node = Node(kind=CONTENT, namespace=namespace, id=digest)
        refs.setdefault(node, []).extend(label_refs(namespace, labels, snapshotter))
        if is_root(labels):
            roots.append(node)
    for entry in state.snapshots:
        node = Node(kind=SNAPSHOT, namespace=entry.namespace, id=entry.key)
        edges = refs.setdefault(node, [])
        if entry.parent:
            edges.append(Node(kind=SNAPSHOT, namespace=entry.namespace, id=entry.parent))
        edges.extend(label_refs(entry.namespace, entry.labels, snapshotter))
        if not snapshotter or is_root(entry.labels):
            roots.append(node)
    live = mark(roots, refs)

    live_digests = {node.id for node in live if node.kind == CONTENT}
    doomed_snapshots = {(s.namespace, s.key) for s in state.snapshots
                        if Node(kind=SNAPSHOT, namespace=s.namespace, id=s.key) not in live}
    leased_ingests = {ident for _, kind, ident in state.leased if kind == "ingest"}
    return Plan(
        live=frozenset(live),
        blobs=tuple(sorted(digest for digest, _ in state.blobs
                           if digest not in live_digests)),
        labels=tuple(sorted((namespace, digest) for namespace, digest, _ in state.labels
                            if Node(kind=CONTENT, namespace=namespace, id=digest)
                            not in live)),
        snapshots=tuple(removal_order(state.snapshots, doomed_snapshots)),
        ingests=tuple(sorted(i.ref for i in state.ingests if i.ref not in leased_ingests
                             and now - i.updated_at >= ingest_grace)),
    )


# --- reading and acting ------------------------------------------------------------


def read_state(db: Database, blobs: Iterable[_BlobInfo],
               ingests: Iterable[_IngestStatus], now: float) -> State:
    """The metadata half of ``State``, read in one transaction (so that images, leases,
    labels and snapshots are seen at one moment), with the given store listing."""
    with db.transaction():
        images = []
        snapshots = []
        for namespace in Namespaces(db).list():
            for image in Images(db, namespace.name).list():
                images.append((namespace.name, image.target_digest, image.labels))
            for record in SnapshotRecords(db, namespace.name).list():
                snapshots.append(SnapshotEntry(namespace=namespace.name, key=record.key,
                                               parent=record.parent, labels=record.labels))
        leased = lease_records.held(db, now)
        containers = container_records.every_root(db)
        labels = [(namespace, digest, tuple(sorted(values.items())))
                  for namespace, digest, values in content_labels.every_label(db)]
    return State(
        images=tuple(images), leased=tuple(leased), labels=tuple(labels),
        blobs=tuple((b.digest, b.size) for b in blobs),
        snapshots=tuple(snapshots),
        ingests=tuple(IngestEntry(ref=i.ref, size=i.offset, updated_at=i.updated_at)
                      for i in ingests),
        containers=tuple(containers))


def collect(db: Database, store: Blobs,
            snapshotters: Mapping[str, Callable[[str], Snapshots]] | None = None, *,
            now: float | None = None, ingest_grace: float = INGEST_GRACE) -> GCResult:
    """Delete expired leases, then every blob, snapshot and ingest no root reaches.

    ``snapshotters`` maps the snapshotter's name (what gc.ref.snapshot labels carry,
    e.g. ``overlayfs``) to a function giving its snapshotter for a namespace; one entry
    at most (the database records one snapshotter's snapshots). Without one, snapshots
    are all kept. ``now`` (seconds since the epoch) decides lease expiry and ingest age.
    """
    snapshotters = dict(snapshotters or {})
    if len(snapshotters) > 1:
        raise InvalidArgument(
            f"collect garbage: {len(snapshotters)} snapshotters given, but a metadata "
            "database records the snapshots of one")
    name, make = next(iter(snapshotters.items()), ("", None))
    now = time.time() if now is None else now

    expired = lease_records.delete_expired(db, now)
    # the store first: a blob committed after this listing is not a candidate
    blob_list = store.list()
    ingest_list = store.ingests()
    state = read_state(db, blob_list, ingest_list, now)
    todo = plan(state, name, now, ingest_grace)

    skipped: list[str] = []
    removed_snapshots: list[tuple[str, str]] = []
    snapshot_bytes = 0
    by_namespace: dict[str, Snapshots] = {}
    for namespace, key in todo.snapshots if make is not None else ():
        snapshots = by_namespace.get(namespace)
        if snapshots is None:
            snapshots = by_namespace[namespace] = make(namespace)
        try:
            size = snapshots.usage(key).size
        except NotFound:
            size = 0
        try:
            snapshots.remove(key)
        except NotFound:
            continue  # removed meanwhile
        except Conflict as err:  # a child was made on it meanwhile
            skipped.append(f"snapshot {namespace}/{key}: {err}")
            continue
        removed_snapshots.append((namespace, key))
        snapshot_bytes += size

    sizes = dict(state.blobs)
    removed_blobs: list[str] = []
    for digest in todo.blobs:
        try:
            store.delete(digest)
        except NotFound:
            continue
        removed_blobs.append(digest)
    dropped = content_labels.forget(db, todo.labels)

    ingest_sizes = {i.ref: i.size for i in state.ingests}
    aborted: list[str] = []
    for ref in todo.ingests:
        try:
            store.abort(ref)
        except NotFound:
            continue
        except Conflict as err:  # a writer holds it: being written
            skipped.append(f"ingest {ref}: {err}")
            continue
        aborted.append(ref)

    return GCResult(
        blobs_removed=tuple(removed_blobs),
        snapshots_removed=tuple(removed_snapshots),
        ingests_aborted=tuple(aborted),
        leases_expired=tuple(expired),
        labels_dropped=dropped,
        blob_bytes=sum(sizes[d] for d in removed_blobs),
        snapshot_bytes=snapshot_bytes,
        ingest_bytes=sum(ingest_sizes[r] for r in aborted),
        skipped=tuple(skipped),
    )
