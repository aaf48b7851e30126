"""Image archives of ``docker save`` / ``docker load``: tars of images with their names.

Two forms, both read, the second written (format: moby ``image/tarexport``):

classic (Docker up to 24)::

    manifest.json        [{"Config": "<hex>.json", "RepoTags": ["busybox:latest"],
                           "Layers": ["<id>/layer.tar", ...]}]
    repositories         legacy {"busybox": {"latest": "<id>"}}; not read
    <hex>.json           the image config; <hex> is the sha256 of its bytes
    <id>/layer.tar       each layer as an uncompressed tar (its digest is its diff_id);
                         a duplicate may be a symlink to another ``<id>/layer.tar``
    <id>/VERSION, json   legacy v1 metadata; not read

OCI (Docker 25+): the tar is also an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/...``, see ``images/layout.py``) and manifest.json's Config and Layers
name files under ``blobs/``. Such an archive is imported as a layout; names come from
the ``io.containerd.image.name`` annotations and from manifest.json's RepoTags.

Trust on load: nothing of the archive is believed. It is read in place, as byte ranges
of its file (``images/sources.py``): names that are absolute or hold ``..`` are refused,
links are resolved inside the archive's name space and refused when they point outside
it; nothing of the archive is ever extracted. A config is checked against the hex its
file name gives, each layer's sha256 against the config's ``rootfs.diff_ids``; an
image's blobs are committed, then its manifest stored, only when all of them matched,
so a failed image stores no manifest (images before it in manifest.json stay loaded).

Save writes the OCI form (which Docker 20.10 and later load as the classic one): layers
uncompressed (gzip or zstd blobs are decompressed on the way), a manifest referencing
those uncompressed blobs (the stored manifest itself when its layers were uncompressed
already), and a deterministic tar: entries sorted, mtime 0, uid/gid 0, no owner names.
"""

from __future__ import annotations

import os

from estiba.content.store import abort_staged, commit_together
from estiba.errors import InvalidArgument, NotFound, Unimplemented, from_oserror
from estiba.oci.image import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_LAYER_ZSTD,
    DOCKER_MANIFEST,
    INDEX_MEDIA_TYPES,
    LAYER_COMPRESSION,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
)
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from typing import BinaryIO

    from estiba.content.store import ContentStore, Writer
    from estiba.images.sources import Span, TarIndex

_CHUNK = 1 << 20
_MAX_DOCUMENT = 4 << 20  # manifest.json or a config bigger than this is refused
_LAYER_BY_COMPRESSION = {"none": DOCKER_LAYER, "gzip": DOCKER_LAYER_GZIP, "zstd": DOCKER_LAYER_ZSTD}


class LoadedImage(Record):
    names: tuple[str, ...]  # normalised references (docker.io/library/busybox:latest)
    manifest_digest: str
    config_digest: str


# --- load ----------------------------------------------------------------------------


def load_archive(
    store: ContentStore, stream: str | os.PathLike[str] | BinaryIO, tmp_dir: str | None = None
) -> list[LoadedImage]:
    """Load every image of the archive ``stream`` (a path or a binary file object;
    gzip-compressed archives too) into ``store``; return them in archive order.
    ``tmp_dir`` holds the temporary copy of an archive that is not a plain file."""
    from estiba.images.sources import open_tar

    f, tree = open_tar(stream, "load archive", tmp_dir)
    with f:
        if tree.has("index.json") and tree.has("oci-layout"):
            return _load_layout(store, tree)
        if tree.has("manifest.json"):
            return _load_classic(store, tree)
        if tree.has("repositories"):
            raise Unimplemented("load archive: pre-1.10 archive without manifest.json")
        raise InvalidArgument("load archive: neither manifest.json nor index.json found")


def _read(tree: TarIndex, name: str) -> bytes:
    from estiba.images.sources import read

    return read(tree, name, _MAX_DOCUMENT)


def _load_layout(store: ContentStore, tree: TarIndex) -> list[LoadedImage]:
    from estiba.images.layout import IMAGE_NAME, import_layout
    from estiba.oci.image import parse_index, parse_manifest

    full_names = [
        dict(entry.annotations).get(IMAGE_NAME, "")
        for entry in parse_index(_read(tree, "index.json")).manifests
    ]
    repo_tags: dict[str, list[str]] = {}  # config digest -> RepoTags of manifest.json
    if tree.has("manifest.json"):
        for i, entry in enumerate(_manifest_json(tree)):
            config_digest = "sha256:" + _config_hex(entry["Config"], i)
            repo_tags.setdefault(config_digest, []).extend(entry["RepoTags"])
    imported = import_layout(store, tree)
    loaded: list[LoadedImage] = []
    for image, full_name in zip(imported, full_names, strict=True):
        config_digest = str(parse_manifest(store.read(image.manifest_digest)).config.digest)
        names = ([full_name] if full_name else []) + repo_tags.get(config_digest, [])
        loaded.append(LoadedImage(
            names=_normalise(names, image.manifest_digest),
            manifest_digest=image.manifest_digest,
            config_digest=config_digest,
        ))
    return loaded


