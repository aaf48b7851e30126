"""Content labels: per namespace, per digest, as containerd's content Info labels."""

from __future__ import annotations

import pytest

from estiba.errors import FailedPrecondition, InvalidArgument, NotFound
from estiba.metadata.content import ContentLabels, every_label, forget
from estiba.metadata.namespaces import Namespaces

BLOB = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def test_labels_are_set_updated_and_removed(db):
    labels = ContentLabels(db, "docker")
    assert labels.get(BLOB) == {}
    assert labels.set(BLOB, {"a": "1", "b": "2"}) == {"a": "1", "b": "2"}
    assert labels.update(BLOB, {"b": None, "c": "3", "a": ""}) == {"c": "3"}
    assert labels.get(BLOB) == {"c": "3"}
    labels.set(BLOB, {})
    assert labels.get(BLOB) == {}
    assert labels.list() == {}


def test_each_namespace_has_its_own_labels_on_a_shared_blob(db):
    ContentLabels(db, "docker").set(BLOB, {"k": "docker"})
    ContentLabels(db, "other").set(BLOB, {"k": "other"})
    assert ContentLabels(db, "docker").get(BLOB) == {"k": "docker"}
    assert ContentLabels(db, "other").list() == {BLOB: {"k": "other"}}
    assert list(every_label(db)) == [("docker", BLOB, {"k": "docker"}),
                                     ("other", BLOB, {"k": "other"})]
    assert forget(db, [("other", BLOB)]) == 1
    assert ContentLabels(db, "other").get(BLOB) == {}
    assert ContentLabels(db, "docker").get(BLOB) == {"k": "docker"}


def test_delete_forgets_every_label(db):
    labels = ContentLabels(db, "docker")
    labels.set(BLOB, {"a": "1"})
    labels.set(OTHER, {"a": "2"})
    labels.delete(BLOB)
    labels.delete(BLOB)  # nothing left: no error
    assert labels.list() == {OTHER: {"a": "2"}}


def test_bad_digests_labels_and_namespaces_are_refused(db):
    labels = ContentLabels(db, "docker")
    with pytest.raises(InvalidArgument):
        labels.get("sha256:nothex")
    with pytest.raises(InvalidArgument):
        labels.set(BLOB, {"": "x"})
    with pytest.raises(InvalidArgument):
        labels.set(BLOB, {"k": "v" * 4096})
    with pytest.raises(NotFound):
        ContentLabels(db, "missing").set(BLOB, {"a": "1"})


def test_a_namespace_holding_content_labels_cannot_be_deleted(db):
    ContentLabels(db, "other").set(BLOB, {"a": "1"})
    with pytest.raises(FailedPrecondition, match="content_labels"):
        Namespaces(db).delete("other")
    ContentLabels(db, "other").delete(BLOB)
    Namespaces(db).delete("other")
