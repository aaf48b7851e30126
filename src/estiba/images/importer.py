"""``docker import``: a root filesystem tarball becomes a one-layer image, its container
config made from ``--change`` instructions (``instructions``).

The tarball (plain, gzip, zstd, bzip2 or xz, told apart by its magic bytes) is read once,
as a stream: decompressed, hashed (its ``diff_id``) and written into a content-store
ingest while ``tarfile`` walks its members, which are checked as they pass. A hostile
member — an absolute name, a ``..`` component, a hard link whose target is absolute,
climbs out, or is not an earlier member of the archive — is InvalidArgument and the
ingest is aborted: nothing is stored.

The layer is stored uncompressed (``application/vnd.oci.image.layer.v1.tar``), so its
digest is its diff_id. Why: the bytes are hashed once and written once, with no second
pass to compress; the blob does not depend on the zlib in use (the same tarball gives
the same digests on any host, whatever compression it came in — gzip or plain input give
one image); and the unpacker verifies it with no decompression. Docker stores imported
layers uncompressed too and compresses only when it pushes; a pusher here can do the
same.

Config and manifest follow Docker's import (moby ``daemon/images/image_import.go``):
``created`` now (or given), ``architecture``/``os`` from the platform, the changes
applied to an empty container config, one history entry whose ``comment`` is the
message or ``Imported from <source>`` (``-`` for a stream), also the config's top-level
``comment``. The manifest is OCI, as ``base`` writes. The three blobs are committed
together (``commit_together``): either all are stored or none.

Naming the image (a metadata ``Images`` record) is the caller's: ``ImportedImage``
carries the manifest's digest, media type and size a record needs.
"""

from __future__ import annotations

import bz2
import hashlib
import json
import lzma
import os
import tarfile
import zlib

from estiba.content.store import abort_staged, commit_together
from estiba.errors import EstibaError, InvalidArgument
from estiba.images.compression import detect, open_decompressed
from estiba.images.instructions import apply_changes
from estiba.images.layer import HashingReader, entry_path
from estiba.oci.image import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST
from estiba.oci.record import Record
from estiba.oci.state import timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import BinaryIO

    from estiba.content.store import ContentStore, Writer

BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
_CHUNK = 1 << 20


class ImportedImage(Record):
    """The blobs an import stored (``sha256:<hex>`` digests). ``layer_digest`` equals
    ``diff_id`` (the layer is stored uncompressed); ``layer_size`` is its length in
    bytes; ``compression`` is what the input came in ("none", "gzip", "zstd", "bzip2",
    "xz"); ``manifest_media_type`` and ``manifest_size`` complete the descriptor an image
    record names."""

    manifest_digest: str
    config_digest: str
    layer_digest: str
    diff_id: str
    layer_size: int
    manifest_size: int
    manifest_media_type: str = OCI_MANIFEST
    compression: str = "none"


def import_rootfs(
    store: ContentStore,
    stream: BinaryIO,
    *,
    changes: Iterable[str] = (),
    message: str = "",
    created: str | None = None,
    platform: tuple[str, str] = ("linux", "amd64"),
    source: str = "-",
) -> ImportedImage:
    """Store the rootfs tarball read from ``stream`` as a one-layer image in ``store``.

    ``changes`` are ``--change`` lines (CMD, ENV, ...); ``created`` an RFC 3339 time
    (now by default); ``platform`` is (os, architecture); ``source`` names where the
    tarball came from in the default history comment. A bad change or a hostile tarball
    is InvalidArgument and stores nothing.
    """
    os_name, architecture = platform
    # the changes first: a bad one fails before a byte is read or stored
    container_config = apply_changes({}, changes)
    created = created or timestamp()
    token = os.urandom(8).hex()
    staged: list[tuple[str, Writer]] = []
    try:
        layer_writer = store.writer(f"import-{token}-layer")
        staged.append(("", layer_writer))  # digest known once the stream is read
        compression, diff_id, size = _write_layer(stream, layer_writer)
        staged[0] = (diff_id, layer_writer)
        comment = message or f"Imported from {source}"
        config = _json({
            "architecture": architecture,
            "os": os_name,
            "created": created,
            "comment": comment,
            "config": container_config,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": created, "comment": comment}],
        })
        config_digest = _stage(store, staged, f"import-{token}-config", config)
        manifest = _json({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": diff_id, "size": size}],
        })
        manifest_digest = _stage(store, staged, f"import-{token}-manifest", manifest)
    except BaseException:
        abort_staged(store, staged)
        raise
    commit_together(store, staged)
    return ImportedImage(
        manifest_digest=manifest_digest,
        config_digest=config_digest,
        layer_digest=diff_id,
        diff_id=diff_id,
        layer_size=size,
        manifest_size=len(manifest),
        compression=compression,
    )


