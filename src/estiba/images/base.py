"""A ``busybox`` base image built from the host's busybox binary, without a registry.

The image has one layer: ``bin/busybox`` with a ``bin/<applet> -> busybox`` symlink for
each applet the binary lists (``busybox --list``), a minimal ``etc/passwd`` and
``etc/group`` (root and nobody/nogroup) and the usual empty directories (``dev``,
``proc``, ``sys``, ``tmp`` 1777, ``root`` 0700, ...).

Deterministic: the same binary and applet list give the same digests, so building twice
stores every blob once. The tar has its entries sorted by name, PAX format, every mtime
0 (the epoch — not the binary's mtime, so that copying the binary around does not change
the image), uid/gid 0 and no user or group names. The gzip stream has mtime 0 and no file
name in its header and compression level 6; its bytes depend on the zlib in use, and
stay the same between builds on one host. The config's ``created`` is the epoch too.

The layer is streamed: the tar is written through a hash (its ``diff_id``) into gzip,
into a content store ingest (its ``digest``), never held whole in memory.
"""

from __future__ import annotations

import os

from estiba.errors import AlreadyExists, InvalidArgument, from_oserror
from estiba.oci.image import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Iterable, Sequence

    from estiba.content.store import ContentStore

DEFAULT_BUSYBOX = "/bin/busybox"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EPOCH = "1970-01-01T00:00:00Z"
GZIP_LEVEL = 6

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"
# directory -> mode; "bin" and "etc" also hold files
DIRECTORIES = {
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "proc": 0o555,
    "root": 0o700,
    "sys": 0o555,
    "tmp": 0o1777,
    "var": 0o755,
}

# `uname -m` -> the GOARCH name images use
_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


class BuiltImage(Record):
    """Digests (``sha256:<hex>`` strings, as the content store takes them) of the blobs
    written; ``size`` is the size in bytes of the (gzip) layer blob."""

    manifest_digest: str
    config_digest: str
    layer_digest: str
    diff_id: str
    size: int


def host_architecture() -> str:
    machine = os.uname().machine
    return _ARCHITECTURES.get(machine, machine)


def list_applets(busybox: str = DEFAULT_BUSYBOX) -> list[str]:
    """The applets of ``busybox --list``, sorted, without ``busybox`` itself."""
    import subprocess

    try:
        out = subprocess.run(
            [busybox, "--list"], check=True, capture_output=True, timeout=30
        ).stdout
    except OSError as err:
        raise from_oserror(f"run {busybox} --list", err) from err
    except subprocess.CalledProcessError as err:
        raise InvalidArgument(
            f"run {busybox} --list: exit status {err.returncode}: "
            f"{err.stderr.decode(errors='replace').strip()}"
        ) from err
    return sorted({name for name in out.decode().split() if name != "busybox"})


def build_busybox(
    store: ContentStore,
    busybox: str = DEFAULT_BUSYBOX,
    *,
    applets: Sequence[str] | None = None,
    architecture: str | None = None,
) -> BuiltImage:
    """Build the image into ``store`` and return its digests. ``applets`` defaults to
    what the binary lists; ``architecture`` to the host's (the os is linux)."""
    if applets is None:
        applets = list_applets(busybox)
    arch = architecture or host_architecture()
    layer_digest, diff_id, size = _write_layer(store, busybox, applets)
    config = _json({
        "created": EPOCH,
        "architecture": arch,
        "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{
            "created": EPOCH,
            "created_by": f"estiba: busybox with {len(applets)} applets",
        }],
    })
    config_digest = store.write_blob(config)
    manifest = _json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": size}],
    })
    manifest_digest = store.write_blob(manifest)
    return BuiltImage(
        manifest_digest=manifest_digest,
        config_digest=config_digest,
        layer_digest=layer_digest,
        diff_id=diff_id,
        size=size,
    )


def write_layer_tar(out: object, busybox: str, applets: Iterable[str]) -> None:
    """Write the layer's (uncompressed) tar to ``out`` (anything with ``write``)."""
    import tarfile

    entries = _entries(busybox, applets)
    try:
        with open(busybox, "rb") as binary:
            size = os.fstat(binary.fileno()).st_size
            with tarfile.open(
                fileobj=out, mode="w|", format=tarfile.PAX_FORMAT  # type: ignore[call-overload]
            ) as tar:
                for name, kind, value in entries:
                    info = _info(name, kind, value)
                    if kind == "busybox":
                        info.size = size
                        tar.addfile(info, binary)
                    elif kind == "file":
                        import io

                        assert isinstance(value, bytes)
                        info.size = len(value)
                        tar.addfile(info, io.BytesIO(value))
                    else:
                        tar.addfile(info)
    except OSError as err:
        raise from_oserror(f"write busybox layer from {busybox}", err) from err


def _entries(busybox: str, applets: Iterable[str]) -> list[tuple[str, str, object]]:
    """(name, kind, value) sorted by name; kind is dir (value: mode), file (bytes),
    busybox, or symlink (target)."""
    entries: list[tuple[str, str, object]] = [
        (name, "dir", mode) for name, mode in DIRECTORIES.items()
    ]
    entries += [
        ("bin/busybox", "busybox", None),
        ("etc/group", "file", GROUP),
        ("etc/passwd", "file", PASSWD),
    ]
    seen = set()
    for applet in applets:
        if applet == "busybox" or applet in seen:
            continue
        if not applet or "/" in applet or applet in (".", "..") or "\0" in applet:
            raise InvalidArgument(f"busybox applet {applet!r}: not a file name")
        seen.add(applet)
        entries.append((f"bin/{applet}", "symlink", "busybox"))
    entries.sort(key=lambda e: e[0])
    return entries


def _info(name: str, kind: str, value: object) -> tarfile.TarInfo:
    import tarfile

    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if kind == "dir":
        info.type = tarfile.DIRTYPE
        info.mode = value
    elif kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = value
        info.mode = 0o777
    else:
        info.mode = 0o755 if kind == "busybox" else 0o644
    return info


class _Tee:
    """Hashes what the tar writes (the diff_id) and passes it on to gzip."""

    def __init__(self, out: object) -> None:
        import hashlib

        self.hash = hashlib.sha256()
        self._out = out

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return self._out.write(data)  # type: ignore[attr-defined]


def _write_layer(
    store: ContentStore, busybox: str, applets: Iterable[str]
) -> tuple[str, str, int]:
    import gzip

    ref = f"build-busybox-{os.urandom(8).hex()}"
    w = store.writer(ref)
    try:
        # filename "" and mtime 0: nothing of the host in the gzip header
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=w, compresslevel=GZIP_LEVEL, mtime=0  # type: ignore[arg-type]
        ) as gz:
            tee = _Tee(gz)
            write_layer_tar(tee, busybox, applets)
        digest, size = w.digest(), w.offset
        try:
            w.commit(size, digest)
        except AlreadyExists:
            pass  # built before: the ingest is discarded, the blob is there
    finally:
        if not w.closed:
            w.close()
            store.abort(ref)
    return digest, "sha256:" + tee.hash.hexdigest(), size


def _json(value: object) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":")).encode()
