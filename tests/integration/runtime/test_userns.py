"""User namespaces: the container's root is an unprivileged host uid. Ids are mapped as
the config says, the rootfs (owned by that uid) is the container's own, and what the
host uid may not touch stays out of reach even for the container's root."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from support.bundle import add_mount, set_args, set_id_mappings

pytestmark = pytest.mark.root

HOST_ID = 100000


@pytest.fixture(scope="module")
def mapped_rootfs(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the busybox rootfs owned by the mapped root, as an engine prepares one."""
    root = tmp_path_factory.mktemp("userns") / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            os.lchown(os.path.join(dirpath, name), HOST_ID, HOST_ID)
    os.lchown(root, HOST_ID, HOST_ID)
    # the path to it must be searchable by the mapped root, as for any rootfs
    for parent in list(root.parents)[:3]:
        os.chmod(parent, os.stat(parent).st_mode | 0o011)
    return root


def userns_bundle(bundle, rootfs: Path, *args: str):
    bundle.config["root"]["path"] = str(rootfs)
    set_id_mappings(bundle.config, HOST_ID, HOST_ID)
    set_args(bundle.config, *args)
    return bundle


def run(runtime, bundle, cid: str, check: bool = True):
    bundle.write()
    return runtime("run", "--bundle", bundle.path, cid, check=check)


def test_root_inside_is_the_mapped_host_uid(runtime, bundle, mapped_rootfs) -> None:
    userns_bundle(bundle, mapped_rootfs, "sh", "-c",
                  "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; "
                  "cat /proc/1/status | grep -E '^(Uid|Gid):'; touch /root-was-here && "
                  "stat -c '%u %g' /root-was-here; rm /root-was-here; ls -ln /bin/busybox")
    out = run(runtime, bundle, "u1").stdout.splitlines()
    assert out[0] == "0" and out[1] == "0"
    assert out[2].split() == ["0", str(HOST_ID), "65536"]
    assert out[3].split() == ["0", str(HOST_ID), "65536"]
    assert out[4].split()[1:] == ["0"] * 4 and out[5].split()[1:] == ["0"] * 4
    assert out[6] == "0 0"  # a file the container's root makes is its own
    assert out[7].split()[2:4] == ["0", "0"]  # the rootfs is root's, seen from inside


def test_the_init_runs_as_the_host_uid(runtime, bundle, mapped_rootfs, tmp_path) -> None:
    userns_bundle(bundle, mapped_rootfs, "sleep", "30")
    bundle.write()
    runtime("create", "--bundle", bundle.path, "u2", output_dir=tmp_path / "out")
    try:
        pid = json.loads(runtime("state", "u2").stdout)["pid"]
        status = Path(f"/proc/{pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uids.split()[1:] == [str(HOST_ID)] * 4
        assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
        # pid 1 of its own pid namespace (which its user namespace owns: /proc is
        # mounted inside, see above), and still the runtime's to start
        nspid = next(line for line in status.splitlines() if line.startswith("NSpid:"))
        assert nspid.split()[1:] == [str(pid), "1"]
        runtime("start", "u2")
        assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep")
    finally:
        runtime("delete", "-f", "u2")


def test_host_files_stay_out_of_reach(runtime, bundle, mapped_rootfs, tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir(mode=0o700)
    (secret / "key").write_text("host only\n")
    os.chmod(secret / "key", 0o600)
    os.chmod(tmp_path, 0o755)
    userns_bundle(bundle, mapped_rootfs, "sh", "-c",
                  "cat /secret/key; echo read=$?; touch /secret/new; echo write=$?; "
                  "ls /secret >/dev/null; echo list=$?; echo x > /proc/sys/kernel/hostname; "
                  "echo sysctl=$?")
    add_mount(bundle.config, "/secret", str(secret), "bind", ["rbind", "rw"])
    result = run(runtime, bundle, "u3")
    out = result.stdout
    assert "host only" not in out
    assert "read=1" in out and "write=1" in out and "list=1" in out
    assert not (secret / "new").exists()
    assert "Permission denied" in result.stderr


def test_devices_and_proc_and_sys_inside(runtime, bundle, mapped_rootfs) -> None:
    userns_bundle(bundle, mapped_rootfs, "sh", "-c",
                  "echo hi > /dev/null && head -c 4 /dev/zero | wc -c; "
                  "ls /sys/class/net; grep -c . /proc/self/mountinfo >/dev/null && echo proc")
    out = run(runtime, bundle, "u4").stdout.split()
    assert out[0] == "4" and "lo" in out and out[-1] == "proc"


def test_a_network_namespace_of_the_host_binds_sys(runtime, bundle, mapped_rootfs) -> None:
    userns_bundle(bundle, mapped_rootfs, "sh", "-c", "ls /sys/class/net")
    bundle.config["linux"]["namespaces"] = [
        n for n in bundle.config["linux"]["namespaces"] if n["type"] != "network"]
    out = run(runtime, bundle, "u5").stdout.split()
    assert set(out) >= set(os.listdir("/sys/class/net"))


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c["linux"].pop("uidMappings"), "no uid mappings found"),
    (lambda c: c["linux"]["gidMappings"].append(
        {"containerID": 10, "hostID": 5, "size": 1}), "mappings overlap"),
    (lambda c: c["linux"]["uidMappings"][0].update(size=0), "invalid mapping"),
])
def test_bad_mappings_are_refused(runtime, bundle, mapped_rootfs, change, message) -> None:
    userns_bundle(bundle, mapped_rootfs, "true")
    change(bundle.config)
    result = run(runtime, bundle, "u6", check=False)
    assert result.returncode == 1 and message in result.stderr


