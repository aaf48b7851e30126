"""The session's busybox rootfs, as scripts/make-bundle --rootfs-only builds it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def test_busybox_and_applets(busybox_rootfs: Path) -> None:
    busybox = busybox_rootfs / "bin" / "busybox"
    assert busybox.is_file() and not busybox.is_symlink()
    assert os.access(busybox, os.X_OK)
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            assert os.readlink(busybox_rootfs / "bin" / applet) == "busybox", applet
    assert {"sh", "ps", "cat", "sleep", "hostname"} <= set(applets)


def test_etc(busybox_rootfs: Path) -> None:
    passwd = (busybox_rootfs / "etc" / "passwd").read_text().splitlines()
    assert passwd[0] == "root:x:0:0:root:/root:/bin/sh"
    assert (busybox_rootfs / "etc" / "group").read_text().splitlines()[0] == "root:x:0:"
    for mount_point in ("proc", "sys", "dev", "tmp"):
        assert (busybox_rootfs / mount_point).is_dir()


def test_probe_is_in_it(busybox_rootfs: Path, probe_binary: Path) -> None:
    probe = busybox_rootfs / "probe"
    assert os.access(probe, os.X_OK)
    assert probe.read_bytes() == probe_binary.read_bytes()
    # static: no program interpreter, so it runs in any root filesystem
    assert b"ld-linux" not in probe.read_bytes()[:4096]


def test_rebuilding_is_harmless(busybox_rootfs: Path, tmp_path: Path) -> None:
    from support.rootfs import build_rootfs

    target = tmp_path / "rootfs"
    build_rootfs(target)
    build_rootfs(target)
    assert os.readlink(target / "bin" / "sh") == "busybox"
    assert (target / "bin" / "busybox").stat().st_size == (
        busybox_rootfs / "bin" / "busybox").stat().st_size
