"""docker save / docker load archives: round trip, classic and OCI forms, hostile input."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.errors import InvalidArgument
from estiba.images.archive import LoadedImage, load_archive, save_archive
from estiba.images.base import build_busybox
from estiba.oci.image import DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, parse_manifest

BUSYBOX = "/bin/busybox"
needs_busybox = pytest.mark.skipif(not os.access(BUSYBOX, os.X_OK), reason="no /bin/busybox")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar(files: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return buf.getvalue()


def _layer(text: bytes) -> bytes:
    return _tar({"hello": text})


def _config(diff_ids: list[str]) -> bytes:
    return json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }).encode()


def _classic(layers: list[bytes], diff_ids: list[str] | None = None) -> bytes:
    """An archive as Docker 20.10 writes it."""
    config = _config(diff_ids or ["sha256:" + _sha(layer) for layer in layers])
    files: dict[str, bytes] = {f"{_sha(config)}.json": config}
    names = []
    for i, layer in enumerate(layers):
        layer_id = _sha(f"v1-{i}".encode())
        files[f"{layer_id}/VERSION"] = b"1.0"
        files[f"{layer_id}/json"] = json.dumps({"id": layer_id}).encode()
        files[f"{layer_id}/layer.tar"] = layer
        names.append(f"{layer_id}/layer.tar")
    files["manifest.json"] = json.dumps([
        {"Config": f"{_sha(config)}.json", "RepoTags": ["hello:1.0"], "Layers": names}
    ]).encode()
    files["repositories"] = json.dumps({"hello": {"1.0": names[-1].split("/")[0]}}).encode()
    return _tar(files)


def _manifests(store: ContentStore) -> list[str]:
    out = []
    for blob in store.list():
        data = store.read(blob.digest)
        if b'"layers"' in data and b'"schemaVersion"' in data:
            out.append(blob.digest)
    return out


@needs_busybox
def test_save_then_load_round_trip(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "a"))
    built = build_busybox(store, applets=["sh", "ls"], architecture="amd64")
    out = tmp_path / "busybox.tar"
    save_archive(store, [(["busybox:latest"], built.manifest_digest)], str(out))

    with tarfile.open(out) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == sorted(m.name for m in members)
        assert all(m.mtime == 0 and m.uid == 0 for m in members)
        (entry,) = json.loads(tar.extractfile("manifest.json").read())
        assert entry["RepoTags"] == ["busybox:latest"]
        assert entry["Config"] == "blobs/sha256/" + built.config_digest[7:]
        assert entry["Layers"] == ["blobs/sha256/" + built.diff_id[7:]]
        layer = tar.extractfile(entry["Layers"][0]).read()
        assert "sha256:" + _sha(layer) == built.diff_id
        assert "oci-layout" in tar.getnames() and "index.json" in tar.getnames()

    again = tmp_path / "again.tar"
    save_archive(store, [(["busybox:latest"], built.manifest_digest)], str(again))
    assert again.read_bytes() == out.read_bytes()  # deterministic

    fresh = ContentStore(str(tmp_path / "b"))
    with open(out, "rb") as f:
        (loaded,) = load_archive(fresh, f)
    assert loaded.names == ("docker.io/library/busybox:latest",)
    assert loaded.config_digest == built.config_digest
    manifest = parse_manifest(fresh.read(loaded.manifest_digest))
    assert [str(layer.digest) for layer in manifest.layers] == [built.diff_id]
    assert fresh.exists(built.diff_id)


def test_classic_archive_loads(tmp_path: Path) -> None:
    layers = [_layer(b"one"), _layer(b"two")]
    archive = tmp_path / "classic.tar"
    archive.write_bytes(_classic(layers))
    store = ContentStore(str(tmp_path / "store"))
    (loaded,) = load_archive(store, str(archive))
    assert loaded.names == ("docker.io/library/hello:1.0",)
    manifest = parse_manifest(store.read(loaded.manifest_digest))
    assert manifest.media_type == DOCKER_MANIFEST
    assert str(manifest.config.digest) == loaded.config_digest
    assert [str(d.digest) for d in manifest.layers] == ["sha256:" + _sha(x) for x in layers]
    for layer in layers:
        assert store.read("sha256:" + _sha(layer)) == layer


def test_classic_archive_with_a_symlinked_and_gzipped_layer_loads(tmp_path: Path) -> None:
    plain = _layer(b"one")
    packed = gzip.compress(plain, mtime=0)
    config = _config(["sha256:" + _sha(plain)] * 2)
    link = tarfile.TarInfo("b/layer.tar")
    link.type = tarfile.SYMTYPE
    link.linkname = "../a/layer.tar"
    manifest = [{"Config": f"{_sha(config)}.json", "RepoTags": None,
                 "Layers": ["a/layer.tar", "b/layer.tar"]}]
    data = _tar({f"{_sha(config)}.json": config, "a/layer.tar": packed,
                 "manifest.json": json.dumps(manifest).encode()}, [link])
    store = ContentStore(str(tmp_path / "store"))
    (loaded,) = load_archive(store, io.BytesIO(data))
    assert loaded.names == ()
    layers = parse_manifest(store.read(loaded.manifest_digest)).layers
    assert [str(d.digest) for d in layers] == ["sha256:" + _sha(packed)] * 2


def test_oci_layout_archive_loads(tmp_path: Path) -> None:
    """As Docker 25 writes it: a layout, plus manifest.json pointing into blobs/."""
    layer = _layer(b"oci")
    config = _config(["sha256:" + _sha(layer)])
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + _sha(config),
                   "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": "sha256:" + _sha(layer),
                    "size": len(layer)}],
    }).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": "sha256:" + _sha(manifest),
        "size": len(manifest),
        "annotations": {"io.containerd.image.name": "docker.io/library/hello:2.0",
                        "org.opencontainers.image.ref.name": "2.0"},
    }]}
    files = {
        "blobs/sha256/" + _sha(x): x for x in (layer, config, manifest)
    } | {
        "index.json": json.dumps(index).encode(),
        "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "manifest.json": json.dumps([{
            "Config": "blobs/sha256/" + _sha(config), "RepoTags": ["hello:2.0", "hi"],
            "Layers": ["blobs/sha256/" + _sha(layer)],
        }]).encode(),
        "repositories": b"{}",
    }
    store = ContentStore(str(tmp_path / "store"))
    (loaded,) = load_archive(store, io.BytesIO(_tar(files)))
    assert loaded == LoadedImage(
        names=("docker.io/library/hello:2.0", "docker.io/library/hi:latest"),
        manifest_digest="sha256:" + _sha(manifest),
        config_digest="sha256:" + _sha(config),
    )
    assert store.read("sha256:" + _sha(layer)) == layer


def test_tampered_layer_is_refused_and_stores_no_manifest(tmp_path: Path) -> None:
    good = _layer(b"good")
    data = _classic([_layer(b"evil")], diff_ids=["sha256:" + _sha(good)])
    store = ContentStore(str(tmp_path / "store"))
    with pytest.raises(InvalidArgument, match="layer 0 of hello:1.0: diff_id mismatch"):
        load_archive(store, io.BytesIO(data))
    assert _manifests(store) == []
    assert store.ingests() == []
    assert not store.exists("sha256:" + _sha(_layer(b"evil")))


def test_config_not_matching_its_name_is_refused(tmp_path: Path) -> None:
    data = _classic([_layer(b"x")])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    config_name = next(n for n in files if n.endswith(".json") and "/" not in n
                       and n != "manifest.json")
    files[config_name] = files[config_name].replace(b"amd64", b"arm64")
    store = ContentStore(str(tmp_path / "store"))
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        load_archive(store, io.BytesIO(_tar(files)))
    assert _manifests(store) == []


@pytest.mark.parametrize("name", ["../evil", "/etc/evil", "a/../../evil"])
def test_member_escaping_the_archive_is_refused(tmp_path: Path, name: str) -> None:
    data = _tar({name: b"pwned", "manifest.json": b"[]"})
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(InvalidArgument, match="refused"):
        load_archive(ContentStore(str(tmp_path / "store")), io.BytesIO(data), str(work))
    assert not (tmp_path / "evil").exists()
    assert list(work.iterdir()) == []  # the private directory is removed


def test_symlink_out_of_the_archive_is_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("a/layer.tar")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../etc/passwd"
    with pytest.raises(InvalidArgument, match="refused"):
        load_archive(ContentStore(str(tmp_path / "s")), io.BytesIO(_tar({}, [link])))


def test_not_a_tar_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        load_archive(ContentStore(str(tmp_path / "s")), io.BytesIO(b"not a tar" * 100))
