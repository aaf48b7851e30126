"""From config to the init's plan: namespaces, mounts, devices, process (pure)."""

import pytest

from estiba.errors import InvalidArgument
from estiba.kernel import consts as k
from estiba.oci.runtime_config import parse_config
from estiba.runtime.plan import lookup_path, plan_init, plan_process, with_home
from estiba.runtime.spec import default_config

V1_PATHS = {
    "memory": "/sys/fs/cgroup/memory/estiba/c1",
    "pids": "/sys/fs/cgroup/pids/estiba/c1",
    "systemd": "/sys/fs/cgroup/systemd/estiba/c1",
}


def plan_of(config, paths=V1_PATHS):
    return plan_init(parse_config(config), "/b/rootfs", paths, "/estiba/c1")


def test_namespaces_of_the_default_spec():
    plan = plan_of(default_config())
    assert plan.pid_namespace == "new"
    assert plan.unshare == (k.CLONE_NEWNET | k.CLONE_NEWIPC | k.CLONE_NEWUTS | k.CLONE_NEWNS
                            | k.CLONE_NEWCGROUP)
    assert plan.join == ()
    assert plan.hostname == "estiba"


def test_namespace_with_a_path_is_joined_cgroup_last():
    config = default_config()
    config["linux"]["namespaces"] = [
        {"type": "cgroup", "path": "/proc/1/ns/cgroup"},
        {"type": "network", "path": "/var/run/netns/x"},
        {"type": "pid", "path": "/proc/7/ns/pid"},
        {"type": "mount"},
    ]
    plan = plan_of(config)
    assert plan.join == ((k.CLONE_NEWNET, "/var/run/netns/x"),
                         (k.CLONE_NEWCGROUP, "/proc/1/ns/cgroup"))
    assert plan.unshare == k.CLONE_NEWNS
    assert plan.pid_namespace == "/proc/7/ns/pid"
    assert plan.hostname is None  # no uts namespace: the host's name is not touched


def test_bind_mount_flags_need_a_remount():
    config = default_config()
    config["mounts"] = [{"destination": "/data", "type": "bind", "source": "/srv",
                         "options": ["rbind", "ro", "nosuid", "rprivate"]}]
    (step,) = plan_of(config).mounts
    assert step.flags == k.MS_BIND | k.MS_REC
    assert step.remount == k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | k.MS_NOSUID
    assert step.propagation == (k.MS_PRIVATE | k.MS_REC,)
    assert step.host_source


def test_v1_cgroup_mount_binds_each_hierarchy_and_ends_read_only():
    config = default_config()
    config["mounts"] = [m for m in config["mounts"] if m["type"] == "cgroup"]
    steps = plan_of(config).mounts
    assert steps[0].fstype == "tmpfs" and steps[0].destination == "/sys/fs/cgroup"
    assert not steps[0].flags & k.MS_RDONLY
    binds = {s.destination: s.source for s in steps[1:-1]}
    assert binds == {
        "/sys/fs/cgroup/memory": "/sys/fs/cgroup/memory/estiba/c1",
        "/sys/fs/cgroup/pids": "/sys/fs/cgroup/pids/estiba/c1",
        "/sys/fs/cgroup/systemd": "/sys/fs/cgroup/systemd/estiba/c1",
    }
    assert steps[-1].flags & k.MS_REMOUNT and steps[-1].flags & k.MS_RDONLY


def test_v2_cgroup_mount_in_a_cgroup_namespace_is_a_cgroup2_mount():
    config = default_config()
    config["mounts"] = [m for m in config["mounts"] if m["type"] == "cgroup"]
    (step,) = plan_of(config, {"": "/sys/fs/cgroup/estiba/c1"}).mounts
    assert step.fstype == "cgroup2"


def test_default_devices_and_config_devices():
    config = default_config()
    config["linux"]["devices"] = [{"type": "c", "path": "/dev/fuse", "major": 10,
                                   "minor": 229, "fileMode": 0o600}]
    devices = {d.path: d for d in plan_of(config).devices}
    assert {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
            "/dev/tty", "/dev/fuse"} == set(devices)
    assert devices["/dev/fuse"].mode == 0o600


def test_unknown_device_type_is_refused():
    config = default_config()
    config["linux"]["devices"] = [{"type": "x", "path": "/dev/x"}]
    with pytest.raises(InvalidArgument, match="unknown type"):
        plan_of(config)


def test_process_capabilities_become_masks():
    config = default_config()
    plan = plan_process(parse_config(config).process, None, last_cap=40)
    bounding, effective, permitted, inheritable, ambient = plan.caps
    assert bounding == (1 << 29) | (1 << 5) | (1 << 10)
    assert effective == permitted == bounding
    assert inheritable == ambient == 0
    assert plan.rlimits == (("RLIMIT_NOFILE", 1024, 1024),)
    assert plan.no_new_privs


def test_capabilities_past_the_kernels_last_are_left_out():
    config = default_config()
    config["process"]["capabilities"] = {"bounding": ["CAP_BPF", "CAP_CHOWN"]}
    plan = plan_process(parse_config(config).process, None, last_cap=38)
    assert plan.caps[0] == 1


def test_lookup_in_the_container_path():
    present = {"/bin/sh", "/usr/bin/env"}
    assert lookup_path("env", ("PATH=/bin:/usr/bin",), present.__contains__) == "/usr/bin/env"
    assert lookup_path("nope", ("PATH=/bin",), present.__contains__) is None
    assert lookup_path("/x/y", (), present.__contains__) == "/x/y"


PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"


@pytest.mark.parametrize(("env", "uid", "home"), [
    ((), 0, "/root"),
    ((), 65534, "/nonexistent"),
    ((), 1000, "/"),  # no entry: runc's default
    (("HOME=/x",), 0, "/x"),  # given: kept
    (("HOME=",), 0, "/root"),  # empty counts as unset, as with runc's os.Getenv
])
def test_home_comes_from_passwd_unless_given(env, uid, home):
    out = with_home(("PATH=/bin",) + env, uid, PASSWD)
    assert [e for e in out if e.startswith("HOME")] == [f"HOME={home}"]
    assert out[0] == "PATH=/bin"


def _with_userns(config, network_path=None):
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    if network_path is not None:
        for ns in config["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = network_path
    return config


def test_a_user_namespace_is_made_before_the_init_and_devices_are_bound():
    plan = plan_of(_with_userns(default_config()))
    assert plan.user_namespace == "new"
    assert not plan.unshare & k.CLONE_NEWUSER  # made by the runtime (userns.py)
    assert plan.uid_mappings[0].host_id == 100000
    assert all(node.bind for node in plan.devices)
    sysfs = [m for m in plan.mounts if m.destination == "/sys"]
    assert sysfs[0].fstype == "sysfs"  # its own network namespace: sysfs may be mounted


def test_a_user_namespace_with_a_joined_network_binds_sys():
    plan = plan_of(_with_userns(default_config(), network_path="/run/netns/x"))
    sysfs = [m for m in plan.mounts if m.destination == "/sys"]
    assert sysfs[0].fstype == "" and sysfs[0].source == "/sys"
    assert sysfs[0].flags & k.MS_BIND and sysfs[0].remount & k.MS_RDONLY


def test_without_a_user_namespace_devices_are_made():
    plan = plan_of(default_config())
    assert plan.user_namespace == "host" and not any(n.bind for n in plan.devices)
