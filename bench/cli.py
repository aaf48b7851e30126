"""The numbers behind bench/cli (see there).

Two command lines against one estibad of the benchmark's own, rounds alternating
between them: ``estiba`` (the project's launcher in the venv) and the docker CLI. Both
talk to the same daemon, so the difference is the command line's own cost: start-up,
requests, formatting.

1. ``ps`` with N containers running (goal <= 1.0).
2. ``run --rm busybox true`` (goal <= 1.0).

Reference rows without goals: ``--version`` (the start alone) and ``images``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from daemons import REPO, Estibad, docker, median

ESTIBA = str(REPO / ".venv" / "bin" / "estiba")
INSTANCE = "benchcli"


def timed(argv: list[str], host: str) -> float | None:
    env = {**os.environ, "DOCKER_HOST": host}
    env.pop("ESTIBA_HOST", None)
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    return elapsed if done.returncode == 0 else None


def measure(host: str, rounds: int, count: int) -> dict[str, dict[str, float | None]]:
    clis = {"estiba": [ESTIBA], "docker": ["docker"]}
    figures = ("version", "images", "run", "ps")
    got: dict[str, dict[str, list[float | None]]] = {
        side: {f: [] for f in figures} for side in clis}
    for cli in clis.values():  # warm: page cache, bytecode, the image's layers
        for _ in range(3):
            timed([*cli, "run", "--rm", "busybox", "true"], host)
            timed([*cli, "ps"], host)
    for _ in range(rounds):
        for side, cli in clis.items():
            got[side]["version"].append(timed([*cli, "--version"], host))
            got[side]["images"].append(timed([*cli, "images"], host))
            got[side]["run"].append(timed([*cli, "run", "--rm", "busybox", "true"], host))
    tag = secrets.token_hex(2)
    names = [f"benchcli{tag}-{i}" for i in range(count)]
    try:
        for name in names:
            docker(host, "run", "-d", "--name", name, "busybox", "sleep", "3600")
        for _ in range(rounds):
            for side, cli in clis.items():
                got[side]["ps"].append(timed([*cli, "ps"], host))
    finally:
        docker(host, "rm", "-f", *names, check=False)
    return {side: {f: median(v) for f, v in values.items()} for side, values in got.items()}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    if os.geteuid() != 0:
        raise SystemExit("cli: run as root")
    subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "compileall", "-q",
                    str(REPO / "src")], check=True, stdout=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="escli-", dir="/var/tmp"))
    daemon = Estibad(work, INSTANCE)
    try:
        got = measure(daemon.host, rounds, count)
    finally:
        daemon.stop()
    print(f"cli: estiba and the docker CLI against one estibad, {rounds} rounds, "
          f"medians in ms")
    print(f"{'figure':<34}{'estiba':>10}{'docker':>10}{'ratio':>8}  goal")
    rows = (("version", "--version (start alone)", None), ("images", "images", None),
            ("run", "run --rm busybox true", 1.0), ("ps", f"ps, {count} running", 1.0))
    for key, label, goal in rows:
        ours, theirs = got["estiba"][key], got["docker"][key]
        if ours is None or theirs is None:
            print(f"{label:<34}{'failed' if ours is None else ours * 1000:>10}")
            continue
        print(f"{label:<34}{ours * 1000:>10.1f}{theirs * 1000:>10.1f}"
              f"{ours / theirs:>8.2f}  {'(reference)' if goal is None else f'<= {goal:.2f}'}")


if __name__ == "__main__":
    main()
