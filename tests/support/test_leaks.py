"""The leak check: what it counts, and that a leak fails the pytest session."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support import leaks

TESTS = Path(__file__).resolve().parents[1]

MOUNTINFO = textwrap.dedent("""\
    22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw
    27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
    90 27 0:50 / /var/lib/estiba/x/merged rw,relatime - overlay overlay rw,lowerdir=/a
    91 27 0:51 / /run/estiba-test/ab12/c1/rootfs rw - tmpfs tmpfs rw
    92 27 0:52 / /tmp/pytest-of-root/pytest-3/t0/with\\040space rw - tmpfs tmpfs rw
    93 27 0:53 / /tmp/pytest-of-root/pytest-30 rw - tmpfs tmpfs rw
    94 27 0:54 / /run/user/0 rw - tmpfs tmpfs rw
""")


def test_mounts_counted(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(MOUNTINFO)
    found = leaks.mounts(["/tmp/pytest-of-root/pytest-3/"], mountinfo=str(info))
    assert found == {
        "mount /var/lib/estiba/x/merged (overlay)",
        "mount /run/estiba-test/ab12/c1/rootfs (tmpfs)",
        "mount /tmp/pytest-of-root/pytest-3/t0/with space (tmpfs)",
    }


def test_cgroups_counted(tmp_path: Path) -> None:
    for rel in ("memory/estiba/c1", "memory/user.slice", "pids/docker/" + "ab" * 32,
                "estiba-test-1a/c2", "cpu/docker"):
        (tmp_path / rel).mkdir(parents=True)
    found = {line.removeprefix(f"cgroup {tmp_path}/") for line in leaks.cgroups(tmp_path)}
    assert found == {
        "memory/estiba", "memory/estiba/c1", "pids/docker/" + "ab" * 32,
        "estiba-test-1a", "estiba-test-1a/c2",
    }


def test_links_and_netns_counted(tmp_path: Path) -> None:
    for name in ("lo", "eth0", "es-1a2b", "ves1a2b", "estiba0", "docker0"):
        (tmp_path / "net" / name).mkdir(parents=True)
    assert leaks.links(tmp_path / "net") == {"link es-1a2b", "link ves1a2b"}
    assert leaks.netns(tmp_path / "missing") == frozenset()


def test_only_new_objects_count() -> None:
    before = {"mounts": frozenset({"mount /a (overlay)"}), "processes": frozenset()}
    after = {
        "mounts": frozenset({"mount /a (overlay)", "mount /b (overlay)"}),
        "processes": frozenset({"process 42 1234 sleep 100"}),
        "links": frozenset(),
    }
    assert leaks.new_since(before, after) == ["mount /b (overlay)", "process 42 1234 sleep 100"]
    assert leaks.new_since(after, after) == []


def test_snapshot_of_this_machine() -> None:
    snap = leaks.snapshot()
    assert set(snap) == {"mounts", "cgroups", "links", "netns", "nft", "processes"}
    assert all(isinstance(v, frozenset) for v in snap.values())


@pytest.mark.root
def test_a_leak_fails_the_session(tmp_path: Path) -> None:
    """A nested pytest session whose test leaves a tmpfs mounted under its basetemp
    passes its test but exits 1, naming the mount."""
    (tmp_path / "test_leaky.py").write_text(textwrap.dedent("""\
        import subprocess

        def test_leaves_a_mount(tmp_path):
            (tmp_path / "m").mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "leak", str(tmp_path / "m")], check=True)
    """))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    basetemp = tmp_path / "basetemp"
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
             "-c", str(tmp_path / "pytest.ini"), f"--basetemp={basetemp}", "-q",
             str(tmp_path / "test_leaky.py")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )
    finally:
        subprocess.run(["umount", "-R", str(basetemp / "test_leaves_a_mount0" / "m")],
                       check=False, capture_output=True)
    assert "1 passed" in out.stdout, out.stdout + out.stderr
    assert out.returncode == 1, out.stdout + out.stderr
    assert "LEAKS" in out.stdout
    assert "test_leaves_a_mount0/m (tmpfs)" in out.stdout


@pytest.mark.root
def test_a_clean_session_passes(tmp_path: Path) -> None:
    (tmp_path / "test_clean.py").write_text("def test_nothing():\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
         "-c", str(tmp_path / "pytest.ini"), f"--basetemp={tmp_path / 'basetemp'}", "-q",
         str(tmp_path / "test_clean.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "LEAKS" not in out.stdout
