"""expand(): linux.seccomp → FilterPlan, without root or libseccomp."""

from __future__ import annotations

import subprocess
import sys

import pytest

from estiba.errors import InvalidArgument, Unimplemented
from estiba.kernel.seccomp import (
    ACT_ALLOW,
    ACT_ERRNO,
    ACT_KILL_PROCESS,
    ACT_KILL_THREAD,
    ACT_LOG,
    ACT_TRACE,
    ACT_TRAP,
    CMP_EQ,
    CMP_GE,
    CMP_GT,
    CMP_LE,
    CMP_LT,
    CMP_MASKED_EQ,
    CMP_NE,
    Comparison,
    FilterPlan,
    FilterRule,
    expand,
)
from estiba.oci.runtime_config import Seccomp, SeccompArg, SeccompRule, parse_config

EPERM, ENOSYS, EACCES = 1, 38, 13


def rule(*names: str, action: str = "SCMP_ACT_ERRNO", errno_ret: int | None = None,
         args: tuple[SeccompArg, ...] = ()) -> SeccompRule:
    return SeccompRule(names=names, action=action, errno_ret=errno_ret, args=args)


def allow_by_default(*rules: SeccompRule, **fields: object) -> Seccomp:
    return Seccomp(default_action="SCMP_ACT_ALLOW", syscalls=rules, **fields)


def test_header_values():
    # seccomp.h (libseccomp 2.5) is the authority; a typo here would load a wrong filter.
    assert (ACT_KILL_THREAD, ACT_KILL_PROCESS, ACT_TRAP) == (0, 0x80000000, 0x00030000)
    assert (ACT_ERRNO, ACT_TRACE, ACT_LOG, ACT_ALLOW) == (
        0x00050000, 0x7FF00000, 0x7FFC0000, 0x7FFF0000,
    )
    assert tuple(range(1, 8)) == (CMP_NE, CMP_LT, CMP_LE, CMP_EQ, CMP_GE, CMP_GT, CMP_MASKED_EQ)


@pytest.mark.parametrize(("name", "errno_ret", "code"), [
    ("SCMP_ACT_KILL", None, ACT_KILL_THREAD),
    ("SCMP_ACT_KILL_THREAD", None, ACT_KILL_THREAD),
    ("SCMP_ACT_KILL_PROCESS", None, ACT_KILL_PROCESS),
    ("SCMP_ACT_TRAP", None, ACT_TRAP),
    ("SCMP_ACT_ERRNO", None, ACT_ERRNO | EPERM),
    ("SCMP_ACT_ERRNO", ENOSYS, ACT_ERRNO | ENOSYS),
    ("SCMP_ACT_ERRNO", 0, ACT_ERRNO),  # errnoRet 0: the call "succeeds" without running
    ("SCMP_ACT_TRACE", None, ACT_TRACE | EPERM),
    ("SCMP_ACT_TRACE", 7, ACT_TRACE | 7),
    ("SCMP_ACT_LOG", None, ACT_LOG),
    ("SCMP_ACT_ALLOW", EACCES, ACT_ALLOW),  # errnoRet means nothing to other actions
])
def test_rule_actions(name, errno_ret, code):
    plan = expand(Seccomp(default_action="SCMP_ACT_KILL_PROCESS"
                          if code != ACT_KILL_PROCESS else "SCMP_ACT_ALLOW",
                          syscalls=(rule("getcwd", action=name, errno_ret=errno_ret),)))
    assert plan.rules == (FilterRule(syscall="getcwd", action=code),)


@pytest.mark.parametrize(("name", "errno_ret", "code"), [
    ("SCMP_ACT_ERRNO", None, ACT_ERRNO | EPERM),
    ("SCMP_ACT_ERRNO", ENOSYS, ACT_ERRNO | ENOSYS),
    ("SCMP_ACT_TRACE", None, ACT_TRACE | EPERM),
    ("SCMP_ACT_KILL", None, ACT_KILL_THREAD),
    ("SCMP_ACT_LOG", None, ACT_LOG),
])
def test_default_action(name, errno_ret, code):
    plan = expand(Seccomp(default_action=name, default_errno_ret=errno_ret))
    assert plan == FilterPlan(default_action=code)


