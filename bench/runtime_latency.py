"""The numbers behind bench/runtime_latency (see there).

Each round runs every runtime once, in turn (starting with the next one each round), so
drift of the machine touches them all alike: a foreground ``run`` of ``true``, then
``create`` / ``start`` / ``delete`` of the same container, timed call by call from this
process (a fork+exec each, as a caller like containerd pays). The process is a child
subreaper, as containerd's shim is, and reaps the containers' inits.
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

from estiba.kernel.linux import Linux  # noqa: E402

ESTIBA = str(REPO / ".venv" / "bin" / "estiba-runtime")


def call(argv: list[str]) -> float:
    """Milliseconds the call took. No pipes: a created container keeps its stdio, and
    a pipe would stay open until it exits."""
    start = time.perf_counter()
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    elapsed = (time.perf_counter() - start) * 1000
    if result.returncode != 0:
        raise SystemExit(f"runtime_latency: {' '.join(argv)} failed ({result.returncode})")
    return elapsed


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wait_stopped(runtime: str, root: str, cid: str) -> None:
    deadline = time.monotonic() + 10
    while b'"stopped"' not in subprocess.run(
        [runtime, "--root", root, "state", cid], capture_output=True, check=True
    ).stdout:
        if time.monotonic() > deadline:
            raise SystemExit(f"{runtime}: {cid} did not stop")
        time.sleep(0.002)


def usable(runtime: str, bundle: str, root: str) -> str | None:
    """None when the runtime runs a container here, else why not."""
    if shutil.which(runtime) is None and not os.path.exists(runtime):
        return "not installed"
    result = subprocess.run([runtime, "--root", root, "run", "--bundle", bundle, "probe"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    subprocess.run([runtime, "--root", root, "delete", "--force", "probe"],
                   capture_output=True)
    if result.returncode != 0:
        return (result.stderr.strip().splitlines() or ["failed"])[-1][:120]
    return None


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    if os.geteuid() != 0:
        raise SystemExit("runtime_latency: run as root")
    Linux().set_child_subreaper()
    work = Path(tempfile.mkdtemp(prefix="estiba-bench-"))
    try:
        bundle = work / "bundle"
        subprocess.run(["bash", str(REPO / "scripts" / "make-bundle"), str(bundle), "true"],
                       check=True, stdout=subprocess.DEVNULL)
        # The spec version runc 1.1 writes: crun 1.8 refuses newer ones outright, and
        # the comparison should show why a runtime cannot run here, not that.
        config_path = bundle / "config.json"
        config = json.loads(config_path.read_text())
        config["ociVersion"] = "1.0.2"
        config_path.write_text(json.dumps(config))
        runtimes = {"estiba-runtime": ESTIBA, "runc": "runc", "crun": "crun"}
        roots = {name: str(work / f"root-{name}") for name in runtimes}
        skipped = {}
        for name, binary in list(runtimes.items()):
            why = usable(binary, str(bundle), roots[name])
            if why:
                skipped[name] = why
                del runtimes[name]
        times: dict[str, dict[str, list[float]]] = {
            name: {"run": [], "create": [], "start": [], "delete": []} for name in runtimes
        }
        for i in range(rounds + 3):  # three warm-up rounds
            # each round starts with the next runtime: the first of a round was seen to
            # pay 1-2 ms more (caches the previous one cooled)
            order = list(runtimes.items())
            order = order[i % len(order):] + order[:i % len(order)]
            for name, binary in order:
                root = roots[name]
                cid = f"b{i}"
                t_run = call([binary, "--root", root, "run", "--bundle", str(bundle), cid])
                t_create = call([binary, "--root", root, "create", "--bundle", str(bundle),
                                 cid + "s"])
                t_start = call([binary, "--root", root, "start", cid + "s"])
                wait_stopped(binary, root, cid + "s")
                t_delete = call([binary, "--root", root, "delete", cid + "s"])
                reap()
                if i >= 3:
                    for key, value in (("run", t_run), ("create", t_create),
                                       ("start", t_start), ("delete", t_delete)):
                        times[name][key].append(value)
        report(times, skipped, rounds)
    finally:
        for name in ("estiba-runtime", "runc", "crun"):
            root = work / f"root-{name}"
            if root.exists():
                for cid in os.listdir(root):
                    subprocess.run([runtimes.get(name, name), "--root", str(root), "delete",
                                    "--force", cid], capture_output=True)
        reap()
        shutil.rmtree(work, ignore_errors=True)
        for parent in Path("/sys/fs/cgroup").glob("*/estiba"):
            try:
                parent.rmdir()
            except OSError:
                pass


def report(times: dict, skipped: dict, rounds: int) -> None:
    print(f"runtime_latency: `run` of `true` on one busybox bundle, {rounds} rounds, "
          "medians in ms")
    print(f"{'runtime':<16}{'run':>8}{'create':>8}{'start':>8}{'delete':>8}")
    medians = {name: {k: statistics.median(v) for k, v in t.items()}
               for name, t in times.items()}
    for name, m in medians.items():
        print(f"{name:<16}{m['run']:>8.1f}{m['create']:>8.1f}{m['start']:>8.1f}"
              f"{m['delete']:>8.1f}")
    for name, why in skipped.items():
        print(f"{name:<16}  skipped: {why}")
    if "runc" in medians and "estiba-runtime" in medians:
        ours, theirs = medians["estiba-runtime"], medians["runc"]
        print("ratio estiba-runtime / runc: " + ", ".join(
            f"{k} {ours[k] / theirs[k]:.2f}x" for k in ("run", "create", "start", "delete")))


if __name__ == "__main__":
    main()
