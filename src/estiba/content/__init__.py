"""Content: content-addressed blobs on disk (containerd's content store role).

Owns: the blob store under a root given by the caller (``store.ContentStore``): blobs
published only after their size and digest are verified, written through resumable,
locked ingests named by a caller's ref. Layout and guarantees are documented in
``store``. Not here: labels, leases and garbage collection, which need the metadata
database (``estiba.metadata``, to come) and will sit on top of this store.

May import: ``estiba.errors``, ``estiba.oci`` and ``estiba.kernel`` only (layer 2).
Digests are handled as ``sha256:<hex>`` strings, checked by ``store.check_digest``.

Implements: containerd's content store (``core/content``, ``plugins/content/local``):
Info, ReaderAt, Writer (ref, offset, resume), Commit, Abort, Status/ListStatuses,
Delete, Walk (here ``list``); digests as in the OCI image spec's descriptor.md.
"""

from __future__ import annotations

from estiba.content.store import BlobInfo, ContentStore, IngestStatus, Writer, check_digest

__all__ = ["BlobInfo", "ContentStore", "IngestStatus", "Writer", "check_digest"]
