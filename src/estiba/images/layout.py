"""OCI image layouts: export images from the content store into one, import them back.

Spec: opencontainers/image-spec ``image-layout.md``. A layout is a directory::

    oci-layout          {"imageLayoutVersion": "1.0.0"}
    index.json          an image index: the entry points, named by annotations
    blobs/<alg>/<hex>   every blob, named by its digest

Names, as containerd and ``docker save`` write them: each index.json entry carries
``org.opencontainers.image.ref.name`` (the tag, ``latest``) and
``io.containerd.image.name`` (the full reference, ``docker.io/library/busybox:latest``).
Import prefers the full reference and falls back to the tag.

Trust on import: nothing of the layout is believed. Every blob is hashed while it is
copied into a store ingest, and an image's blobs are committed only when all of them
matched their digests and sizes; so a corrupted blob imports nothing of its image
(images earlier in index.json stay imported). An entry that is an index (nested to any
depth up to ``_MAX_DEPTH``) is resolved to one platform's manifest with
``select_platform``; only that manifest, its config and its layers are imported.
"""

from __future__ import annotations

import os

from estiba.content.store import abort_staged, commit_together
from estiba.errors import (
    InvalidArgument,
    NotFound,
    Unimplemented,
    from_oserror,
)
from estiba.oci.image import (
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
)
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.content.store import ContentStore, Writer
    from estiba.images.sources import FileSource
    from estiba.oci.image import Descriptor

LAYOUT_VERSION = "1.0.0"
REF_NAME = "org.opencontainers.image.ref.name"
IMAGE_NAME = "io.containerd.image.name"
_MAX_DEPTH = 8
_CHUNK = 1 << 20
_MAX_DOCUMENT = 4 << 20  # an index or manifest bigger than this is refused unread


class ImportedImage(Record):
    name: str  # the full reference, or the tag, or "" when index.json names none
    manifest_digest: str


# --- export --------------------------------------------------------------------------


def export_layout(
    store: ContentStore, images: list[tuple[str, str]], out_dir: str
) -> None:
    """Write the images ``(reference, manifest digest)`` of ``store`` as a layout in
    ``out_dir`` (created if missing; blobs already there are kept). A digest may name an
    index: its manifests, configs and layers are exported with it."""
    from estiba.oci import reference as _reference

    entries = []
    for ref_text, digest in images:
        ref = _reference.parse(ref_text)
        raw = store.read(digest)
        media_type = _media_type(raw, f"content {digest}")
        if media_type not in MANIFEST_MEDIA_TYPES and media_type not in INDEX_MEDIA_TYPES:
            raise InvalidArgument(f"export {ref_text}: {digest} is not a manifest or index")
        _export_tree(store, digest, raw, media_type, out_dir, 0)
        annotations = {IMAGE_NAME: str(ref)}
        if ref.tag:
            annotations[REF_NAME] = ref.tag
        entries.append({
            "mediaType": media_type,
            "digest": digest,
            "size": len(raw),
            "annotations": annotations,
        })
    _write_file(out_dir, "oci-layout", _json({"imageLayoutVersion": LAYOUT_VERSION}))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    _write_file(out_dir, "index.json", _json(index))  # last: the layout is whole


def _export_tree(
    store: ContentStore, digest: str, raw: bytes, media_type: str, out_dir: str, depth: int
) -> None:
    from estiba.oci.image import parse_index, parse_manifest

    if depth > _MAX_DEPTH:
        raise InvalidArgument(f"export {digest}: indexes nested deeper than {_MAX_DEPTH}")
    if media_type in INDEX_MEDIA_TYPES:
        for child in parse_index(raw).manifests:
            child_digest = str(child.digest)
            child_raw = store.read(child_digest)
            _export_tree(store, child_digest, child_raw, child.media_type, out_dir, depth + 1)
    else:
        manifest = parse_manifest(raw)
        for blob in (manifest.config, *manifest.layers):
            _export_blob(store, str(blob.digest), out_dir)
    _export_blob(store, digest, out_dir)


def _export_blob(store: ContentStore, digest: str, out_dir: str) -> None:
    algorithm, _, hex_ = digest.partition(":")
    target = os.path.join(out_dir, "blobs", algorithm, hex_)
    if os.path.exists(target):
        return
    tmp = f"{target}.tmp-{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with store.reader(digest) as src, open(tmp, "wb") as dst:
            while chunk := src.read(_CHUNK):
                dst.write(chunk)
        os.rename(tmp, target)
    except OSError as err:
        raise from_oserror(f"export content {digest} to {target}", err) from err


def _write_file(out_dir: str, name: str, data: bytes) -> None:
    path = os.path.join(out_dir, name)
    try:
        os.makedirs(out_dir, exist_ok=True)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
    except OSError as err:
        raise from_oserror(f"write {path}", err) from err


# --- import --------------------------------------------------------------------------


def import_layout(
    store: ContentStore, layout: str | FileSource, os_name: str = "linux",
    architecture: str = "amd64",
) -> list[ImportedImage]:
    """Import every image that the layout's index.json names, for the platform
    ``os_name/architecture`` where an entry is an index; return them in index order.
    ``layout`` is a directory, or the files of an archive (``images.sources``)."""
    from estiba.images.sources import DirectorySource

    if isinstance(layout, str):
        source = DirectorySource(layout)
        try:
            return _import_all(store, source, os_name, architecture)
        finally:
            source.close()
    return _import_all(store, layout, os_name, architecture)