def _manifest_json(tree: TarIndex) -> list[dict[str, object]]:
    """manifest.json, its shape checked: entries with Config, RepoTags and Layers."""
    import json

    try:
        value = json.loads(_read(tree, "manifest.json"))
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"load archive: manifest.json: not valid json: {err}") from err
    if not isinstance(value, list):
        raise InvalidArgument("load archive: manifest.json: not a json array")
    entries = []
    for i, entry in enumerate(value):
        where = f"load archive: manifest.json[{i}]"
        if not isinstance(entry, dict):
            raise InvalidArgument(f"{where}: not a json object")
        config = entry.get("Config")
        tags = entry.get("RepoTags") or []
        layers = entry.get("Layers")
        if not isinstance(config, str) or not config:
            raise InvalidArgument(f"{where}.Config: not a file name")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidArgument(f"{where}.RepoTags: not a list of strings")
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise InvalidArgument(f"{where}.Layers: not a list of file names")
        entries.append({"Config": config, "RepoTags": tags, "Layers": layers})
    return entries


def _config_hex(name: str, i: int) -> str:
    """The sha256 hex a config's file name announces ("<hex>.json", "blobs/sha256/<hex>")."""
    from estiba.oci.digest import parse

    base = name.rsplit("/", 1)[-1]
    hex_ = base[: -len(".json")] if base.endswith(".json") else base
    try:
        return parse("sha256:" + hex_).hex
    except InvalidArgument as err:
        raise InvalidArgument(
            f"load archive: manifest.json[{i}].Config {name!r}: not named by a sha256"
        ) from err


def _normalise(names: list[str], what: str) -> tuple[str, ...]:
    from estiba.oci import reference

    out: list[str] = []
    for name in names:
        try:
            text = str(reference.parse(name))
        except InvalidArgument as err:
            raise InvalidArgument(f"load archive: image {what}: name {name!r}: {err}") from err
        if text not in out:
            out.append(text)
    return tuple(out)


def _load_classic(store: ContentStore, tree: TarIndex) -> list[LoadedImage]:
    loaded = []
    for i, entry in enumerate(_manifest_json(tree)):
        loaded.append(_load_image(store, tree, i, entry))
    return loaded


def _load_image(
    store: ContentStore, tree: TarIndex, i: int, entry: dict[str, object]
) -> LoadedImage:
    from estiba.oci.digest import of_bytes
    from estiba.oci.image import parse_image_config

    config_name: str = entry["Config"]  # type: ignore[assignment]
    layer_names: list[str] = entry["Layers"]  # type: ignore[assignment]
    tags: list[str] = entry["RepoTags"]  # type: ignore[assignment]
    image = tags[0] if tags else f"manifest.json[{i}]"
    raw_config = _read(tree, config_name)
    config_digest = str(of_bytes(raw_config))
    if config_digest != "sha256:" + _config_hex(config_name, i):
        raise InvalidArgument(
            f"load archive: config {config_name} of {image}: digest mismatch: "
            f"its bytes are {config_digest}"
        )
    config = parse_image_config(raw_config)
    diff_ids = [str(d) for d in config.rootfs.diff_ids]
    if len(diff_ids) != len(layer_names):
        raise InvalidArgument(
            f"load archive: {image}: {len(layer_names)} layers but the config names "
            f"{len(diff_ids)} diff_ids"
        )
    names = _normalise(tags, image)
    staged: list[tuple[str, Writer]] = []
    layers = []
    try:
        for n, (name, diff_id) in enumerate(zip(layer_names, diff_ids, strict=True)):
            layers.append(_stage_layer(store, tree, name, diff_id, f"layer {n} of {image}", staged))
        _stage_bytes(store, raw_config, config_digest, staged)
    except BaseException:
        abort_staged(store, staged)
        raise
    commit_together(store, staged)
    manifest = _json({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "digest": config_digest, "size": len(raw_config)},
        "layers": layers,
    })
    manifest_digest = store.write_blob(manifest)  # last: the image is whole
    return LoadedImage(names=names, manifest_digest=manifest_digest, config_digest=config_digest)


def _diff_id_of(span: Span, compression: str, name: str) -> str:
    """The sha256 of a compressed layer's decompressed bytes."""
    import hashlib

    from estiba.images.compression import open_decompressed
    from estiba.images.sources import SpanReader

    hasher = hashlib.sha256()
    try:
        _, reader = open_decompressed(SpanReader(span), compression)
        try:
            while chunk := reader.read(_CHUNK):
                hasher.update(chunk)
        finally:
            reader.close()
    except OSError as err:
        raise from_oserror(f"load archive: read {name}", err) from err
    return "sha256:" + hasher.hexdigest()


