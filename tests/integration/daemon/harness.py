"""A real estibad on temporary roots for the crash, concurrency and bad-input tests:
start it (with failpoints), kill it, start it again on the same roots; the checks of a
store after a crash (every container whole or absent, every image whole or absent, no
half-made task, no work lease left) and of what a test leaves in the kernel (mounts
under its roots, cgroups of its instance, conmon processes of its roots)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from estiba import errors
from estiba.client.core import CoreClient

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "src"
CGROUP_ROOT = Path("/sys/fs/cgroup")
BUSYBOX = "docker.io/library/busybox:latest"

# the marks of a module that runs the real daemon: root, and conmon for its shims
REAL_CORE = [
    pytest.mark.root,
    pytest.mark.skipif(shutil.which("conmon") is None, reason="conmon is not installed"),
]


def poll(check, timeout: float, what: str, interval: float = 0.02):
    """``check()`` until it returns something true, or AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s: {what}")
        time.sleep(interval)


def purge_network(root: str, exec_root: str, instance: str) -> None:
    from estiba.network.system import purge

    purge(root, exec_root, instance)


def free_loopback_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """estibad on ``<dir>/root``, ``<dir>/run``, ``<dir>/c.sock`` (the Docker API on
    ``<dir>/d.sock``), instance ``name``. ``tcp``: the Docker API on a free port of
    127.0.0.1 too (``docker_tcp``, the same port at every start)."""

    def __init__(self, prefix: str = "esx-", tcp: bool = False) -> None:
        self.dir = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        self.root = f"{self.dir}/root"
        self.exec_root = f"{self.dir}/run"
        self.sock = f"{self.dir}/c.sock"
        self.docker_sock = f"{self.dir}/d.sock"
        self.instance = "t" + secrets.token_hex(4)
        self.tcp_port = free_loopback_port() if tcp else 0
        self.proc: subprocess.Popen | None = None
        self.logs: list[str] = []

    @property
    def docker_tcp(self) -> str:
        assert self.tcp_port, "a Daemon(tcp=True) listens on TCP"
        return f"tcp://127.0.0.1:{self.tcp_port}"

    @property
    def cgroup_parent(self) -> str:
        return f"estiba-{self.instance}"

    def start(self, failpoints: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> None:
        assert self.proc is None or self.proc.poll() is not None
        argv = [sys.executable, "-m", "estiba.daemon", "--config", os.devnull,
                "--root", self.root, "--exec-root", self.exec_root,
                "--core-address", self.sock, "--host", f"unix://{self.docker_sock}",
                "--instance", self.instance,
                "--log-format", "json", "--shutdown-timeout", "2"]
        if self.tcp_port:
            argv += ["--host", self.docker_tcp]
        if failpoints:
            argv += ["--debug-failpoints", ",".join(failpoints)]
        argv += extra
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        env.pop("ESTIBA_FAILPOINTS", None)
        err = open(f"{self.dir}/estibad-{len(self.logs)}.log", "w+")  # noqa: SIM115
        self.logs.append(err.name)
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        err.close()
        proc = self.proc

        def serving() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"estibad exited {proc.returncode}: {self.log()}")
            # the core socket is bound first: with a TCP port, wait for it too
            places = [(socket.AF_UNIX, self.sock)]
            if self.tcp_port:
                places.append((socket.AF_INET, ("127.0.0.1", self.tcp_port)))
            for family, address in places:
                s = socket.socket(family)
                try:
                    s.connect(address)
                except OSError:
                    return False
                finally:
                    s.close()
            return True

        poll(serving, 20, "estibad serving")

    def log(self) -> str:
        return Path(self.logs[-1]).read_text() if self.logs else ""

    def client(self, namespace: str = "default") -> CoreClient:
        return CoreClient(self.sock, namespace, timeout=30)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
            assert self.proc.returncode == 0, self.log()

    def killed_itself(self, timeout: float = 10) -> None:
        """The daemon died of SIGKILL (a failpoint)."""
        assert self.proc is not None
        self.proc.wait(timeout)
        assert self.proc.returncode == -signal.SIGKILL, (self.proc.returncode, self.log())

    # --- what it leaves -----------------------------------------------------------

    def mounts(self) -> list[str]:
        prefix = self.dir + "/"
        with open("/proc/self/mountinfo") as f:
            targets = [line.split()[4] for line in f]
        return sorted(t for t in targets if t.startswith(prefix))

    def cgroups(self) -> list[str]:
        found = []
        for base in (CGROUP_ROOT, *CGROUP_ROOT.glob("*")):
            parent = base / self.cgroup_parent
            if parent.is_dir():
                found.extend(str(p) for p in parent.iterdir() if p.is_dir())
        return sorted(found)

    def conmons(self) -> list[int]:
        """conmon processes whose command line names this daemon's roots."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"conmon") and any(
                    self.dir.encode() in a for a in argv):
                found.append(int(entry))
        return found

    def leftovers(self) -> list[str]:
        return ([f"mount {m}" for m in self.mounts()]
                + [f"cgroup {c}" for c in self.cgroups()]
                + [f"conmon {p}" for p in self.conmons()])

    def assert_nothing_left(self, timeout: float = 5) -> None:
        with contextlib.suppress(AssertionError):
            poll(lambda: not self.leftovers(), timeout, "leftovers gone")
        assert not self.leftovers()

    def purge_network(self) -> None:
        purge_network(self.root, self.exec_root, self.instance)

    def remove(self) -> None:
        """Kill the daemon, unmount what is left (the test then fails on it anyway),
        remove the roots and the instance's cgroup parent."""
        self.kill()
        for target in reversed(self.mounts()):
            subprocess.run(["umount", "-l", target], check=False)
        for pid in self.conmons():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self.purge_network()
        for base in (CGROUP_ROOT, *CGROUP_ROOT.glob("*")):
            with contextlib.suppress(OSError):
                (base / self.cgroup_parent).rmdir()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- the store's consistency ---------------------------------------------------------


