"""Seccomp filters loaded for real.

Each test forks a child, which loads a filter with ``estiba.kernel.seccomp.load`` (a filter
can never be removed, so never in the pytest process), probes system calls and reports
what they did through a pipe as JSON; the parent asserts on the report and on how the
child ended. The child always leaves through ``os._exit``.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import resource
import signal
from pathlib import Path

import pytest

from estiba.errors import InvalidArgument
from estiba.kernel.seccomp import (
    ACT_ALLOW,
    ACT_ERRNO,
    CMP_EQ,
    Comparison,
    FilterPlan,
    FilterRule,
    expand,
    load,
)
from estiba.oci.runtime_config import Seccomp, SeccompArg, SeccompRule, parse_config

EPERM, EACCES, ENOSYS, EROFS = 1, 13, 38, 30
CLONE_NEWUSER = 0x10000000

# x86_64 numbers of the calls that glibc has no wrapper for, or that Python does not expose.
NR = {"getpid": 39, "personality": 135, "mount": 165, "kexec_load": 246, "add_key": 248,
      "keyctl": 250, "unshare": 272}


def _seccomp_reason() -> str:
    if os.geteuid() != 0:
        return "loading a seccomp filter without no_new_privs needs root (CAP_SYS_ADMIN)"
    if platform.machine() != "x86_64":
        return "the probes use x86_64 syscall numbers"
    try:
        ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return "libseccomp.so.2 is not installed"
    status = Path("/proc/self/status").read_text()
    if "\nSeccomp:" not in status:
        return "the kernel is built without seccomp"
    return ""


_REASON = _seccomp_reason()


def needs_seccomp(test):
    return pytest.mark.root(pytest.mark.skipif(bool(_REASON), reason=_REASON)(test))


# --- Docker's default profile, converted the way dockerd does -------------------------

DOCKER_PROFILE = Path(__file__).resolve().parents[1] / "data" / "seccomp-default.json"
DOCKER_CAPS = frozenset((
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
))


def docker_profile() -> dict:
    return json.loads(DOCKER_PROFILE.read_bytes())


def _kernel_at_least(kernel: tuple[int, int], version: str) -> bool:
    major, minor = version.split(".")[:2]
    return kernel >= (int(major), int(minor))


def docker_to_oci(profile: dict, caps: frozenset[str] = DOCKER_CAPS, goarch: str = "amd64",
                  native: str = "SCMP_ARCH_X86_64", kernel: tuple[int, int] | None = None) -> dict:
    """moby's profiles/seccomp setupSeccomp: the profile's archMap, includes and
    excludes resolved for one container (its bounding capabilities, Go's name of the host
    architecture, the host kernel), giving the OCI ``linux.seccomp`` object."""
    if kernel is None:
        major, minor = platform.release().split(".")[:2]
        kernel = (int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0))
    out: dict = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches: list[str] = []
    for entry in profile.get("archMap") or ():
        if entry["architecture"] == native:
            arches.append(entry["architecture"])
            arches.extend(entry.get("subArchitectures") or ())
    arches.extend(profile.get("architectures") or ())
    if arches:
        out["architectures"] = arches
    if profile.get("flags"):
        out["flags"] = profile["flags"]
    syscalls = []
    for call in profile.get("syscalls") or ():
        names = list(call.get("names") or ())
        if call.get("name"):
            names.append(call["name"])
        excludes, includes = call.get("excludes") or {}, call.get("includes") or {}
        if goarch in (excludes.get("arches") or ()):
            continue
        if any(cap in caps for cap in excludes.get("caps") or ()):
            continue
        if excludes.get("minKernel") and _kernel_at_least(kernel, excludes["minKernel"]):
            continue
        if includes.get("arches") and goarch not in includes["arches"]:
            continue
        if any(cap not in caps for cap in includes.get("caps") or ()):
            continue
        if includes.get("minKernel") and not _kernel_at_least(kernel, includes["minKernel"]):
            continue
        rule: dict = {"names": names, "action": call["action"]}
        if call.get("args"):
            rule["args"] = call["args"]
        if call.get("errnoRet") is not None:
            rule["errnoRet"] = call["errnoRet"]
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out


def docker_seccomp() -> Seccomp:
    config = {"ociVersion": "1.2.0", "linux": {"seccomp": docker_to_oci(docker_profile())}}
    return parse_config(config).linux.seccomp


def test_docker_profile_converts_like_dockerd():
    oci = docker_to_oci(docker_profile(), kernel=(6, 1))
    assert oci["defaultAction"] == "SCMP_ACT_ERRNO" and oci["defaultErrnoRet"] == EPERM
    assert oci["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    names = {n for rule in oci["syscalls"] for n in rule["names"]}
    assert {"arch_prctl", "modify_ldt", "chroot", "ptrace", "personality"} <= names
    assert not names & {"keyctl", "add_key", "mount", "unshare", "kexec_load", "bpf", "reboot",
                        "s390_runtime_instr", "arm_fadvise64_64"}
    clone = [r for r in oci["syscalls"] if "clone" in r["names"]]
    assert clone == [{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}]
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS} in oci["syscalls"]
    old = docker_to_oci(docker_profile(), kernel=(4, 4))
    assert "ptrace" not in {n for rule in old["syscalls"] for n in rule["names"]}


def test_docker_profile_expands():
    plan = expand(docker_seccomp())
    assert plan.default_action == ACT_ERRNO | EPERM
    assert plan.architectures == ("x86_64", "x86", "x32")
    assert FilterRule(syscall="clone3", action=ACT_ERRNO | ENOSYS) in plan.rules
    personality = [r.comparisons for r in plan.rules if r.syscall == "personality"]
    assert personality == [(Comparison(index=0, op=CMP_EQ, value=v),)
                           for v in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF)]


# --- running probes in a child ---------------------------------------------------------


def in_child(probe) -> tuple[int, dict | None]:
    """Fork, run ``probe()`` in the child and return (wait status, its report); the report
    is ``{"ok": result}`` or ``{"error": "Type: message"}``, None if the child died."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        try:
            os.close(read_end)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGSYS would dump core
            try:
                report = {"ok": probe()}
            except BaseException as exc:  # noqa: BLE001 - everything goes to the parent
                report = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    return status, json.loads(data) if data else None


