"""Failpoints: named fault points for crash testing, as etcd's gofail and TiKV's
fail-rs have, turned on only by the documented debug option ``--debug-failpoints
NAME[,NAME...]`` (or the environment variable ``ESTIBA_FAILPOINTS``, the same list;
off by default). The core calls ``hit(name)`` at each point; when the name is on, the
daemon kills itself there with SIGKILL (no cleanup, no ``finally``: a power cut as seen
by the process), so a test can check what the next daemon recovers. Off, a hit costs
one frozenset lookup.

The points (``KNOWN``), in the order a request reaches them:

container create (``Core.new_container``)
    ``container-after-snapshot``  the snapshot is prepared, no record names it yet
    ``container-after-record``    the record exists, the work lease is not deleted yet
task create and start (``Tasks.create``, ``Tasks.start``)
    ``task-after-bundle``         config.json and task.json written, nothing mounted
    ``task-after-mount``          the rootfs is mounted, no shim started
    ``task-after-shim``           conmon runs (the runtime created the container), the
                                  task is not registered nor answered yet
    ``task-before-start``         the task exists, the runtime's start is not called
image import (``Images.import_archive``, ``Images._unpack``)
    ``import-after-blobs``        the blobs are committed and leased, no image named
    ``import-after-naming``       the images are named, not unpacked
    ``unpack-after-layer``        a layer's snapshot is committed, the image's config
                                  not yet labelled with it (hit on the snapshotter's
                                  commit, which unpack calls once per layer)
"""

from __future__ import annotations

import os
import signal

ENV = "ESTIBA_FAILPOINTS"

KNOWN: frozenset[str] = frozenset({
    "container-after-snapshot", "container-after-record",
    "task-after-bundle", "task-after-mount", "task-after-shim", "task-before-start",
    "import-after-blobs", "import-after-naming", "unpack-after-layer",
})


def from_env(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The names ``ESTIBA_FAILPOINTS`` turns on (comma-separated)."""
    text = (os.environ if environ is None else environ).get(ENV, "")
    return tuple(name.strip() for name in text.split(",") if name.strip())


class Failpoints:
    def __init__(self, active: tuple[str, ...] = ()) -> None:
        unknown = sorted(set(active) - KNOWN)
        if unknown:
            raise ValueError(f"unknown failpoints {', '.join(unknown)} (known: "
                             f"{', '.join(sorted(KNOWN))})")
        self.active = frozenset(active)

    def hit(self, name: str) -> None:
        if name in self.active:
            os.kill(os.getpid(), signal.SIGKILL)
