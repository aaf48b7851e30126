"""What keeps a container in its box: mount destinations resolved inside the rootfs
(symlinks in a hostile image cannot aim a mount at the host), no descriptor of the
runtime reaching the container, masked and read-only paths, exactly the configured
capabilities and no_new_privs, and a working directory that ``..`` cannot take out of
the rootfs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support.bundle import Bundle, add_mount, set_args, set_capabilities, set_user
from support.leaks import mounts_under
from support.paths import runtime_binary
from support.probe import cap_mask, parse_probe
from support.runtime import run_runtime

pytestmark = pytest.mark.root

Runtime = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def rootfs(tmp_path: Path, busybox_rootfs: Path) -> Path:
    """A private copy of the busybox rootfs (with the probe), owned by root."""
    dest = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, dest, symlinks=True)
    assert dest.stat().st_uid == 0
    return dest


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    """A directory of the host that no container may touch."""
    path = tmp_path / "host-only"
    path.mkdir()
    (path / "host-secret").write_text("host\n")
    return path


def _use_rootfs(bundle: Bundle, rootfs: Path) -> None:
    bundle.config["root"]["path"] = str(rootfs)


def _run(runtime: Runtime, bundle: Bundle, cid: str) -> str:
    """Run the bundle in the foreground; its stdout."""
    return runtime("run", "--bundle", bundle.path, cid, timeout=30).stdout


def _wait_stopped(runtime: Runtime, cid: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while json.loads(runtime("state", cid).stdout)["status"] != "stopped":
        assert time.monotonic() < deadline, f"{cid} did not stop"
        time.sleep(0.02)


def _values(output: str) -> dict[str, str]:
    return dict(line.partition("=")[::2] for line in output.splitlines() if "=" in line)


# --- mount destinations --------------------------------------------------------------


@pytest.mark.parametrize("form", ["absolute", "relative", "up-to-the-root"])
def test_mount_through_a_symlink_stays_in_the_rootfs(
    bundle: Bundle, runtime: Runtime, rootfs: Path, host_dir: Path, tmp_path: Path,
    form: str,
) -> None:
    # each names host_dir when followed on the host from rootfs/escape
    target = {
        "absolute": str(host_dir),
        "relative": os.path.relpath(host_dir, rootfs),  # ../host-only
        "up-to-the-root": "../" * 16 + str(host_dir).lstrip("/"),
    }[form]
    assert (rootfs / target).resolve() == host_dir
    (rootfs / "escape").symlink_to(target)
    host_file = tmp_path / "host-file"
    host_file.write_text("bound\n")
    _use_rootfs(bundle, rootfs)
    add_mount(bundle.config, "/escape", "tmpfs", "tmpfs", ["nosuid", "size=1m"])
    add_mount(bundle.config, "/escape/deeper/dir", "tmpfs", "tmpfs", ["size=1m"])
    add_mount(bundle.config, "/escape/file", str(host_file), "bind", ["bind", "ro"])
    bundle.write()
    before = sorted(os.listdir(host_dir))

    report = parse_probe(_run(runtime, bundle, "symlinked"))

    # in the container the symlink resolves as if the rootfs were /: where the mounts are
    inside = os.path.normpath(os.path.join("/", target))
    assert report.mount(inside).fstype == "tmpfs"
    assert report.mount(f"{inside}/deeper/dir").fstype == "tmpfs"
    assert report.mount(f"{inside}/file").root.endswith("/host-file")
    # and the host's directory is as it was: nothing mounted, nothing created
    assert sorted(os.listdir(host_dir)) == before
    assert mounts_under(str(host_dir)) == []
    assert (host_dir / "host-secret").read_text() == "host\n"
    # the mount points were made inside the rootfs instead
    assert (rootfs / inside.lstrip("/")).is_dir()


def test_mount_destination_with_dotdot(
    bundle: Bundle, runtime: Runtime, rootfs: Path, host_dir: Path,
) -> None:
    _use_rootfs(bundle, rootfs)
    up = "/.." * 12
    add_mount(bundle.config, f"{up}{host_dir}", "tmpfs", "tmpfs", ["size=1m"])
    bundle.write()
    report = parse_probe(_run(runtime, bundle, "dotdot"))
    assert report.mount(str(host_dir)).fstype == "tmpfs"
    assert sorted(os.listdir(host_dir)) == ["host-secret"]
    assert (rootfs / str(host_dir).lstrip("/")).is_dir()


# --- descriptors ---------------------------------------------------------------------


# dup argv[1] to 3, then exec argv[2:] (dash takes single-digit descriptors only)
_DUP_TO_3 = "import os, sys; os.dup2(int(sys.argv[1]), 3); os.execv(sys.argv[2], sys.argv[2:])"


def _with_extra_fds(
    runtime_root: Path, secret: Path, *args: str, io: Path,
) -> subprocess.CompletedProcess[bytes]:
    """Call the runtime with two more descriptors open, both on ``secret``: 3 (where
    containerd passes the ones to keep) and a higher one (subprocess's pass_fds);
    stdout and stderr go to files in io."""
    fd = os.open(secret, os.O_RDONLY | os.O_CLOEXEC)
    io.mkdir(exist_ok=True)
    try:
        with open(io / "stdout", "ab") as out, open(io / "stderr", "ab") as err:
            result = subprocess.run(
                [sys.executable, "-c", _DUP_TO_3, str(fd), runtime_binary(),
                 "--root", str(runtime_root), *args],
                pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                timeout=30, check=False,
            )
    finally:
        os.close(fd)
    assert result.returncode == 0, (io / "stderr").read_text()
    return result


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text("secret\n")
    return path


@pytest.mark.parametrize("preserve", [0, 1])
def test_descriptors_of_create(
    bundle: Bundle, runtime: Runtime, runtime_root: Path, tmp_path: Path, secret: Path,
    preserve: int,
) -> None:
    io = tmp_path / "io"
    flags = ("--preserve-fds", "1") if preserve else ()
    _with_extra_fds(runtime_root, secret, "create", "--bundle", str(bundle.path), *flags,
                    "fds", io=io)
    runtime("start", "fds")
    _wait_stopped(runtime, "fds")
    report = parse_probe((io / "stdout").read_text())
    runtime("delete", "fds")
    # create hands its stdio to the container as it is; nothing else of the runtime's
    wanted = {0: "/dev/null", 1: str(io / "stdout"), 2: str(io / "stderr")}
    if preserve:
        wanted[3] = str(secret)
    assert report.fd_targets() == wanted


@pytest.mark.parametrize("preserve", [0, 1])
def test_descriptors_of_exec(
    bundle: Bundle, runtime: Runtime, runtime_root: Path, tmp_path: Path, secret: Path,
    preserve: int,
) -> None:
    set_args(bundle.config, "/bin/sleep", "600")
    bundle.write()
    runtime("create", "--bundle", bundle.path, "host", output_dir=tmp_path / "io")
    runtime("start", "host")
    io = tmp_path / "exec-io"
    flags = ("--preserve-fds", "1") if preserve else ()
    _with_extra_fds(runtime_root, secret, "exec", *flags, "host", "/probe", io=io)
    fds = parse_probe((io / "stdout").read_text()).fd_targets()
    runtime("delete", "--force", "host")
    assert sorted(fds) == ([0, 1, 2, 3] if preserve else [0, 1, 2])
    if preserve:
        assert fds[3] == str(secret)


def test_foreground_run_passes_only_stdio(bundle: Bundle, runtime_root: Path) -> None:
    result = run_runtime("run", "--bundle", bundle.path, "fg", root=runtime_root, timeout=30)
    assert sorted(parse_probe(result.stdout).fd_targets()) == [0, 1, 2]


# --- masked and read-only paths ------------------------------------------------------

# Masked files the kernel has (this VM's has no /proc/kcore), read-only files to write.
MASKED_FILES = [p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list")
                if os.path.exists(p)]
READONLY_FILES = [p for p in ("/proc/sys/kernel/hostname", "/proc/sysrq-trigger")
                  if os.path.exists(p)]

PATHS_SCRIPT = "".join(
    [f'echo "read {p}=$(cat {p} | wc -c)"\n' for p in MASKED_FILES]
    + [f'echo "write {p}=$( {{ echo x > {p}; }} 2>&1)"\n' for p in READONLY_FILES]
) + """\
echo "acpi_entries=$(ls -A /proc/acpi | wc -l)"
touch /proc/acpi/x 2>/dev/null && echo "acpi_write=yes" || echo "acpi_write=no"
echo "acpi_fs=$(grep ' /proc/acpi ' /proc/self/mounts)"
echo "hostname=$(hostname)"
"""


@pytest.mark.skipif(not os.path.isdir("/proc/acpi"), reason="this kernel has no /proc/acpi")
def test_masked_and_readonly_paths(bundle: Bundle, runtime: Runtime) -> None:
    assert set(MASKED_FILES) | {"/proc/acpi"} <= set(bundle.config["linux"]["maskedPaths"])
    assert "/proc/sys" in bundle.config["linux"]["readonlyPaths"]
    assert "/proc/timer_list" in MASKED_FILES
    assert "/proc/sys/kernel/hostname" in READONLY_FILES
    set_args(bundle.config, "/bin/sh", "-c", PATHS_SCRIPT)
    bundle.write()
    seen = _values(_run(runtime, bundle, "masked"))
    for path in MASKED_FILES:
        assert seen[f"read {path}"] == "0", path
    for path in READONLY_FILES:
        assert "Read-only file system" in seen[f"write {path}"], path
    assert seen["acpi_entries"] == "0"
    assert seen["acpi_write"] == "no"
    fstype, options = seen["acpi_fs"].split()[2:4]
    assert fstype == "tmpfs"
    assert "ro" in options.split(",")
    assert seen["hostname"] == "estiba"


# --- capabilities and no_new_privs ---------------------------------------------------

def _set_caps(bundle: Bundle, bounding: list[str], effective: list[str],
              inheritable: list[str], ambient: list[str]) -> None:
    set_capabilities(bundle.config, bounding, sets=["bounding"])
    set_capabilities(bundle.config, effective, sets=["effective", "permitted"])
    set_capabilities(bundle.config, inheritable, sets=["inheritable"])
    set_capabilities(bundle.config, ambient, sets=["ambient"])


def test_capabilities_are_the_configured_sets(bundle: Bundle, runtime: Runtime) -> None:
    bounding = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"]
    _set_caps(bundle, bounding, ["CAP_CHOWN", "CAP_KILL"], ["CAP_KILL"], ["CAP_KILL"])
    bundle.config["process"]["noNewPrivileges"] = True
    bundle.write()
    report = parse_probe(_run(runtime, bundle, "caps"))
    assert report.capabilities == {
        "CapBnd": cap_mask(bounding),
        "CapEff": cap_mask(["CAP_CHOWN", "CAP_KILL"]),
        "CapPrm": cap_mask(["CAP_CHOWN", "CAP_KILL"]),
        "CapInh": cap_mask(["CAP_KILL"]),
        "CapAmb": cap_mask(["CAP_KILL"]),
    }
    assert report.no_new_privs == 1


def test_no_capabilities_without_no_new_privs(bundle: Bundle, runtime: Runtime) -> None:
    set_capabilities(bundle.config, [], sets=["bounding", "effective", "permitted",
                                              "inheritable", "ambient"])
    bundle.config["process"]["noNewPrivileges"] = False
    bundle.write()
    report = parse_probe(_run(runtime, bundle, "nocaps"))
    assert report.capabilities == dict.fromkeys(("CapBnd", "CapEff", "CapPrm", "CapInh",
                                                 "CapAmb"), 0)
    assert report.no_new_privs == 0


def test_ambient_capabilities_of_a_user(bundle: Bundle, runtime: Runtime) -> None:
    caps = ["CAP_NET_BIND_SERVICE"]
    _set_caps(bundle, caps, caps, caps, caps)
    set_user(bundle.config, 1000, 1000)
    bundle.write()
    report = parse_probe(_run(runtime, bundle, "ambient"))
    assert (report.uid, report.euid, report.gid) == (1000, 1000, 1000)
    for name in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"):
        assert report.capabilities[name] == cap_mask(caps), name
    assert report.no_new_privs == 1


# --- the working directory -----------------------------------------------------------


@pytest.mark.parametrize("user", [0, 1000])
def test_cwd_with_dotdot_stays_in_the_rootfs(
    bundle: Bundle, runtime: Runtime, rootfs: Path, host_dir: Path, user: int,
) -> None:
    # the same path inside the rootfs, holding a file of its own
    inside = rootfs / str(host_dir).lstrip("/")
    inside.mkdir(parents=True)
    (inside / "in-rootfs").write_text("container\n")
    _use_rootfs(bundle, rootfs)
    set_user(bundle.config, user, user)
    bundle.config["process"]["cwd"] = "/.." * 12 + str(host_dir)
    set_args(bundle.config, "/bin/sh", "-c", 'echo "pwd=$(pwd)"; echo "ls=$(ls -A)"')
    bundle.write()
    seen = _values(_run(runtime, bundle, "cwd"))
    assert seen["pwd"] == str(host_dir)
    assert seen["ls"] == "in-rootfs"


def test_cwd_dotdot_to_the_root(bundle: Bundle, runtime: Runtime) -> None:
    bundle.config["process"]["cwd"] = "/tmp/../../../.."
    bundle.write()
    assert parse_probe(_run(runtime, bundle, "up")).cwd == "/"
