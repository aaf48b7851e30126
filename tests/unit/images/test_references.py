"""The gc.ref.content labels of manifests and indexes (images.references)."""

from __future__ import annotations

import json

import pytest

from estiba.content.store import ContentStore
from estiba.errors import InvalidArgument
from estiba.images.references import (
    content_refs,
    label_references,
    parse_document,
    snapshot_label,
)
from estiba.metadata.content import ContentLabels
from estiba.metadata.db import Database
from estiba.metadata.namespaces import Namespaces
from estiba.oci.image import Index, Manifest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def _manifest(config: str, layers: list[str], media_type: bool = True) -> bytes:
    doc = {"schemaVersion": 2,
           "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2},
           "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": 1} for d in layers]}
    if media_type:
        doc["mediaType"] = OCI_MANIFEST
    return json.dumps(doc).encode()


def _index(manifests: list[tuple[str, str]], media_type: bool = True) -> bytes:
    doc = {"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": 1,
         "platform": {"os": "linux", "architecture": arch}} for d, arch in manifests]}
    if media_type:
        doc["mediaType"] = OCI_INDEX
    return json.dumps(doc).encode()


def d(n: int) -> str:
    return "sha256:" + f"{n:02x}" * 32


@pytest.mark.parametrize("typed", [True, False], ids=["media-type", "shape"])
def test_documents_are_told_apart(typed):
    assert isinstance(parse_document(_manifest(d(1), [d(2)], typed)), Manifest)
    assert isinstance(parse_document(_index([(d(1), "amd64")], typed)), Index)


def test_other_documents_are_refused():
    with pytest.raises(InvalidArgument):
        parse_document(b'{"mediaType": "application/vnd.oci.image.config.v1+json"}')
    with pytest.raises(InvalidArgument):
        parse_document(b"[]")
    with pytest.raises(InvalidArgument):
        parse_document(b"not json")


def test_content_refs_use_containerd_names():
    assert content_refs(parse_document(_manifest(d(1), [d(2), d(3)]))) == {
        "containerd.io/gc.ref.content.config": d(1),
        "containerd.io/gc.ref.content.l.0": d(2),
        "containerd.io/gc.ref.content.l.1": d(3),
    }
    assert content_refs(parse_document(_index([(d(4), "amd64"), (d(5), "arm64")]))) == {
        "containerd.io/gc.ref.content.m.0": d(4),
        "containerd.io/gc.ref.content.m.1": d(5),
    }


def test_snapshot_label():
    assert snapshot_label("overlayfs") == "containerd.io/gc.ref.snapshot.overlayfs"
    with pytest.raises(InvalidArgument):
        snapshot_label("")


def test_label_references_labels_an_index_and_its_stored_manifests(tmp_path):
    store = ContentStore(str(tmp_path / "content"))
    db = Database(str(tmp_path / "metadata.db"))
    Namespaces(db).create("docker")
    manifest = store.write_blob(_manifest(d(1), [d(2)]))
    index = store.write_blob(_index([(manifest, "amd64"), (d(9), "arm64")]))
    labels = ContentLabels(db, "docker")
    labels.set(index, {"containerd.io/gc.ref.content.m.7": d(8), "keep": "me"})

    result = label_references(store, db, "docker", index)
    assert result == {"containerd.io/gc.ref.content.m.0": manifest,
                      "containerd.io/gc.ref.content.m.1": d(9), "keep": "me"}
    assert labels.get(manifest) == {"containerd.io/gc.ref.content.config": d(1),
                                    "containerd.io/gc.ref.content.l.0": d(2)}
    assert ContentLabels(db, "other").list() == {}  # another namespace sees none
    db.close()
