"""The content service: the blobs of the one content store as a namespace sees them,
with that namespace's labels (``metadata.content``)."""

from __future__ import annotations

from estiba.errors import NotFound
from estiba.metadata.content import ContentLabels

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from estiba.content.store import BlobInfo, ContentStore
    from estiba.metadata.db import Database


class Content:
    def __init__(self, store: ContentStore, db: Database) -> None:
        self.store = store
        self.db = db

    def list(self, namespace: str) -> list[tuple[BlobInfo, dict[str, str]]]:
        """Every blob, with its labels in ``namespace`` ({} for none)."""
        labels = ContentLabels(self.db, namespace).list()
        return [(info, labels.get(info.digest, {})) for info in self.store.list()]

    def info(self, namespace: str, digest: str) -> tuple[BlobInfo, dict[str, str]]:
        return self.store.info(digest), ContentLabels(self.db, namespace).get(digest)

    def update(self, namespace: str, digest: str,
               changes: Mapping[str, str | None]) -> dict[str, str]:
        """Set (or, with None or "", remove) labels of a stored blob in ``namespace``."""
        self.store.info(digest)
        return ContentLabels(self.db, namespace).update(digest, changes)

    def delete(self, namespace: str, digest: str) -> None:
        """Delete the blob and the namespace's labels on it, as containerd does; the bytes
        are shared, so other namespaces lose them too (their labels stay until the
        collector drops them). NotFound when there was neither."""
        labels = ContentLabels(self.db, namespace)
        had_labels = bool(labels.get(digest))
        labels.delete(digest)
        try:
            self.store.delete(digest)
        except NotFound:
            if not had_labels:
                raise
