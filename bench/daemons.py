"""The two daemons the docker-level benchmarks compare, driven by the same docker CLI:
an estibad of the benchmark's own (roots under /var/tmp, its own sockets and instance
name, its kernel objects removed afterwards) and the anchor Docker
(../shared/tools/anchor-docker), started when it is not running and stopped again."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANCHOR = "/work/shared/tools/anchor-docker"
ESTIBAD = str(REPO / ".venv" / "bin" / "estibad")
sys.path.insert(0, str(REPO / "src"))

from estiba.network.system import purge as purge_network  # noqa: E402


def docker(host: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], env={**os.environ, "DOCKER_HOST": host},
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise SystemExit(f"docker: {' '.join(args)} on {host}: {done.stderr.strip()[-300:]}")
    return done


def timed(host: str, *args: str) -> float | None:
    """Seconds the command took; None when the daemon refused it (not served yet)."""
    t0 = time.perf_counter()
    done = docker(host, *args, check=False)
    elapsed = time.perf_counter() - t0
    return elapsed if done.returncode == 0 else None


def median(values: list[float | None]) -> float | None:
    return None if not values or None in values else statistics.median(values)  # type: ignore[type-var]


class Estibad:
    """An estibad under ``work`` with instance ``instance``; ``host`` is its DOCKER_HOST."""

    def __init__(self, work: Path, instance: str) -> None:
        self.work = work
        self.instance = instance
        sock = work / "d.sock"
        self.host = f"unix://{sock}"
        self.proc = subprocess.Popen(
            [ESTIBAD, "--root", str(work / "root"), "--exec-root", str(work / "run"),
             "--core-address", str(work / "c.sock"), "-H", self.host,
             "--instance", instance],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(work / "estibad.log", "w"), start_new_session=True)  # noqa: SIM115
        deadline = time.monotonic() + 20
        while docker(self.host, "version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"estibad did not start: see {work}/estibad.log")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop it and remove what it leaves: cgroup parents, network objects, roots."""
        terminate(self.proc)
        for parent in glob.glob(f"/sys/fs/cgroup/*/estiba-{self.instance}") + glob.glob(
                f"/sys/fs/cgroup/estiba-{self.instance}"):
            try:
                os.rmdir(parent)
            except OSError:
                pass
        purge_network(str(self.work / "root"), str(self.work / "run"), self.instance)
        shutil.rmtree(self.work, ignore_errors=True)


def terminate(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def compared(prefix: str, instance: str) -> Iterator[dict[str, str]]:
    """{"estiba": its DOCKER_HOST, "docker": the anchor's} for the block: an estibad of
    the block's own and the anchor Docker, both stopped afterwards (the anchor only
    when the block started it)."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    estibad = None
    started = False
    try:
        anchor, started = anchor_host()
        estibad = Estibad(work, instance)
        yield {"estiba": estibad.host, "docker": anchor}
    finally:
        if estibad is not None:
            estibad.stop()
        shutil.rmtree(work, ignore_errors=True)
        if started:
            stop_anchor()


def anchor_host() -> tuple[str, bool]:
    """The anchor's DOCKER_HOST, and whether this run started it."""
    env = subprocess.run([ANCHOR, "env"], capture_output=True, text=True, check=True).stdout
    running = docker(env.strip().split("DOCKER_HOST=", 1)[1], "version",
                     check=False).returncode == 0
    out = subprocess.run([ANCHOR, "start"], capture_output=True, text=True, check=True).stdout
    return out.strip().split("DOCKER_HOST=", 1)[1].split()[0], not running


def stop_anchor() -> None:
    subprocess.run([ANCHOR, "stop"], capture_output=True)
