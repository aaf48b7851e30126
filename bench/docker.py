"""The numbers behind bench/docker (see there).

The same docker CLI against two daemons, rounds alternating between them: an estibad of
its own (roots under /var/tmp, its own sockets and instance name) and the anchor Docker
(../shared/tools/anchor-docker). ``--network none`` on both sides until estiba has
networks. Figures whose API estiba does not serve yet are reported as such.

1. ``docker run --rm busybox true``, median (goal <= 0.2).
2. ``docker exec C true`` on a running container, median (goal <= 0.5).
3. ``docker ps`` with N containers running, median (goal <= 0.6).
4. N sequential ``docker run -d busybox sleep 3600``, per container (goal <= 0.25).

Two reference rows, without goals, say how much of each figure is the CLI's own: ``docker
--version`` (the CLI's start, no daemon asked) and ``docker version`` (its start, a ping
and one small request). A figure cannot go below the CLI's part of it: ``docker ps`` is a
ping and one list, so its floor is about ``docker version`` plus the CLI's formatting of
the rows.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANCHOR = "/work/shared/tools/anchor-docker"
ESTIBAD = str(REPO / ".venv" / "bin" / "estibad")
sys.path.insert(0, str(REPO / "src"))

from estiba.network.system import purge as purge_network  # noqa: E402

INSTANCE = "benchdocker"


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


def start_estibad(work: Path) -> tuple[subprocess.Popen, str]:
    sock = work / "d.sock"
    host = f"unix://{sock}"
    proc = subprocess.Popen(
        [ESTIBAD, "--root", str(work / "root"), "--exec-root", str(work / "run"),
         "--core-address", str(work / "c.sock"), "-H", host, "--instance", INSTANCE],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(work / "estibad.log", "w"), start_new_session=True)  # noqa: SIM115
    deadline = time.monotonic() + 20
    while docker(host, "version", check=False).returncode != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"docker: estibad did not start: see {work}/estibad.log")
        time.sleep(0.05)
    return proc, host


def anchor_host() -> tuple[str, bool]:
    """The anchor's DOCKER_HOST, and whether this run started it."""
    env = subprocess.run([ANCHOR, "env"], capture_output=True, text=True, check=True).stdout
    running = docker(env.strip().split("DOCKER_HOST=", 1)[1], "version",
                     check=False).returncode == 0
    out = subprocess.run([ANCHOR, "start"], capture_output=True, text=True, check=True).stdout
    return out.strip().split("DOCKER_HOST=", 1)[1].split()[0], not running


def measure(hosts: dict[str, str], rounds: int, count: int) -> dict[str, dict[str, float | None]]:
    tag = secrets.token_hex(2)
    results: dict[str, dict[str, list[float | None]]] = {
        side: {"run": [], "exec": [], "ps": [], "run -d": [], "cli": [], "version": []}
        for side in hosts}
    for host in hosts.values():  # warm: the image in place, caches filled
        for _ in range(2):
            timed(host, "run", "--rm", "--network", "none", "busybox", "true")
    for _ in range(rounds):
        for side, host in hosts.items():
            results[side]["cli"].append(timed(host, "--version"))
            results[side]["version"].append(timed(host, "version"))
            results[side]["run"].append(
                timed(host, "run", "--rm", "--network", "none", "busybox", "true"))
    names: dict[str, list[str]] = {side: [] for side in hosts}
    try:
        for i in range(count):
            for side, host in hosts.items():
                name = f"bench{tag}-{i}"
                results[side]["run -d"].append(timed(
                    host, "run", "-d", "--network", "none", "--name", name, "busybox",
                    "sleep", "3600"))
                names[side].append(name)
        for _ in range(rounds):
            for side, host in hosts.items():
                results[side]["ps"].append(timed(host, "ps"))
                results[side]["exec"].append(timed(host, "exec", names[side][0], "true"))
    finally:
        for side, host in hosts.items():
            if names[side]:
                docker(host, "rm", "-f", *names[side], check=False)
    return {side: {k: median(v) for k, v in figures.items()}
            for side, figures in results.items()}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    if os.geteuid() != 0:
        raise SystemExit("docker: run as root")
    work = Path(tempfile.mkdtemp(prefix="esd-", dir="/var/tmp"))
    proc = None
    started = False
    try:
        anchor, started = anchor_host()
        proc, estiba = start_estibad(work)
        got = measure({"estiba": estiba, "docker": anchor}, rounds, count)
        goals = {"run": 0.2, "exec": 0.5, "ps": 0.6, "run -d": 0.25}
        labels = {"run": "docker run --rm busybox true", "exec": "docker exec C true",
                  "ps": f"docker ps, {count} running", "run -d": "docker run -d (each)"}
        print(f"docker: the docker CLI against estibad and the anchor Docker, {rounds} "
              f"rounds, {count} containers, medians in ms")
        print(f"{'figure':<34}{'estiba':>10}{'docker':>10}{'ratio':>8}  goal")
        for key, label in (("cli", "docker --version (CLI alone)"),
                           ("version", "docker version (CLI, 2 requests)")):
            ours, theirs = got["estiba"][key], got["docker"][key]
            if ours is not None and theirs is not None:
                print(f"{label:<34}{ours * 1000:>10.1f}{theirs * 1000:>10.1f}"
                      f"{ours / theirs:>8.2f}  (reference)")
        for key, label in labels.items():
            ours, theirs = got["estiba"][key], got["docker"][key]
            if ours is None or theirs is None:
                print(f"{label:<34}{'not served yet' if ours is None else ours * 1000:>10}")
                continue
            print(f"{label:<34}{ours * 1000:>10.1f}{theirs * 1000:>10.1f}"
                  f"{ours / theirs:>8.2f}  <= {goals[key]:.2f}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for parent in glob.glob(f"/sys/fs/cgroup/*/estiba-{INSTANCE}") + glob.glob(
                f"/sys/fs/cgroup/estiba-{INSTANCE}"):
            try:
                os.rmdir(parent)
            except OSError:
                pass
        purge_network(str(work / "root"), str(work / "run"), INSTANCE)
        shutil.rmtree(work, ignore_errors=True)
        if started:
            subprocess.run([ANCHOR, "stop"], capture_output=True)


if __name__ == "__main__":
    main()