def _open_ingest(store: ContentStore, digest_hint: str) -> Writer:
    ref = f"load-archive-{digest_hint}-{os.urandom(8).hex()}"
    return store.writer(ref)


def _stage_bytes(
    store: ContentStore, data: bytes, digest: str, staged: list[tuple[str, Writer]]
) -> None:
    if store.exists(digest) or any(d == digest for d, _ in staged):
        return
    writer = _open_ingest(store, digest)
    staged.append((digest, writer))
    writer.write(data)


def _stage_layer(
    store: ContentStore,
    tree: TarIndex,
    name: str,
    diff_id: str,
    what: str,
    staged: list[tuple[str, Writer]],
) -> dict[str, object]:
    """Copy a layer file into an ingest, check its diff_id; return its descriptor."""
    from estiba.images.compression import detect

    span = tree.span(name)
    writer = _open_ingest(store, diff_id)
    staged.append(("", writer))
    try:
        compression = detect(os.pread(span.fd, 6, span.offset))
    except OSError as err:
        raise from_oserror(f"load archive: read {name}", err) from err
    writer.copy_from(span.fd, span.offset, span.size)
    digest, size = writer.digest(), writer.offset
    got = digest
    if compression != "none":  # docker load takes compressed layer files too
        got = _diff_id_of(span, compression, name)
    if got != diff_id:
        raise InvalidArgument(
            f"load archive: {what}: diff_id mismatch: the config says {diff_id}, "
            f"{name} has {got}"
        )
    staged[-1] = (digest, writer)
    if store.exists(digest) or any(d == digest for d, _ in staged[:-1]):
        staged.pop()
        writer.close()
        store.abort(writer.ref)
    return {"mediaType": _LAYER_BY_COMPRESSION[compression], "digest": digest, "size": size}


# --- save ----------------------------------------------------------------------------


class _Entry(Record):
    """One file of the archive to write: from ``path`` on disk, or ``data``."""

    name: str
    path: str = ""
    data: bytes = b""


