"""estibad killed with SIGKILL at a random moment while ``estiba ctr run --rm`` runs a
container (create, task create, start, wait, delete) and a client imports an image,
ten times: after each restart the store is consistent, the keeper
(running since before the first crash) is still running and adopted, and once the
namespace is emptied nothing of it is left. The delays come from a seeded generator,
printed, so that a failure can be replayed."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from harness import (
    BUSYBOX,
    REAL_CORE,
    SRC,
    Daemon,
    busybox_archive,
    check_consistent,
    clean_namespace,
    run_keeper,
)

from estiba import errors

pytestmark = REAL_CORE

ROUNDS = 10
SEED = int(os.environ.get("ESTIBA_CRASH_SEED", "20261128"))  # replay: set it


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    made = Daemon("esk-")
    try:
        yield made
    finally:
        made.remove()


def run_container(daemon: Daemon, ns: str, failures: list[BaseException]) -> None:
    """``estiba ctr run --rm busybox c1 true`` (create, task create, start, wait,
    delete): killed under it, it fails with the daemon's absence, never hangs."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "estiba.cli", "ctr", "-a", daemon.sock, "-n", ns,
             "run", "--rm", BUSYBOX, "c1", "true"],
            env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True, text=True,
            timeout=30)
        if done.returncode not in (0, 1) or (done.returncode and "ctr:" not in done.stderr):
            failures.append(AssertionError(f"ctr run: {done.returncode} {done.stderr}"))
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        failures.append(exc)


def import_image(daemon: Daemon, ns: str, archive: str,
                 failures: list[BaseException]) -> None:
    try:
        with daemon.client(ns) as c, open(archive, "rb") as f:
            c.import_images(f, unpack=True)
    except errors.EstibaError:
        pass
    except BaseException as exc:  # noqa: BLE001
        failures.append(exc)


def test_sigkill_at_random_moments(daemon: Daemon, busybox_rootfs) -> None:
    rng = random.Random(SEED)
    archive, blobs = busybox_archive(f"{daemon.dir}/busybox.tar")
    daemon.start()
    with daemon.client("keep") as c:
        keeper_pid = run_keeper(c, "keeper", str(busybox_rootfs), daemon.cgroup_parent)
    for round in range(ROUNDS):
        ns = f"r{round}"
        delay = rng.uniform(0.05, 0.5)  # ctr's own start takes ~0.1 s
        failures: list[BaseException] = []
        threads = [threading.Thread(target=run_container, args=(daemon, ns, failures)),
                   threading.Thread(target=import_image,
                                    args=(daemon, f"{ns}i", archive, failures))]
        for thread in threads:
            thread.start()
        threading.Event().wait(delay)  # the random moment: a delay, not a poll
        daemon.kill()
        for thread in threads:
            thread.join(30)
            assert not thread.is_alive(), f"round {round}: a client hangs"
        assert not failures, f"round {round} (delay {delay:.3f}s): {failures!r}"
        daemon.start()
        with daemon.client("keep") as c:
            task = c.task("keeper")
        assert (task["status"], task["pid"]) == ("running", keeper_pid), round
        for space, images in ((ns, {}), (f"{ns}i", {BUSYBOX: blobs})):
            with daemon.client(space) as c:
                check_consistent(daemon, c, images)
                clean_namespace(c)
                check_consistent(daemon, c)
        assert not [m for m in daemon.mounts() if f"/{ns}/" in m], round
        assert not [g for g in daemon.cgroups() if f"/{ns}-" in g], round
    with daemon.client("keep") as c:
        clean_namespace(c)
    daemon.stop()
    daemon.assert_nothing_left()
