"""Snapshot chains for tests: many committed layers, each holding one file."""

from __future__ import annotations

from pathlib import Path


def commit_chain(snapshotter, count: int) -> str:
    """Commit ``count`` layers ``layer0``..., each on the one before, each holding the
    file ``f<n>`` (written into its directory directly, as unpacking a layer does);
    return the top layer's name."""
    parent = ""
    for n in range(count):
        key = f"layer{n}-active"
        snapshotter.prepare(key, parent)
        Path(snapshotter.fs(snapshotter.records.get(key).id), f"f{n}").write_text(str(n))
        snapshotter.commit(f"layer{n}", key)
        parent = f"layer{n}"
    return parent
