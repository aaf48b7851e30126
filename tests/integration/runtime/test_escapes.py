"""Known ways out of a container, each reproduced against estiba-runtime and shown
blocked (the CVE names the attack as first found against runc)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from support.bundle import Bundle, set_args

pytestmark = pytest.mark.root

Runtime = Callable[..., subprocess.CompletedProcess[str]]

# Every other process of the pid namespace: "open PID EXE" when its /proc/PID/exe can be
# read, "denied PID CMDLINE" when not; then an attempt to write through it.
_PROBE_EXE = r"""
for p in /proc/[0-9]*; do
  n=${p#/proc/}; [ "$n" = "$$" ] && continue
  c=$(tr '\0' ' ' < $p/cmdline 2>/dev/null)
  if e=$(readlink $p/exe 2>/dev/null); then echo "open $n $e"; else echo "denied $n $c"; fi
  if (echo x >> $p/exe) 2>/dev/null; then echo "wrote $n"; fi
done
"""


def _second(bundle: Bundle, tmp_path: Path, name: str) -> Bundle:
    other = Bundle(tmp_path / name, json.loads(json.dumps(bundle.config)))
    other.path.mkdir()
    other.config["linux"]["cgroupsPath"] += f"-{name}"
    return other


def test_the_runtime_in_the_container_is_not_reachable_through_proc_exe(
        runtime: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    """CVE-2019-5736: a process of the container opens /proc/<pid>/exe of the runtime
    working in its pid namespace (the host's interpreter, for estiba-runtime) and writes
    through it once that exits. A second container created in the first one's pid
    namespace keeps its init waiting there, not yet exec'd, for as long as it likes."""
    set_args(bundle.config, "sleep", "60")
    bundle.write()
    runtime("create", "--bundle", bundle.path, "esc1", output_dir=tmp_path / "o1")
    try:
        runtime("start", "esc1")
        first = json.loads(runtime("state", "esc1").stdout)["pid"]
        waiting = _second(bundle, tmp_path, "waiting")
        for ns in waiting.config["linux"]["namespaces"]:
            if ns["type"] == "pid":
                ns["path"] = f"/proc/{first}/ns/pid"
        waiting.write()
        runtime("create", "--bundle", waiting.path, "esc2", output_dir=tmp_path / "o2")
        init = json.loads(runtime("state", "esc2").stdout)["pid"]
        assert Path(f"/proc/{init}/cmdline").read_bytes().find(b"estiba-runtime") >= 0
        seen = runtime("exec", "esc1", "sh", "-c", _PROBE_EXE).stdout.splitlines()
        runtimes = [line for line in seen if "estiba-runtime" in line]
        assert runtimes and all(line.startswith("denied") for line in runtimes), seen
        assert not any(line.startswith("wrote") for line in seen), seen
        assert "open 1 /bin/busybox" in seen  # the probe does read what it may
        assert not any("python" in line for line in seen if line.startswith("open")), seen
    finally:
        runtime("delete", "-f", "esc2", check=False)
        runtime("delete", "-f", "esc1")


@pytest.mark.parametrize("fd", range(3, 12))
def test_a_working_directory_through_a_descriptor_stays_inside(
        runtime: Runtime, bundle: Bundle, fd: int) -> None:
    """CVE-2024-21626: process.cwd ``/proc/self/fd/N``, N a descriptor of the host's
    (a cgroup directory, a state directory) the runtime left open in the init: its
    program would start with a working directory outside the rootfs."""
    set_args(bundle.config, "sh", "-c", "pwd; ls ../../../ | head -50")
    bundle.config["process"]["cwd"] = f"/proc/self/fd/{fd}"
    bundle.write()
    ran = runtime("run", "--bundle", bundle.path, f"cwd{fd}", check=False, timeout=30)
    if ran.returncode == 0:
        # started: then where it is must be inside the container's own tree
        assert "(unreachable)" not in ran.stdout
        assert not ran.stdout.startswith("/proc/"), ran.stdout
    else:
        assert "cwd" in ran.stderr or "chdir" in ran.stderr or "directory" in ran.stderr, \
            ran.stderr
