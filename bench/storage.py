"""The numbers behind bench/storage (see there).

The image is built once on the anchor Docker (``FROM busybox:latest`` and four ``RUN``
steps writing 50 MB of /dev/urandom each) and saved once; every round then takes both
sides in turn, so drift of the machine touches them alike:

estiba: a fresh root (content store, metadata database, overlay snapshotter), then
``load_archive`` of the archive and ``unpack`` of the manifest it loaded, timed apart and
together. Unpack MB/s is the uncompressed layer bytes over the unpack seconds.

docker: ``docker rmi`` of the image and ``docker image prune -f``, untimed, then
``docker load -i`` of the archive, timed. The busybox base stays loaded there (the anchor
keeps busybox:latest), so Docker re-imports the four data layers while estiba imports
all five; the base is a few MB of 200.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from estiba.content.store import ContentStore  # noqa: E402
from estiba.images.archive import load_archive  # noqa: E402
from estiba.images.unpack import unpack  # noqa: E402
from estiba.metadata.db import Database  # noqa: E402
from estiba.snapshots.overlay import OverlaySnapshotter  # noqa: E402

ANCHOR = "/work/shared/tools/anchor-docker"
IMAGE = "estiba-bench-storage:latest"
LAYERS = 4
LAYER_MB = 50
DOCKERFILE = "FROM busybox:latest\n" + "".join(
    f"RUN head -c {LAYER_MB}m /dev/urandom > /data{i}\n" for i in range(LAYERS))


def docker_env(host: str) -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": host, "DOCKER_BUILDKIT": "0"}


def docker(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise SystemExit(f"storage: docker {' '.join(args)} failed: "
                         f"{result.stderr.strip()[-300:]}")
    return result


def anchor_host() -> str:
    out = subprocess.run([ANCHOR, "env"], capture_output=True, text=True, check=True).stdout
    return out.strip().split("DOCKER_HOST=", 1)[1]


def start_anchor() -> tuple[str, bool]:
    """The anchor's DOCKER_HOST, and whether this process started it."""
    host = anchor_host()
    running = subprocess.run(["docker", "version"], env=docker_env(host),
                             capture_output=True).returncode == 0
    out = subprocess.run([ANCHOR, "start"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise SystemExit(f"storage: anchor-docker start failed: {out.stdout}{out.stderr}")
    for line in out.stdout.splitlines():
        if "DOCKER_HOST=" in line:
            host = line.split("DOCKER_HOST=", 1)[1].strip()
    return host, not running


def mounts_under(path: str) -> list[str]:
    prefix = os.path.realpath(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point.startswith(prefix):
                found.append(point)
    return found


def remove_root(path: str) -> None:
    for point in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
    if mounts_under(path):
        raise SystemExit(f"storage: mounts remain under {path}; not removing it")
    shutil.rmtree(path, ignore_errors=True)


def estiba_round(archive: str, work: Path, i: int) -> tuple[float, float, int]:
    """Seconds of load_archive and unpack, and the uncompressed layer bytes."""
    root = work / f"estiba-{i}"
    root.mkdir()
    try:
        store = ContentStore(str(root / "content"))
        db = Database(str(root / "metadata.db"))
        try:
            snapshotter = OverlaySnapshotter(str(root), db, "docker")
            tmp = root / "tmp"
            tmp.mkdir()
            t0 = time.perf_counter()
            loaded = load_archive(store, archive, tmp_dir=str(tmp))
            t1 = time.perf_counter()
            if len(loaded) != 1:
                raise SystemExit(f"storage: the archive loaded {len(loaded)} images")
            unpack(store, snapshotter, loaded[0].manifest_digest)
            t2 = time.perf_counter()
            manifest = json.loads(store.read(loaded[0].manifest_digest))
            size = sum(int(layer["size"]) for layer in manifest["layers"])
        finally:
            db.close()
    finally:
        remove_root(str(root))
    return t1 - t0, t2 - t1, size


def docker_round(env: dict[str, str], archive: str) -> float:
    docker(env, "rmi", "-f", IMAGE, check=False)
    docker(env, "image", "prune", "-f")
    subprocess.run(["sync"])
    t0 = time.perf_counter()
    docker(env, "load", "-i", archive)
    return time.perf_counter() - t0


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if os.geteuid() != 0:
        raise SystemExit("storage: run as root")
    work = Path(tempfile.mkdtemp(prefix="estiba-bench-storage-", dir="/var/tmp"))
    started = False
    env: dict[str, str] | None = None
    try:
        host, started = start_anchor()
        env = docker_env(host)
        build = work / "build"
        build.mkdir()
        (build / "Dockerfile").write_text(DOCKERFILE)
        docker(env, "build", "-q", "-t", IMAGE, str(build))
        archive = str(work / "image.tar")
        docker(env, "save", "-o", archive, IMAGE)
        archive_size = os.path.getsize(archive)
        loads, unpacks, totals, docker_loads = [], [], [], []
        layer_bytes = 0
        for i in range(rounds):
            subprocess.run(["sync"])
            t_load, t_unpack, layer_bytes = estiba_round(archive, work, i)
            loads.append(t_load)
            unpacks.append(t_unpack)
            totals.append(t_load + t_unpack)
            docker_loads.append(docker_round(env, archive))
        report(rounds, archive_size, layer_bytes, loads, unpacks, totals, docker_loads)
    finally:
        for entry in work.glob("estiba-*"):
            remove_root(str(entry))
        if env is not None:
            docker(env, "rmi", "-f", IMAGE, check=False)
            docker(env, "image", "prune", "-f", check=False)
        shutil.rmtree(work, ignore_errors=True)
        if started:
            subprocess.run([ANCHOR, "stop"], capture_output=True)
            for point in sorted(mounts_under("/var/lib/anchor-docker"), key=len, reverse=True):
                subprocess.run(["umount", "-l", point], capture_output=True)


def report(rounds: int, archive_size: int, layer_bytes: int, loads: list[float],
           unpacks: list[float], totals: list[float], docker_loads: list[float]) -> None:
    mb = 1 << 20
    m_load, m_unpack = statistics.median(loads), statistics.median(unpacks)
    m_total, m_docker = statistics.median(totals), statistics.median(docker_loads)
    print(f"storage: `docker save` archive of busybox + {LAYERS} x {LAYER_MB} MB random "
          f"layers, {archive_size / mb:.1f} MB; {rounds} rounds, medians in s")
    print(f"{'side':<32}{'median s':>10}")
    print(f"{'estiba load_archive':<32}{m_load:>10.3f}")
    print(f"{'estiba unpack':<32}{m_unpack:>10.3f}")
    print(f"{'estiba load_archive + unpack':<32}{m_total:>10.3f}")
    print(f"{'docker load':<32}{m_docker:>10.3f}")
    print(f"unpack: {layer_bytes / mb:.1f} MB of uncompressed layers, "
          f"{layer_bytes / mb / m_unpack:.0f} MB/s (median unpack)")
    print(f"ratio estiba / docker: {m_total / m_docker:.2f}x (goal <= 0.70x)")


if __name__ == "__main__":
    main()
