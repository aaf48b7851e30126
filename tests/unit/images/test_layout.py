"""OCI image layouts: export, import, verification, platform choice (no root needed)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.errors import InvalidArgument, NotFound, Unimplemented
from estiba.images.base import BuiltImage, build_busybox
from estiba.images.layout import ImportedImage, export_layout, import_layout
from estiba.oci.image import OCI_INDEX, OCI_MANIFEST

BUSYBOX = "/bin/busybox"
pytestmark = pytest.mark.skipif(not os.access(BUSYBOX, os.X_OK), reason="no /bin/busybox")


@pytest.fixture
def built(tmp_path: Path) -> tuple[ContentStore, BuiltImage]:
    store = ContentStore(str(tmp_path / "src-store"))
    return store, build_busybox(store, applets=["sh", "ls"], architecture="amd64")


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add_blob(layout: Path, data: bytes) -> dict:
    digest = _digest(data)
    (layout / "blobs" / "sha256" / digest[7:]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _write_index(layout: Path, manifests: list[dict]) -> None:
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    (layout / "index.json").write_text(json.dumps(index))


def test_export_writes_the_layout(built, tmp_path: Path) -> None:
    store, image = built
    out = tmp_path / "layout"
    export_layout(store, [("busybox:latest", image.manifest_digest)], str(out))
    assert json.loads((out / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((out / "index.json").read_text())
    (entry,) = index["manifests"]
    assert entry["mediaType"] == OCI_MANIFEST
    assert entry["digest"] == image.manifest_digest
    assert entry["annotations"] == {
        "io.containerd.image.name": "docker.io/library/busybox:latest",
        "org.opencontainers.image.ref.name": "latest",
    }
    blobs = sorted(p.name for p in (out / "blobs" / "sha256").iterdir())
    wanted = [image.manifest_digest, image.config_digest, image.layer_digest]
    assert blobs == sorted(d[7:] for d in wanted)
    for name in blobs:
        data = (out / "blobs" / "sha256" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == name


def test_round_trip_into_a_fresh_store(built, tmp_path: Path) -> None:
    store, image = built
    out = tmp_path / "layout"
    export_layout(store, [("busybox:latest", image.manifest_digest)], str(out))
    fresh = ContentStore(str(tmp_path / "fresh"))
    imported = import_layout(fresh, str(out))
    assert imported == [
        ImportedImage(
            name="docker.io/library/busybox:latest", manifest_digest=image.manifest_digest
        )
    ]
    assert [b.digest for b in fresh.list()] == [b.digest for b in store.list()]
    for blob in fresh.list():
        fresh.verify(blob.digest)
    assert fresh.ingests() == []
    # importing again is a no-op
    assert import_layout(fresh, str(out)) == imported


def test_corrupted_blob_is_refused_and_nothing_imported(built, tmp_path: Path) -> None:
    store, image = built
    out = tmp_path / "layout"
    export_layout(store, [("busybox:latest", image.manifest_digest)], str(out))
    layer = out / "blobs" / "sha256" / image.layer_digest[7:]
    data = bytearray(layer.read_bytes())
    data[100] ^= 0xFF
    layer.write_bytes(bytes(data))
    fresh = ContentStore(str(tmp_path / "fresh"))
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        import_layout(fresh, str(out))
    assert fresh.list() == []
    assert fresh.ingests() == []


def test_truncated_manifest_is_refused(built, tmp_path: Path) -> None:
    store, image = built
    out = tmp_path / "layout"
    export_layout(store, [("busybox:latest", image.manifest_digest)], str(out))
    manifest = out / "blobs" / "sha256" / image.manifest_digest[7:]
    manifest.write_bytes(manifest.read_bytes()[:-1])
    fresh = ContentStore(str(tmp_path / "fresh"))
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        import_layout(fresh, str(out))
    assert fresh.list() == []


def _nested_layout(built, tmp_path: Path, platforms: list[tuple[str, str]]) -> tuple[Path, str]:
    """A layout whose index.json points at an index listing ``platforms``; the amd64 one
    (if listed) is the busybox image, the others are small manifests of their own."""
    store, image = built
    out = tmp_path / "layout"
    export_layout(store, [("busybox:latest", image.manifest_digest)], str(out))
    children = []
    for os_name, arch in platforms:
        if (os_name, arch) == ("linux", "amd64"):
            desc = {"digest": image.manifest_digest,
                    "size": store.info(image.manifest_digest).size}
        else:
            config = _add_blob(out, json.dumps({
                "architecture": arch, "os": os_name,
                "rootfs": {"type": "layers", "diff_ids": []},
            }).encode())
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [],
            }).encode()
            desc = _add_blob(out, manifest)
        children.append({"mediaType": OCI_MANIFEST, **desc,
                         "platform": {"os": os_name, "architecture": arch}})
    nested = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
    ).encode()
    desc = _add_blob(out, nested)
    _write_index(out, [{"mediaType": OCI_INDEX, **desc,
                        "annotations": {"org.opencontainers.image.ref.name": "multi"}}])
    return out, image.manifest_digest


def test_nested_index_imports_the_amd64_manifest(built, tmp_path: Path) -> None:
    out, manifest_digest = _nested_layout(
        built, tmp_path, [("linux", "arm64"), ("linux", "amd64")]
    )
    fresh = ContentStore(str(tmp_path / "fresh"))
    imported = import_layout(fresh, str(out))
    assert imported == [ImportedImage(name="multi", manifest_digest=manifest_digest)]
    store, image = built
    assert {b.digest for b in fresh.list()} == {
        image.manifest_digest, image.config_digest, image.layer_digest
    }


def test_index_without_linux_amd64_lists_what_it_has(built, tmp_path: Path) -> None:
    out, _ = _nested_layout(built, tmp_path, [("linux", "arm64"), ("linux", "s390x")])
    fresh = ContentStore(str(tmp_path / "fresh"))
    with pytest.raises(NotFound, match="linux/amd64") as err:
        import_layout(fresh, str(out))
    assert "linux/arm64, linux/s390x" in str(err.value)
    assert fresh.list() == []


def test_layout_version_and_missing_files(built, tmp_path: Path) -> None:
    store, image = built
    out = tmp_path / "layout"
    fresh = ContentStore(str(tmp_path / "fresh"))
    with pytest.raises(NotFound):
        import_layout(fresh, str(out))
    export_layout(store, [("busybox:latest", image.manifest_digest)], str(out))
    (out / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}')
    with pytest.raises(Unimplemented, match="2.0.0"):
        import_layout(fresh, str(out))
    (out / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    os.unlink(out / "blobs" / "sha256" / image.config_digest[7:])
    with pytest.raises(NotFound):
        import_layout(fresh, str(out))
    assert fresh.list() == []
    assert fresh.ingests() == []