def _stage(store: ContentStore, staged: list[tuple[str, Writer]], ref: str,
           data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    writer = store.writer(ref, total=len(data))
    staged.append((digest, writer))
    writer.write(data)
    return digest


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# --- the layer ---------------------------------------------------------------------------


def _write_layer(stream: BinaryIO, writer: Writer) -> tuple[str, str, int]:
    """Stream the decompressed tar into ``writer``, checking every member; return
    (the input's compression, diff_id, size)."""
    compression, reader = open_tarball(stream)
    try:
        tee = HashingReader(reader, writer)
        try:
            with tarfile.open(fileobj=tee, mode="r|") as tar:  # type: ignore[call-overload]
                check_members(tar)
            tee.drain()  # the end-of-archive blocks and padding are part of the layer
        except tarfile.TarError as err:
            raise InvalidArgument(f"import rootfs: not a tar archive: {str(err).lower()}") \
                from err
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as err:
            if isinstance(err, EstibaError):
                raise
            reason = str(err).lower() or type(err).__name__
            raise InvalidArgument(f"import rootfs: read {compression} stream: {reason}") \
                from err
    finally:
        reader.close()
    return compression, tee.digest, tee.size


def check_members(members: Iterable[tarfile.TarInfo]) -> None:
    """Refuse a rootfs archive that names anything outside its root: an absolute name,
    a ``..`` component, a hard link whose target is absolute, climbs out, or is not a
    non-directory member met earlier (an imported layer has nothing below it)."""
    seen: set[tuple[str, ...]] = set()
    for member in members:
        parts = _checked_path(member.name, f"rootfs entry {member.name!r}")
        if member.islnk():
            what = f"rootfs entry {member.name!r}: hard link target {member.linkname!r}"
            target = _checked_path(member.linkname, what)
            if target not in seen:
                raise InvalidArgument(f"{what} is not an earlier file of the archive")
        if not member.isdir():
            seen.add(parts)
        else:
            seen.discard(parts)


def _checked_path(name: str, what: str) -> tuple[str, ...]:
    if name.startswith("/"):
        raise InvalidArgument(f"{what}: absolute path")
    if ".." in name.split("/"):
        raise InvalidArgument(f"{what}: path has a '..' component")
    return entry_path(name)  # layer's own cleaning, so both agree on what a name means


def open_tarball(stream: BinaryIO) -> tuple[str, BinaryIO]:
    """(compression, a reader of the decompressed bytes) for a tarball in any of the
    compressions ``docker import`` takes; the caller closes the reader (not ``stream``)."""
    head = b""
    while len(head) < len(XZ_MAGIC) and (more := stream.read(len(XZ_MAGIC) - len(head))):
        head += more
    source = _Prefixed(head, stream)
    if head.startswith(BZIP2_MAGIC):
        return "bzip2", bz2.BZ2File(source)  # type: ignore[return-value]
    if head.startswith(XZ_MAGIC):
        return "xz", lzma.LZMAFile(source)  # type: ignore[return-value]
    compression = detect(head)
    _, reader = open_decompressed(source, compression)  # type: ignore[arg-type]
    return compression, reader


class _Prefixed:
    """Bytes already read from a stream, then the rest of it; never closes the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if size is None or size < 0:
            data, self._head = self._head + self._rest.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """The stream belongs to the caller."""