def save_archive(
    store: ContentStore,
    images: list[tuple[list[str], str]],
    out: str | os.PathLike[str] | BinaryIO,
    tmp_dir: str | None = None,
) -> None:
    """Write the images ``(names, manifest digest)`` of ``store`` as an archive to
    ``out`` (a path or a binary file object), in the OCI form ``docker load`` reads.
    Compressed layers are decompressed into ``tmp_dir`` (a private directory in it)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="estiba-save-", dir=tmp_dir) as work:
        entries: dict[str, _Entry] = {}
        manifest_json = []
        index = []
        for names, manifest_digest in images:
            manifest_json.append(
                _save_image(store, names, manifest_digest, work, entries, index)
            )
        for name, data in (
            ("manifest.json", _json(manifest_json)),
            ("index.json", _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index})),
            ("oci-layout", _json({"imageLayoutVersion": "1.0.0"})),
        ):
            entries[name] = _Entry(name=name, data=data)
        if isinstance(out, (str, os.PathLike)):
            try:
                with open(out, "wb") as f:
                    _write_tar(f, entries)
            except OSError as err:
                raise from_oserror(f"save archive to {os.fspath(out)}", err) from err
        else:
            _write_tar(out, entries)


def _save_image(
    store: ContentStore,
    names: list[str],
    manifest_digest: str,
    work: str,
    entries: dict[str, _Entry],
    index: list[dict[str, object]],
) -> dict[str, object]:
    """Add one image's blobs to ``entries`` and its names to ``index``; return its
    manifest.json entry."""
    from estiba.images.layout import IMAGE_NAME, REF_NAME
    from estiba.oci import reference
    from estiba.oci.image import parse_image_config, parse_manifest

    raw = store.read(manifest_digest)
    if b'"manifests"' in raw and _media_type_of(raw) in INDEX_MEDIA_TYPES:
        raise InvalidArgument(f"save archive: {manifest_digest} is an index; give a manifest")
    manifest = parse_manifest(raw)
    config_digest = str(manifest.config.digest)
    config = parse_image_config(store.read(config_digest))
    diff_ids = [str(d) for d in config.rootfs.diff_ids]
    if len(diff_ids) != len(manifest.layers):
        raise InvalidArgument(
            f"save archive: {manifest_digest}: {len(manifest.layers)} layers but the config "
            f"names {len(diff_ids)} diff_ids"
        )
    docker = manifest.media_type == DOCKER_MANIFEST
    changed = False
    layers = []
    for layer, diff_id in zip(manifest.layers, diff_ids, strict=True):
        name = f"blobs/sha256/{diff_id[len('sha256:'):]}"
        compression = LAYER_COMPRESSION.get(layer.media_type, "auto")
        changed = changed or compression != ""
        if name not in entries:
            path, size = _uncompressed(store, str(layer.digest), compression, diff_id, work)
            entries[name] = _Entry(name=name, path=path)
        else:
            size = os.path.getsize(entries[name].path)
        media_type = DOCKER_LAYER if docker else OCI_LAYER
        layers.append({"mediaType": media_type, "digest": diff_id, "size": size})
    config_name = f"blobs/sha256/{manifest.config.digest.hex}"
    entries[config_name] = _Entry(name=config_name, path=store.blob_path(config_digest))
    if changed:
        raw = _json({
            "schemaVersion": 2,
            "mediaType": manifest.media_type or OCI_MANIFEST,
            "config": {
                "mediaType": manifest.config.media_type,
                "digest": config_digest,
                "size": manifest.config.size,
            },
            "layers": layers,
        })
    from estiba.oci.digest import of_bytes

    saved_digest = of_bytes(raw)
    manifest_name = f"blobs/sha256/{saved_digest.hex}"
    entries[manifest_name] = _Entry(name=manifest_name, data=raw)
    refs = [reference.parse(n) for n in names]
    for ref in refs or [None]:
        entry: dict[str, object] = {
            "mediaType": manifest.media_type or OCI_MANIFEST,
            "digest": str(saved_digest),
            "size": len(raw),
        }
        if ref is not None:
            annotations = {IMAGE_NAME: str(ref)}
            if ref.tag:
                annotations[REF_NAME] = ref.tag
            entry["annotations"] = annotations
        index.append(entry)
    return {
        "Config": config_name,
        "RepoTags": [ref.familiar() for ref in refs if ref.tag and ref.digest is None],
        "Layers": [f"blobs/sha256/{d[len('sha256:'):]}" for d in diff_ids],
    }


def _uncompressed(
    store: ContentStore, digest: str, compression: str, diff_id: str, work: str
) -> tuple[str, int]:
    """A file holding the layer's tar: the blob itself when uncompressed, else a
    decompressed copy in ``work``; its sha256 checked against ``diff_id``."""
    import hashlib

    from estiba.images.compression import open_decompressed

    if compression == "":
        path = store.blob_path(digest)
        if digest != diff_id:
            raise InvalidArgument(
                f"save archive: layer {digest}: uncompressed but not equal to its diff_id "
                f"{diff_id}"
            )
        try:
            return path, os.path.getsize(path)
        except FileNotFoundError as err:
            raise NotFound(f"content {digest}: not found") from err
    path = os.path.join(work, diff_id[len("sha256:"):])
    hasher = hashlib.sha256()
    with store.reader(digest) as blob:
        _, reader = open_decompressed(blob, compression or "auto")
        try:
            with open(path, "wb") as out:
                while chunk := reader.read(_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
        except OSError as err:
            raise from_oserror(f"save archive: decompress layer {digest}", err) from err
        finally:
            reader.close()
    got = "sha256:" + hasher.hexdigest()
    if got != diff_id:
        raise InvalidArgument(
            f"save archive: layer {digest}: diff_id mismatch: config says {diff_id}, got {got}"
        )
    return path, os.path.getsize(path)


def _write_tar(out: BinaryIO, entries: dict[str, _Entry]) -> None:
    import io
    import tarfile

    def info(name: str, directory: bool = False) -> tarfile.TarInfo:
        item = tarfile.TarInfo(name)
        item.mtime = 0
        item.uid = item.gid = 0
        item.uname = item.gname = ""
        item.mode = 0o755 if directory else 0o644
        if directory:
            item.type = tarfile.DIRTYPE
        return item

    directories = {"blobs", "blobs/sha256"}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for name in sorted(set(entries) | directories):
            if name in directories:
                tar.addfile(info(name, directory=True))
                continue
            entry = entries[name]
            item = info(name)
            if entry.path:
                try:
                    with open(entry.path, "rb") as f:
                        item.size = os.fstat(f.fileno()).st_size
                        tar.addfile(item, f)
                except OSError as err:
                    raise from_oserror(f"save archive: read {entry.path}", err) from err
            else:
                item.size = len(entry.data)
                tar.addfile(item, io.BytesIO(entry.data))


def _media_type_of(raw: bytes) -> str:
    import json

    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return ""
    if not isinstance(value, dict):
        return ""
    media_type = value.get("mediaType")
    if isinstance(media_type, str) and media_type:
        return media_type
    return OCI_INDEX if "manifests" in value else ""


def _json(value: object) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":")).encode()
