"""Known ways out of a container, each reproduced against estiba-runtime and shown
blocked (the CVE names the attack as first found against runc)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from support.bundle import Bundle, set_args, set_capabilities, set_user
from support.probe import cap_mask, parse_probe

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


DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


@pytest.fixture
def suid_rootfs(tmp_path: Path, busybox_rootfs: Path) -> Path:
    """A copy of the rootfs with a set-uid-root copy of the probe, /probe-suid."""
    dest = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, dest, symlinks=True)
    shutil.copy2(dest / "probe", dest / "probe-suid")
    os.chown(dest / "probe-suid", 0, 0)
    os.chmod(dest / "probe-suid", 0o4755)
    return dest


def _user_running(bundle: Bundle, rootfs: Path, bounding: list[str], nnp: bool) -> None:
    bundle.config["root"]["path"] = str(rootfs)
    set_user(bundle.config, 1000, 1000)
    set_capabilities(bundle.config, bounding, sets=["bounding"])
    set_capabilities(bundle.config, [], sets=["effective", "permitted", "inheritable",
                                              "ambient"])
    bundle.config["process"]["noNewPrivileges"] = nnp
    set_args(bundle.config, "/probe-suid")
    bundle.write()


def test_no_new_privs_keeps_a_setuid_binary_from_raising_privileges(
        runtime: Runtime, bundle: Bundle, suid_rootfs: Path) -> None:
    _user_running(bundle, suid_rootfs, DOCKER_CAPS, nnp=True)
    report = parse_probe(runtime("run", "--bundle", bundle.path, "nnp1").stdout)
    assert (report.uid, report.euid) == (1000, 1000)
    assert report.capabilities["CapEff"] == report.capabilities["CapPrm"] == 0
    assert report.no_new_privs == 1


def test_a_setuid_binary_gets_no_capability_outside_the_bounding_set(
        runtime: Runtime, bundle: Bundle, suid_rootfs: Path) -> None:
    bounding = ["CAP_KILL"]
    _user_running(bundle, suid_rootfs, bounding, nnp=False)
    report = parse_probe(runtime("run", "--bundle", bundle.path, "bnd1").stdout)
    assert report.euid == 0  # the set-uid bit works: no no_new_privs
    assert report.capabilities["CapPrm"] == cap_mask(bounding)
    assert report.capabilities["CapBnd"] == cap_mask(bounding)
    assert report.capabilities["CapAmb"] == 0


_PROC_AGAIN = r"""
mkdir -p /tmp/p /tmp/s
mount -t proc proc /tmp/p 2>&1; echo "proc=$?"
mount -t sysfs sysfs /tmp/s 2>&1; echo "sysfs=$?"
mount --bind /proc /tmp/p 2>&1; echo "bind=$?"
umount /proc/kcore 2>&1; echo "umount=$?"
head -c 1 /proc/kcore | wc -c; echo "kcore=$?"
echo 1 > /proc/sys/kernel/sysrq; echo "sysrq=$?"
echo x > /sys/kernel/uevent_helper 2>&1; echo "sys=$?"
"""


def test_masked_proc_cannot_be_had_again(runtime: Runtime, bundle: Bundle) -> None:
    """The masks hold against a fresh procfs or sysfs, a bind of /proc, and
    unmounting the mask (no CAP_SYS_ADMIN in Docker's set)."""
    set_capabilities(bundle.config, DOCKER_CAPS)
    set_args(bundle.config, "sh", "-c", _PROC_AGAIN)
    bundle.write()
    out = runtime("run", "--bundle", bundle.path, "proc1").stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    for key in ("proc", "sysfs", "bind", "umount", "sysrq", "sys"):
        assert values[key] != "0", (key, out)
    assert out.splitlines()[out.splitlines().index("kcore=0") - 1] == "0", out


def test_a_mount_destination_swapped_for_a_symlink_meanwhile_stays_inside(
        runtime: Runtime, bundle: Bundle, tmp_path: Path, busybox_rootfs: Path) -> None:
    """CVE-2021-30465: while the runtime sets up the mounts, something that can write
    into the rootfs (another container sharing a volume) swaps a directory on a mount's
    path for a symlink to the host. Whenever the swap lands between the runtime's look
    at the path and its use, the mount point must not be made, nor the mount land,
    outside the rootfs. The swap runs in a loop while containers start, again and again."""
    import ctypes
    import threading

    rootfs = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    source = tmp_path / "source"
    source.mkdir()
    (source / "from-source").write_text("x")
    bundle.config["root"]["path"] = str(rootfs)
    mounts = bundle.config["mounts"]
    # the raced mount first, then a bind of the outside directory that would show it
    mounts.append({"destination": "/data/inner", "type": "bind", "source": str(source),
                   "options": ["rbind"]})
    mounts.append({"destination": "/visible", "type": "bind", "source": str(outside),
                   "options": ["rbind"]})
    set_args(bundle.config, "sh", "-c", "ls /visible/inner 2>/dev/null; true")
    bundle.write()
    data, link = rootfs / "data", rootfs / "data.link"
    data.mkdir()
    link.symlink_to(outside)
    stop = threading.Event()
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, rename_exchange = -100, 2

    def swap() -> None:
        # /data a directory, then the symlink, and back: exchanged atomically, so that
        # there is always something at /data (the runtime would make a directory)
        while not stop.is_set():
            if libc.renameat2(at_fdcwd, bytes(data), at_fdcwd, bytes(link),
                              rename_exchange) != 0:
                raise OSError(ctypes.get_errno(), "renameat2")

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    seen = []
    try:
        for i in range(40):
            ran = runtime("run", "--bundle", bundle.path, f"race{i}", check=False,
                          timeout=30)
            seen.append(ran.stdout)
            assert not (outside / "inner").exists(), f"run {i} made a mount point outside"
    finally:
        stop.set()
        swapper.join()
    assert not any("from-source" in out for out in seen), seen
    assert sorted(os.listdir(outside)) == []
