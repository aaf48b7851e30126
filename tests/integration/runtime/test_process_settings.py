"""process.ioPriority, process.scheduler, process.oomScoreAdj and linux.personality reach
the container's program, and a program ``exec`` starts: read back from the host, where
the kernel reports them (ionice(1) for the I/O priority, the scheduler and nice value
through /proc), or from inside (uname -m for the personality)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from support.bundle import set_args

pytestmark = pytest.mark.root


def ionice(pid: int) -> str:
    """What ionice(1) says of the process: ``realtime: prio 2``, ``idle`` ..."""
    if shutil.which("ionice") is None:
        pytest.skip("no ionice(1) on the host to read the I/O priority back")
    return subprocess.run(["ionice", "-p", str(pid)], capture_output=True, text=True,
                          check=True).stdout.strip()


def start_sleeping(runtime, bundle, tmp_path: Path) -> int:
    set_args(bundle.config, "sleep", "60")
    bundle.write()
    runtime("create", "--bundle", bundle.path, "c1", output_dir=tmp_path / "out")
    runtime("start", "c1")
    return json.loads(runtime("state", "c1").stdout)["pid"]


def test_io_priority_scheduler_and_oom_score_of_the_init(runtime, bundle, tmp_path):
    process = bundle.config["process"]
    process["ioPriority"] = {"class": "IOPRIO_CLASS_RT", "priority": 2}
    process["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
    process["oomScoreAdj"] = 123
    pid = start_sleeping(runtime, bundle, tmp_path)

    assert ionice(pid) == "realtime: prio 2"
    assert os.sched_getscheduler(pid) == os.SCHED_BATCH
    assert os.getpriority(os.PRIO_PROCESS, pid) == 7
    assert Path(f"/proc/{pid}/oom_score_adj").read_text().strip() == "123"


def test_a_real_time_policy_with_its_priority(runtime, bundle, tmp_path):
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_RR", "priority": 3}
    set_args(bundle.config, "sleep", "60")
    bundle.write()
    created = runtime("create", "--bundle", bundle.path, "c1", check=False,
                      output_dir=tmp_path / "out")
    if created.returncode != 0:
        # cgroup v1 with real-time group scheduling: a new cgroup has no real-time
        # budget (cpu.rt_runtime_us 0), so the kernel refuses; the error says which step
        assert "set scheduler policy 2 priority 3" in created.stderr, created.stderr
        assert "operation not permitted" in created.stderr
        return
    runtime("start", "c1")
    pid = json.loads(runtime("state", "c1").stdout)["pid"]
    assert os.sched_getscheduler(pid) == os.SCHED_RR
    assert os.sched_getparam(pid).sched_priority == 3


def test_exec_process_gets_its_own_io_priority_and_scheduler(runtime, bundle, tmp_path):
    start_sleeping(runtime, bundle, tmp_path)
    spec = tmp_path / "process.json"
    spec.write_text(json.dumps({
        "args": ["sleep", "60"], "cwd": "/", "env": ["PATH=/bin"],
        "user": {"uid": 0, "gid": 0},
        "ioPriority": {"class": "IOPRIO_CLASS_IDLE"},
        "scheduler": {"policy": "SCHED_IDLE", "nice": 3},
    }))
    pid_file = tmp_path / "exec.pid"
    runtime("exec", "--process", spec, "--detach", "--pid-file", pid_file, "c1",
            output_dir=tmp_path / "exec-out")
    pid = int(pid_file.read_text())
    assert ionice(pid) == "idle"
    assert os.sched_getscheduler(pid) == os.SCHED_IDLE
    assert os.getpriority(os.PRIO_PROCESS, pid) == 3


def test_a_refused_field_fails_create_and_leaves_nothing(runtime, bundle, tmp_path,
                                                         runtime_root):
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_DEADLINE",
                                             "runtime": 1000000, "deadline": 2000000,
                                             "period": 2000000}
    bundle.write()
    result = runtime("create", "--bundle", bundle.path, "c1", check=False,
                     output_dir=tmp_path / "out")
    assert result.returncode == 1
    assert "process.scheduler.policy: SCHED_DEADLINE is not supported" in result.stderr
    assert not (Path(runtime_root) / "c1").exists()


def test_personality_of_the_init_and_of_exec(runtime, bundle, tmp_path):
    if platform.machine() != "x86_64":
        pytest.skip("LINUX32 reads back as i686 on x86_64 only")
    bundle.config["linux"]["personality"] = {"domain": "LINUX32"}
    set_args(bundle.config, "uname", "-m")
    bundle.write()
    assert runtime("run", "--bundle", bundle.path, "c0").stdout.strip() == "i686"

    start_sleeping(runtime, bundle, tmp_path)
    assert runtime("exec", "c1", "uname", "-m").stdout.strip() == "i686"


def numa_policies(pid: int) -> set[str]:
    """The policies /proc/<pid>/numa_maps shows: the process's own for every mapping
    that has none of its own (``bind:0``, ``interleave:0`` ...)."""
    path = Path(f"/proc/{pid}/numa_maps")
    if not path.exists():
        pytest.skip("a kernel without NUMA: no numa_maps to read the policy back")
    return {line.split()[1] for line in path.read_text().splitlines() if line}


def test_memory_policy_of_the_init_and_of_exec(runtime, bundle, tmp_path):
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0",
                                              "flags": ["MPOL_F_STATIC_NODES"]}
    pid = start_sleeping(runtime, bundle, tmp_path)
    assert numa_policies(pid) == {"bind=static:0"}

    pid_file = tmp_path / "exec.pid"
    runtime("exec", "--detach", "--pid-file", pid_file, "c1", "sleep", "60",
            output_dir=tmp_path / "exec-out")
    assert numa_policies(int(pid_file.read_text())) == {"bind=static:0"}