def _import_all(
    store: ContentStore, source: FileSource, os_name: str, architecture: str
) -> list[ImportedImage]:
    import json

    from estiba.images.sources import read
    from estiba.oci.image import parse_index

    header = read(source, "oci-layout", _MAX_DOCUMENT)
    try:
        version = json.loads(header).get("imageLayoutVersion")
    except (ValueError, AttributeError) as err:
        raise InvalidArgument(f"{source.label}/oci-layout: not a json object") from err
    if version != LAYOUT_VERSION:
        raise Unimplemented(
            f"{source.label}/oci-layout: image layout version {version!r} is not supported"
        )
    index = parse_index(read(source, "index.json", _MAX_DOCUMENT))
    imported = []
    for entry in index.manifests:
        annotations = dict(entry.annotations)
        name = annotations.get(IMAGE_NAME) or annotations.get(REF_NAME, "")
        manifest = _resolve(source, entry, os_name, architecture, 0)
        _import_image(store, source, manifest)
        imported.append(ImportedImage(name=name, manifest_digest=str(manifest.digest)))
    return imported


def _resolve(
    source: FileSource, entry: Descriptor, os_name: str, architecture: str, depth: int
) -> Descriptor:
    """Follow indexes down to one manifest's descriptor."""
    from estiba.oci.image import parse_index, select_platform

    if entry.media_type in MANIFEST_MEDIA_TYPES:
        return entry
    if entry.media_type not in INDEX_MEDIA_TYPES:
        raise InvalidArgument(
            f"{source.label}: index entry {entry.digest}: media type {entry.media_type!r} "
            "is neither a manifest nor an index"
        )
    if depth >= _MAX_DEPTH:
        raise InvalidArgument(f"{source.label}: indexes nested deeper than {_MAX_DEPTH}")
    raw = _read_blob(source, entry)
    chosen = select_platform(parse_index(raw), os=os_name, architecture=architecture)
    return _resolve(source, chosen, os_name, architecture, depth + 1)


def _read_blob(source: FileSource, descriptor: Descriptor) -> bytes:
    """A small blob of the layout (an index or manifest), checked against its
    descriptor."""
    from estiba.images.sources import read
    from estiba.oci.digest import of_bytes

    name = _blob_name(descriptor)
    if descriptor.size > _MAX_DOCUMENT:
        raise InvalidArgument(
            f"{source.label}/{name}: {descriptor.size} bytes is too big for a manifest")
    data = read(source, name, _MAX_DOCUMENT)
    got = of_bytes(data, descriptor.digest.algorithm)
    if len(data) != descriptor.size or got != descriptor.digest:
        raise InvalidArgument(
            f"{source.label}/{name}: digest mismatch: expected {descriptor.digest} "
            f"({descriptor.size} bytes), got {got} ({len(data)} bytes)"
        )
    return data


def _import_image(store: ContentStore, source: FileSource, manifest: Descriptor) -> None:
    """Stage the manifest, its config and its layers in ingests, verified; commit them
    (layers first, manifest last) only when all matched."""
    from estiba.oci.image import parse_manifest

    raw = _read_blob(source, manifest)
    parsed = parse_manifest(raw)
    blobs: dict[str, Descriptor] = {}
    for blob in (*parsed.layers, parsed.config, manifest):
        blobs.setdefault(str(blob.digest), blob)
    staged: list[tuple[str, Writer]] = []
    try:
        for digest, blob in blobs.items():
            if store.exists(digest):
                continue
            ref = f"import-{digest}"
            try:
                store.abort(ref)  # what an import that crashed left
            except NotFound:
                pass
            writer = store.writer(ref, total=blob.size)
            staged.append((digest, writer))
            _copy_verified(source, blob, writer)
    except BaseException:
        abort_staged(store, staged)
        raise
    commit_together(store, staged)


def _copy_verified(source: FileSource, blob: Descriptor, writer: Writer) -> None:
    if blob.digest.algorithm != "sha256":
        raise Unimplemented(f"blob {blob.digest}: only sha256 digests are supported")
    name = _blob_name(blob)
    span = source.span(name)
    if span.size != blob.size:
        raise InvalidArgument(
            f"{source.label}/{name}: size mismatch: expected {blob.size} bytes "
            f"({blob.digest}), got {span.size}"
        )
    writer.copy_from(span.fd, span.offset, span.size)
    got = writer.digest()
    if got != str(blob.digest):
        raise InvalidArgument(
            f"{source.label}/{name}: digest mismatch: expected {blob.digest}, got {got}"
        )


def _blob_name(descriptor: Descriptor) -> str:
    # the digest was validated by the parser: algorithm and hex hold no "/" or ".."
    return f"blobs/{descriptor.digest.algorithm}/{descriptor.digest.hex}"


def _media_type(raw: bytes, what: str) -> str:
    """The media type of a manifest or index blob, guessed from its fields when it
    names none (the field is optional in both)."""
    import json

    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"{what}: not valid json: {err}") from err
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what}: not a json object")
    media_type = value.get("mediaType")
    if isinstance(media_type, str) and media_type:
        return media_type
    return OCI_INDEX if "manifests" in value else OCI_MANIFEST


def _json(value: object) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":")).encode()
