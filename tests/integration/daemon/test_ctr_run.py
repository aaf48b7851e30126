"""``estiba ctr`` against estibad with the real core: import busybox, ``run`` a
container to its exit status, and a container that outlives a daemon stop and is
adopted by the next daemon (live restore)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
from harness import REAL_CORE
from test_estibad import ctr, start, wait_serving

pytestmark = REAL_CORE

BUSYBOX = "docker.io/library/busybox:latest"


def unmount_under(path: str) -> None:
    with open("/proc/mounts") as f:
        targets = [line.split()[1] for line in f if line.split()[1].startswith(path + "/")]
    for target in sorted(targets, reverse=True):
        subprocess.run(["umount", "-l", target], check=False)


@pytest.fixture
def roots() -> Iterator[dict[str, str]]:
    d = tempfile.mkdtemp(prefix="esr-", dir="/tmp")
    yield {"dir": d, "root": f"{d}/root", "exec_root": f"{d}/run", "sock": f"{d}/c.sock"}
    unmount_under(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def busybox_tar(roots: dict[str, str]) -> str:
    from estiba.core.services import Core

    core = Core(f"{roots['dir']}/build")
    try:
        image = core.images.provide_busybox("default")
        path = f"{roots['dir']}/busybox.tar"
        with open(path, "wb") as out:
            core.images.export_archive("default", [image.name], out)
    finally:
        core.close()
    return path


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_run_and_live_restore(roots: dict[str, str], busybox_tar: str) -> None:
    sock = roots["sock"]
    one, two = f"r{secrets.token_hex(3)}", f"d{secrets.token_hex(3)}"
    proc = start(roots, fake=False)
    assert wait_serving(proc, sock), proc.communicate(timeout=10)
    try:
        imported = ctr(sock, "images", "import", busybox_tar)
        assert imported.returncode == 0, imported.stderr
        assert imported.stdout.startswith(f"unpacking {BUSYBOX} (sha256:")

        ran = ctr(sock, "run", "--rm", BUSYBOX, one, "sh", "-c", "echo out; echo err >&2; exit 3")
        assert (ran.returncode, ran.stdout, ran.stderr) == (3, "out\n", "err\n")
        assert one not in ctr(sock, "containers", "ls", "-q").stdout
        if shutil.which("runc"):  # offered by the daemon, chosen per container
            via = ctr(sock, "run", "--rm", "--runtime", "runc", "busybox",
                      f"u{secrets.token_hex(3)}", "sh", "-c", "echo via runc; exit 4")
            assert (via.returncode, via.stdout) == (4, "via runc\n")
        # the same id again: a new container, whose output is its own alone
        again = ctr(sock, "run", "--rm", "busybox", one, "echo", "again")
        assert (again.returncode, again.stdout, again.stderr) == (0, "again\n", "")

        assert ctr(sock, "run", "-d", BUSYBOX, two, "sleep", "1000").returncode == 0
        pid = int(ctr(sock, "tasks", "ls").stdout.split(two)[1].split()[0])
        stop(proc)
        os.kill(pid, 0)  # the container outlived the daemon

        proc = start(roots, fake=False)
        assert wait_serving(proc, sock)
        listed = ctr(sock, "tasks", "ls").stdout
        assert f"{two} " in listed and "RUNNING" in listed
        assert ctr(sock, "tasks", "kill", "-s", "SIGKILL", two).returncode == 0
        deadline = time.monotonic() + 10
        while "STOPPED" not in ctr(sock, "tasks", "ls").stdout:
            assert time.monotonic() < deadline, "the task did not stop"
            time.sleep(0.1)
        assert ctr(sock, "tasks", "rm", two).returncode == 0
        assert ctr(sock, "containers", "rm", two).returncode == 0
    finally:
        if proc.poll() is None:
            for cid in (one, two):
                ctr(sock, "tasks", "rm", "-f", cid)
                ctr(sock, "containers", "rm", cid)
            err = stop(proc)
        else:
            err = proc.communicate(timeout=10)[1]
    assert '"msg": "adopted tasks", "count": 1' in err
