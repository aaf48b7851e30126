"""The numbers behind bench/network (see there).

The same docker CLI against estibad and the anchor Docker (``daemons.py``):

1. HTTP through a published port, from the host: a busybox httpd started with ``-p
   HOSTPORT:80`` serving a 256 MiB file and a small one. Bulk throughput (MB/s, curl
   reading the big file, median of the rounds) and small requests per second (a client
   here opening one connection per request, as busybox httpd closes each), each to
   127.0.0.1 and to the host's own address. Goal: at least 1.0x Docker's.
2. ``docker run --rm busybox true`` on the default bridge against the same with
   ``--network none``, medians, on estiba (goal: within 1.1x); Docker's for reference.

Traffic goes only to this machine's addresses.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time

from daemons import compared, docker, median, timed

INSTANCE = "benchnet"
BIG_MIB = 256


def host_address() -> str:
    """The host's address on its default route's interface (a local address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        # a UDP connect sends nothing: it only picks the source address
        s.connect(("192.0.2.1", 9))
        return s.getsockname()[0]


def bulk_mb_s(address: str, port: int) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(["curl", "-s", "--noproxy", "*", "-o", "/dev/null", "-w",
                           "%{size_download}", f"http://{address}:{port}/big"],
                          capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t0
    return int(float(done.stdout)) / elapsed / 1e6


def requests_per_s(address: str, port: int, seconds: float = 2.0) -> float:
    request = b"GET /small HTTP/1.0\r\n\r\n"
    count, deadline = 0, time.monotonic() + seconds
    t0 = time.perf_counter()
    while time.monotonic() < deadline:
        with socket.create_connection((address, port), timeout=5) as s:
            s.sendall(request)
            while s.recv(65536):
                pass
        count += 1
    return count / (time.perf_counter() - t0)


def serve(host: str, name: str, port: int) -> None:
    docker(host, "run", "-d", "--name", name, "-p", f"{port}:80", "busybox", "sh", "-c",
           f"mkdir /www && head -c {BIG_MIB}m /dev/zero > /www/big && echo small > "
           "/www/small && exec httpd -f -p 80 -h /www")
    deadline = time.monotonic() + 30
    while True:
        try:
            requests_per_s("127.0.0.1", port, 0.01)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"network: {name} does not answer on port {port}") from None
            time.sleep(0.1)


def measure(hosts: dict[str, str], rounds: int) -> dict[str, dict[str, float | None]]:
    address = host_address()
    out: dict[str, dict[str, float | None]] = {side: {} for side in hosts}
    ports = {"estiba": 18181, "docker": 18182}
    for side, host in hosts.items():
        serve(host, f"benchnet-{side}", ports[side])
    try:
        for target in ("127.0.0.1", address):
            bulk: dict[str, list[float]] = {side: [] for side in hosts}
            small: dict[str, list[float]] = {side: [] for side in hosts}
            for _ in range(rounds):
                for side in hosts:
                    bulk[side].append(bulk_mb_s(target, ports[side]))
                    small[side].append(requests_per_s(target, ports[side]))
            for side in hosts:
                out[side][f"bulk {target}"] = statistics.median(bulk[side])
                out[side][f"small {target}"] = statistics.median(small[side])
    finally:
        for side, host in hosts.items():
            docker(host, "rm", "-f", f"benchnet-{side}", check=False)
    for side, host in hosts.items():
        for _ in range(2):  # warm
            timed(host, "run", "--rm", "busybox", "true")
        runs: dict[str, list[float | None]] = {"bridge": [], "none": []}
        for _ in range(rounds * 2):
            for mode in runs:
                runs[mode].append(timed(host, "run", "--rm", "--network", mode, "busybox",
                                        "true"))
        out[side]["run bridge"] = median(runs["bridge"])
        out[side]["run none"] = median(runs["none"])
    return out


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if os.geteuid() != 0:
        raise SystemExit("network: run as root")
    with compared("esn-", INSTANCE) as hosts:
        got = measure(hosts, rounds)
    ours, theirs = got["estiba"], got["docker"]
    print(f"network: the docker CLI against estibad and the anchor Docker, {rounds} rounds, "
          "medians")
    print(f"{'figure':<44}{'estiba':>10}{'docker':>10}{'ratio':>8}  goal")
    for key in ours:
        if not key.startswith(("bulk", "small")):
            continue
        unit = "MB/s" if key.startswith("bulk") else "req/s"
        label = f"HTTP {'256 MiB file' if key.startswith('bulk') else 'small file'} " \
                f"to {key.split()[1]}, {unit}"
        a, b = ours[key], theirs[key]
        print(f"{label:<44}{a:>10.1f}{b:>10.1f}{a / b:>8.2f}  >= 1.00")  # type: ignore[operator]
    for side, row in got.items():
        bridge, none = row["run bridge"], row["run none"]
        if bridge is None or none is None:
            continue
        label = f"{side}: run --rm, bridge / none, ms"
        print(f"{label:<44}{bridge * 1000:>10.1f}{none * 1000:>10.1f}{bridge / none:>8.2f}"
              f"  {'<= 1.10' if side == 'estiba' else '(reference)'}")


if __name__ == "__main__":
    main()
