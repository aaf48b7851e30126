"""OCI image documents: descriptors, manifests, indexes, image configs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from estiba.errors import FailedPrecondition, InvalidArgument, NotFound
from estiba.oci import image
from estiba.oci.digest import Digest
from estiba.oci.image import (
    ContainerConfig,
    Descriptor,
    History,
    Index,
    Platform,
    RootFS,
    parse_descriptor,
    parse_image_config,
    parse_index,
    parse_manifest,
    select_platform,
)


def _d(n: int) -> str:
    return "sha256:" + hashlib.sha256(str(n).encode()).hexdigest()


def _desc(media_type: str, n: int, size: int = 10, **extra: object) -> dict:
    return {"mediaType": media_type, "digest": _d(n), "size": size, **extra}


MANIFEST = {
    "schemaVersion": 2,
    "mediaType": image.OCI_MANIFEST,
    "config": _desc(image.OCI_CONFIG, 0, 1470),
    "layers": [
        _desc(image.OCI_LAYER_GZIP, 1, 2_000_000),
        _desc(image.OCI_LAYER_ZSTD, 2, 3, urls=["https://example.com/l"],
              annotations={"a": "b"}),
    ],
    "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
}


def _platform(os: str, arch: str, variant: str = "") -> dict:
    p = {"os": os, "architecture": arch}
    if variant:
        p["variant"] = variant
    return p


INDEX = {
    "schemaVersion": 2,
    "mediaType": image.DOCKER_MANIFEST_LIST,
    "manifests": [
        _desc(image.DOCKER_MANIFEST, 10, platform=_platform("linux", "arm", "v6")),
        _desc(image.DOCKER_MANIFEST, 11, platform=_platform("linux", "arm", "v7")),
        _desc(image.DOCKER_MANIFEST, 12, platform=_platform("linux", "arm64")),
        _desc(image.DOCKER_MANIFEST, 13, platform=_platform("linux", "amd64")),
        _desc(image.DOCKER_MANIFEST, 14, platform={
            "os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1",
            "os.features": ["win32k"],
        }),
        _desc(image.OCI_MANIFEST, 15, platform=_platform("unknown", "unknown")),
    ],
}

CONFIG = {
    "created": "2024-01-01T00:00:00Z",
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "User": "1000:1000",
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
        "Env": ["PATH=/usr/bin:/bin", "FOO=bar"],
        "Entrypoint": ["/docker-entrypoint.sh"],
        "Cmd": ["nginx", "-g", "daemon off;"],
        "Volumes": {"/data": {}},
        "WorkingDir": "/srv",
        "Labels": {"maintainer": "someone"},
        "StopSignal": "SIGQUIT",
        "ArgsEscaped": True,
    },
    "rootfs": {"type": "layers", "diff_ids": [_d(1), _d(2)]},
    "history": [
        {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file"},
        {"created_by": "CMD [\"nginx\"]", "empty_layer": True, "comment": "c",
         "author": "a"},
    ],
    # Docker's extra fields are ignored.
    "container_config": {"Hostname": "x"},
    "docker_version": "20.10.0",
}


SCHEMA_DIR = Path(__file__).resolve().parents[2] / "data" / "oci-image-schema"


def _without_ids(value: object) -> object:
    # Nested draft-4 "id"s would move the base of the relative $refs off these files.
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "id"}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _validator(name: str) -> jsonschema.protocols.Validator:
    def load(path: Path) -> dict:
        schema = _without_ids(json.loads(path.read_text()))
        assert isinstance(schema, dict)
        return schema

    registry = Registry().with_resources(
        (f"file://{SCHEMA_DIR}/{path.name}",
         Resource.from_contents(load(path), default_specification=DRAFT4))
        for path in SCHEMA_DIR.glob("*.json")
    )
    schema = dict(load(SCHEMA_DIR / name), id=f"file://{SCHEMA_DIR}/{name}")
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry)


@pytest.mark.parametrize(
    ("schema", "doc"),
    [
        ("image-manifest-schema.json", MANIFEST),
        ("image-index-schema.json", INDEX),
        ("config-schema.json", CONFIG),
        ("content-descriptor.json", MANIFEST["config"]),
    ],
)
def test_samples_follow_the_spec_schemas(schema: str, doc: dict) -> None:
    _validator(schema).validate(doc)


def test_schema_check_is_not_vacuous() -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validator("image-manifest-schema.json").validate(dict(MANIFEST, schemaVersion=1))
    with pytest.raises(jsonschema.ValidationError):
        _validator("content-descriptor.json").validate(dict(MANIFEST["config"], digest="x"))


def _bytes(doc: dict) -> bytes:
    return json.dumps(doc, indent=3).encode()


def test_manifest() -> None:
    m = parse_manifest(_bytes(MANIFEST))
    assert m.schema_version == 2
    assert m.media_type == image.OCI_MANIFEST
    assert m.config == Descriptor(
        media_type=image.OCI_CONFIG, digest=Digest.parse(_d(0)), size=1470
    )
    assert [layer.size for layer in m.layers] == [2_000_000, 3]
    assert m.layers[1].urls == ("https://example.com/l",)
    assert m.layers[1].annotations == (("a", "b"),)
    assert m.annotations == (("org.opencontainers.image.created", "2024-01-01T00:00:00Z"),)
    assert m.subject is None


def test_digest_is_over_the_raw_bytes() -> None:
    raw = _bytes(MANIFEST) + b"\n\n"  # not what json.dumps would give back
    m = parse_manifest(raw)
    assert m.raw == raw
    assert str(m.digest) == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert parse_manifest(json.dumps(MANIFEST).encode()).digest != m.digest


def test_a_record_built_in_code_has_no_digest() -> None:
    with pytest.raises(FailedPrecondition, match="index has no raw bytes"):
        _ = Index(schema_version=2, media_type=image.OCI_INDEX, manifests=()).digest


def test_docker_schema2_manifest_and_optional_media_type() -> None:
    doc = dict(MANIFEST, mediaType=image.DOCKER_MANIFEST)
    assert parse_manifest(_bytes(doc)).media_type == image.DOCKER_MANIFEST
    doc = {k: v for k, v in MANIFEST.items() if k != "mediaType"}
    assert parse_manifest(_bytes(doc)).media_type == ""


def test_manifest_with_subject_and_artifact_type() -> None:
    doc = dict(MANIFEST, subject=_desc(image.OCI_MANIFEST, 9), artifactType="x/y")
    m = parse_manifest(_bytes(doc))
    assert m.subject is not None and m.subject.digest == Digest.parse(_d(9))
    assert m.artifact_type == "x/y"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schemaVersion": 1}, "manifest.schemaVersion: must be 2, got 1"),
        ({"schemaVersion": "2"}, "manifest.schemaVersion: expected an integer, got a string"),
        ({"schemaVersion": None}, "manifest.schemaVersion: required"),
        ({"mediaType": image.OCI_INDEX}, "manifest.mediaType: "),
        ({"config": None}, "manifest.config: required"),
        ({"config": []}, "manifest.config: expected an object, got an array"),
        ({"layers": None}, "manifest.layers: required"),
        ({"layers": {}}, "manifest.layers: expected an array, got an object"),
        ({"layers": [1]}, "manifest.layers[0]: expected an object, got a number"),
        ({"layers": [{"mediaType": image.OCI_LAYER, "size": 1}]},
         "manifest.layers[0].digest: required"),
        ({"layers": [_desc(image.OCI_LAYER, 1, -1)]},
         "manifest.layers[0].size: must not be negative"),
        ({"layers": [_desc(image.OCI_LAYER, 1, True)]},
         "manifest.layers[0].size: expected an integer, got a boolean"),
        ({"layers": [dict(_desc(image.OCI_LAYER, 1), digest="sha256:abc")]},
         "manifest.layers[0].digest: invalid digest 'sha256:abc'"),
        ({"layers": [_desc(image.OCI_LAYER, 1, urls="x")]},
         "manifest.layers[0].urls: expected an array, got a string"),
        ({"layers": [_desc(image.OCI_LAYER, 1, annotations={"a": 1})]},
         "manifest.layers[0].annotations.a: expected a string, got a number"),
        ({"config": {"digest": _d(1), "size": 1}}, "manifest.config.mediaType: required"),
        ({"annotations": []}, "manifest.annotations: expected an object, got an array"),
    ],
)
def test_manifest_errors_name_the_path(change: dict, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_manifest(_bytes(dict(MANIFEST, **change)))
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "manifest: not valid json"),
        (b"\xff\xfe", "manifest: not valid json"),
        (b"[]", "manifest: expected an object, got an array"),
        (b"null", "manifest: expected an object, got null"),
    ],
)
def test_not_a_json_object(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_manifest(raw)


def test_index() -> None:
    i = parse_index(_bytes(INDEX))
    assert i.media_type == image.DOCKER_MANIFEST_LIST
    assert len(i.manifests) == 6
    assert i.manifests[1].platform == Platform(architecture="arm", os="linux", variant="v7")
    assert i.manifests[4].platform == Platform(
        architecture="amd64", os="windows", os_version="10.0.17763.1",
        os_features=("win32k",),
    )
    assert str(i.manifests[1].platform) == "linux/arm/v7"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mediaType": image.OCI_MANIFEST}, "index.mediaType: "),
        ({"manifests": None}, "index.manifests: required"),
        ({"manifests": [_desc(image.OCI_MANIFEST, 1, platform={"os": "linux"})]},
         "index.manifests[0].platform.architecture: required"),
        ({"manifests": [_desc(image.OCI_MANIFEST, 1,
                              platform=dict(_platform("linux", "amd64"), variant=8))]},
         "index.manifests[0].platform.variant: expected a string, got a number"),
    ],
)
def test_index_errors(change: dict, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_index(_bytes(dict(INDEX, **change)))
    assert str(info.value).startswith(message)


def test_descriptor_alone() -> None:
    d = parse_descriptor(_bytes(_desc(image.OCI_MANIFEST, 3, 7, artifactType="a/b")))
    assert d == Descriptor(
        media_type=image.OCI_MANIFEST, digest=Digest.parse(_d(3)), size=7,
        artifact_type="a/b",
    )
    with pytest.raises(InvalidArgument, match="descriptor.size: required"):
        parse_descriptor(b'{"mediaType": "x", "digest": "%s"}' % _d(3).encode())


def test_image_config() -> None:
    c = parse_image_config(_bytes(CONFIG))
    assert (c.architecture, c.os, c.created) == ("amd64", "linux", "2024-01-01T00:00:00Z")
    assert c.config == ContainerConfig(
        user="1000:1000",
        exposed_ports=("80/tcp", "53/udp"),
        env=("PATH=/usr/bin:/bin", "FOO=bar"),
        entrypoint=("/docker-entrypoint.sh",),
        cmd=("nginx", "-g", "daemon off;"),
        volumes=("/data",),
        working_dir="/srv",
        labels=(("maintainer", "someone"),),
        stop_signal="SIGQUIT",
        args_escaped=True,
    )
    assert c.rootfs == RootFS(type="layers", diff_ids=(Digest.parse(_d(1)), Digest.parse(_d(2))))
    assert c.history == (
        History(created="2024-01-01T00:00:00Z", created_by="/bin/sh -c #(nop) ADD file"),
        History(created_by='CMD ["nginx"]', empty_layer=True, comment="c", author="a"),
    )
    assert c.platform == Platform(architecture="amd64", os="linux")
    assert c.digest.hex == hashlib.sha256(_bytes(CONFIG)).hexdigest()


def test_minimal_image_config() -> None:
    raw = b'{"architecture":"arm64","os":"linux","variant":"v8","os.version":"",' \
        b'"rootfs":{"type":"layers","diff_ids":[]},"config":{"Entrypoint":null,"Cmd":[]}}'
    c = parse_image_config(raw)
    assert c.config.entrypoint is None  # null: not set
    assert c.config.cmd == ()  # []: set, and empty
    assert c.rootfs.diff_ids == ()
    assert c.history == ()
    assert str(c.platform) == "linux/arm64/v8"
    c = parse_image_config(b'{"architecture":"a","os":"o","rootfs":{"type":"layers",'
                           b'"diff_ids":[]}}')
    assert c.config == ContainerConfig()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"architecture": None}, "config.architecture: required"),
        ({"os": 1}, "config.os: expected a string, got a number"),
        ({"rootfs": None}, "config.rootfs: required"),
        ({"rootfs": {"type": "layers"}}, "config.rootfs.diff_ids: required"),
        ({"rootfs": {"type": "tar", "diff_ids": []}},
         'config.rootfs.type: must be "layers", got \'tar\''),
        ({"rootfs": {"type": "layers", "diff_ids": ["sha256:x"]}},
         "config.rootfs.diff_ids[0]: invalid digest 'sha256:x'"),
        ({"config": {"Env": "A=b"}}, "config.config.Env: expected an array, got a string"),
        ({"config": {"Cmd": [1]}}, "config.config.Cmd[0]: expected a string, got a number"),
        ({"config": {"ExposedPorts": {"80/tcp": 1}}},
         "config.config.ExposedPorts.80/tcp: expected an object, got a number"),
        ({"config": {"ArgsEscaped": "yes"}},
         "config.config.ArgsEscaped: expected a boolean, got a string"),
        ({"history": [{"empty_layer": 1}]},
         "config.history[0].empty_layer: expected a boolean, got a number"),
        ({"os.features": "x"}, "config.os.features: expected an array, got a string"),
    ],
)
def test_image_config_errors(change: dict, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_image_config(_bytes(dict(CONFIG, **change)))
    assert str(info.value).startswith(message)


def test_media_types() -> None:
    assert image.LAYER_COMPRESSION[image.DOCKER_LAYER_GZIP] == "gzip"
    assert image.LAYER_COMPRESSION[image.OCI_LAYER] == ""
    assert image.LAYER_COMPRESSION[image.OCI_LAYER_ZSTD] == "zstd"
    assert image.DOCKER_FOREIGN_LAYER in image.LAYER_MEDIA_TYPES
    assert sorted(image.MANIFEST_MEDIA_TYPES) == [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
    assert sorted(image.INDEX_MEDIA_TYPES) == [
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ]


@pytest.mark.parametrize(
    ("os", "arch", "variant", "expected"),
    [
        ("linux", "amd64", "", 13),
        ("linux", "x86_64", "", 13),
        ("linux", "amd64", "v1", 13),  # no variant in the index: amd64's default
        ("linux", "arm", "", 10),  # any variant: the first
        ("linux", "arm", "v7", 11),
        ("linux", "arm64", "v8", 12),
        ("linux", "aarch64", "", 12),
        ("windows", "amd64", "", 14),
    ],
)
def test_select_platform(os: str, arch: str, variant: str, expected: int) -> None:
    i = parse_index(_bytes(INDEX))
    assert select_platform(i, os, arch, variant).digest == Digest.parse(_d(expected))


def test_select_platform_defaults_to_linux_amd64() -> None:
    assert select_platform(parse_index(_bytes(INDEX))).digest == Digest.parse(_d(13))


def test_select_platform_not_found() -> None:
    i = parse_index(_bytes(INDEX))
    with pytest.raises(NotFound) as info:
        select_platform(i, "linux", "s390x")
    assert str(info.value) == (
        "no image for linux/s390x in the index (it has: linux/arm/v6, linux/arm/v7, "
        "linux/arm64, linux/amd64, windows/amd64, unknown/unknown)"
    )
    with pytest.raises(NotFound, match="no image for linux/arm/v5 in the index"):
        select_platform(i, architecture="arm", variant="v5")
    empty = parse_index(b'{"schemaVersion": 2, "manifests": []}')
    with pytest.raises(NotFound, match=r"\(it has: no platforms\)"):
        select_platform(empty)