def test_one_rule_per_name_in_order():
    plan = expand(allow_by_default(rule("getcwd", "uname"), rule("mkdir", errno_ret=EACCES)))
    assert [(r.syscall, r.action) for r in plan.rules] == [
        ("getcwd", ACT_ERRNO | EPERM), ("uname", ACT_ERRNO | EPERM), ("mkdir", ACT_ERRNO | EACCES),
    ]


def test_rules_with_the_default_action_are_skipped():
    plan = expand(Seccomp(
        default_action="SCMP_ACT_ERRNO", default_errno_ret=EPERM,
        syscalls=(
            rule("getpid", action="SCMP_ACT_ALLOW"),
            rule("keyctl"),  # ERRNO(EPERM) again: libseccomp would refuse it
            rule("add_key", errno_ret=EPERM),
            rule("clone3", errno_ret=ENOSYS),  # another errno is another action
        ),
    ))
    assert [(r.syscall, r.action) for r in plan.rules] == [
        ("getpid", ACT_ALLOW), ("clone3", ACT_ERRNO | ENOSYS),
    ]


@pytest.mark.parametrize(("op", "code"), [
    ("SCMP_CMP_NE", CMP_NE), ("SCMP_CMP_LT", CMP_LT), ("SCMP_CMP_LE", CMP_LE),
    ("SCMP_CMP_EQ", CMP_EQ), ("SCMP_CMP_GE", CMP_GE), ("SCMP_CMP_GT", CMP_GT),
    ("SCMP_CMP_MASKED_EQ", CMP_MASKED_EQ),
])
def test_operators(op, code):
    plan = expand(allow_by_default(
        rule("personality", args=(SeccompArg(index=0, value=0xFFFFFFFF, op=op, value_two=8),)),
    ))
    assert plan.rules[0].comparisons == (
        Comparison(index=0, op=code, value=0xFFFFFFFF, value_two=8),
    )


def test_comparisons_on_different_arguments_make_one_rule():
    args = (
        SeccompArg(index=0, value=2, op="SCMP_CMP_EQ"),
        SeccompArg(index=1, value=0o7, op="SCMP_CMP_MASKED_EQ", value_two=0o5),
    )
    plan = expand(allow_by_default(rule("socket", "connect", args=args)))
    both = (Comparison(index=0, op=CMP_EQ, value=2), Comparison(index=1, op=CMP_MASKED_EQ,
                                                                 value=7, value_two=5))
    assert plan.rules == (
        FilterRule(syscall="socket", action=ACT_ERRNO | EPERM, comparisons=both),
        FilterRule(syscall="connect", action=ACT_ERRNO | EPERM, comparisons=both),
    )


def test_comparisons_on_one_argument_are_split_into_rules():
    # libseccomp cannot AND two comparisons of one argument: runc adds one rule per
    # comparison (the filter ORs them), for every comparison of the rule.
    args = (
        SeccompArg(index=0, value=8, op="SCMP_CMP_EQ"),
        SeccompArg(index=1, value=3, op="SCMP_CMP_GT"),
        SeccompArg(index=0, value=0x20000, op="SCMP_CMP_EQ"),
    )
    plan = expand(allow_by_default(rule("personality", args=args)))
    assert [r.comparisons for r in plan.rules] == [
        (Comparison(index=0, op=CMP_EQ, value=8),),
        (Comparison(index=1, op=CMP_GT, value=3),),
        (Comparison(index=0, op=CMP_EQ, value=0x20000),),
    ]
    assert {r.syscall for r in plan.rules} == {"personality"}