def report_of(probe) -> object:
    status, report = in_child(probe)
    assert os.WIFEXITED(status), f"child ended with wait status {status:#x}"
    assert report is not None and "error" not in report, report
    return report["ok"]


def syscall(name: str, *args: int | bytes | None) -> tuple[int, int]:
    """The raw system call: (return value, errno, 0 on success)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ctypes.set_errno(0)
    converted = [ctypes.c_long(a) if isinstance(a, int) else ctypes.c_char_p(a) for a in args]
    rc = libc.syscall(ctypes.c_long(NR[name]), *converted)
    return rc, (ctypes.get_errno() if rc == -1 else 0)


def errno_of(name: str, *args: int | bytes | None) -> int:
    return syscall(name, *args)[1]


def oserror_of(call, *args) -> int:
    try:
        call(*args)
    except OSError as err:
        return err.errno
    return 0


def seccomp(default: str = "SCMP_ACT_ALLOW", *rules: SeccompRule, **fields) -> Seccomp:
    return Seccomp(default_action=default, syscalls=rules, **fields)


def loaded(config: Seccomp, probe):
    def run():
        load(expand(config))
        return probe()
    return run


# The dangerous probes are called with arguments that fail harmlessly without a filter
# (a missing mount point, an unknown key type), so only the filter can answer EPERM.
DOCKER_DENIED = {
    "keyctl": lambda: errno_of("keyctl", 0, -1, 0),  # KEYCTL_GET_KEYRING_ID, thread keyring
    "add_key": lambda: errno_of("add_key", b"estiba-no-such-type", b"k", None, 0, -1),
    "unshare": lambda: errno_of("unshare", CLONE_NEWUSER),
    "mount": lambda: errno_of("mount", b"none", b"/nonexistent-estiba-seccomp", b"tmpfs", 0,
                              None),
}


# --- the tests -------------------------------------------------------------------------


@needs_seccomp
def test_probes_without_a_filter_do_not_answer_eperm():
    got = report_of(lambda: {name: probe() for name, probe in DOCKER_DENIED.items()})
    assert EPERM not in got.values(), got


@needs_seccomp
def test_errno_rules():
    config = seccomp(
        "SCMP_ACT_ALLOW",
        SeccompRule(names=("getcwd", "uname"), action="SCMP_ACT_ERRNO", errno_ret=EROFS),
        SeccompRule(names=("mkdir", "mkdirat"), action="SCMP_ACT_ERRNO"),
    )
    got = report_of(loaded(config, lambda: {
        "getcwd": oserror_of(os.getcwd),
        "uname": oserror_of(os.uname),
        "mkdir": oserror_of(os.mkdir, "/nonexistent-estiba-seccomp/x"),
        "getpid": syscall("getpid")[0] == os.getpid(),
        "status": Path("/proc/self/status").read_text(),
    }))
    assert (got["getcwd"], got["uname"], got["mkdir"]) == (EROFS, EROFS, EPERM)
    assert got["getpid"] is True
    status = dict(line.split(":\t", 1) for line in got["status"].splitlines() if ":\t" in line)
    assert status["Seccomp"].strip() == "2"  # SECCOMP_MODE_FILTER
    assert status["NoNewPrivs"].strip() == "0"  # load() leaves no_new_privs to the runtime


@needs_seccomp
def test_docker_default_profile():
    def probe():
        report = {name: probe() for name, probe in DOCKER_DENIED.items()}
        # kexec_load with an invalid architecture in its flags: EINVAL if it ever got through
        report["kexec_load"] = errno_of("kexec_load", 0, 0, None, 0xDEAD0000)
        rc, err = syscall("getpid")
        report["getpid"] = (rc == os.getpid(), err)
        read_end, write_end = os.pipe()
        report["write"] = (os.write(write_end, b"estiba"), os.read(read_end, 16).decode())
        report["personality"] = [
            errno_of("personality", persona)
            for persona in (0xFFFFFFFF, 0, 8, 0x0040000, 0x20000, 0x20008, 0)
        ]
        return report

    got = report_of(loaded(docker_seccomp(), probe))
    for name in ("keyctl", "add_key", "unshare", "mount", "kexec_load"):
        assert got[name] == EPERM, (name, got)
    assert got["getpid"] == [True, 0]
    assert got["write"] == [6, "estiba"]
    # Docker allows the personalities 0, 8, 0x20000, 0x20008 and the query 0xffffffff only;
    # 0x0040000 (ADDR_NO_RANDOMIZE) is refused.
    assert got["personality"] == [0, 0, 0, EPERM, 0, 0, 0]


@needs_seccomp
def test_argument_filters():
    def deny_personality(*args: SeccompArg) -> SeccompRule:
        return SeccompRule(names=("personality",), action="SCMP_ACT_ERRNO", errno_ret=EACCES,
                           args=args)

    def personalities(*personas: int):
        return lambda: [errno_of("personality", p) for p in personas]

    # One comparison: anything but the query 0xffffffff is refused.
    only_query = seccomp("SCMP_ACT_ALLOW", deny_personality(
        SeccompArg(index=0, value=0xFFFFFFFF, op="SCMP_CMP_NE")))
    assert report_of(loaded(only_query, personalities(0xFFFFFFFF, 0, 8))) == [0, EACCES, EACCES]

    # Two comparisons of argument 0 are split into two rules, which the filter ORs.
    either = seccomp("SCMP_ACT_ALLOW", deny_personality(
        SeccompArg(index=0, value=8, op="SCMP_CMP_EQ"),
        SeccompArg(index=0, value=0x20000, op="SCMP_CMP_EQ")))
    assert report_of(loaded(either, personalities(8, 0x20000, 0, 0xFFFFFFFF))) == [
        EACCES, EACCES, 0, 0]

    # MASKED_EQ: value is the mask, value_two what the masked argument must equal.
    masked = seccomp("SCMP_ACT_ALLOW", deny_personality(
        SeccompArg(index=0, value=0xFF, op="SCMP_CMP_MASKED_EQ", value_two=8)))
    assert report_of(loaded(masked, personalities(0x20008, 8, 0x20000, 0))) == [
        EACCES, EACCES, 0, 0]

    # A range on argument 0 ANDed with a comparison of argument 1 (personality ignores its
    # second register, so the probe can set it).
    both = seccomp("SCMP_ACT_ALLOW", deny_personality(
        SeccompArg(index=0, value=0x20000, op="SCMP_CMP_GE"),
        SeccompArg(index=1, value=7, op="SCMP_CMP_EQ")))
    assert report_of(loaded(both, lambda: [
        errno_of("personality", persona, second)
        for persona, second in ((0x20000, 7), (0x20008, 7), (8, 7), (0x20000, 6))
    ])) == [EACCES, EACCES, 0, 0]


@needs_seccomp
@pytest.mark.parametrize("action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_TRAP"])
def test_actions_that_end_the_child_with_sigsys(action):
    config = seccomp("SCMP_ACT_ALLOW", SeccompRule(names=("getppid",), action=action))
    status, report = in_child(loaded(config, os.getppid))
    assert report is None
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


@needs_seccomp
def test_trace_without_a_tracer_fails_with_enosys_and_log_allows():
    config = seccomp(
        "SCMP_ACT_ALLOW",
        SeccompRule(names=("getcwd",), action="SCMP_ACT_TRACE"),
        SeccompRule(names=("uname",), action="SCMP_ACT_LOG"),
    )
    got = report_of(loaded(config, lambda: [oserror_of(os.getcwd), oserror_of(os.uname)]))
    assert got == [ENOSYS, 0]


@needs_seccomp
def test_default_errno_and_rules_for_unknown_syscalls():
    # The default action answers EACCES; rules allow what Python needs to report back. A
    # syscall this libseccomp has never heard of is skipped, as runc does.
    allowed = ("write", "exit_group", "exit", "brk", "mmap", "munmap", "mremap", "getpid",
               "rt_sigprocmask", "rt_sigaction", "futex", "close")
    config = Seccomp(
        default_action="SCMP_ACT_ERRNO", default_errno_ret=EACCES,
        syscalls=(SeccompRule(names=(*allowed, "estiba_no_such_syscall"),
                              action="SCMP_ACT_ALLOW"),),
    )
    got = report_of(loaded(config, lambda: [errno_of("getpid"), oserror_of(os.getcwd),
                                            errno_of("personality", 0xFFFFFFFF)]))
    assert got == [0, EACCES, EACCES]


@needs_seccomp
def test_load_reports_libseccomp_errors():
    bad_op = FilterPlan(default_action=ACT_ALLOW, rules=(FilterRule(
        syscall="keyctl", action=ACT_ERRNO | EPERM,
        comparisons=(Comparison(index=0, op=99, value=0),)),))
    got = report_of(lambda: _error_of(bad_op))
    assert got == ["InvalidArgument", "seccomp: add rule for keyctl: invalid argument"]


def _error_of(plan: FilterPlan) -> list[str]:
    try:
        load(plan)
    except InvalidArgument as err:
        return [type(err).__name__, str(err)]
    return []


@needs_seccomp
def test_flags():
    config = seccomp(
        "SCMP_ACT_ALLOW",
        SeccompRule(names=("getcwd",), action="SCMP_ACT_ERRNO"),
        flags=("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
               "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
    )
    assert report_of(loaded(config, lambda: oserror_of(os.getcwd))) == EPERM
