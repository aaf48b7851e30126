"""estiba-runtime run by a user without privileges (``nobody``), as rootless engines run
it: ``spec --rootless`` maps the container's root to that user alone (the maps written
by the runtime itself, setgroups denied), in a cgroup delegated to the user; ids beyond
the user's own need newuidmap/newgidmap."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.paths import runtime_binary

pytestmark = pytest.mark.root

NOBODY = 65534


def as_nobody(*args: str | os.PathLike[str], cwd: Path | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY),
                           "--clear-groups", runtime_binary(), *map(os.fspath, args)],
                          capture_output=True, text=True, timeout=60, cwd=cwd,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def delegated(cgroup_parent: str) -> Iterator[str]:
    """A cgroup of every hierarchy given to nobody, as systemd delegates one to a user."""
    if shutil.which("setpriv") is None:
        pytest.skip("no setpriv (util-linux)")
    name = f"{cgroup_parent}/rootless-{secrets.token_hex(3)}"
    made = []
    for hierarchy in sorted({os.path.realpath(p) for p in Path("/sys/fs/cgroup").glob("*")
                             if p.is_dir()}):
        path = Path(hierarchy + name)
        path.mkdir(parents=True, exist_ok=True)
        made.append(path)
        if (path / "cpuset.cpus").exists():
            # an empty cpuset admits no task: the delegator fills the chain in, as
            # the ones it delegates below cannot write their parents
            for level in reversed([path, *path.parents][:name.count("/")]):
                for key in ("cpuset.cpus", "cpuset.mems"):
                    if not (level / key).read_text().strip():
                        (level / key).write_text((level.parent / key).read_text())
        for entry in (path, *path.iterdir()):
            os.chown(entry, NOBODY, NOBODY)
    yield name
    for path in made:
        for child in sorted((p for p in path.rglob("*") if p.is_dir()), reverse=True):
            with contextlib.suppress(OSError):
                child.rmdir()
        with contextlib.suppress(OSError):
            path.rmdir()


@pytest.fixture
def home(busybox_rootfs: Path) -> Iterator[Path]:
    """A directory nobody may use, holding a copy of the rootfs (the session's is under
    root's private temporary directory)."""
    base = Path(f"/tmp/es-rootless-{secrets.token_hex(3)}")
    base.mkdir(mode=0o755)
    shutil.copytree(busybox_rootfs, base / "rootfs", symlinks=True)
    for sub in ("bundle", "state"):
        (base / sub).mkdir()
        os.chown(base / sub, NOBODY, NOBODY)
    try:
        yield base
    finally:
        as_nobody("--root", base / "state", "delete", "-f", "rl")
        shutil.rmtree(base, ignore_errors=True)


def rootless_bundle(home: Path, cgroups_path: str, *args: str) -> Path:
    made = as_nobody("spec", "--rootless", cwd=home / "bundle")
    assert made.returncode == 0, made.stderr
    config_path = home / "bundle" / "config.json"
    config = json.loads(config_path.read_text())
    config["root"]["path"] = str(home / "rootfs")
    config["process"]["terminal"] = False
    config["process"]["args"] = list(args)
    config["linux"]["cgroupsPath"] = cgroups_path
    config_path.write_text(json.dumps(config))
    return config_path


def test_a_user_without_privileges_runs_a_container(home: Path, delegated: str) -> None:
    rootless_bundle(home, f"{delegated}/rl", "sh", "-c",
                    "id -u; cat /proc/self/uid_map; cat /proc/self/setgroups; "
                    "cat /sys/fs/cgroup/pids/pids.max; touch /dev/shm/x && stat -c %u /dev/shm/x; "
                    "exit 4")
    config_path = home / "bundle" / "config.json"
    config = json.loads(config_path.read_text())
    config["linux"]["resources"] = {"pids": {"limit": 42}}  # the cgroup is the user's
    config_path.write_text(json.dumps(config))
    ran = as_nobody("--root", home / "state", "run", "--bundle", home / "bundle", "rl")
    assert ran.returncode == 4, ran.stderr
    out = ran.stdout.splitlines()
    assert len(out) == 5, (ran.stdout, ran.stderr)
    assert out[0] == "0"
    assert out[1].split() == ["0", str(NOBODY), "1"]
    assert out[2] == "deny"
    assert out[3] == "42"  # its own cgroup, below the delegated one
    assert out[4] == "0"


def test_without_a_delegated_cgroup_the_refusal_says_why(home: Path) -> None:
    rootless_bundle(home, "/estiba-test-not-delegated/rl", "true")
    ran = as_nobody("--root", home / "state", "run", "--bundle", home / "bundle", "rl")
    assert ran.returncode == 1
    assert "cgroup" in ran.stderr and "permission denied" in ran.stderr
    assert not any(Path("/sys/fs/cgroup").glob("*/estiba-test-not-delegated"))


def test_other_ids_need_newuidmap(home: Path, delegated: str) -> None:
    config_path = rootless_bundle(home, f"{delegated}/rl", "true")
    config = json.loads(config_path.read_text())
    config["linux"]["uidMappings"][0]["size"] = 2
    config_path.write_text(json.dumps(config))
    ran = as_nobody("--root", home / "state", "run", "--bundle", home / "bundle", "rl")
    assert ran.returncode == 1
    if shutil.which("newuidmap") is None:
        assert "newgidmap" in ran.stderr or "newuidmap" in ran.stderr, ran.stderr
