"""The collector's pure half: label references, marking, the sweep plan."""

from __future__ import annotations

from estiba.metadata.gc import (
    CONTENT,
    LABEL_ROOT,
    SNAPSHOT,
    IngestEntry,
    Node,
    SnapshotEntry,
    State,
    label_refs,
    mark,
    plan,
    removal_order,
)

NOW = 1_000_000.0


def d(n: int) -> str:
    return "sha256:" + f"{n:02x}" * 32


def c(ns: str, n: int) -> Node:
    return Node(kind=CONTENT, namespace=ns, id=d(n))


def s(ns: str, key: str) -> Node:
    return Node(kind=SNAPSHOT, namespace=ns, id=key)


def test_label_refs_follow_containerd_names():
    labels = [
        ("containerd.io/gc.ref.content.config", d(1)),
        ("containerd.io/gc.ref.content.l.0", d(2)),
        ("containerd.io/gc.ref.content", d(3)),
        ("containerd.io/gc.ref.contentious", d(4)),  # not the prefix plus a dot
        ("containerd.io/gc.ref.snapshot.overlayfs", "chain"),
        ("containerd.io/gc.ref.snapshot.native", "elsewhere"),  # another snapshotter
        ("containerd.io/gc.root", "x"),
        ("containerd.io/gc.ref.content.m.0", ""),  # empty: nothing
    ]
    assert label_refs("ns", labels, "overlayfs") == [c("ns", 1), c("ns", 2), c("ns", 3),
                                                     s("ns", "chain")]
    assert s("ns", "chain") not in label_refs("ns", labels, "")


def test_mark_reaches_what_the_roots_refer_to_and_nothing_else():
    refs = {
        c("a", 1): [c("a", 2), c("a", 3)],
        c("a", 3): [s("a", "top")],
        s("a", "top"): [s("a", "base")],
        c("a", 9): [c("a", 1)],  # refers to live things, but nothing refers to it
        s("a", "base"): [c("a", 1)],  # a cycle is fine
    }
    live = mark([c("a", 1)], refs)
    assert live == {c("a", 1), c("a", 2), c("a", 3), s("a", "top"), s("a", "base")}
    assert mark([], refs) == set()


def test_removal_order_is_children_first():
    snaps = [SnapshotEntry(namespace="a", key="base"),
             SnapshotEntry(namespace="a", key="mid", parent="base"),
             SnapshotEntry(namespace="a", key="top", parent="mid"),
             SnapshotEntry(namespace="a", key="other", parent="base")]
    order = removal_order(snaps, {("a", "base"), ("a", "mid"), ("a", "top"),
                                  ("a", "other")})
    assert order.index(("a", "top")) < order.index(("a", "mid")) < order.index(("a", "base"))
    assert order.index(("a", "other")) < order.index(("a", "base"))


def _image_state(**extra) -> State:
    """Image "app" in namespace a: index 1 -> manifest 2 -> config 3 + layer 4; the
    config names snapshot "top" on "base"; blobs 1-6 stored; 5 and 6 referenced by
    nothing."""
    fields = dict(
        images=(("a", d(1), ()),),
        labels=(
            ("a", d(1), (("containerd.io/gc.ref.content.m.0", d(2)),)),
            ("a", d(2), (("containerd.io/gc.ref.content.config", d(3)),
                         ("containerd.io/gc.ref.content.l.0", d(4)))),
            ("a", d(3), (("containerd.io/gc.ref.snapshot.overlayfs", "top"),)),
            ("a", d(5), (("note", "x"),)),
        ),
        blobs=tuple((d(n), 10 * n) for n in range(1, 7)),
        snapshots=(SnapshotEntry(namespace="a", key="base"),
                   SnapshotEntry(namespace="a", key="top", parent="base"),
                   SnapshotEntry(namespace="a", key="stray"),
                   SnapshotEntry(namespace="a", key="stray-child", parent="stray")),
    )
    fields.update(extra)
    return State(**fields)