def test_architectures_and_flags():
    plan = expand(Seccomp(
        default_action="SCMP_ACT_ERRNO",
        architectures=("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                       "SCMP_ARCH_AARCH64", "SCMP_ARCH_X86"),
        flags=("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
               "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
    ))
    assert plan.architectures == ("x86_64", "x86", "x32", "aarch64")
    assert plan.flags == (
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    )


@pytest.mark.parametrize(("seccomp", "message"), [
    (Seccomp(default_action="SCMP_ACT_NOPE"), "seccomp: default action: unknown action "
                                              "'SCMP_ACT_NOPE'"),
    (allow_by_default(rule("getpid", action="ALLOW")),
     "seccomp: syscalls[0]: unknown action 'ALLOW'"),
    (allow_by_default(rule("getpid"), rule("getpid", args=(
        SeccompArg(index=0, value=1, op="SCMP_CMP_EQUAL"),))),
     "seccomp: syscalls[1].args[0]: unknown operator 'SCMP_CMP_EQUAL'"),
    (allow_by_default(architectures=("SCMP_ARCH_VAX",)),
     "seccomp: unknown architecture 'SCMP_ARCH_VAX'"),
    (allow_by_default(architectures=("x86_64",)),
     "seccomp: unknown architecture 'x86_64'"),
    (allow_by_default(flags=("SECCOMP_FILTER_FLAG_NOPE",)),
     "seccomp: unknown flag 'SECCOMP_FILTER_FLAG_NOPE'"),
    (allow_by_default(rule("getpid", "")), "seccomp: syscalls[0]: empty syscall name"),
    (allow_by_default(rule("getpid", errno_ret=70000)),
     "seccomp: syscalls[0]: errno 70000 is out of range"),
    (allow_by_default(rule("getpid", args=(SeccompArg(index=6, value=1, op="SCMP_CMP_EQ"),))),
     "seccomp: syscalls[0].args[0]: argument index 6 is out of range"),
    (allow_by_default(rule("getpid", args=(SeccompArg(index=0, value=1 << 64, op="SCMP_CMP_EQ"),))),
     f"seccomp: syscalls[0].args[0]: value {1 << 64} is out of range"),
])
def test_invalid(seccomp, message):
    with pytest.raises(InvalidArgument) as info:
        expand(seccomp)
    assert str(info.value) == message


def test_a_skipped_rule_is_still_checked():
    with pytest.raises(InvalidArgument, match="unknown operator"):
        expand(allow_by_default(rule("getpid", action="SCMP_ACT_ALLOW", args=(
            SeccompArg(index=0, value=1, op="SCMP_CMP_NOPE"),))))


@pytest.mark.parametrize("seccomp", [
    Seccomp(default_action="SCMP_ACT_NOTIFY"),
    allow_by_default(rule("mount", action="SCMP_ACT_NOTIFY")),
    allow_by_default(listener_path="/run/seccomp-agent.sock"),
    allow_by_default(flags=("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",)),
])
def test_notify_is_not_implemented(seccomp):
    with pytest.raises(Unimplemented, match="notify"):
        expand(seccomp)


def test_from_config_json():
    spec = parse_config({
        "ociVersion": "1.2.0",
        "linux": {"seccomp": {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            ],
        }},
    })
    assert expand(spec.linux.seccomp) == FilterPlan(
        default_action=ACT_ERRNO | EPERM,
        architectures=("x86_64",),
        rules=(
            FilterRule(syscall="read", action=ACT_ALLOW),
            FilterRule(syscall="write", action=ACT_ALLOW),
            FilterRule(syscall="clone", action=ACT_ALLOW, comparisons=(
                Comparison(index=0, op=CMP_MASKED_EQ, value=0x7E020000, value_two=0),
            )),
            FilterRule(syscall="clone3", action=ACT_ERRNO | ENOSYS),
        ),
    )


def test_import_stays_cheap():
    # estiba-runtime starts once per OCI call: importing this module must not pull in
    # ctypes (loaded by load() only) nor the modules that cost milliseconds to import.
    code = (
        "import sys; before = set(sys.modules); import estiba.kernel.seccomp; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    assert "estiba.kernel.seccomp" in out
    for heavy in ("ctypes", "typing", "dataclasses", "enum", "re", "json", "inspect"):
        assert heavy not in out
