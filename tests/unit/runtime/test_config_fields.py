"""Every field of a Linux config.json is honoured or refused by name, never silently
ignored: the schema's properties are walked and each must be classified in FIELDS.

- ``Honoured(test)``: the runtime applies it; ``test`` (``path::name`` under tests/)
  shows it.
- ``Refused(patch)``: ``patch`` sets it in a default config, and validation raises an
  error of the taxonomy naming the field. ``at`` says where: ``create`` (config.json)
  or ``exec`` (``exec --process``); refused resources are refused by ``update`` too.
- ``Inert(reason)``: accepted without effect, by definition.

An entry covers its field and every field below it; the most specific entry wins. A field
added to the schema later fails ``test_every_field_of_the_schema_is_classified`` until it
is classified here.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from estiba.errors import InvalidArgument, Unimplemented
from estiba.kernel import consts as k
from estiba.kernel.fake import Executed, RecordingKernel
from estiba.oci.runtime_config import parse_config, parse_process, parse_resources
from estiba.runtime.plan import (
    parse_node_list,
    plan_init,
    plan_memory_policy,
    plan_personality,
    plan_process,
)
from estiba.runtime.process import finish_and_exec
from estiba.runtime.validate import validate, validate_process, validate_resources
from support.bundle import default_config
from support.schemas import SCHEMA_DIR

TESTS = Path(__file__).resolve().parents[2]
DATA = TESTS / "data"


class Honoured:
    def __init__(self, test: str) -> None:
        self.test = test


class Refused:
    def __init__(self, patch: Callable[[dict[str, Any]], object], at: str = "create") -> None:
        self.patch = patch
        self.at = at


class Inert:
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], object]:
    """A patch setting the dotted ``path`` of the config to ``value``."""
    def patch(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = config
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = value
    return patch


def _mount_with(key: str) -> Callable[[dict[str, Any]], object]:
    mapping = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    return lambda config: config["mounts"].append(
        {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind"],
         key: mapping})


RUN = "integration/runtime/test_run.py::"
SCHED = "integration/runtime/test_process_settings.py::"
CGROUPS = "unit/cgroups/test_cgroup_resources.py::"
SECCOMP = "unit/test_seccomp.py::"
HERE = "unit/runtime/test_config_fields.py::"
OTHER_PLATFORM = Inert("another platform's section: nothing of it applies on Linux")

FIELDS: dict[str, Honoured | Refused | Inert] = {
    "ociVersion": Inert("the spec version the document claims; the fields themselves are "
                        "what is checked, as runc does"),
    "hooks": Honoured("integration/runtime/test_hooks.py::test_lifecycle_hooks"),
    "hooks.prestart[].args": Honoured("integration/runtime/test_hooks.py::"
                                      "test_hook_args_and_env"),
    "hooks.prestart[].timeout": Honoured("integration/runtime/test_hooks.py::test_hook_timeout"),
    "annotations": Honoured("integration/runtime/test_hooks.py::"
                            "test_annotations_reach_the_hooks"),
    "hostname": Honoured(RUN + "test_the_process_is_pid_1_of_new_namespaces"),
    "domainname": Honoured(RUN + "test_sysctl_and_domainname"),
    "mounts": Honoured(RUN + "test_default_mounts"),
    "mounts[].uidMappings": Refused(_mount_with("uidMappings")),
    "mounts[].gidMappings": Refused(_mount_with("gidMappings")),
    "root.path": Honoured("integration/runtime/test_lifecycle.py::"
                          "test_create_start_kill_delete"),
    "root.readonly": Honoured(RUN + "test_readonly_root"),
    "process.args": Honoured(RUN + "test_exit_status_is_the_containers"),
    "process.commandLine": Inert("Windows only"),
    "process.consoleSize": Honoured("integration/runtime/test_terminal.py::"
                                    "test_terminal_container"),
    "process.cwd": Honoured(RUN + "test_a_missing_cwd_is_made"),
    "process.env": Honoured(RUN + "test_environment_user_and_limits"),
    "process.terminal": Honoured("integration/runtime/test_terminal.py::"
                                 "test_terminal_container"),
    "process.user": Honoured(RUN + "test_environment_user_and_limits"),
    "process.user.username": Inert("Windows only"),
    "process.capabilities": Honoured(RUN + "test_capabilities_are_exactly_the_configured_sets"),
    "process.capabilities.ambient": Honoured(
        RUN + "test_ambient_capabilities_for_a_non_root_user"),
    "process.apparmorProfile": Refused(_set("process.apparmorProfile", "docker-default")),
    "process.oomScoreAdj": Honoured(SCHED + "test_io_priority_scheduler_and_oom_score_of_the_init"),
    "process.selinuxLabel": Refused(_set("process.selinuxLabel",
                                         "system_u:system_r:container_t:s0")),
    "process.ioPriority": Honoured(SCHED + "test_io_priority_scheduler_and_oom_score_of_the_init"),
    "process.noNewPrivileges": Honoured("integration/runtime/test_escapes.py::"
                                        "test_no_new_privs_keeps_a_setuid_binary_from_raising_"
                                        "privileges"),
    "process.scheduler": Honoured(SCHED + "test_io_priority_scheduler_and_oom_score_of_the_init"),
    "process.scheduler.priority": Honoured(SCHED + "test_a_real_time_policy_with_its_priority"),
    "process.scheduler.flags": Refused(_set("process.scheduler", {
        "policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_RESET_ON_FORK"]})),
    "process.scheduler.runtime": Refused(_set("process.scheduler", {
        "policy": "SCHED_OTHER", "runtime": 1000})),
    "process.scheduler.deadline": Refused(_set("process.scheduler", {
        "policy": "SCHED_OTHER", "deadline": 1000})),
    "process.scheduler.period": Refused(_set("process.scheduler", {
        "policy": "SCHED_OTHER", "period": 1000})),
    "process.rlimits": Honoured(RUN + "test_environment_user_and_limits"),
    # not applicable to the init (runtime-spec config.md), so inert in config.json
    "process.execCPUAffinity": Refused(_set("process.execCPUAffinity", {"final": "0"}),
                                       at="exec"),
    "linux.devices": Honoured("unit/runtime/test_plan.py::test_default_devices_and_config_devices"),
    "linux.netDevices": Refused(_set("linux.netDevices", {"eth1": {"name": "eth1"}})),
    "linux.uidMappings": Honoured("integration/runtime/test_userns.py::"
                                  "test_root_inside_is_the_mapped_host_uid"),
    "linux.gidMappings": Honoured("integration/runtime/test_userns.py::"
                                  "test_root_inside_is_the_mapped_host_uid"),
    "linux.namespaces": Honoured(RUN + "test_the_process_is_pid_1_of_new_namespaces"),
    "linux.namespaces[].path": Honoured(RUN + "test_joining_another_containers_namespaces"),
    # cgroup v2 only; refused on v1 (test_v1_refuses_unified)
    "linux.resources.unified": Honoured(CGROUPS + "test_v2_unified_written_last_as_given"),
    "linux.resources.devices": Honoured(RUN + "test_default_devices_work_and_others_are_denied"),
    "linux.resources.pids": Honoured("integration/runtime/test_lifecycle.py::"
                                     "test_limits_are_enforced"),
    # leaf weights are v1 only; refused on v2 (test_v2_leaf_weight_unavailable)
    "linux.resources.blockIO": Honoured(CGROUPS + "test_v1_blkio_files"),
    "linux.resources.cpu": Honoured(CGROUPS + "test_v1_cpu_files_period_before_quota"),
    "linux.resources.cpu.burst": Refused(_set("linux.resources.cpu", {"burst": 10000})),
    "linux.resources.hugepageLimits": Honoured(CGROUPS + "test_v1_hugetlb"),
    # swappiness and disableOOMKiller are v1 only; refused on v2
    # (test_v2_memory_settings_v2_lacks)
    "linux.resources.memory": Honoured(CGROUPS + "test_v1_memory_files"),
    "linux.resources.memory.kernel": Inert("deprecated, NOT RECOMMENDED: the spec lets "
                                           "runtimes ignore it, runc does, cgroup v2 has no "
                                           "such limit, and dockerd may still send it"),
    "linux.resources.memory.kernelTCP": Refused(_set("linux.resources.memory",
                                                     {"kernelTCP": 1 << 20})),
    "linux.resources.memory.useHierarchy": Refused(_set("linux.resources.memory",
                                                        {"useHierarchy": False})),
    # at create a new cgroup has no usage to check against: only update checks
    "linux.resources.memory.checkBeforeUpdate": Honoured(
        "integration/runtime/test_update_check.py::"
        "test_check_before_update_refuses_a_limit_below_the_usage"),
    "linux.resources.network": Refused(_set("linux.resources.network", {"classID": 1})),
    "linux.resources.rdma": Refused(_set("linux.resources.rdma",
                                         {"mlx5_0": {"hcaHandles": 3}})),
    "linux.cgroupsPath": Honoured(RUN + "test_the_container_is_in_its_cgroup"),
    "linux.rootfsPropagation": Honoured(HERE + "test_rootfs_propagation_is_planned"),
    "linux.seccomp": Honoured(RUN + "test_seccomp_profile_is_in_force"),
    "linux.seccomp.defaultErrnoRet": Honoured(SECCOMP + "test_default_action"),
    "linux.seccomp.flags": Honoured(SECCOMP + "test_architectures_and_flags"),
    "linux.seccomp.architectures": Honoured(SECCOMP + "test_architectures_and_flags"),
    "linux.seccomp.syscalls[].args": Honoured(SECCOMP + "test_operators"),
    "linux.seccomp.listenerPath": Refused(_set("linux.seccomp", {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/listener.sock"})),
    "linux.seccomp.listenerMetadata": Refused(_set("linux.seccomp", {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"})),
    "linux.sysctl": Honoured(RUN + "test_sysctl_and_domainname"),
    "linux.maskedPaths": Honoured("integration/runtime/test_security.py::"
                                  "test_masked_and_readonly_paths"),
    "linux.readonlyPaths": Honoured("integration/runtime/test_security.py::"
                                    "test_masked_and_readonly_paths"),
    "linux.mountLabel": Refused(_set("linux.mountLabel", "system_u:object_r:container_file_t")),
    "linux.intelRdt": Refused(_set("linux.intelRdt", {"closID": "guaranteed_group"})),
    "linux.memoryPolicy": Honoured(SCHED + "test_memory_policy_of_the_init_and_of_exec"),
    "linux.personality": Honoured(SCHED + "test_personality_of_the_init_and_of_exec"),
    "linux.personality.flags": Refused(_set("linux.personality", {
        "domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]})),
    "linux.timeOffsets": Refused(_set("linux.timeOffsets", {"monotonic": {"secs": 10}})),
    "solaris": OTHER_PLATFORM,
    "windows": OTHER_PLATFORM,
    "vm": OTHER_PLATFORM,
    "zos": OTHER_PLATFORM,
    "freebsd": OTHER_PLATFORM,
}


# --- the schema's fields -------------------------------------------------------------

def _schemas() -> dict[str, Any]:
    return {p.name: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.json")}


def _resolve(docs: dict[str, Any], ref: str, current: str) -> tuple[Any, str] | None:
    name, _, fragment = ref.partition("#")
    name = name or current
    if name not in docs:
        return None  # another platform's file, not shipped with the Linux schema
    node = docs[name]
    for part in fragment.strip("/").split("/"):
        node = node[part]
    return node, name


def _fields(docs: dict[str, Any], node: Any, current: str, path: str) -> Iterator[str]:
    """The dotted paths of the leaf fields below ``node`` (``[]``: an array's items,
    ``{}``: a map's values), or ``path`` itself when it is a leaf or another platform's."""
    while "$ref" in node:
        resolved = _resolve(docs, node["$ref"], current)
        if resolved is None:
            yield path
            return
        node, current = resolved
    properties: dict[str, tuple[Any, str]] = {}
    for part in node.get("allOf", []) + node.get("anyOf", []):
        sub, where = part, current
        while "$ref" in sub:
            sub, where = _resolve(docs, sub["$ref"], where)  # type: ignore[misc]
        properties.update({key: (value, where) for key, value in
                           sub.get("properties", {}).items()})
    properties.update({key: (value, current) for key, value in
                       node.get("properties", {}).items()})
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        items = node["items"]
        inner = list(_fields(docs, items, current, path + "[]"))
        yield from (path if p == path + "[]" else p for p in inner)
    elif isinstance(node.get("additionalProperties"), dict):
        yield from _fields(docs, node["additionalProperties"], current, path + "{}")
    elif properties:
        for key, (value, where) in properties.items():
            yield from _fields(docs, value, where, f"{path}.{key}" if path else key)
    else:
        yield path


def schema_fields() -> list[str]:
    docs = _schemas()
    return list(_fields(docs, docs["config-schema.json"], "config-schema.json", ""))


def _covers(entry: str, field: str) -> bool:
    return field == entry or any(field.startswith(entry + sep) for sep in (".", "[]", "{}"))


def classification(field: str) -> tuple[str, Honoured | Refused | Inert] | None:
    """The most specific entry of FIELDS covering ``field``."""
    entries = [e for e in FIELDS if _covers(e, field)]
    if not entries:
        return None
    entry = max(entries, key=len)
    return entry, FIELDS[entry]


def test_every_field_of_the_schema_is_classified() -> None:
    fields = schema_fields()
    assert "linux.resources.memory.limit" in fields and "process.scheduler.policy" in fields
    missing = [f for f in fields if classification(f) is None]
    assert not missing, f"classify these fields in FIELDS: {missing}"


def test_every_entry_names_a_field_of_the_schema() -> None:
    fields = schema_fields()
    stale = [e for e in FIELDS if not any(_covers(e, f) for f in fields)]
    assert not stale, f"not in the schema: {stale}"


@pytest.mark.parametrize("entry", [e for e, c in FIELDS.items() if isinstance(c, Honoured)])
def test_honoured_fields_name_a_test_that_exists(entry: str) -> None:
    honoured = FIELDS[entry]
    assert isinstance(honoured, Honoured)
    path, _, name = honoured.test.partition("::")
    source = (TESTS / path).read_text()
    assert re.search(rf"^def {re.escape(name)}\(", source, re.M), honoured.test


# --- refusals ------------------------------------------------------------------------

def _config(patch: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    config = default_config(["true"])
    patch(config)
    return config


def _refusal(entry: str, refused: Refused) -> str:
    config = _config(refused.patch)
    with pytest.raises((Unimplemented, InvalidArgument)) as raised:
        if refused.at == "exec":
            validate_process(parse_process(config["process"]))
        else:
            validate(parse_config(config), "/bundle")
    return str(raised.value)


@pytest.mark.parametrize("entry", [e for e, c in FIELDS.items() if isinstance(c, Refused)])
def test_refused_fields_are_refused_by_name(entry: str) -> None:
    refused = FIELDS[entry]
    assert isinstance(refused, Refused)
    message = _refusal(entry, refused)
    assert entry.rsplit(".", 1)[-1].split("[")[0] in message, message


@pytest.mark.parametrize("entry", [e for e, c in FIELDS.items()
                                   if isinstance(c, Refused) and c.at == "create"
                                   and e.startswith("linux.resources.")])
def test_refused_resources_are_refused_by_update_too(entry: str) -> None:
    refused = FIELDS[entry]
    assert isinstance(refused, Refused)
    resources = _config(refused.patch)["linux"]["resources"]
    with pytest.raises(Unimplemented, match=entry.rsplit(".", 1)[-1]):
        validate_resources(parse_resources(resources), "resources")


def _valid(patch: Callable[[dict[str, Any]], object]) -> None:
    validate(parse_config(_config(patch)), "/bundle")


def test_dockerds_bundle_is_accepted() -> None:
    config = json.loads((DATA / "docker-bundle-config.json").read_text())
    validate(parse_config(config), "/bundle")


def test_what_asks_for_nothing_is_accepted() -> None:
    _valid(_set("process.apparmorProfile", "unconfined"))
    _valid(_set("linux.memoryPolicy", {"mode": "MPOL_DEFAULT"}))
    _valid(_set("linux.memoryPolicy", {}))
    _valid(_set("linux.resources.memory", {"kernelTCP": 0, "kernel": 1 << 20,
                                           "useHierarchy": True, "checkBeforeUpdate": True}))
    _valid(_set("linux.resources.cpu", {"burst": 0}))
    _valid(_set("linux.resources.network", {"priorities": []}))
    _valid(_set("process.commandLine", "cmd.exe /c dir"))
    _valid(_set("process.user", {"uid": 0, "gid": 0, "username": "ContainerUser"}))


def test_exec_cpu_affinity_is_inert_for_the_init_refused_for_exec() -> None:
    config = _config(_set("process.execCPUAffinity", {"initial": "0", "final": "0-1"}))
    validate(parse_config(config), "/bundle")
    with pytest.raises(Unimplemented, match=r"^process\.execCPUAffinity is not supported"):
        validate_process(parse_process(config["process"]))


def test_a_time_namespace_is_refused_as_unsupported() -> None:
    config = default_config(["true"])
    config["linux"]["namespaces"].append({"type": "time"})
    with pytest.raises(Unimplemented, match="time namespaces are not supported"):
        validate(parse_config(config), "/bundle")


@pytest.mark.parametrize(("scheduler", "message"), [
    ({"policy": "SCHED_DEADLINE"}, "policy: SCHED_DEADLINE is not supported"),
    ({"policy": "SCHED_ISO"}, "policy: SCHED_ISO is not supported"),
    ({"policy": "SCHED_FIFO"}, "priority: SCHED_FIFO needs 1 to 99"),
    ({"policy": "SCHED_OTHER", "priority": 5}, "priority: SCHED_OTHER takes 0"),
    ({"policy": "SCHED_BATCH", "nice": 20}, "nice: 20 is not -20 to 19"),
    ({"policy": "SCHED_NOPE"}, "policy: unknown policy"),
])
def test_scheduler_values_the_kernel_would_refuse(scheduler: dict, message: str) -> None:
    with pytest.raises((Unimplemented, InvalidArgument), match=f"process.scheduler.{message}"):
        validate(parse_config(_config(_set("process.scheduler", scheduler))), "/bundle")


@pytest.mark.parametrize(("io_priority", "message"), [
    ({"class": "IOPRIO_CLASS_NONE"}, "class: unknown class"),
    ({"class": "IOPRIO_CLASS_BE", "priority": 8}, "priority: 8 is not 0 to 7"),
])
def test_io_priority_values_the_kernel_would_refuse(io_priority: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=f"process.ioPriority.{message}"):
        validate(parse_config(_config(_set("process.ioPriority", io_priority))), "/bundle")


def test_seccomp_notify_is_refused_before_anything_is_compiled() -> None:
    with pytest.raises(Unimplemented, match="linux.seccomp.listenerPath"):
        _valid(_set("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW",
                                      "listenerPath": "/run/l.sock"}))


# --- what is newly honoured, planned and executed --------------------------------------

def test_rootfs_propagation_is_planned() -> None:
    config = default_config(["true"])
    spec = parse_config(config)
    assert plan_init(spec, "/rootfs", {}, "").root_propagation == k.MS_SLAVE | k.MS_REC
    for name, flag in (("private", k.MS_PRIVATE), ("shared", k.MS_SHARED),
                       ("slave", k.MS_SLAVE), ("unbindable", k.MS_UNBINDABLE)):
        config["linux"]["rootfsPropagation"] = name
        plan = plan_init(parse_config(config), "/rootfs", {}, "")
        assert plan.root_propagation & flag, name


def test_io_priority_and_scheduler_are_planned_as_kernel_numbers() -> None:
    process = copy.deepcopy(default_config(["true"])["process"])
    process["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE"}
    process["scheduler"] = {"policy": "SCHED_RR", "priority": 10, "nice": -5}
    plan = plan_process(parse_process(process), None, last_cap=40)
    assert plan.io_priority == (3, 0)
    assert plan.scheduler == (2, 10, -5)
    assert plan_process(parse_process(default_config(["true"])["process"]), None,
                        last_cap=40).io_priority is None


@pytest.fixture
def process_state() -> Iterator[str]:
    """finish_and_exec changes the calling process's cwd, umask and two signal
    dispositions before it execs; put them back."""
    cwd = os.getcwd()
    umask = os.umask(0o022)
    os.umask(umask)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGPIPE, signal.SIGXFSZ)}
    yield cwd
    os.chdir(cwd)
    os.umask(umask)
    for s, handler in handlers.items():
        signal.signal(s, handler)


def test_io_priority_and_scheduler_are_set_while_privileged(process_state: str) -> None:
    process = default_config(["/bin/sh"])["process"]
    process["ioPriority"] = {"class": "IOPRIO_CLASS_RT", "priority": 1}
    process["scheduler"] = {"policy": "SCHED_BATCH", "nice": 4}
    process["user"] = {"uid": 1000, "gid": 1000}
    process["cwd"] = process_state
    plan = plan_process(parse_process(process), None, last_cap=40)
    kernel = RecordingKernel()
    with pytest.raises(Executed):
        finish_and_exec(kernel, plan)  # type: ignore[arg-type]
    names = kernel.names()
    assert kernel.called("set_io_priority") == [(1, 1)]
    assert kernel.called("set_scheduler") == [(3, 0, 4)]
    # before the capabilities go and the user changes
    assert names.index("set_scheduler") < names.index("drop_bounding") \
        < names.index("set_ids")


def test_personality_is_planned_for_the_init_and_for_exec() -> None:
    config = default_config(["true"])
    config["linux"]["personality"] = {"domain": "LINUX32"}
    spec = parse_config(config)
    validate(spec, "/bundle")
    assert plan_personality(spec) == 0x0008
    assert plan_init(spec, "/rootfs", {}, "").process.personality == 0x0008
    assert plan_personality(parse_config(default_config(["true"]))) is None


def test_an_unknown_personality_domain_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="linux.personality.domain: unknown domain"):
        _valid(_set("linux.personality", {"domain": "SVR4"}))


def test_memory_policy_is_planned_for_the_init_and_for_exec() -> None:
    config = default_config(["true"])
    config["linux"]["memoryPolicy"] = {"mode": "MPOL_INTERLEAVE", "nodes": "0-2,5",
                                       "flags": ["MPOL_F_RELATIVE_NODES"]}
    spec = parse_config(config)
    validate(spec, "/bundle")
    assert plan_memory_policy(spec) == (3 | 1 << 14, (0, 1, 2, 5))
    assert plan_init(spec, "/rootfs", {}, "").process.memory_policy == plan_memory_policy(spec)
    config["linux"]["memoryPolicy"] = {"mode": "MPOL_DEFAULT"}
    assert plan_memory_policy(parse_config(config)) is None


def test_node_lists() -> None:
    assert parse_node_list("") == ()
    assert parse_node_list("0") == (0,)
    assert parse_node_list("3,0-1, 1") == (0, 1, 3)
    for bad in ("a", "1-", "2-1", "-1", "0-5000"):
        with pytest.raises(InvalidArgument, match="linux.memoryPolicy.nodes"):
            parse_node_list(bad)


@pytest.mark.parametrize(("policy", "message"), [
    ({"mode": "MPOL_NOPE"}, ".mode: unknown mode"),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NOPE"]}, ".flags: unknown flag"),
    ({"mode": "MPOL_BIND"}, ".nodes: MPOL_BIND needs nodes"),
    ({"mode": "MPOL_LOCAL", "nodes": "0"}, ": MPOL_LOCAL takes no nodes"),
    ({"mode": "MPOL_DEFAULT", "flags": ["MPOL_F_STATIC_NODES"]}, ": MPOL_DEFAULT takes no"),
    ({"mode": "MPOL_BIND", "nodes": "0",
      "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}, ".flags: MPOL_F_STATIC"),
])
def test_memory_policies_the_kernel_would_refuse(policy: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=f"linux.memoryPolicy{message}"):
        _valid(_set("linux.memoryPolicy", policy))
