"""Twenty clients at once against one estibad, each creating, starting, waiting for and
removing busybox containers running ``true``, while another imports an image (and a
third collects nothing it should not: the daemon's own start-up collection has run): no
error, every exit status 0, a consistent store at the end and nothing left."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from harness import BUSYBOX, REAL_CORE, Daemon, busybox_archive, check_consistent, clean_namespace

pytestmark = REAL_CORE

CLIENTS = 20
ROUNDS = 2  # containers per client, one after the other


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    made = Daemon("esp-")
    try:
        yield made
    finally:
        made.remove()


def test_twenty_clients_at_once(daemon: Daemon) -> None:
    archive, blobs = busybox_archive(f"{daemon.dir}/busybox.tar")
    daemon.start()
    with daemon.client() as c:
        c.create_namespace("default")
    failures: list[str] = []
    statuses: list[int] = []
    start = threading.Barrier(CLIENTS + 1)

    def run(n: int) -> None:
        try:
            with daemon.client() as c:
                start.wait(30)
                for round in range(ROUNDS):
                    cid = f"p{n}-{round}"
                    c.create_container(cid, BUSYBOX, args=["true"])
                    c.create_task(cid)
                    c.start_task(cid)
                    statuses.append(c.wait_task(cid)["exit_status"])
                    c.delete_task(cid)
                    c.delete_container(cid)
        except Exception as exc:  # noqa: BLE001 - collected, asserted below
            failures.append(f"client {n}: {type(exc).__name__}: {exc}")

    def load() -> None:
        try:
            with daemon.client("imports") as c, open(archive, "rb") as f:
                start.wait(30)
                loaded = c.import_images(f, unpack=True)
                assert [i["name"] for i in loaded] == [BUSYBOX]
        except Exception as exc:  # noqa: BLE001
            failures.append(f"import: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    threads.append(threading.Thread(target=load))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive(), "a client hangs"
    assert failures == []
    assert statuses == [0] * CLIENTS * ROUNDS
    for ns in ("default", "imports"):
        with daemon.client(ns) as c:
            # "default" has the built-in busybox, "imports" the archive's
            check_consistent(daemon, c, {BUSYBOX: blobs} if ns == "imports" else {})
            assert c.containers() == [] and c.tasks() == []
            assert [s["kind"] for s in c.snapshots()] == ["committed"]  # the one layer
            clean_namespace(c)
    daemon.stop()
    daemon.assert_nothing_left()
