"""`run`: what a container sees, reported by the probe running as its process."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from support.bundle import add_namespace, set_args, set_capabilities, set_env, set_rlimit, set_user
from support.paths import runtime_binary
from support.probe import cap_mask, parse_probe

pytestmark = pytest.mark.root


def wait_for(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def run_probe(runtime, bundle, cid="c1", *args):
    bundle.write()
    result = runtime("run", "--bundle", bundle.path, cid, *args)
    return parse_probe(result.stdout)


def test_the_process_is_pid_1_of_new_namespaces(runtime, bundle):
    report = run_probe(runtime, bundle)
    assert report.pid == 1
    assert report.hostname == "estiba"
    assert report.cwd == "/"
    for ns in ("pid", "mnt", "net", "uts", "ipc"):
        assert report.namespaces[ns] != os.readlink(f"/proc/self/ns/{ns}"), ns
    # no user namespace yet: the host's
    assert report.namespaces["user"] == os.readlink("/proc/self/ns/user")


def test_exit_status_is_the_containers(runtime, bundle):
    set_args(bundle.config, "sh", "-c", "exit 7")
    bundle.write()
    assert runtime("run", "--bundle", bundle.path, "c1", check=False).returncode == 7


def test_death_by_signal_is_128_plus_the_signal(runtime, bundle, runtime_root):
    set_args(bundle.config, "sleep", "60")
    bundle.write()
    run = subprocess.Popen([runtime_binary(), "--root", runtime_root, "run", "--bundle",
                            bundle.path, "c1"], stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: '"running"' in runtime("state", "c1", check=False).stdout)
        runtime("kill", "c1", "KILL")
        assert run.wait(timeout=10) == 137
    finally:
        run.kill()
        run.wait()


def test_environment_user_and_limits(runtime, bundle):
    set_env(bundle.config, "GREETING", "hello world")
    set_user(bundle.config, 1000, 1001, additional_gids=[2000, 2001])
    bundle.config["process"]["user"]["umask"] = 0o027
    set_rlimit(bundle.config, "RLIMIT_NOFILE", 512, 777)
    bundle.config["process"]["cwd"] = "/tmp"
    report = run_probe(runtime, bundle)
    assert report.environ()["GREETING"] == "hello world"
    assert (report.uid, report.euid, report.gid, report.egid) == (1000, 1000, 1001, 1001)
    assert set(report.groups) == {2000, 2001}
    assert report.umask == 0o027
    assert report.rlimits["nofile"] == (512, 777)
    assert report.cwd == "/tmp"


def test_capabilities_are_exactly_the_configured_sets(runtime, bundle):
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    set_capabilities(bundle.config, caps, ("effective", "permitted"))
    set_capabilities(bundle.config, caps + ["CAP_SETUID"], ("bounding",))
    set_capabilities(bundle.config, [], ("inheritable", "ambient"))
    report = run_probe(runtime, bundle)
    assert report.caps("CapEff") == set(caps)
    assert report.caps("CapPrm") == set(caps)
    assert report.caps("CapBnd") == set(caps) | {"CAP_SETUID"}
    assert report.capabilities["CapInh"] == 0
    assert report.capabilities["CapAmb"] == 0
    assert report.no_new_privs == 1


def test_ambient_capabilities_for_a_non_root_user(runtime, bundle):
    caps = ["CAP_NET_BIND_SERVICE"]
    set_capabilities(bundle.config, caps,
                     ("bounding", "effective", "permitted", "inheritable", "ambient"))
    set_user(bundle.config, 1000, 1000)
    report = run_probe(runtime, bundle)
    assert report.capabilities["CapAmb"] == cap_mask(caps)
    assert report.capabilities["CapEff"] == cap_mask(caps)


def test_default_mounts(runtime, bundle):
    report = run_probe(runtime, bundle)
    assert report.mount("/proc").fstype == "proc"
    assert report.mount("/dev").fstype == "tmpfs"
    assert report.mount("/dev/pts").fstype == "devpts"
    assert report.mount("/dev/shm").fstype == "tmpfs"
    assert report.mount("/dev/mqueue").fstype == "mqueue"
    sys_mount = report.mount("/sys")
    assert sys_mount.fstype == "sysfs" and "ro" in sys_mount.options
    cgroup = report.mount("/sys/fs/cgroup")
    assert "ro" in cgroup.options
    # on v1 one bind per hierarchy, each the container's own cgroup
    subs = [m for m in report.mounts if m.target.startswith("/sys/fs/cgroup/")]
    if os.path.isdir("/sys/fs/cgroup/memory"):
        assert any(m.target == "/sys/fs/cgroup/memory" for m in subs)
        assert all("ro" in m.options for m in subs)
    assert "ro" in report.mount("/proc/sys").options


def test_readonly_root(runtime, bundle):
    set_args(bundle.config, "sh", "-c", "touch /should-fail; echo rc=$?")
    bundle.config["root"]["readonly"] = True
    bundle.write()
    out = runtime("run", "--bundle", bundle.path, "c1")
    assert "Read-only file system" in out.stderr + out.stdout or "rc=1" in out.stdout
    assert "rc=1" in out.stdout
    assert not os.path.exists(bundle.config["root"]["path"] + "/should-fail")


def test_default_devices_work_and_others_are_denied(runtime, bundle):
    set_args(bundle.config, "sh", "-c",
             "echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c;"
             " mknod /dev/sda1 b 8 1 2>/dev/null; head -c1 /dev/sda1 >/dev/null 2>&1"
             " || echo sda-denied; ls -l /dev/fd /dev/ptmx")
    set_capabilities(bundle.config, ["CAP_MKNOD"], ("bounding", "effective", "permitted"))
    bundle.write()
    out = runtime("run", "--bundle", bundle.path, "c1").stdout
    assert "null-ok" in out
    assert "4" in out.split()
    assert "sda-denied" in out
    assert "/proc/self/fd" in out and "pts/ptmx" in out


def test_sysctl_and_domainname(runtime, bundle):
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_unprivileged_port_start": "80"}
    bundle.config["domainname"] = "example.test"
    set_args(bundle.config, "sh", "-c",
             "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/domainname")
    bundle.write()
    out = runtime("run", "--bundle", bundle.path, "c1").stdout.split()
    assert out == ["80", "example.test"]


def test_the_container_is_in_its_cgroup(runtime, bundle):
    path = bundle.config["linux"]["cgroupsPath"]
    add_namespace(bundle.config, "cgroup")
    set_args(bundle.config, "sh", "-c", "cat /proc/self/cgroup; sleep 0.2")
    bundle.write()
    out = runtime("run", "--bundle", bundle.path, "c1").stdout
    # inside its cgroup namespace the container's cgroup is its root
    assert all(line.endswith(":/") for line in out.split())
    # and run removes the cgroup when the container is gone
    assert not any(os.path.exists(f"/sys/fs/cgroup/{c}{path}")
                   for c in os.listdir("/sys/fs/cgroup"))


def test_seccomp_profile_is_in_force(runtime, bundle):
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 1}],
    }
    set_args(bundle.config, "sh", "-c",
             "grep Seccomp: /proc/self/status; mkdir /tmp/x-$$ 2>&1; echo rc=$?")
    bundle.write()
    out = runtime("run", "--bundle", bundle.path, "c1").stdout
    assert "Seccomp:\t2" in out
    assert "Operation not permitted" in out and "rc=1" in out


def test_keep_leaves_a_stopped_container(runtime, bundle):
    set_args(bundle.config, "true")
    bundle.write()
    runtime("run", "--keep", "--bundle", bundle.path, "c1")
    assert '"status": "stopped"' in runtime("state", "c1").stdout
    runtime("delete", "c1")
    assert runtime("state", "c1", check=False).returncode == 1


def test_a_missing_cwd_is_made(runtime, bundle):
    bundle.config["process"]["cwd"] = "/work/dir"
    set_args(bundle.config, "pwd")
    bundle.write()
    try:
        assert runtime("run", "--bundle", bundle.path, "c1").stdout == "/work/dir\n"
    finally:
        root = bundle.config["root"]["path"]
        os.rmdir(f"{root}/work/dir")
        os.rmdir(f"{root}/work")


def test_a_new_session_keyring_unless_asked_not_to(runtime, bundle):
    if not Path("/proc/keys").exists():
        pytest.skip("no keyrings in this kernel")
    bundle.config["linux"]["maskedPaths"] = []  # /proc/keys is masked by default
    set_args(bundle.config, "cat", "/proc/keys")
    bundle.write()
    assert "_ses.c2" in runtime("run", "--bundle", bundle.path, "c2").stdout
    keys = runtime("run", "--no-new-keyring", "--bundle", bundle.path, "c3").stdout
    assert "_ses.c3" not in keys


def test_joining_another_containers_namespaces(runtime, bundle, tmp_path, runtime_root):
    set_args(bundle.config, "sleep", "60")
    bundle.config["hostname"] = "first"
    bundle.write()
    runtime("create", "--bundle", bundle.path, "first", output_dir=tmp_path / "first")
    runtime("start", "first")
    pid = json.loads(runtime("state", "first").stdout)["pid"]
    second = tmp_path / "second"
    second.mkdir()
    config = json.loads(bundle.config_path.read_text())
    config["linux"]["cgroupsPath"] += "-second"
    config["hostname"] = ""
    config["process"]["args"] = ["/probe"]
    config["linux"]["namespaces"] = [
        {"type": "mount"},
        {"type": "pid", "path": f"/proc/{pid}/ns/pid"},
        {"type": "network", "path": f"/proc/{pid}/ns/net"},
        {"type": "uts", "path": f"/proc/{pid}/ns/uts"},
        {"type": "ipc", "path": f"/proc/{pid}/ns/ipc"},
    ]
    (second / "config.json").write_text(json.dumps(config))
    report = parse_probe(runtime("run", "--bundle", second, "second").stdout)
    for ns in ("pid", "net", "uts", "ipc"):
        assert report.namespaces[ns] == os.readlink(f"/proc/{pid}/ns/{ns}"), ns
    assert report.namespaces["mnt"] != os.readlink(f"/proc/{pid}/ns/mnt")
    assert report.hostname == "first"
    assert report.pid != 1  # the first container's init is pid 1 there


def test_no_pivot_moves_the_root_instead(runtime, bundle):
    report = run_probe(runtime, bundle, "c1", "--no-pivot")
    assert report.pid == 1
    assert report.mount("/proc").fstype == "proc"
    assert report.namespaces["mnt"] != os.readlink("/proc/self/ns/mnt")


def test_detached_run_returns_with_the_container_running(runtime, bundle, tmp_path):
    set_args(bundle.config, "sleep", "60")
    bundle.write()
    runtime("run", "--detach", "--bundle", bundle.path, "c1", output_dir=tmp_path / "out")
    state = json.loads(runtime("state", "c1").stdout)
    assert state["status"] == "running"
    runtime("kill", "c1", "KILL")
    wait_for(lambda: json.loads(runtime("state", "c1").stdout)["status"] == "stopped")
    runtime("delete", "c1")
