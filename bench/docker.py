"""The numbers behind bench/docker (see there).

The same docker CLI against two daemons, rounds alternating between them: an estibad of
its own and the anchor Docker (``daemons.py``), containers on each one's default bridge
network. Figures whose API estiba does not serve yet are reported as such.

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

import os
import secrets
import sys

from daemons import compared, docker, median, timed

INSTANCE = "benchdocker"


def measure(hosts: dict[str, str], rounds: int, count: int) -> dict[str, dict[str, float | None]]:
    tag = secrets.token_hex(2)
    results: dict[str, dict[str, list[float | None]]] = {
        side: {"run": [], "exec": [], "ps": [], "run -d": [], "cli": [], "version": []}
        for side in hosts}
    for host in hosts.values():  # warm: the image in place, caches filled
        for _ in range(2):
            timed(host, "run", "--rm", "busybox", "true")
    for _ in range(rounds):
        for side, host in hosts.items():
            results[side]["cli"].append(timed(host, "--version"))
            results[side]["version"].append(timed(host, "version"))
            results[side]["run"].append(
                timed(host, "run", "--rm", "busybox", "true"))
    names: dict[str, list[str]] = {side: [] for side in hosts}
    try:
        for i in range(count):
            for side, host in hosts.items():
                name = f"bench{tag}-{i}"
                results[side]["run -d"].append(timed(
                    host, "run", "-d", "--name", name, "busybox",
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
    with compared("esd-", INSTANCE) as hosts:
        got = measure(hosts, rounds, count)
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


if __name__ == "__main__":
    main()
