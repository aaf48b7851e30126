"""Unpacking an image: its layers, from the content store, into committed snapshots named
by chain ID (containerd's ``core/unpack``), so a layer shared by many images is stored
once.

For each layer, bottom first: if committed snapshot ``<chain id>`` exists, it is reused.
Otherwise an active snapshot ``extract-<random>-<chain id>`` is prepared on the previous
chain ID, its filesystem is made visible as a directory, the decompressed blob is applied
there, the diff_id of the bytes applied is checked against the config's, and the snapshot
is committed as ``<chain id>``. On any failure the active snapshot is removed: no
half-applied layer is ever committed or left behind.

Making the filesystem visible: a bind record (a copy snapshot, or an overlay snapshot
without parent) names a plain directory, applied into directly; an overlay record is
mounted *detached* (``estiba.mounts``: in no mount table, seen by no other process, no
``chdir`` for short layer names) and applied through, so a whiteout becomes a real
overlay whiteout in the upper directory; it is unmounted before the commit.

What is unpacked: a manifest, or an index, of which the manifest for the platform asked
(linux/amd64 by default) is taken (``select_platform``; nested indexes are followed).

Garbage collection: given the metadata database, unpack works under a lease of the
snapshotter's namespace (the caller's ``lease``, or a temporary one deleted at the end),
to which every snapshot key is added *before* the snapshot is made, and the blobs it
reads: a collection running meanwhile keeps them all. At the end the documents' content
references are labelled (``images.references``) and the image config gets
``containerd.io/gc.ref.snapshot.<snapshotter>`` = the top chain id, so the snapshots
live as long as an image record reaches the config. A caller that records the image
only afterwards passes its own ``lease`` and deletes it once the record exists.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable

from estiba import mounts as mounting
from estiba.errors import AlreadyExists, InvalidArgument, NotFound
from estiba.images.layer import apply_layer
from estiba.images.references import label_references, parse_document, snapshot_label
from estiba.metadata.content import ContentLabels
from estiba.metadata.leases import Leases, temporary
from estiba.oci.digest import chain_ids
from estiba.oci.image import Index, Manifest, parse_image_config, select_platform

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.content.store import ContentStore
    from estiba.kernel.linux import Linux
    from estiba.metadata.db import Database
    from estiba.oci.image import Descriptor
    from estiba.snapshots import Snapshotter

# containerd's name for the overlay snapshotter: what gc.ref.snapshot labels carry
DEFAULT_SNAPSHOTTER = "overlayfs"
_MAX_INDEX_DEPTH = 4


def unpack(store: ContentStore, snapshotter: Snapshotter, digest: str, *,
           kernel: Linux | None = None, db: Database | None = None, namespace: str = "",
           snapshotter_name: str = DEFAULT_SNAPSHOTTER, lease: str = "",
           platform: tuple[str, str, str] = ("linux", "amd64", "")) -> str:
    """Unpack the image whose manifest or index is ``digest`` in ``store`` into
    ``snapshotter``; return the chain ID of its top layer (the parent for a container's
    snapshot). ``kernel`` mounts overlays and applies layers (a ``Linux()`` by default).

    With ``db``, the work is leased and the result labelled (see the module docstring)
    in ``namespace``, which must be the snapshotter's; ``snapshotter_name`` is the name
    the config's gc.ref.snapshot label carries; ``lease`` is an existing lease to hold
    the resources in (kept afterwards) instead of a temporary one. ``platform`` is
    (os, architecture, variant) chosen from an index."""
    if kernel is None:
        from estiba.kernel.linux import Linux

        kernel = Linux()
    if db is not None and not namespace:
        raise InvalidArgument(f"unpack {digest}: a namespace is needed with a database")
    with contextlib.ExitStack() as stack:
        if db is None:
            def hold(kind: str, ident: str) -> None:
                pass
        elif lease:
            held = Leases(db, namespace)

            def hold(kind: str, ident: str) -> None:
                held.add_resource(lease, kind, ident)
        else:
            hold = stack.enter_context(temporary(db, namespace, "unpack"))
        hold("content", digest)
        manifest, manifest_digest = _resolve(store, digest, platform, hold)
        config_digest = str(manifest.config.digest)
        hold("content", config_digest)
        top = _unpack_layers(store, snapshotter, manifest, manifest_digest, kernel, hold)
        if db is not None:
            label_references(store, db, namespace, digest)
            ContentLabels(db, namespace).update(
                config_digest, {snapshot_label(snapshotter_name): top})
        return top


def _resolve(store: ContentStore, digest: str, platform: tuple[str, str, str],
             hold: Callable[[str, str], None]) -> tuple[Manifest, str]:
    """The manifest ``digest`` names, through indexes for ``platform``."""
    current = digest
    for _ in range(_MAX_INDEX_DEPTH):
        document = parse_document(store.read(current))
        if not isinstance(document, Index):
            return document, current
        try:
            chosen = select_platform(document, *platform)
        except NotFound as err:
            raise NotFound(f"unpack {digest}: {err}") from err
        current = str(chosen.digest)
        hold("content", current)
    raise InvalidArgument(
        f"unpack {digest}: indexes nested deeper than {_MAX_INDEX_DEPTH} levels")


def _unpack_layers(store: ContentStore, snapshotter: Snapshotter, manifest: Manifest,
                   manifest_digest: str, kernel: Linux,
                   hold: Callable[[str, str], None]) -> str:
    config = parse_image_config(store.read(str(manifest.config.digest)))
    diff_ids = config.rootfs.diff_ids
    if len(diff_ids) != len(manifest.layers):
        raise InvalidArgument(
            f"unpack {manifest_digest}: {len(manifest.layers)} layers but "
            f"{len(diff_ids)} diff ids in config {manifest.config.digest}")
    if not diff_ids:
        raise InvalidArgument(f"unpack {manifest_digest}: the image has no layers")
    chains = [str(chain) for chain in chain_ids(diff_ids)]
    # all held before the first layer is unpacked, snapshots before they are made: a
    # collection meanwhile keeps every one
    for layer, name in zip(manifest.layers, chains, strict=True):
        hold("content", str(layer.digest))
        hold("snapshot", name)
    parent = ""
    for layer, diff_id, name in zip(manifest.layers, diff_ids, chains, strict=True):
        if not _committed(snapshotter, name):
            key = f"extract-{secrets.token_hex(8)}-{name}"
            hold("snapshot", key)
            _unpack_layer(store, snapshotter, layer, str(diff_id), name, parent, kernel,
                          key)
        parent = name
    return parent


def _committed(snapshotter: Snapshotter, name: str) -> bool:
    try:
        info = snapshotter.stat(name)
    except NotFound:
        return False
    return info.kind == "committed"


def _unpack_layer(store: ContentStore, snapshotter: Snapshotter, layer: Descriptor,
                  diff_id: str, chain: str, parent: str, kernel: Linux, key: str) -> None:
    mounts = snapshotter.prepare(key, parent=parent)
    try:
        with mounting.detached(mounts, kernel) as dest, \
                store.reader(str(layer.digest)) as blob:
            result = apply_layer(blob, dest, kernel=kernel)
        if result.diff_id != diff_id:
            raise InvalidArgument(
                f"unpack layer {layer.digest}: diff id {result.diff_id} does not match "
                f"{diff_id} of the image config")
        try:
            snapshotter.commit(chain, key)
        except AlreadyExists:
            # another unpack committed the same layer meanwhile: theirs is as good
            snapshotter.remove(key)
    except BaseException:
        with contextlib.suppress(NotFound):
            snapshotter.remove(key)
        raise
