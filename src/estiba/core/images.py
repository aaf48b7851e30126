"""The image service: a namespace's images (``metadata.images`` records pointing at
manifests or indexes in the content store), loaded from and saved to ``docker save``
archives, tagged, deleted, unpacked into the namespace's snapshotter.

Garbage collection: an import stores blobs before any record names them. It runs under
a temporary lease holding every blob of each loaded image until the image is named, and
under ``CollectorLock.shared`` until the lease holds them (the archive loader commits
blobs before their digests are known to us), so a collection never takes them. Deleting
an image drops its record only; the next collection frees what nothing else reaches.
"""

from __future__ import annotations

import json
import time

from estiba.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from estiba.images import naming
from estiba.images.references import parse_document
from estiba.images.unpack import DEFAULT_SNAPSHOTTER
from estiba.images.unpack import unpack as unpack_image
from estiba.metadata import leases
from estiba.metadata.images import Images as ImageRecords
from estiba.metadata.namespaces import Namespaces
from estiba.oci import reference
from estiba.oci.image import Index, select_platform

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import BinaryIO

    from estiba.content.store import ContentStore
    from estiba.core.interfaces import Publish
    from estiba.core.leases import CollectorLock
    from estiba.kernel.linux import Linux
    from estiba.metadata.db import Database
    from estiba.metadata.images import Image
    from estiba.oci.image import Manifest
    from estiba.snapshots import Snapshotter

_MAX_INDEX_DEPTH = 4


def normalise(name: str) -> str:
    """``busybox`` -> ``docker.io/library/busybox:latest``."""
    return str(reference.parse(name))


def untagged_name(manifest_digest: str, now: float | None = None) -> str:
    """The name ``ctr import --digests`` gives an image the archive does not name."""
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    return normalise(f"import-{day}@{manifest_digest}")


