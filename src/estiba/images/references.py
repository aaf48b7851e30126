"""The garbage-collection references of an image's documents, as content labels: a
manifest refers to its config and layers, an index to its manifests, with containerd's
label names (``containerd.io/gc.ref.content.config``, ``.l.<i>``, ``.m.<i>``), so that
the collector (``estiba.metadata.gc``), starting from an image record's target, reaches
every blob of the image. Loaders and pulls label what they store; unpack labels the
config with the snapshot it made (``snapshot_label``).

``content_refs`` is pure (the labels of one document's bytes); ``label_references``
writes them for a stored document, and with ``children`` for the manifests of an index
that are in the store too.
"""

from __future__ import annotations

import json

from estiba.errors import InvalidArgument
from estiba.metadata.content import ContentLabels
from estiba.metadata.gc import LABEL_REF_CONTENT, LABEL_REF_SNAPSHOT
from estiba.oci.image import (
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    Index,
    Manifest,
    parse_index,
    parse_manifest,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.content.store import ContentStore
    from estiba.metadata.db import Database

CONFIG = LABEL_REF_CONTENT + ".config"
LAYER = LABEL_REF_CONTENT + ".l."
MANIFEST = LABEL_REF_CONTENT + ".m."
# the ones this module writes, hence replaces
_OWN = (CONFIG, LAYER, MANIFEST)


def snapshot_label(snapshotter: str) -> str:
    """The label a config carries naming its unpacked top snapshot in ``snapshotter``."""
    if not snapshotter or "/" in snapshotter:
        raise InvalidArgument(f"invalid snapshotter name {snapshotter!r}")
    return LABEL_REF_SNAPSHOT + snapshotter


def parse_document(data: bytes) -> Manifest | Index:
    """A manifest or an index, told apart by ``mediaType`` or, without one, by shape
    (``manifests`` makes an index, as the image spec's index has it)."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"parse image document: {err}") from err
    if not isinstance(doc, dict):
        raise InvalidArgument("parse image document: not a JSON object")
    media_type = doc.get("mediaType") or ""
    if media_type in INDEX_MEDIA_TYPES or (not media_type and "manifests" in doc):
        return parse_index(data)
    if media_type in MANIFEST_MEDIA_TYPES or (not media_type and "config" in doc):
        return parse_manifest(data)
    raise InvalidArgument(
        f"parse image document: media type {media_type!r} is neither a manifest nor an "
        "index")


def content_refs(document: Manifest | Index) -> dict[str, str]:
    """The gc.ref.content labels of ``document``: config and layers of a manifest,
    manifests of an index."""
    if isinstance(document, Index):
        return {f"{MANIFEST}{i}": str(child.digest)
                for i, child in enumerate(document.manifests)}
    labels = {CONFIG: str(document.config.digest)}
    labels.update({f"{LAYER}{i}": str(layer.digest)
                   for i, layer in enumerate(document.layers)})
    return labels


def label_references(store: ContentStore, db: Database, namespace: str, digest: str, *,
                     children: bool = True) -> dict[str, str]:
    """Label the stored manifest or index ``digest`` in ``namespace`` with the blobs it
    refers to, replacing the config/layer/manifest labels it had (other labels stay);
    with ``children``, do the same for each manifest of an index found in the store
    (an index usually lists platforms that were not pulled). Returns the labels of
    ``digest`` afterwards."""
    labels = ContentLabels(db, namespace)
    document = parse_document(store.read(digest))
    refs = content_refs(document)
    stale = {key: None for key in labels.get(digest)
             if key.startswith(_OWN) and key not in refs}
    result = labels.update(digest, {**stale, **refs})
    if children and isinstance(document, Index):
        for child in document.manifests:
            if store.exists(str(child.digest)):
                label_references(store, db, namespace, str(child.digest), children=True)
    return result
