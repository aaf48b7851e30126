"""The numbers behind bench/core (see there).

Sides, both started fresh by this script or found running:

- estiba: an estibad of its own (roots under /var/tmp, its own core socket and instance
  name, so it never meets a daemon already on the host), driven by ``estiba ctr``;
- containerd: the anchor Docker's containerd (``../shared/tools/anchor-docker``),
  driven by Debian's ``ctr``, with the anchor's busybox imported into a namespace of its
  own.

Figures:

1. ``ctr run --rm busybox ID true``, end to end as a user types it (a process each),
   rounds alternating between the sides; medians and the ratio (goal <= 0.5).
2. Memory per running container: ``N`` containers running ``sleep``, the summed PSS of
   what each side runs per container (estiba: its conmon shims, found by their pid
   files; containerd: containerd-shim-runc-v2, the parent of each task's init), per
   container (goal <= 0.5).
3. Idle daemon PSS: estibad right after it started, against dockerd + containerd as the
   anchor runs them (goal <= 0.5).
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
ANCHOR_RUN = "/run/anchor-docker"
CONTAINERD = f"{ANCHOR_RUN}/exec/containerd/containerd.sock"
NS = "benchcore"
IMAGE = "docker.io/library/busybox:latest"
ESTIBA = [str(REPO / ".venv" / "bin" / "estiba"), "ctr"]
ESTIBAD = str(REPO / ".venv" / "bin" / "estibad")
sys.path.insert(0, str(REPO / "src"))

from daemons import anchor_host, stop_anchor, terminate  # noqa: E402

from estiba.network.system import purge as purge_network  # noqa: E402


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise SystemExit(f"core: {' '.join(argv)} failed: {done.stderr.strip()[-400:]}")
    return done


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"core: {' '.join(argv)} failed: {done.stderr.strip()[-400:]}")
    return elapsed


class Estiba:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.sock = str(work / "core.sock")
        self.ctr = [*ESTIBA, "-a", self.sock, "-n", NS]
        self.proc = subprocess.Popen(
            [ESTIBAD, "--root", str(work / "root"), "--exec-root", str(work / "run"),
             "--core-address", self.sock, "--instance", "benchcore"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(work / "estibad.log", "w"), start_new_session=True)  # noqa: SIM115
        deadline = time.monotonic() + 20
        while run([*self.ctr, "version"], check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"core: estibad did not start: see {work}/estibad.log")
            time.sleep(0.05)
        time.sleep(1.0)  # settled: what an idle daemon holds
        # with its helpers (the exec helper): its children that are not shims
        self.idle_pss = pss_kib(self.proc.pid) + sum(
            pss_kib(child) for child in children(self.proc.pid))

    def shims(self) -> list[int]:
        pids = []
        for path in glob.glob(str(self.work / "run" / "tasks" / NS / "*" / "conmon.pid")):
            try:
                pids.append(int(Path(path).read_text().strip()))
            except (OSError, ValueError):
                continue
        return pids

    def stop(self) -> None:
        terminate(self.proc)


class Containerd:
    def __init__(self) -> None:
        self.ctr = ["ctr", "-a", CONTAINERD, "-n", NS]
        host, self.started = anchor_host()  # stopped again at the end if started here
        if IMAGE not in run([*self.ctr, "images", "ls", "-q"]).stdout:
            env = {**os.environ, "DOCKER_HOST": host}
            with tempfile.TemporaryDirectory() as tmp:
                archive = f"{tmp}/busybox.tar"
                subprocess.run(["docker", "save", "-o", archive, "busybox:latest"], env=env,
                               check=True, capture_output=True)
                run([*self.ctr, "images", "import", archive])
        self.idle_pss = sum(pss_kib(int(Path(p).read_text().strip())) for p in (
            f"{ANCHOR_RUN}/dockerd.pid", f"{ANCHOR_RUN}/exec/containerd/containerd.pid"))

    def shims(self, ids: list[str]) -> list[int]:
        pids = set()
        for line in run([*self.ctr, "tasks", "ls"]).stdout.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] in ids:
                with open(f"/proc/{fields[1]}/stat") as f:
                    pids.add(int(f.read().rsplit(")", 1)[1].split()[1]))
        return sorted(pids)


def latency(estiba: Estiba, containerd: Containerd, rounds: int) -> tuple[float, float]:
    ours, theirs = [], []
    for i in range(rounds):
        ours.append(timed([*estiba.ctr, "run", "--rm", IMAGE, f"lat{i}", "true"]))
        theirs.append(timed([*containerd.ctr, "run", "--rm", IMAGE, f"lat{i}", "true"]))
    return statistics.median(ours), statistics.median(theirs)


def memory(estiba: Estiba, containerd: Containerd, count: int) -> tuple[float, float]:
    tag = secrets.token_hex(2)
    ids = [f"mem{tag}-{i}" for i in range(count)]
    try:
        for cid in ids:
            run([*estiba.ctr, "run", "-d", IMAGE, cid, "sleep", "1000"])
            run([*containerd.ctr, "run", "-d", IMAGE, cid, "sleep", "1000"])
        time.sleep(1.0)
        ours = estiba.shims()
        theirs = containerd.shims(ids)
        if len(ours) != count or len(theirs) != count:
            raise SystemExit(f"core: {len(ours)} estiba and {len(theirs)} containerd shims "
                             f"for {count} containers")
        return (sum(map(pss_kib, ours)) / count, sum(map(pss_kib, theirs)) / count)
    finally:
        for side in (estiba.ctr, containerd.ctr):
            for cid in ids:
                run([*side, "tasks", "kill", "-s", "SIGKILL", cid], check=False)
            for cid in ids:
                deadline = time.monotonic() + 10
                while run([*side, "tasks", "rm", cid], check=False).returncode != 0:
                    if time.monotonic() > deadline or cid not in run(
                            [*side, "tasks", "ls"], check=False).stdout:
                        break
                    time.sleep(0.05)
                run([*side, "containers", "rm", cid], check=False)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    if os.geteuid() != 0:
        raise SystemExit("core: run as root")
    work = Path(tempfile.mkdtemp(prefix="esb-", dir="/var/tmp"))
    estiba = None
    containerd = None
    try:
        containerd = Containerd()
        estiba = Estiba(work)
        for i in range(3):  # warm both: the image unpacked, caches filled
            timed([*estiba.ctr, "run", "--rm", IMAGE, f"warm{i}", "true"])
            timed([*containerd.ctr, "run", "--rm", IMAGE, f"warm{i}", "true"])
        ours, theirs = latency(estiba, containerd, rounds)
        mem_ours, mem_theirs = memory(estiba, containerd, count)
        mib = 1024
        print(f"core: estibad + estiba ctr against containerd + ctr (anchor), {rounds} "
              f"rounds, {count} containers")
        print(f"{'figure':<44}{'estiba':>10}{'containerd':>12}{'ratio':>8}  goal")
        print(f"{'ctr run --rm busybox ID true, median ms':<44}{ours * 1000:>10.1f}"
              f"{theirs * 1000:>12.1f}{ours / theirs:>8.2f}  <= 0.50")
        print(f"{'PSS per running container (shim), MiB':<44}{mem_ours / mib:>10.2f}"
              f"{mem_theirs / mib:>12.2f}{mem_ours / mem_theirs:>8.2f}  <= 0.50")
        print(f"{'idle daemon PSS, MiB (dockerd + containerd)':<44}"
              f"{estiba.idle_pss / mib:>10.1f}{containerd.idle_pss / mib:>12.1f}"
              f"{estiba.idle_pss / containerd.idle_pss:>8.2f}  <= 0.50")
    finally:
        if estiba is not None:
            estiba.stop()
            purge_network(str(work / "root"), str(work / "run"), "benchcore")
        # ours, and the one containerd makes for the namespace of its containers
        for parent in glob.glob("/sys/fs/cgroup/*/estiba-benchcore") + glob.glob(
                "/sys/fs/cgroup/estiba-benchcore") + glob.glob(f"/sys/fs/cgroup/*/{NS}"):
            try:
                os.rmdir(parent)  # empty once the containers are gone
            except OSError:
                pass
        for point in sorted(_mounts_under(str(work)), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        if not _mounts_under(str(work)):
            shutil.rmtree(work, ignore_errors=True)
        if containerd is not None and containerd.started:
            stop_anchor()


def _mounts_under(path: str) -> list[str]:
    prefix = os.path.realpath(path).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


if __name__ == "__main__":
    main()