class Images:
    def __init__(self, store: ContentStore, db: Database,
                 snapshotter_for: Callable[[str], Snapshotter], *,
                 snapshotter_name: str = DEFAULT_SNAPSHOTTER,
                 collector: CollectorLock | None = None,
                 publish: Publish | None = None, kernel: Linux | None = None,
                 platform: tuple[str, str, str] | None = None,
                 tmp_dir: str | None = None,
                 failpoint: Callable[[str], None] | None = None) -> None:
        from estiba.core.leases import CollectorLock

        self.store = store
        self.db = db
        self.snapshotter_for = snapshotter_for
        self.snapshotter_name = snapshotter_name
        self.collector = collector or CollectorLock()
        self._publish = publish
        self.kernel = kernel
        if platform is None:
            from estiba.images.base import host_architecture

            platform = ("linux", host_architecture(), "")
        self.platform = platform
        self.tmp_dir = tmp_dir
        self._failpoint = failpoint  # the daemon's debug fault points, or None

    # --- reading ---------------------------------------------------------------------

    def list(self, namespace: str) -> list[Image]:
        return ImageRecords(self.db, namespace).list()

    def get(self, namespace: str, name: str) -> Image:
        return ImageRecords(self.db, namespace).get(normalise(name))

    def resolve(self, namespace: str, name: str) -> Image:
        """The image, or, for a built-in one (``busybox:latest``) the namespace does not
        have yet, the image provided there: what a pull would do, without a registry."""
        try:
            return self.get(namespace, name)
        except NotFound:
            if normalise(name) != naming.BUSYBOX:
                raise
        try:
            return self.provide_busybox(namespace)
        except (AlreadyExists, Conflict):
            # another request provided it meanwhile: the same image
            return self.get(namespace, name)

    def manifest(self, namespace: str, name: str) -> tuple[Manifest, str]:
        """The image's manifest for the service's platform, and its digest."""
        return self._manifest(self.get(namespace, name).target_digest)

    def config(self, namespace: str, name: str) -> dict:
        """The image config (``config.Env``, ``config.Cmd`` ...) of the platform's
        manifest, as the JSON object stored."""
        manifest, _ = self.manifest(namespace, name)
        raw = self.store.read(str(manifest.config.digest))
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidArgument(f"image {name}: config {manifest.config.digest}: "
                                  f"{err}") from err
        if not isinstance(value, dict):
            raise InvalidArgument(f"image {name}: config {manifest.config.digest}: not a "
                                  "JSON object")
        return value

    # --- writing ---------------------------------------------------------------------

    def import_archive(self, namespace: str, stream: BinaryIO, *, tag: str = "",
                       unpack: bool = True) -> list[Image]:
        """Load a ``docker save`` (classic or OCI) archive and name its images in
        ``namespace`` (made if missing); ``tag`` names the first image the archive
        leaves unnamed, later unnamed ones get ``import-<date>@<digest>``. With
        ``unpack``, each is unpacked into the namespace's snapshotter."""
        from estiba.images.archive import load_archive

        if tag:
            tag = normalise(tag)
        Namespaces(self.db).ensure(namespace)
        named: list[Image] = []
        with leases.temporary(self.db, namespace, "import") as hold:
            with self.collector.shared():
                loaded = load_archive(self.store, stream, self.tmp_dir)
                for image in loaded:
                    for digest in self._blobs(image.manifest_digest):
                        hold("content", digest)
            if self._failpoint is not None:
                self._failpoint("import-after-blobs")
            for image in loaded:
                names = list(image.names)
                if not names:
                    names = [tag] if tag else [untagged_name(image.manifest_digest)]
                    tag = ""
                for name in names:
                    named.append(naming.name_image(self.store, self.db, namespace, name,
                                                   image.manifest_digest))
        for image in named:
            self._event("/images/create", namespace, image)
        if self._failpoint is not None:
            self._failpoint("import-after-naming")
        if unpack:
            for digest in dict.fromkeys(image.target_digest for image in named):
                self._unpack(namespace, digest)
        return named

    def export_archive(self, namespace: str, names: Sequence[str], out: BinaryIO) -> None:
        """Write the images ``names`` as a ``docker load`` archive to ``out``."""
        from estiba.images.archive import save_archive

        if not names:
            raise InvalidArgument("export images: no image named")
        by_manifest: dict[str, list[str]] = {}
        for name in names:
            image = self.get(namespace, name)
            _, manifest_digest = self._manifest(image.target_digest)
            by_manifest.setdefault(manifest_digest, []).append(image.name)
        save_archive(self.store, [(found, digest) for digest, found in by_manifest.items()],
                     out, self.tmp_dir)

    def tag(self, namespace: str, source: str, target: str) -> Image:
        """Name ``target`` the image ``source`` is (moving ``target`` if it existed)."""
        image = self.get(namespace, source)
        made = naming.name_image(self.store, self.db, namespace, target, image.target_digest)
        self._event("/images/create", namespace, made)
        return made

    def delete(self, namespace: str, name: str) -> None:
        """Drop the record; the collector frees the blobs and snapshots it alone kept."""
        full = normalise(name)
        image = ImageRecords(self.db, namespace).get(full)
        ImageRecords(self.db, namespace).delete(full)
        self._event("/images/delete", namespace, image)

    def provide_busybox(self, namespace: str) -> Image:
        """``docker.io/library/busybox:latest`` built from the host's busybox."""
        with self.collector.shared():
            image = naming.provide_busybox(self.store, self.db, namespace)
        self._event("/images/create", namespace, image)
        return image

    def unpack(self, namespace: str, name: str) -> str:
        """Unpack the image into the namespace's snapshotter (layers already there are
        reused); return its top chain id, the parent of a container's snapshot."""
        return self._unpack(namespace, self.get(namespace, name).target_digest)

    # --- helpers ---------------------------------------------------------------------

    def _unpack(self, namespace: str, digest: str) -> str:
        snapshotter = self.snapshotter_for(namespace)
        if self._failpoint is not None:
            snapshotter = _FailpointAfterCommit(snapshotter, self._failpoint)
        return unpack_image(self.store, snapshotter, digest,
                            kernel=self.kernel, db=self.db, namespace=namespace,
                            snapshotter_name=self.snapshotter_name, platform=self.platform)

    def _manifest(self, digest: str) -> tuple[Manifest, str]:
        current = digest
        for _ in range(_MAX_INDEX_DEPTH):
            document = parse_document(self.store.read(current))
            if not isinstance(document, Index):
                return document, current
            try:
                current = str(select_platform(document, *self.platform).digest)
            except NotFound as err:
                raise NotFound(f"image {digest}: {err}") from err
        raise InvalidArgument(
            f"image {digest}: indexes nested deeper than {_MAX_INDEX_DEPTH} levels")

    def _blobs(self, digest: str) -> list[str]:
        """``digest`` and every blob of the store it reaches (through an index's
        stored manifests)."""
        found = [digest]
        document = parse_document(self.store.read(digest))
        if isinstance(document, Index):
            for child in document.manifests:
                if self.store.exists(str(child.digest)):
                    found.extend(self._blobs(str(child.digest)))
        else:
            found.append(str(document.config.digest))
            found.extend(str(layer.digest) for layer in document.layers)
        return found

    def _event(self, topic: str, namespace: str, image: Image) -> None:
        if self._publish is not None:
            self._publish(topic, namespace, {"name": image.name,
                                             "target": image.target_digest})


class _FailpointAfterCommit:
    """The snapshotter an unpack uses while the daemon's debug failpoints are on: the
    failpoint ``unpack-after-layer`` is hit after each layer's commit (unpack commits
    one snapshot per layer), before the image config is labelled with the top one."""

    def __init__(self, snapshotter: Snapshotter, failpoint: Callable[[str], None]) -> None:
        self._snapshotter = snapshotter
        self._failpoint = failpoint

    def commit(self, name: str, key: str) -> None:
        self._snapshotter.commit(name, key)
        self._failpoint("unpack-after-layer")

    def __getattr__(self, name: str) -> object:
        return getattr(self._snapshotter, name)