def clean_namespace(client: CoreClient, timeout: float = 10) -> None:
    """Delete the namespace's tasks (forced), containers and images."""
    for task in client.tasks():
        with contextlib.suppress(errors.NotFound):
            client.delete_task(task["id"], force=True)
    for container in client.containers():
        with contextlib.suppress(errors.NotFound):
            client.delete_container(container["id"])
    for image in client.images():
        with contextlib.suppress(errors.NotFound):
            client.delete_image(image["name"])
    assert client.tasks() == [] and client.containers() == []


def check_consistent(daemon: Daemon, client: CoreClient,
                     image_blobs: dict[str, set[str]] | None = None) -> None:
    """What ``containers ls``, ``images ls``, ``snapshots ls`` and ``leases ls`` show of
    the client's namespace agrees: every container has its snapshot and every active
    snapshot a container; every task a container, and a bundle; every image named has
    all its blobs (``image_blobs``: name -> digests); no work lease survives a restart."""
    containers = {c["id"]: c for c in client.containers()}
    snapshots = {s["name"]: s for s in _snapshots(client)}
    for cid, container in containers.items():
        key = container.get("snapshot_key")
        if key:
            assert key in snapshots, f"container {cid}: snapshot {key} is missing"
    active = {name for name, s in snapshots.items() if s["kind"] == "active"}
    keys = {c.get("snapshot_key") for c in containers.values()}
    assert active <= keys, f"active snapshots of no container: {sorted(active - keys)}"
    for name, snapshot in snapshots.items():
        parent = snapshot.get("parent")
        assert not parent or parent in snapshots, f"snapshot {name}: parent {parent} gone"
    tasks = client.tasks()
    for task in tasks:
        assert task["id"] in containers, f"task {task['id']} of no container"
    digests = {blob["digest"] for blob in client.content()}
    for image in client.images():
        assert image["target"]["digest"] in digests, f"image {image['name']}: no target"
        for digest in (image_blobs or {}).get(image["name"], ()):
            assert digest in digests, f"image {image['name']}: blob {digest} missing"
    work = [lease["id"] for lease in client.leases()
            if dict(lease.get("labels") or {}).get("estiba.work")]
    assert not work, f"work leases left after a restart: {work}"
    # every bundle on disk is a task the daemon knows
    ns = client.namespace
    bundles = set(_listdir(f"{daemon.exec_root}/tasks/{ns}"))
    assert bundles <= {t["id"] for t in tasks}, f"stray bundles {bundles}"


def _snapshots(client: CoreClient) -> list[dict]:
    try:
        return client.snapshots()
    except errors.NotFound:  # the namespace was never made
        return []


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def keeper_spec(namespace: str, id: str, rootfs: str, cgroup_parent: str) -> dict:
    """A container of no image: ``sleep`` in the shared busybox rootfs (read-only)."""
    from estiba.core.spec import default_spec

    spec = default_spec(namespace, id, cgroup_parent=cgroup_parent)
    spec["process"]["args"] = ["/bin/sleep", "1000"]
    spec["root"] = {"path": str(rootfs), "readonly": True}
    return spec


def run_keeper(client: CoreClient, id: str, rootfs: str, cgroup_parent: str) -> int:
    """Create and start the keeper (and its namespace); its pid."""
    with contextlib.suppress(errors.AlreadyExists, errors.Conflict):
        client.create_namespace(client.namespace)
    client.create_container(id, spec=keeper_spec(client.namespace, id, rootfs,
                                                 cgroup_parent))
    client.create_task(id)
    return client.start_task(id)["pid"]


def busybox_archive(dest: str) -> tuple[str, set[str]]:
    """A ``docker save`` archive of the built-in busybox at ``dest``; its blobs."""
    from estiba.core.services import Core

    core = Core(f"{dest}.build")
    try:
        image = core.images.provide_busybox("default")
        with open(dest, "wb") as out:
            core.images.export_archive("default", [image.name], out)
        with open(dest, "rb") as f:  # what an import of it stores (its own manifest)
            loaded = core.images.import_archive("check", f, unpack=False)
        blobs = set(core.images._blobs(loaded[0].target_digest))
    finally:
        core.close()
        shutil.rmtree(f"{dest}.build", ignore_errors=True)
    return dest, blobs
