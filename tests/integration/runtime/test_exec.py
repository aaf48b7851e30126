"""`exec`: a second process in a running container, with what containerd passes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from support.bundle import set_args
from support.probe import parse_probe

pytestmark = pytest.mark.root


@pytest.fixture
def running(runtime, bundle, tmp_path):
    set_args(bundle.config, "sleep", "60")
    bundle.config["hostname"] = "exec-host"
    bundle.write()
    runtime("create", "--bundle", bundle.path, "c1", output_dir=tmp_path / "out")
    runtime("start", "c1")
    return json.loads(runtime("state", "c1").stdout)


def test_exec_joins_the_containers_namespaces(runtime, running):
    report = parse_probe(runtime("exec", "c1", "/probe").stdout)
    init = running["pid"]
    for ns in ("pid", "mnt", "net", "uts", "ipc"):
        assert report.namespaces[ns] == os.readlink(f"/proc/{init}/ns/{ns}"), ns
    assert report.hostname == "exec-host"
    assert report.pid != 1  # the init is 1; exec'd processes come after it
    # the container's own process settings apply: capabilities, no_new_privs
    assert report.no_new_privs == 1
    assert report.caps("CapEff") == {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
    assert set(report.fd_targets()) <= {0, 1, 2, 3}


def test_exec_exit_status_env_user_cwd(runtime, running):
    assert runtime("exec", "c1", "sh", "-c", "exit 5", check=False).returncode == 5
    out = runtime("exec", "-e", "X=1", "-u", "1000:1000", "--cwd", "/tmp", "c1",
                  "sh", "-c", "echo $X; id -u; pwd").stdout.split()
    assert out == ["1", "1000", "/tmp"]


def test_exec_with_a_process_file_detached(runtime, running, tmp_path):
    process = {"args": ["sh", "-c", "echo from-process-file > /proc/1/fd/1; sleep 60"],
               "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}
    spec = tmp_path / "process.json"
    spec.write_text(json.dumps(process))
    pid_file = tmp_path / "exec.pid"
    runtime("exec", "--process", spec, "--detach", "--pid-file", pid_file, "c1",
            output_dir=tmp_path / "exec-out")
    pid = int(pid_file.read_text())
    assert pid in json.loads(runtime("ps", "--format", "json", "c1").stdout)
    cgroup_of = Path(f"/proc/{pid}/cgroup").read_text()
    assert running and cgroup_of == Path(f"/proc/{running['pid']}/cgroup").read_text()
    deadline = time.monotonic() + 10
    while "from-process-file" not in (tmp_path / "out" / "stdout").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_exec_of_a_missing_command_fails_like_runc(runtime, running):
    result = runtime("exec", "c1", "nope", check=False)
    assert result.returncode == 1
    assert 'exec: "nope": executable file not found in $PATH' in result.stderr


def test_exec_into_a_stopped_container_is_refused(runtime, running):
    runtime("kill", "c1", "KILL")
    deadline = time.monotonic() + 10
    while json.loads(runtime("state", "c1").stdout)["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    result = runtime("exec", "c1", "true", check=False)
    assert result.returncode == 1 and "stopped" in result.stderr


def test_exec_flags_add_capabilities_and_no_new_privs(runtime, bundle, tmp_path):
    set_args(bundle.config, "sleep", "60")
    bundle.config["process"]["noNewPrivileges"] = False
    bundle.write()
    runtime("create", "--bundle", bundle.path, "c2", output_dir=tmp_path / "out2")
    runtime("start", "c2")
    plain = parse_probe(runtime("exec", "c2", "/probe").stdout)
    assert plain.no_new_privs == 0
    assert "CAP_SYS_TIME" not in plain.caps("CapEff")
    more = parse_probe(runtime("exec", "--cap", "CAP_SYS_TIME", "--no-new-privs", "c2",
                               "/probe").stdout)
    assert more.no_new_privs == 1
    assert "CAP_SYS_TIME" in more.caps("CapEff") and "CAP_SYS_TIME" in more.caps("CapBnd")
