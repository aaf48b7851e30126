"""estibad killed (SIGKILL, by its debug failpoints) at each named point of container
creation, task creation and image import: the next daemon shows a consistent store
(every container whole or absent, every image whole or absent, no half-made task), a
container running since before the crash still runs and is adopted, and once everything
is removed nothing is left (mounts, cgroups, conmon processes).

One daemon root for the module; each failpoint works in a namespace of its own; the
keeper (a container of no image, running ``sleep`` in the shared busybox rootfs) lives
in namespace ``keep`` through every crash."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import (
    BUSYBOX,
    REAL_CORE,
    Daemon,
    busybox_archive,
    check_consistent,
    clean_namespace,
    poll,
    run_keeper,
)

from estiba import errors

pytestmark = REAL_CORE

KEEPER = "keeper"


class World:
    def __init__(self, daemon: Daemon, archive: str, blobs: set[str], keeper_pid: int):
        self.daemon = daemon
        self.archive = archive
        self.blobs = blobs
        self.keeper_pid = keeper_pid


@pytest.fixture(scope="module")
def world(busybox_rootfs) -> Iterator[World]:
    daemon = Daemon("esc-")
    try:
        archive, blobs = busybox_archive(f"{daemon.dir}/busybox.tar")
        daemon.start()
        with daemon.client("keep") as c:
            pid = run_keeper(c, KEEPER, str(busybox_rootfs), daemon.cgroup_parent)
        yield World(daemon, archive, blobs, pid)
        if daemon.proc.poll() is not None:
            daemon.start()
        with daemon.client("keep") as c:
            clean_namespace(c)
        daemon.stop()
        daemon.assert_nothing_left()
    finally:
        daemon.remove()


def crash(world: World, failpoint: str, request) -> None:
    """Start the daemon with ``failpoint``, make ``request(client)``: it must not be
    answered, the daemon having killed itself; start it again without."""
    daemon = world.daemon
    daemon.stop()
    daemon.start((failpoint,))
    with pytest.raises(errors.EstibaError), daemon.client(failpoint) as c:
        request(c)
    daemon.killed_itself()
    daemon.start()
    assert '"msg": "adopted tasks"' in daemon.log()


def check_keeper(world: World) -> None:
    with world.daemon.client("keep") as c:
        task = c.task(KEEPER)
    assert (task["status"], task["pid"]) == ("running", world.keeper_pid)


def run_to_exit(c, cid: str) -> int:
    """Create (if needed), start and wait a task of container ``cid``; its status."""
    with pytest.raises(errors.NotFound):
        c.task(cid)
    c.create_task(cid)
    c.start_task(cid)
    status = c.wait_task(cid)["exit_status"]
    c.delete_task(cid)
    return status


def finish(world: World, ns: str) -> None:
    """Remove everything of ``ns``; nothing of it may be left in the kernel."""
    daemon = world.daemon
    with daemon.client(ns) as c:
        clean_namespace(c)
        check_consistent(daemon, c)
    assert not [m for m in daemon.mounts() if f"/{ns}/" in m]
    assert not [g for g in daemon.cgroups() if f"/{ns}-" in g]
    check_keeper(world)


def create_container(c, cid: str = "c1") -> None:
    c.create_container(cid, BUSYBOX, args=["true"])


@pytest.mark.parametrize("failpoint", ["container-after-snapshot", "container-after-record"])
def test_container_create(world: World, failpoint: str) -> None:
    crash(world, failpoint, create_container)
    check_keeper(world)
    with world.daemon.client(failpoint) as c:
        check_consistent(world.daemon, c)
        ids = [x["id"] for x in c.containers()]
        keys = [s["name"] for s in c.snapshots()]
        if failpoint == "container-after-snapshot":
            assert ids == [] and "c1" not in keys
            create_container(c)  # the id is free again
        else:
            assert ids == ["c1"] and "c1" in keys
        assert run_to_exit(c, "c1") == 0
    finish(world, failpoint)


@pytest.mark.parametrize("failpoint", ["task-after-bundle", "task-after-mount",
                                       "task-after-shim", "task-before-start"])
def test_task_create(world: World, failpoint: str) -> None:
    def request(c) -> None:
        create_container(c)
        c.create_task("c1")
        c.start_task("c1")

    crash(world, failpoint, request)
    check_keeper(world)
    daemon = world.daemon
    with daemon.client(failpoint) as c:
        check_consistent(daemon, c)
        assert [x["id"] for x in c.containers()] == ["c1"]
        tasks = c.tasks()
        if failpoint in ("task-after-bundle", "task-after-mount"):
            # the half-made bundle is gone, its rootfs unmounted: a task can be made
            assert tasks == []
            assert not [m for m in daemon.mounts() if f"/{failpoint}/" in m]
            assert "removed a half-made task bundle" in daemon.log()
            assert run_to_exit(c, "c1") == 0
        else:
            # the shim ran: the task exists, created, and runs when started
            assert [(t["id"], t["status"]) for t in tasks] == [("c1", "created")]
            c.start_task("c1")
            assert c.wait_task("c1")["exit_status"] == 0
            c.delete_task("c1")
    finish(world, failpoint)


@pytest.mark.parametrize("failpoint", ["import-after-blobs", "import-after-naming",
                                       "unpack-after-layer"])
def test_image_import(world: World, failpoint: str) -> None:
    def request(c) -> None:
        with open(world.archive, "rb") as f:
            c.import_images(f, unpack=True)

    crash(world, failpoint, request)
    check_keeper(world)
    daemon = world.daemon
    with daemon.client(failpoint) as c:
        check_consistent(daemon, c, {BUSYBOX: world.blobs})
        images = [i["name"] for i in c.images()]
        digests = {b["digest"] for b in c.content()}
        if failpoint == "import-after-blobs":
            # never named: the blobs went with the work lease
            assert images == []
            assert not digests & world.blobs
        else:
            assert images == [BUSYBOX]
            assert world.blobs <= digests
        if failpoint == "unpack-after-layer":
            # the layer committed for no labelled image went with the collection
            assert c.snapshots() == []
        # the import can be made again, and a container of it runs
        with open(world.archive, "rb") as f:
            assert [i["name"] for i in c.import_images(f, unpack=True)] == [BUSYBOX]
        create_container(c)
        assert run_to_exit(c, "c1") == 0
    finish(world, failpoint)


def test_failpoints_are_off_by_default(world: World) -> None:
    poll(lambda: world.daemon.proc.poll() is None, 1, "daemon up")
    assert "debug failpoints on" not in world.daemon.log()
