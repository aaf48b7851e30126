"""The test fixtures (busybox rootfs, default bundle, probe, run_runtime) against the
reference runtime, runc: what these tests see is what estiba-runtime's own tests may
expect of a correct runtime."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.bundle import DEFAULT_CAPABILITIES, Bundle, set_args, set_env
from support.probe import cap_mask, parse_probe
from support.runtime import discard_runtime_root, new_runtime_root, run_runtime

RUNC = shutil.which("runc")

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(RUNC is None, reason="runc is not installed (scripts/install.sh)"),
]


@pytest.fixture
def runc_root() -> Iterator[Path]:
    root = new_runtime_root("runc-")
    yield root
    assert not discard_runtime_root(root, runtime=RUNC)


def test_run_probe(bundle: Bundle, runc_root: Path) -> None:
    out = run_runtime("run", "--bundle", bundle.path, "probe-run", root=runc_root,
                      runtime=RUNC)
    report = parse_probe(out.stdout)
    assert report.pid == 1
    assert report.argv == ("/probe",)
    assert report.hostname == "estiba"
    assert report.cwd == "/"
    assert (report.uid, report.gid) == (0, 0)
    assert report.capabilities["CapEff"] == cap_mask(DEFAULT_CAPABILITIES)
    assert report.capabilities["CapBnd"] == cap_mask(DEFAULT_CAPABILITIES)
    # the kernel raises an ambient capability only when it is inheritable too, and the
    # default config has no inheritable set: runc's ambient list is then a no-op
    assert report.capabilities["CapInh"] == 0
    assert report.capabilities["CapAmb"] == 0
    assert report.no_new_privs == 1
    assert report.rlimits["nofile"] == (1024, 1024)
    host = {ns: os.readlink(f"/proc/self/ns/{ns}") for ns in report.namespaces}
    for ns in ("ipc", "mnt", "net", "pid", "uts"):
        assert report.namespaces[ns] != host[ns], ns
    assert report.namespaces["user"] == host["user"]
    cgroups_path = bundle.config["linux"]["cgroupsPath"]
    assert cgroups_path.startswith("/estiba-test/")
    assert cgroups_path in report.cgroup_paths().values()
    assert report.mount("/").target == "/"
    assert report.mount("/proc").fstype == "proc"
    assert report.mount("/dev").fstype == "tmpfs"
    assert "ro" in report.mount("/sys").options
    assert report.environ()["PATH"].startswith("/usr/local/sbin")
    # runc's foreground `run` relays stdio through pipes of its own
    assert set(report.fd_targets()) == {0, 1, 2}


def test_create_start_with_output_dir(bundle: Bundle, runc_root: Path, tmp_path: Path) -> None:
    set_env(bundle.config, "GREETING", "hello")
    set_args(bundle.config, "/probe")
    bundle.write()
    io = tmp_path / "io"
    created = run_runtime("create", "--bundle", bundle.path, "probe-create",
                          root=runc_root, runtime=RUNC, output_dir=io, timeout=30)
    assert created.stdout == ""
    state = json.loads(run_runtime("state", "probe-create", root=runc_root,
                                   runtime=RUNC).stdout)
    assert state["status"] == "created"
    run_runtime("start", "probe-create", root=runc_root, runtime=RUNC)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = json.loads(run_runtime("state", "probe-create", root=runc_root,
                                       runtime=RUNC).stdout)
        if state["status"] == "stopped":
            break
        time.sleep(0.05)
    assert state["status"] == "stopped"
    report = parse_probe((io / "stdout").read_text())
    assert report.pid == 1
    assert report.environ()["GREETING"] == "hello"
    # create hands its own stdio to the container unchanged (containerd's shim relies on it)
    fds = report.fd_targets()
    assert fds[0] == "/dev/null"
    assert fds[1] == str(io / "stdout")
    assert fds[2] == str(io / "stderr")
    run_runtime("delete", "probe-create", root=runc_root, runtime=RUNC)
