"""HostConfig into the OCI spec (engine/hostconfig.py), on a described host: what each
``docker run`` host option changes in config.json, Docker's messages for what it
refuses, and that the result is a config the runtime parses."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pytest

from estiba import errors
from estiba.core import spec as specs
from estiba.engine import hostconfig
from estiba.engine.hostconfig import HostDevice, apply, capabilities
from estiba.oci.runtime_config import parse_config

FUSE = HostDevice(path="/dev/fuse", type="c", major=10, minor=229, mode=0o600, uid=0,
                  gid=0)
SDA = HostDevice(path="/dev/sda", type="b", major=8, minor=0, mode=0o660, uid=0, gid=6)


@dataclass
class FakeHost:
    paths: set[str] = field(default_factory=lambda: {"/srv", "/etc/hosts", "/dev/fuse",
                                                     "/dev/sda", "/dev/notnode"})
    nodes: tuple[HostDevice, ...] = (FUSE, SDA)
    init_path: str | None = "/usr/bin/tini-static"

    def exists(self, path: str) -> bool:
        return path in self.paths

    def device(self, path: str) -> HostDevice | None:
        return next((d for d in self.nodes if d.path == path), None)

    def devices(self) -> list[HostDevice]:
        return list(self.nodes)

    def init(self) -> str | None:
        return self.init_path

    def capabilities(self) -> tuple[str, ...]:
        return tuple(c for c in hostconfig.ALL_CAPABILITIES if c != "CAP_SYS_RESOURCE")


def base() -> dict:
    spec = specs.default_spec("docker", "c" * 64)
    spec["process"]["args"] = ["sleep", "1"]
    spec["hostname"] = "cccccccccccc"
    return spec


def run(host_config: dict, host: FakeHost | None = None) -> dict:
    spec, _ = apply(base(), host_config, host or FakeHost())
    parse_config(spec)  # the runtime takes it
    return spec


def mount(spec: dict, destination: str) -> dict:
    return next(m for m in spec["mounts"] if m["destination"] == destination)


def refused(host_config: dict, message: str, kind: type = errors.InvalidArgument,
            host: FakeHost | None = None) -> None:
    with pytest.raises(kind) as caught:
        apply(base(), host_config, host or FakeHost())
    assert message in str(caught.value)


def test_empty_host_config_keeps_the_spec_and_inputs_are_not_changed() -> None:
    spec = base()
    before = copy.deepcopy(spec)
    hc = {"Binds": ["/srv:/data:ro"], "Memory": 32 << 20, "CapAdd": ["net_admin"]}
    hc_before = copy.deepcopy(hc)
    assert apply(spec, {}, FakeHost()) == (before, ())
    apply(spec, hc, FakeHost())
    assert spec == before and hc == hc_before


def test_memory_with_docker_default_swap_and_reservation() -> None:
    memory = run({"Memory": 32 << 20, "MemoryReservation": 16 << 20,
                  "OomKillDisable": True})["linux"]["resources"]["memory"]
    assert memory == {"limit": 32 << 20, "swap": 64 << 20, "reservation": 16 << 20,
                      "disableOOMKiller": True}
    unlimited = run({"Memory": 32 << 20, "MemorySwap": -1})["linux"]["resources"]
    assert unlimited["memory"] == {"limit": 32 << 20, "swap": -1}
    assert "memory" not in run({"Memory": 0})["linux"]["resources"]


@pytest.mark.parametrize(("hc", "message"), [
    ({"Memory": 4 << 20}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": -1 << 20}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": 20 << 20, "MemorySwap": 10 << 20},
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    ({"MemorySwap": 10 << 20}, "You should always set the Memory limit when using"),
    ({"MemoryReservation": 1 << 20}, "Minimum memory reservation allowed is 6MB"),
    ({"Memory": 8 << 20, "MemoryReservation": 16 << 20}, "can not be less than memory "
     "reservation"),
    ({"Memory": "32m"}, "cannot unmarshal string into Go struct field HostConfig.Memory"),
    ({"MemorySwappiness": 101}, "valid memory swappiness range is 0-100"),
    ({"NanoCpus": 10**9, "CpuQuota": 50000}, "Nano CPUs and CPU Quota cannot both"),
    ({"NanoCpus": 10**9, "CpuPeriod": 50000}, "Nano CPUs and CPU Period cannot both"),
    ({"CpuPeriod": 10}, "CPU cfs period can not be less than 1ms"),
    ({"CpuQuota": 10}, "CPU cfs quota can not be less than 1ms"),
    ({"CpusetCpus": "0-x"}, "Invalid value 0-x for cpuset cpus"),
    ({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
    ({"OomScoreAdj": 2000}, "Invalid value 2000, range for oom score adj is [-1000, 1000]"),
    ({"ShmSize": -1}, "SHM size can not be less than 0"),
    ({"PidMode": "bogus"}, "invalid PidMode: bogus"),
])
def test_invalid_values_are_refused_with_dockers_message(hc: dict, message: str) -> None:
    refused(hc, message)


def test_cpu_pids_and_blkio() -> None:
    resources = run({"NanoCpus": 1_500_000_000, "CpuShares": 512, "CpusetCpus": "0-1",
                     "CpusetMems": "0", "PidsLimit": 50, "BlkioWeight": 300}
                    )["linux"]["resources"]
    assert resources["cpu"] == {"shares": 512, "period": 100000, "quota": 150000,
                                "cpus": "0-1", "mems": "0"}
    assert resources["pids"] == {"limit": 50}
    assert resources["blockIO"] == {"weight": 300}
    explicit = run({"CpuQuota": 20000, "CpuPeriod": 50000})["linux"]["resources"]["cpu"]
    assert explicit == {"quota": 20000, "period": 50000}
    for unlimited in (0, -1):
        assert run({"PidsLimit": unlimited})["linux"]["resources"]["pids"] == {"limit": -1}
    assert "pids" not in run({"PidsLimit": None})["linux"]["resources"]


def test_binds_rw_ro_propagation_and_missing_sources() -> None:
    spec, directories = apply(base(), {"Binds": ["/srv:/data", "/srv/x/../y:/ro:ro,rshared",
                                                 "/new/dir:/new"]}, FakeHost())
    assert mount(spec, "/data") == {"destination": "/data", "type": "bind",
                                    "source": "/srv", "options": ["rbind", "rprivate"]}
    assert mount(spec, "/ro")["options"] == ["rbind", "ro", "rshared"]
    assert mount(spec, "/ro")["source"] == "/srv/y"
    assert directories == ("/srv/y", "/new/dir")


@pytest.mark.parametrize(("bind", "message"), [
    ("/srv:data", "'data' mount path must be absolute"),
    ("/srv", "invalid volume specification: '/srv'"),
    ("/srv:/data:bogus", "invalid mode: bogus"),
    ("/srv:/", "destination can't be '/'"),
])
def test_bad_binds(bind: str, message: str) -> None:
    refused({"Binds": [bind]}, message)


def test_mounts_bind_and_tmpfs() -> None:
    spec = run({"Mounts": [
        {"Type": "bind", "Source": "/srv", "Target": "/b", "ReadOnly": True,
         "BindOptions": {"Propagation": "rslave"}},
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20,
                                                          "Mode": 0o1770}},
    ]})
    assert mount(spec, "/b") == {"destination": "/b", "type": "bind", "source": "/srv",
                                 "options": ["rbind", "ro", "rslave"]}
    assert mount(spec, "/t") == {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                                 "options": ["noexec", "nosuid", "nodev",
                                             "size=1048576", "mode=1770"]}


@pytest.mark.parametrize(("entry", "message"), [
    ({"Type": "bind", "Source": "/nonexist", "Target": "/x"},
     'invalid mount config for type "bind": bind source path does not exist: /nonexist'),
    ({"Type": "bind", "Target": "/x"}, "field Source must not be empty"),
    ({"Type": "tmpfs", "Source": "/srv", "Target": "/x"}, "must not be specified"),
    ({"Type": "foo", "Target": "/x"}, 'invalid mount config for type "foo": mount type '
     "unknown"),
])
def test_bad_mounts(entry: dict, message: str) -> None:
    refused({"Mounts": [entry]}, message)


def test_duplicate_mount_points() -> None:
    refused({"Binds": ["/srv:/data"], "Tmpfs": {"/data": ""}},
            "Duplicate mount point: /data")


def test_tmpfs_shm_size_and_read_only_root() -> None:
    spec = run({"Tmpfs": {"/run": "size=1m,mode=755", "/dev/shm": "size=2m"},
                "ReadonlyRootfs": True})
    assert mount(spec, "/run")["options"] == ["noexec", "nosuid", "nodev", "size=1m",
                                              "mode=755"]
    assert mount(spec, "/dev/shm")["options"][-1] == "size=2m"
    assert sum(m["destination"] == "/dev/shm" for m in spec["mounts"]) == 1
    assert spec["root"]["readonly"] is True
    shm = mount(run({"ShmSize": 1 << 20}), "/dev/shm")["options"]
    assert "size=1048576" in shm and "size=65536k" not in shm


def test_capabilities() -> None:
    default = list(specs.DEFAULT_CAPABILITIES)
    assert capabilities(default, ["sys_admin", "CAP_NET_ADMIN"], ["NET_RAW"], False) == [
        c for c in default if c != "CAP_NET_RAW"] + ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]
    assert capabilities(default, ["chown"], ["all"], False) == ["CAP_CHOWN"]
    everything = capabilities(default, ["ALL"], ["mknod"], False)
    assert "CAP_SYS_ADMIN" in everything and "CAP_MKNOD" not in everything
    assert capabilities(default, [], [], True) == list(hostconfig.ALL_CAPABILITIES)
    assert capabilities(default, [], [], True, ("CAP_CHOWN",)) == ["CAP_CHOWN"]
    process = run({"CapDrop": ["net_raw"]})["process"]["capabilities"]
    assert "CAP_NET_RAW" not in process["effective"] + process["bounding"]
    refused({"CapAdd": ["FOO"]}, 'invalid CapAdd: unknown capability: "CAP_FOO"')
    refused({"CapDrop": ["bar"]}, 'invalid CapDrop: unknown capability: "CAP_BAR"')


def test_privileged() -> None:
    spec = run({"Privileged": True})
    linux = spec["linux"]
    # what the daemon may give: here all but CAP_SYS_RESOURCE
    assert spec["process"]["capabilities"]["effective"] == list(FakeHost().capabilities())
    assert linux["maskedPaths"] == [] and linux["readonlyPaths"] == []
    assert "ro" not in mount(spec, "/sys")["options"]
    assert {d["path"] for d in linux["devices"]} == {"/dev/fuse", "/dev/sda"}
    assert {"allow": True, "access": "rwm"} in linux["resources"]["devices"]


def test_security_opts_sysctls_devices_groups_and_ulimits() -> None:
    spec = run({"SecurityOpt": ["no-new-privileges"], "Sysctls": {"net.ipv4.ip_forward": "1"},
                "Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/f",
                             "CgroupPermissions": "rw"}],
                "GroupAdd": ["123", 7], "Ulimits": [{"Name": "nofile", "Soft": 100,
                                                     "Hard": 200}]})
    process, linux = spec["process"], spec["linux"]
    assert process["noNewPrivileges"] is True
    assert linux["sysctl"] == {"net.ipv4.ip_forward": "1"}
    assert linux["devices"] == [{"path": "/dev/f", "type": "c", "major": 10, "minor": 229,
                                 "fileMode": 0o600, "uid": 0, "gid": 0}]
    assert linux["resources"]["devices"][-1] == {"allow": True, "type": "c", "major": 10,
                                                 "minor": 229, "access": "rw"}
    assert process["user"]["additionalGids"] == [123, 7]
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 200, "soft": 100}]
    assert run({"SecurityOpt": ["no-new-privileges:true"]})["process"]["noNewPrivileges"]
    assert not run({"SecurityOpt": ["no-new-privileges=false"]})["process"][
        "noNewPrivileges"]


@pytest.mark.parametrize(("hc", "message"), [
    ({"SecurityOpt": ["bogus"]}, 'invalid --security-opt 1: "bogus"'),
    ({"Sysctls": {"vm.swappiness": "1"}}, "is not in a separate kernel namespace"),
    ({"Sysctls": {"net.ipv4.ip_forward": "1"}, "NetworkMode": "host"},
     "not allowed in host network namespace"),
    ({"Devices": [{"PathOnHost": "/dev/nonexist"}]}, 'adding custom device '
     '"/dev/nonexist": no such file or directory'),
    ({"Devices": [{"PathOnHost": "/dev/notnode"}]}, "not a device node"),
    ({"Devices": [{"PathOnHost": "/dev/fuse", "CgroupPermissions": "rx"}]},
     "invalid device mode: rx"),
    ({"GroupAdd": ["staff"]}, "only numeric group ids"),
    ({"Ulimits": [{"Name": "nofile", "Soft": 200, "Hard": 100}]},
     "ulimit soft limit must be less than or equal to hard limit: 200 > 100"),
    ({"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}, "invalid ulimit type: bogus"),
])
def test_bad_security_options(hc: dict, message: str) -> None:
    refused(hc, message)


def test_host_namespaces() -> None:
    spec = run({"PidMode": "host", "UTSMode": "host", "IpcMode": "host",
                "NetworkMode": "host"})
    assert [n["type"] for n in spec["linux"]["namespaces"]] == ["mount"]
    assert "hostname" not in spec
    assert mount(spec, "/dev/shm") == {"destination": "/dev/shm", "type": "bind",
                                       "source": "/dev/shm",
                                       "options": ["rbind", "rprivate"]}
    private = run({"PidMode": "", "IpcMode": "private", "NetworkMode": "bridge"})
    assert [n["type"] for n in private["linux"]["namespaces"]] == list(
        specs.DEFAULT_NAMESPACES)
    assert all(m["destination"] != "/dev/shm" for m in run({"IpcMode": "none"})["mounts"])
    refused({"PidMode": "container:abc"}, "not supported yet", errors.Unimplemented)


def test_init() -> None:
    spec = run({"Init": True})
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "sleep", "1"]
    assert mount(spec, "/sbin/docker-init") == {
        "destination": "/sbin/docker-init", "type": "bind",
        "source": "/usr/bin/tini-static", "options": ["bind", "ro"]}
    refused({"Init": True}, "install Debian's tini package", errors.FailedPrecondition,
            FakeHost(init_path=None))


def test_oom_score_adj() -> None:
    assert run({"OomScoreAdj": 100})["process"]["oomScoreAdj"] == 100
    assert "oomScoreAdj" not in run({"OomScoreAdj": 0})["process"]