def test_exec_joins_the_user_namespace(runtime, bundle, mapped_rootfs, tmp_path) -> None:
    userns_bundle(bundle, mapped_rootfs, "sleep", "30")
    bundle.write()
    runtime("create", "--bundle", bundle.path, "u7", output_dir=tmp_path / "out")
    try:
        runtime("start", "u7")
        out = runtime("exec", "u7", "sh", "-c",
                      "id -u; cat /proc/self/uid_map; touch /tmp/x && stat -c %u /tmp/x"
                      ).stdout.splitlines()
        assert out[0] == "0" and out[1].split() == ["0", str(HOST_ID), "65536"]
        assert out[2] == "0"
    finally:
        runtime("delete", "-f", "u7")


def test_a_user_namespace_joined_by_path(runtime, bundle, mapped_rootfs, tmp_path) -> None:
    userns_bundle(bundle, mapped_rootfs, "sleep", "30")
    bundle.write()
    runtime("create", "--bundle", bundle.path, "u8", output_dir=tmp_path / "out")
    try:
        pid = json.loads(runtime("state", "u8").stdout)["pid"]
        second = bundle.__class__(tmp_path / "second", json.loads(json.dumps(bundle.config)))
        config = second.config
        del config["linux"]["uidMappings"], config["linux"]["gidMappings"]
        config["linux"]["namespaces"] = [
            n for n in config["linux"]["namespaces"] if n["type"] != "user"
        ] + [{"type": "user", "path": f"/proc/{pid}/ns/user"}]
        config["linux"]["cgroupsPath"] += "-second"
        set_args(config, "sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/user")
        second.path.mkdir()
        second.write()
        out = runtime("run", "--bundle", second.path, "u9").stdout.splitlines()
        assert out[0].split() == ["0", str(HOST_ID), "65536"]
        assert out[1] == os.readlink(f"/proc/{pid}/ns/user")
    finally:
        runtime("delete", "-f", "u8")


def test_spec_rootless_runs(runtime, tmp_path, busybox_rootfs, cgroup_parent) -> None:
    bundle_dir = tmp_path / "rootless"
    bundle_dir.mkdir()
    runtime("spec", "--rootless", "--bundle", bundle_dir)
    config = json.loads((bundle_dir / "config.json").read_text())
    assert {"type": "user"} in config["linux"]["namespaces"]
    assert not any(n["type"] == "network" for n in config["linux"]["namespaces"])
    assert config["linux"]["uidMappings"] == [
        {"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    config["root"]["path"] = str(busybox_rootfs)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sh", "-c", "id -u; cat /proc/self/uid_map; ls /sys"]
    config["linux"]["cgroupsPath"] = f"{cgroup_parent}/rootless-{os.getpid()}"
    (bundle_dir / "config.json").write_text(json.dumps(config))
    out = runtime("run", "--bundle", bundle_dir, "rl1").stdout.splitlines()
    assert out[0] == "0"
    assert out[1].split() == ["0", str(os.geteuid()), "1"]
    assert "kernel" in out[2:]
