"""Naming a stored image in a namespace: the step that makes loaded, imported or built
blobs an image of that namespace (``docker tag`` at the storage level).

``name_image`` labels the document's references in the namespace first
(``images.references``: manifest → config and layers, index → manifests), then creates
or moves the image record; from then on the collector, starting at the record, keeps
every blob of the image. Until then nothing refers to the blobs, so callers that write
them hold a lease meanwhile (``metadata.leases.temporary``), as containerd's clients
do.

``provide_busybox`` is the offline base image as any namespace asks for it: built (or
found, as the build is deterministic: its blobs are stored once for all namespaces) and
named ``docker.io/library/busybox:latest`` there.
"""

from __future__ import annotations

from estiba.errors import NotFound
from estiba.images.references import label_references, parse_document
from estiba.metadata import leases
from estiba.metadata.images import Images
from estiba.metadata.namespaces import Namespaces
from estiba.oci import reference
from estiba.oci.image import INDEX_MEDIA_TYPES, OCI_INDEX, OCI_MANIFEST, Index

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.content.store import ContentStore
    from estiba.metadata.db import Database
    from estiba.metadata.images import Image

BUSYBOX = "docker.io/library/busybox:latest"


def name_image(store: ContentStore, db: Database, namespace: str, name: str, digest: str,
               labels: dict[str, str] | None = None) -> Image:
    """Point the image ``name`` (normalised: ``busybox`` is
    ``docker.io/library/busybox:latest``) of ``namespace`` (made if missing) at the
    stored manifest or index ``digest``; return the record."""
    full = str(reference.parse(name))
    document = parse_document(store.read(digest))
    media_type = document.media_type or (OCI_INDEX if isinstance(document, Index)
                                         else OCI_MANIFEST)
    size = store.info(digest).size
    Namespaces(db).ensure(namespace)
    label_references(store, db, namespace, digest,
                     children=media_type in INDEX_MEDIA_TYPES)
    images = Images(db, namespace)
    try:
        return images.update(full, digest, media_type, size, labels)
    except NotFound:
        return images.create(full, digest, media_type, size, labels)


def provide_busybox(store: ContentStore, db: Database, namespace: str,
                    name: str = BUSYBOX, busybox: str | None = None) -> Image:
    """``busybox:latest`` in ``namespace``, built from the host's busybox-static when
    its blobs are not stored yet (a second namespace stores nothing new)."""
    from estiba.images.base import DEFAULT_BUSYBOX, build_busybox

    Namespaces(db).ensure(namespace)
    with leases.temporary(db, namespace, "busybox") as hold:
        built = build_busybox(store, busybox or DEFAULT_BUSYBOX)
        for digest in (built.manifest_digest, built.config_digest, built.layer_digest):
            hold("content", digest)
        return name_image(store, db, namespace, name, built.manifest_digest)
