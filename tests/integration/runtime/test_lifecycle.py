"""The lifecycle the OCI runtime spec defines, driven call by call as containerd does:
create → created → start → running → (pause ↔ resume) → kill → stopped → delete."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from support.bundle import set_args
from support.schemas import runtime_validator

pytestmark = pytest.mark.root

STATE = runtime_validator("state-schema.json")


def wait_for(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def alive(pid):
    """Whether the process runs: neither gone nor a zombie (whose cmdline is empty). It
    may end between any two reads of its /proc directory."""
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())
    except (FileNotFoundError, ProcessLookupError):
        return False


def state(runtime, cid):
    return json.loads(runtime("state", cid).stdout)


def create(runtime, bundle, tmp_path, cid="c1", *args):
    bundle.write()
    return runtime("create", "--bundle", bundle.path, *args, cid, output_dir=tmp_path / "out")


def test_create_start_kill_delete(runtime, bundle, tmp_path, runtime_root):
    set_args(bundle.config, "sleep", "60")
    pid_file = tmp_path / "init.pid"
    create(runtime, bundle, tmp_path, "c1", "--pid-file", str(pid_file))

    created = state(runtime, "c1")
    STATE.validate(created)
    assert created["status"] == "created"
    assert created["id"] == "c1"
    assert created["bundle"] == str(bundle.path)
    assert int(pid_file.read_text()) == created["pid"]
    # the init waits: it has not exec'd the user program yet
    assert Path(f"/proc/{created['pid']}/exe").resolve().name != "busybox"

    runtime("start", "c1")
    running = state(runtime, "c1")
    STATE.validate(running)
    assert running["status"] == "running"
    assert running["pid"] == created["pid"]
    assert Path(f"/proc/{running['pid']}/cmdline").read_bytes().split(b"\0")[0] == b"sleep"

    listed = runtime("list", "--format", "json").stdout
    assert [c["id"] for c in json.loads(listed)] == ["c1"]
    assert "c1" in runtime("list", "-q").stdout.split()

    runtime("kill", "c1", "KILL")
    wait_for(lambda: state(runtime, "c1")["status"] == "stopped")
    STATE.validate(state(runtime, "c1"))

    runtime("delete", "c1")
    gone = runtime("state", "c1", check=False)
    assert gone.returncode == 1 and "does not exist" in gone.stderr
    assert not (runtime_root / "c1").exists()
    cgroups_path = bundle.config["linux"]["cgroupsPath"]
    assert not any(os.path.exists(f"/sys/fs/cgroup/{c}{cgroups_path}")
                   for c in os.listdir("/sys/fs/cgroup"))


def test_stdio_is_handed_to_the_container(runtime, bundle, tmp_path):
    set_args(bundle.config, "sh", "-c", "echo out; echo err >&2")
    create(runtime, bundle, tmp_path)
    runtime("start", "c1")
    wait_for(lambda: state(runtime, "c1")["status"] == "stopped")
    assert (tmp_path / "out" / "stdout").read_text() == "out\n"
    assert (tmp_path / "out" / "stderr").read_text() == "err\n"


def test_signals_by_name_and_number(runtime, bundle, tmp_path):
    set_args(bundle.config, "sh", "-c",
             "trap 'echo got-usr1' USR1; trap 'echo got-term; exit 0' TERM;"
             " echo ready; while true; do sleep 0.05; done")
    create(runtime, bundle, tmp_path)
    runtime("start", "c1")
    out = tmp_path / "out" / "stdout"
    wait_for(lambda: "ready" in out.read_text())
    runtime("kill", "c1", "USR1")
    wait_for(lambda: "got-usr1" in out.read_text())
    runtime("kill", "c1", "15")
    wait_for(lambda: state(runtime, "c1")["status"] == "stopped")
    assert "got-term" in out.read_text()


def test_kill_all_signals_every_process(runtime, bundle, tmp_path):
    set_args(bundle.config, "sh", "-c", "sleep 60 & sleep 60 & echo ready; wait")
    create(runtime, bundle, tmp_path)
    runtime("start", "c1")
    wait_for(lambda: "ready" in (tmp_path / "out" / "stdout").read_text())
    pids = wait_for(lambda: (lambda p: p if len(p) == 3 else None)(
        json.loads(runtime("ps", "--format", "json", "c1").stdout)))
    runtime("kill", "--all", "c1", "KILL")
    wait_for(lambda: not any(alive(p) for p in pids))


def test_pause_and_resume(runtime, bundle, tmp_path):
    set_args(bundle.config, "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/n;"
             " sleep 0.01; done")
    bundle.config["root"]["readonly"] = False
    bundle.config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
    create(runtime, bundle, tmp_path)
    runtime("start", "c1")
    pid = state(runtime, "c1")["pid"]
    counter = Path(f"/proc/{pid}/root/tmp/n")
    wait_for(lambda: counter.exists() and counter.read_text().strip())

    runtime("pause", "c1")
    assert state(runtime, "c1")["status"] == "paused"
    first = counter.read_text()
    time.sleep(0.2)  # a frozen counter stays put: nothing to poll for
    assert counter.read_text() == first
    assert runtime("pause", "c1", check=False).returncode == 1

    runtime("resume", "c1")
    assert state(runtime, "c1")["status"] == "running"
    wait_for(lambda: counter.read_text() != first)
    assert runtime("resume", "c1", check=False).returncode == 1


def test_delete_refuses_a_running_container_unless_forced(runtime, bundle, tmp_path):
    set_args(bundle.config, "sleep", "60")
    create(runtime, bundle, tmp_path)
    runtime("start", "c1")
    refused = runtime("delete", "c1", check=False)
    assert refused.returncode == 1 and "not stopped" in refused.stderr
    assert state(runtime, "c1")["status"] == "running"
    runtime("delete", "--force", "c1")
    assert runtime("state", "c1", check=False).returncode == 1
    # containerd deletes twice and relies on the second succeeding quietly
    again = runtime("delete", "--force", "c1")
    assert again.stdout == again.stderr == ""


def test_delete_of_a_created_container_kills_its_init(runtime, bundle, tmp_path):
    create(runtime, bundle, tmp_path)
    pid = state(runtime, "c1")["pid"]
    runtime("delete", "c1")
    wait_for(lambda: not alive(pid))


def test_ps_lists_the_containers_processes(runtime, bundle, tmp_path):
    set_args(bundle.config, "sh", "-c", "sleep 60 & echo ready; wait")
    create(runtime, bundle, tmp_path)
    runtime("start", "c1")
    wait_for(lambda: "ready" in (tmp_path / "out" / "stdout").read_text())
    init = state(runtime, "c1")["pid"]
    pids = wait_for(lambda: (lambda p: p if len(p) == 2 else None)(
        json.loads(runtime("ps", "--format", "json", "c1").stdout)))
    assert init in pids
    table = runtime("ps", "c1").stdout.splitlines()
    assert "PID" in table[0].split()
    assert len(table) == 3 and any("sleep 60" in line for line in table)


def test_update_changes_the_limits(runtime, bundle, tmp_path):
    set_args(bundle.config, "sleep", "60")
    bundle.config["linux"]["resources"]["memory"] = {"limit": 64 << 20}
    bundle.config["linux"]["resources"]["pids"] = {"limit": 50}
    create(runtime, bundle, tmp_path)
    runtime("start", "c1")
    path = bundle.config["linux"]["cgroupsPath"]
    memory = Path(f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
    pids = Path(f"/sys/fs/cgroup/pids{path}/pids.max")
    if not memory.exists():
        pytest.skip("needs the cgroup v1 memory controller")
    assert int(memory.read_text()) == 64 << 20
    assert pids.read_text().strip() == "50"

    runtime("update", "--memory", "32m", "c1")
    assert int(memory.read_text()) == 32 << 20
    runtime("update", "--resources", "-", "c1", input=json.dumps({"pids": {"limit": 20}}))
    assert pids.read_text().strip() == "20"
    bad = runtime("update", "--resources", "-", "c1", input="{not json", check=False)
    assert bad.returncode == 1 and "malformed json" in bad.stderr
    assert pids.read_text().strip() == "20"


def test_limits_are_enforced(runtime, bundle, tmp_path):
    bundle.config["linux"]["resources"]["pids"] = {"limit": 5}
    set_args(bundle.config, "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait")
    bundle.write()
    result = runtime("run", "--bundle", bundle.path, "c1", check=False)
    assert "can't fork: Resource temporarily unavailable" in result.stderr


def test_features_is_the_spec_document(runtime) -> None:
    doc = json.loads(runtime("features").stdout)
    runtime_validator("features-schema.json").validate(doc)
    assert Path("/proc/sys/kernel/cap_last_cap").read_text().strip() == str(
        len(doc["linux"]["capabilities"]) - 1)
    assert doc["linux"]["seccomp"]["enabled"] is True


def test_events_stats_once_and_a_stream_until_the_container_stops(
        runtime, bundle, tmp_path) -> None:
    set_args(bundle.config, "sh", "-c", "sleep 1")
    create(runtime, bundle, tmp_path, "ev1")
    runtime("start", "ev1")
    once = [json.loads(line) for line in runtime("events", "--stats", "ev1").stdout.splitlines()]
    assert len(once) == 1 and once[0]["type"] == "stats" and once[0]["id"] == "ev1"
    assert once[0]["data"]["pids"]["current"] >= 1
    assert once[0]["data"]["memory"]["usage"]["usage"] > 0
    # the stream ends by itself once the container's init exits (sleep 1)
    started = time.monotonic()
    stream = runtime("events", "--interval", "200ms", "ev1", timeout=20).stdout.splitlines()
    assert time.monotonic() - started < 10
    assert len(stream) >= 2 and {json.loads(line)["type"] for line in stream} == {"stats"}
    bad = runtime("events", "--interval", "x", "ev1", check=False)
    assert bad.returncode == 1
    runtime("delete", "-f", "ev1")
