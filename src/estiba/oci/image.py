"""The OCI image spec's documents as typed records, and their parsers: descriptors,
image manifests, image indexes (and Docker's schema2 manifest and manifest list, which
have the same shape), and the image configuration.

Spec: opencontainers/image-spec descriptor.md, manifest.md, image-index.md, config.md
(schemas in ``specs/oci-image-schema``); Docker's "Image Manifest V2, Schema 2".

Each ``parse_*`` takes the bytes as received and keeps them in the record's ``raw``
field: a document's digest is computed over those bytes (``.digest``), never over JSON
serialised again. The parsers check the shape the schemas give and report the first
problem with its JSON path (``manifest.layers[1].digest: ...``); unknown fields are
ignored, as the spec asks.
"""

from __future__ import annotations

from estiba.errors import FailedPrecondition, InvalidArgument, NotFound
from estiba.oci import digest as _digest
from estiba.oci.json_fields import Fields
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:

    from estiba.oci.digest import Digest

# --- media types ---------------------------------------------------------------------

OCI_DESCRIPTOR = "application/vnd.oci.descriptor.v1+json"
OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
# Deprecated by the spec, still found in the wild.
OCI_LAYER_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
)
OCI_LAYER_NONDISTRIBUTABLE_ZSTD = (
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
)

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_MEDIA_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_MEDIA_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
# Layer media type -> compression of the blob ("" for a plain tar).
LAYER_COMPRESSION = {
    OCI_LAYER: "",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDISTRIBUTABLE: "",
    OCI_LAYER_NONDISTRIBUTABLE_GZIP: "gzip",
    OCI_LAYER_NONDISTRIBUTABLE_ZSTD: "zstd",
    DOCKER_LAYER: "",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_ZSTD: "zstd",
    DOCKER_FOREIGN_LAYER: "gzip",
}
LAYER_MEDIA_TYPES = frozenset(LAYER_COMPRESSION)

# --- records -------------------------------------------------------------------------


class Platform(Record):
    architecture: str
    os: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


class Descriptor(Record):
    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    platform: Platform | None = None
    artifact_type: str = ""


class _Document(Record):
    raw: bytes = b""

    @property
    def digest(self) -> Digest:
        """The digest of the bytes this document was parsed from."""
        if not self.raw:
            raise FailedPrecondition(
                f"{type(self).__name__.lower()} has no raw bytes to digest: it was not parsed"
            )
        return _digest.of_bytes(self.raw)


class Manifest(_Document):
    schema_version: int
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: tuple[tuple[str, str], ...] = ()
    subject: Descriptor | None = None
    artifact_type: str = ""


class Index(_Document):
    schema_version: int
    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: tuple[tuple[str, str], ...] = ()
    subject: Descriptor | None = None
    artifact_type: str = ""


class ContainerConfig(Record):
    """The ``config`` object of an image configuration: defaults for containers."""

    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    stop_signal: str = ""
    args_escaped: bool = False


class RootFS(Record):
    type: str
    diff_ids: tuple[Digest, ...]


class History(Record):
    created: str = ""
    author: str = ""
    created_by: str = ""
    comment: str = ""
    empty_layer: bool = False


class ImageConfig(_Document):
    architecture: str
    os: str
    rootfs: RootFS
    config: ContainerConfig = ContainerConfig()
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    created: str = ""
    author: str = ""
    history: tuple[History, ...] = ()

    @property
    def platform(self) -> Platform:
        return Platform(
            architecture=self.architecture, os=self.os, variant=self.variant,
            os_version=self.os_version, os_features=self.os_features,
        )


# --- parsing -------------------------------------------------------------------------


def parse_manifest(data: bytes) -> Manifest:
    """Parse an image manifest (OCI or Docker schema2)."""
    f = _load(data, "manifest")
    media_type = f.str("mediaType")
    if media_type and media_type not in MANIFEST_MEDIA_TYPES:
        raise InvalidArgument(f"manifest.mediaType: {media_type!r} is not a manifest type")
    subject = f.obj("subject")
    return Manifest(
        raw=bytes(data),
        schema_version=_schema_version(f),
        media_type=media_type,
        config=_descriptor(f.obj("config", required=True)),  # type: ignore[arg-type]
        layers=tuple(_descriptor(d) for d in f.items("layers", required=True)),
        annotations=f.string_map("annotations"),
        subject=_descriptor(subject) if subject else None,
        artifact_type=f.str("artifactType"),
    )


def parse_index(data: bytes) -> Index:
    """Parse an image index (OCI) or manifest list (Docker schema2)."""
    f = _load(data, "index")
    media_type = f.str("mediaType")
    if media_type and media_type not in INDEX_MEDIA_TYPES:
        raise InvalidArgument(f"index.mediaType: {media_type!r} is not an index type")
    subject = f.obj("subject")
    return Index(
        raw=bytes(data),
        schema_version=_schema_version(f),
        media_type=media_type,
        manifests=tuple(_descriptor(d) for d in f.items("manifests", required=True)),
        annotations=f.string_map("annotations"),
        subject=_descriptor(subject) if subject else None,
        artifact_type=f.str("artifactType"),
    )


