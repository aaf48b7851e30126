"""config.json: the documents tests and dockerd write are valid by the OCI schema, parse
into the expected records, and malformed ones are refused with their JSON path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from estiba.errors import InvalidArgument
from estiba.oci.runtime_config import Mount, Namespace, Rlimit, parse_config
from support.bundle import (
    DEFAULT_CAPABILITIES,
    add_hook,
    add_mount,
    default_config,
    set_capabilities,
    set_env,
    set_id_mappings,
    set_resources,
    set_rlimit,
    set_user,
)
from support.schemas import runtime_validator

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def config_validator() -> jsonschema.protocols.Validator:
    return runtime_validator("config-schema.json")


def docker_config() -> dict[str, Any]:
    return json.loads((DATA / "docker-bundle-config.json").read_text())


def schema_errors(validator: jsonschema.protocols.Validator, config: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(config)
    ]


def test_schema_refs_resolve(config_validator: jsonschema.protocols.Validator) -> None:
    # a $ref into defs.json must be followed, not silently skipped
    assert schema_errors(config_validator, {"ociVersion": 1})


def test_docker_config_is_valid(config_validator: jsonschema.protocols.Validator) -> None:
    assert schema_errors(config_validator, docker_config()) == []


def test_default_config_is_valid(config_validator: jsonschema.protocols.Validator) -> None:
    assert schema_errors(config_validator, default_config(["sh"])) == []
    assert schema_errors(config_validator, default_config(["sh"], terminal=True)) == []


def test_tweaked_config_is_valid(config_validator: jsonschema.protocols.Validator) -> None:
    config = default_config(["/probe"], root_path="/abs/rootfs", readonly=False)
    set_env(config, "FOO", "bar")
    set_user(config, 1000, 1000, additional_gids=[10, 20], umask=0o077)
    set_capabilities(config, ["CAP_CHOWN"])
    set_rlimit(config, "RLIMIT_NPROC", 10, 20)
    set_id_mappings(config, 100000, 100000)
    add_mount(config, "/data", "/tmp")
    add_hook(config, "prestart", "/bin/true", args=["true"], timeout=5)
    set_resources(config, pids={"limit": 10}, memory={"limit": 64 << 20})
    assert schema_errors(config_validator, config) == []


def test_docker_config_parses() -> None:
    spec = parse_config(docker_config())
    assert spec.oci_version == "1.0.2-dev"
    assert spec.hostname == "542d01f7b8eb"
    assert spec.root is not None and spec.root.path == "<data-root>/..."
    assert spec.root.readonly is False

    process = spec.process
    assert process is not None
    assert process.args == ("true",)
    assert process.cwd == "/tmp"
    assert "FOO=bar" in process.env
    assert process.terminal is False
    assert (process.user.uid, process.user.gid, process.user.additional_gids) == (0, 0, (0,))
    assert process.capabilities is not None
    assert len(process.capabilities.bounding) == 14
    assert "CAP_NET_RAW" in process.capabilities.effective
    assert process.capabilities.ambient == ()
    assert process.oom_score_adj == 0

    assert [m.destination for m in spec.mounts] == [
        "/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm",
        "/etc/resolv.conf", "/etc/hostname", "/etc/hosts",
    ]
    assert spec.mounts[0] == Mount(destination="/proc", type="proc", source="proc",
                                   options=("nosuid", "noexec", "nodev"))
    assert spec.mounts[-1].type == "bind"
    assert spec.mounts[-1].options == ("rbind", "rprivate")

    (hook,) = spec.hooks.prestart
    assert hook.path == "/proc/20460/exe"
    assert hook.args[0] == "libnetwork-setkey"
    assert spec.hooks.poststart == ()

    linux = spec.linux
    assert linux is not None
    assert [n.type for n in linux.namespaces] == ["mount", "network", "uts", "pid", "ipc"]
    assert linux.cgroups_path == "/docker/<container-id>"
    assert dict(linux.sysctl)["net.ipv4.ip_unprivileged_port_start"] == "0"
    assert "/proc/kcore" in linux.masked_paths
    assert "/proc/sys" in linux.readonly_paths
    resources = linux.resources
    assert resources is not None
    assert resources.memory is not None
    assert (resources.memory.limit, resources.memory.swap) == (64 << 20, 128 << 20)
    assert resources.memory.disable_oom_killer is False
    assert resources.pids is not None and resources.pids.limit == 100
    assert resources.cpu is not None and resources.cpu.shares == 0
    assert resources.devices[0].allow is False
    assert resources.devices[0].type == "a"
    assert (resources.devices[1].type, resources.devices[1].major,
            resources.devices[1].minor) == ("c", 1, 5)
    seccomp = linux.seccomp
    assert seccomp is not None
    assert seccomp.default_action == "SCMP_ACT_ERRNO"
    assert "SCMP_ARCH_X86_64" in seccomp.architectures
    assert seccomp.syscalls[0].action == "SCMP_ACT_ALLOW"
    assert "read" in seccomp.syscalls[0].names
    assert any(rule.args for rule in seccomp.syscalls)


def test_default_config_parses() -> None:
    spec = parse_config(default_config(["/probe", "-o", "/tmp/x"]))
    assert spec.root is not None
    assert (spec.root.path, spec.root.readonly) == ("rootfs", True)
    process = spec.process
    assert process is not None
    assert process.args == ("/probe", "-o", "/tmp/x")
    assert process.terminal is False
    assert process.cwd == "/"
    assert process.no_new_privileges is True
    assert process.rlimits == (Rlimit(type="RLIMIT_NOFILE", hard=1024, soft=1024),)
    assert process.capabilities is not None
    assert process.capabilities.bounding == DEFAULT_CAPABILITIES
    assert process.capabilities.ambient == DEFAULT_CAPABILITIES
    assert spec.linux is not None
    assert set(spec.linux.namespaces) == {
        Namespace(type=t) for t in ("pid", "network", "ipc", "uts", "mount")
    }
    assert [m.destination for m in spec.mounts][:2] == ["/proc", "/dev"]
    assert spec.hostname == "estiba"


def test_terminal_config_parses() -> None:
    spec = parse_config(default_config(["sh"], terminal=True))
    assert spec.process is not None
    assert spec.process.terminal is True
    assert "TERM=xterm" in spec.process.env


def _set(path: str, value: Any) -> Any:
    """An edit that sets a dotted path (list indexes as numbers) to value."""
    def edit(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = config
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return edit


def _delete(path: str) -> Any:
    def edit(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = config
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]
    return edit


# (edit, what the message must name); each is also refused by the schema
MALFORMED = {
    "ociVersion missing": (_delete("ociVersion"), "ociVersion: required"),
    "ociVersion a number": (_set("ociVersion", 1), "ociVersion"),
    "process.cwd missing": (_delete("process.cwd"), "process.cwd: required"),
    "process.args a string": (_set("process.args", "sh"), "process.args"),
    "process.env item a number": (_set("process.env", [1]), "process.env[0]"),
    "process.terminal a string": (_set("process.terminal", "yes"), "process.terminal"),
    "process.user.uid a string": (_set("process.user.uid", "0"), "process.user.uid"),
    "process.capabilities.bounding a string":
        (_set("process.capabilities.bounding", "CAP_KILL"), "process.capabilities.bounding"),
    "process.rlimits[0].hard missing":
        (_delete("process.rlimits.0.hard"), "process.rlimits[0].hard"),
    "root.path missing": (_delete("root.path"), "root.path"),
    "root.readonly a string": (_set("root.readonly", "true"), "root.readonly"),
    "hostname a number": (_set("hostname", 5), "hostname"),
    "mounts an object": (_set("mounts", {}), "mounts"),
    "mounts[1].options a string": (_set("mounts.1.options", "ro"), "mounts[1].options"),
    "mounts[0].destination missing":
        (_delete("mounts.0.destination"), "mounts[0].destination"),
    "linux.namespaces a string": (_set("linux.namespaces", "pid"), "linux.namespaces"),
    "linux.namespaces[2].type missing":
        (_delete("linux.namespaces.2.type"), "linux.namespaces[2].type"),
    "linux.maskedPaths a string": (_set("linux.maskedPaths", "/proc/kcore"),
                                   "linux.maskedPaths"),
    "linux.resources.devices[0].allow a string":
        (_set("linux.resources.devices.0.allow", "no"), "linux.resources.devices[0].allow"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_config_is_refused(case: str) -> None:
    edit, where = MALFORMED[case]
    config = default_config(["sh"])
    edit(config)
    with pytest.raises(InvalidArgument) as info:
        parse_config(config)
    assert where in str(info.value)


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_config_breaks_the_schema(
    case: str, config_validator: jsonschema.protocols.Validator,
) -> None:
    # the parser refuses no more than the schema does: each case is invalid there too
    edit, _ = MALFORMED[case]
    config = default_config(["sh"])
    edit(config)
    assert schema_errors(config_validator, config)


@pytest.mark.parametrize("document", [None, [], "config", 3])
def test_non_object_config_is_refused(document: Any) -> None:
    with pytest.raises(InvalidArgument, match="^config: expected an object"):
        parse_config(document)


def test_docker_config_malformed_deep() -> None:
    config = docker_config()
    bad = copy.deepcopy(config)
    bad["linux"]["resources"]["memory"]["limit"] = "64m"
    with pytest.raises(InvalidArgument, match=r"linux\.resources\.memory\.limit"):
        parse_config(bad)
    bad = copy.deepcopy(config)
    bad["linux"]["seccomp"]["syscalls"][0]["names"] = "read"
    with pytest.raises(InvalidArgument, match=r"linux\.seccomp\.syscalls\[0\]\.names"):
        parse_config(bad)
    bad = copy.deepcopy(config)
    bad["hooks"]["prestart"][0]["args"] = "libnetwork-setkey"
    with pytest.raises(InvalidArgument, match=r"hooks\.prestart\[0\]\.args"):
        parse_config(bad)