def test_plan_keeps_an_image_and_sweeps_the_rest():
    todo = plan(_image_state(), "overlayfs", NOW)
    assert todo.blobs == (d(5), d(6))
    assert todo.labels == (("a", d(5)),)
    assert todo.snapshots == (("a", "stray-child"), ("a", "stray"))


def test_without_the_image_everything_goes():
    todo = plan(_image_state(images=()), "overlayfs", NOW)
    assert todo.blobs == tuple(d(n) for n in range(1, 7))
    assert set(todo.snapshots) == {("a", "base"), ("a", "top"), ("a", "stray"),
                                   ("a", "stray-child")}
    assert todo.snapshots.index(("a", "top")) < todo.snapshots.index(("a", "base"))


def test_leases_and_gc_root_labels_are_roots():
    state = _image_state(
        images=(),
        leased=(("a", "content", d(2)), ("a", "snapshot", "stray-child"),
                ("a", "image", "ignored")),
        labels=_image_state().labels + (("a", d(6), ((LABEL_ROOT, "yes"),)),),
    )
    todo = plan(state, "overlayfs", NOW)
    # manifest 2 leased keeps config, layer and the config's snapshots; 6 is a root
    assert todo.blobs == (d(1), d(5))
    assert todo.snapshots == ()  # stray-child keeps its parent stray


def test_snapshot_labels_are_references_and_roots():
    state = _image_state(images=(), snapshots=(
        SnapshotEntry(namespace="a", key="pinned", labels=((LABEL_ROOT, "1"),
                      ("containerd.io/gc.ref.content.x", d(5)))),))
    todo = plan(state, "overlayfs", NOW)
    assert d(5) not in todo.blobs
    assert todo.snapshots == ()


def test_a_blob_is_live_if_any_namespace_refers_to_it():
    state = State(
        images=(("a", d(1), ()), ("b", d(2), ())),
        labels=(("a", d(1), (("containerd.io/gc.ref.content.l.0", d(3)),)),
                ("b", d(2), (("containerd.io/gc.ref.content.l.0", d(3)),)),
                ("b", d(3), (("note", "b"),)),
                ("c", d(3), (("note", "c"),))),
        blobs=((d(1), 1), (d(2), 1), (d(3), 1)))
    todo = plan(state, "overlayfs", NOW)
    assert todo.blobs == ()
    assert todo.labels == (("c", d(3)),)  # namespace c refers to nothing
    todo = plan(state.replace(images=(("b", d(2), ()),)), "overlayfs", NOW)
    assert todo.blobs == (d(1),)


def test_snapshots_are_namespaced():
    state = State(
        images=(("a", d(1), ()),),
        labels=(("a", d(1), (("containerd.io/gc.ref.snapshot.overlayfs", "k"),)),),
        blobs=((d(1), 1),),
        snapshots=(SnapshotEntry(namespace="a", key="k"),
                   SnapshotEntry(namespace="b", key="k")))
    assert plan(state, "overlayfs", NOW).snapshots == (("b", "k"),)


def test_without_a_snapshotter_every_snapshot_is_kept_with_what_it_refers_to():
    state = State(
        blobs=((d(1), 1),),
        snapshots=(SnapshotEntry(namespace="a", key="k",
                                 labels=(("containerd.io/gc.ref.content", d(1)),)),))
    todo = plan(state, "", NOW)
    assert todo.snapshots == () and todo.blobs == ()


def test_ingests_go_when_unleased_and_idle():
    state = State(
        leased=(("a", "ingest", "leased"),),
        ingests=(IngestEntry(ref="leased", updated_at=0.0),
                 IngestEntry(ref="idle", updated_at=NOW - 7200),
                 IngestEntry(ref="fresh", updated_at=NOW - 10)))
    assert plan(state, "overlayfs", NOW).ingests == ("idle",)
    assert plan(state, "overlayfs", NOW, ingest_grace=0).ingests == ("fresh", "idle")