def parse_image_config(data: bytes) -> ImageConfig:
    """Parse an image configuration (OCI, or Docker's, which adds fields we ignore)."""
    f = _load(data, "config")
    rootfs = f.obj("rootfs", required=True)
    assert rootfs is not None
    rootfs_type = rootfs.str("type", required=True)
    if rootfs_type != "layers":
        raise InvalidArgument(f"{rootfs.at('type')}: must be \"layers\", got {rootfs_type!r}")
    c = f.obj("config")
    return ImageConfig(
        raw=bytes(data),
        architecture=f.str("architecture", required=True),
        os=f.str("os", required=True),
        variant=f.str("variant"),
        os_version=f.str("os.version"),
        os_features=f.strings("os.features"),
        created=f.str("created"),
        author=f.str("author"),
        rootfs=RootFS(
            type=rootfs_type,
            diff_ids=tuple(
                _parse_digest(rootfs.at(f"diff_ids[{i}]"), text)
                for i, text in enumerate(rootfs.strings("diff_ids", required=True))
            ),
        ),
        config=_container_config(c) if c else ContainerConfig(),
        history=tuple(
            History(
                created=h.str("created"),
                author=h.str("author"),
                created_by=h.str("created_by"),
                comment=h.str("comment"),
                empty_layer=h.bool("empty_layer"),
            )
            for h in f.items("history")
        ),
    )


def parse_descriptor(data: bytes) -> Descriptor:
    """Parse a descriptor on its own (``application/vnd.oci.descriptor.v1+json``)."""
    return _descriptor(_load(data, "descriptor"))


def _container_config(c: Fields) -> ContainerConfig:
    return ContainerConfig(
        user=c.str("User"),
        exposed_ports=c.keys("ExposedPorts"),
        env=c.strings("Env"),
        entrypoint=c.strings("Entrypoint") if c.has("Entrypoint") else None,
        cmd=c.strings("Cmd") if c.has("Cmd") else None,
        volumes=c.keys("Volumes"),
        working_dir=c.str("WorkingDir"),
        labels=c.string_map("Labels"),
        stop_signal=c.str("StopSignal"),
        args_escaped=c.bool("ArgsEscaped"),
    )


def _schema_version(f: Fields) -> int:
    version = f.int("schemaVersion", required=True)
    if version != 2:
        raise InvalidArgument(f"{f.at('schemaVersion')}: must be 2, got {version}")
    return version


def _descriptor(f: Fields) -> Descriptor:
    platform = f.obj("platform")
    size = f.int("size", required=True)
    if size < 0:
        raise InvalidArgument(f"{f.at('size')}: must not be negative, got {size}")
    return Descriptor(
        media_type=f.str("mediaType", required=True),
        digest=_parse_digest(f.at("digest"), f.str("digest", required=True)),
        size=size,
        urls=f.strings("urls"),
        annotations=f.string_map("annotations"),
        platform=Platform(
            architecture=platform.str("architecture", required=True),
            os=platform.str("os", required=True),
            variant=platform.str("variant"),
            os_version=platform.str("os.version"),
            os_features=platform.strings("os.features"),
        ) if platform else None,
        artifact_type=f.str("artifactType"),
    )


def _parse_digest(path: str, text: str) -> Digest:
    try:
        return _digest.parse(text)
    except InvalidArgument as err:
        raise InvalidArgument(f"{path}: {err}") from err


def _load(data: bytes, what: str) -> Fields:
    import json

    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"{what}: not valid json: {err}") from err
    return Fields(value, what)


# --- platform selection --------------------------------------------------------------

# What `uname -m` and other tools say -> the GOARCH names images use.
_ARCHITECTURE_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}
# The variant an image without one is taken to have (containerd's platforms package).
_DEFAULT_VARIANTS = {"amd64": "v1", "arm64": "v8", "arm": "v7"}


def select_platform(
    index: Index, os: str = "linux", architecture: str = "amd64", variant: str = ""
) -> Descriptor:
    """The first manifest of ``index`` for the platform (with no ``variant`` asked,
    any variant matches; a descriptor without a variant matches the architecture's
    default one); raise ``NotFound`` listing what the index has."""
    architecture = _ARCHITECTURE_ALIASES.get(architecture, architecture)
    default = _DEFAULT_VARIANTS.get(architecture, "")
    for descriptor in index.manifests:
        p = descriptor.platform
        if p is None or p.os != os or p.architecture != architecture:
            continue
        if not variant or (p.variant or default) == variant:
            return descriptor
    wanted = f"{os}/{architecture}/{variant}" if variant else f"{os}/{architecture}"
    have: list[str] = []
    for descriptor in index.manifests:
        if descriptor.platform is not None and str(descriptor.platform) not in have:
            have.append(str(descriptor.platform))
    raise NotFound(
        f"no image for {wanted} in the index (it has: {', '.join(have) or 'no platforms'})"
    )
