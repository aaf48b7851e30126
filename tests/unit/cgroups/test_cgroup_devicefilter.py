"""devicefilter.py: device rules → v1-equivalent state → eBPF program (interpreted here;
loaded for real by tests/integration/cgroups/test_cgroup_v2_devices.py)."""

from __future__ import annotations

import pytest

from estiba.cgroups.devicefilter import (
    ACC_MKNOD,
    ACC_READ,
    ACC_WRITE,
    ALU64_MOV_K,
    DEV_BLOCK,
    DEV_CHAR,
    EXIT,
    JEQ_K,
    JNE_K,
    DeviceException,
    DeviceState,
    Insn,
    assemble,
    compile_rules,
    emulate,
    run,
)
from estiba.errors import InvalidArgument
from estiba.oci.runtime_config import DeviceRule

R, W, M = ACC_READ, ACC_WRITE, ACC_MKNOD
RW = R | W
RWM = R | W | M

DENY_ALL = DeviceRule(allow=False, access="rwm")
ALLOW_ALL = DeviceRule(allow=True, type="a", access="rwm")


def allow(type, major, minor, access="rwm"):
    return DeviceRule(allow=True, type=type, major=major, minor=minor, access=access)


def deny(type, major, minor, access="rwm"):
    return DeviceRule(allow=False, type=type, major=major, minor=minor, access=access)


# Docker's default list (moby/oci/devices_linux.go, defaults.go), the common case
DOCKER = (
    DENY_ALL,
    allow("c", None, None, "m"), allow("b", None, None, "m"),
    allow("c", 1, 3), allow("c", 1, 8), allow("c", 1, 7), allow("c", 5, 0), allow("c", 1, 5),
    allow("c", 1, 9), allow("c", 5, 1), allow("c", 136, None), allow("c", 5, 2),
    allow("c", 10, 200), deny("c", 10, 229),
)


def check(rules, type, major, minor, access) -> bool:
    result = run(compile_rules(rules), type, major, minor, access)
    assert result in (0, 1)
    return result == 1


def test_no_rules_denies_everything():
    # as on v1 after "devices.deny a"
    assert emulate(()) == DeviceState(default_allow=False)
    assert compile_rules(()) == [Insn(code=ALU64_MOV_K, dst=0, imm=0), Insn(code=EXIT)]


def test_allow_all():
    assert compile_rules((DENY_ALL, ALLOW_ALL)) == [Insn(code=ALU64_MOV_K, imm=1), Insn(code=EXIT)]
    assert check((ALLOW_ALL,), DEV_BLOCK, 8, 0, RWM)


def test_docker_defaults():
    rules = DOCKER
    assert check(rules, DEV_CHAR, 1, 3, RW)  # /dev/null
    assert check(rules, DEV_CHAR, 136, 4, RW)  # a pty
    assert check(rules, DEV_CHAR, 5, 2, R)  # ptmx
    assert not check(rules, DEV_CHAR, 1, 1, R)  # /dev/mem
    assert not check(rules, DEV_BLOCK, 8, 0, R)  # /dev/sda
    assert check(rules, DEV_BLOCK, 8, 0, M)  # mknod any block device
    assert not check(rules, DEV_BLOCK, 8, 0, M | R)
    assert not check(rules, DEV_CHAR, 10, 229, RW)  # /dev/fuse, never allowed


def test_partial_access():
    rules = (DENY_ALL, allow("c", 1, 3, "r"))
    assert check(rules, DEV_CHAR, 1, 3, R)
    assert not check(rules, DEV_CHAR, 1, 3, W)
    assert not check(rules, DEV_CHAR, 1, 3, RW)


def test_deny_after_allow_removes_access_bits_like_v1():
    rules = (DENY_ALL, allow("c", 1, 3, "rwm"), deny("c", 1, 3, "w"))
    assert emulate(rules).exceptions == (DeviceException(type=DEV_CHAR, major=1, minor=3,
                                                         access=R | M),)
    assert check(rules, DEV_CHAR, 1, 3, R)
    assert not check(rules, DEV_CHAR, 1, 3, RW)


def test_allows_of_one_device_merge_like_v1():
    rules = (DENY_ALL, allow("c", 1, 3, "r"), allow("c", 1, 3, "w"))
    assert len(emulate(rules).exceptions) == 1
    assert check(rules, DEV_CHAR, 1, 3, RW)


def test_deny_only_removes_the_same_device_like_v1():
    # v1 removes exceptions with the same type, major and minor only: c *:* does not
    # touch c 1:3
    rules = (DENY_ALL, allow("c", 1, 3), deny("c", None, None, "w"))
    assert check(rules, DEV_CHAR, 1, 3, W)


def test_default_allow_with_denied_devices():
    rules = (ALLOW_ALL, deny("c", 1, 1), deny("b", 8, None, "w"))
    state = emulate(rules)
    assert state.default_allow
    assert not check(rules, DEV_CHAR, 1, 1, R)
    assert check(rules, DEV_CHAR, 1, 3, RW)
    assert not check(rules, DEV_BLOCK, 8, 16, RW)  # shares "w" with the exception
    assert check(rules, DEV_BLOCK, 8, 16, R)
    assert check(rules, DEV_BLOCK, 9, 0, W)


def test_type_a_drops_the_exceptions():
    rules = (DENY_ALL, allow("c", 1, 3), DeviceRule(allow=False, type="a"))
    assert emulate(rules) == DeviceState(default_allow=False)
    assert not check(rules, DEV_CHAR, 1, 3, R)


def test_jumps_land_on_the_next_block():
    program = compile_rules(DOCKER)
    for pc, insn in enumerate(program):
        if insn.code in (JEQ_K, JNE_K):
            target = pc + 1 + insn.off
            assert 0 < target < len(program)
            # every skip lands just after an exit: the start of the next block
            assert program[target - 1].code == EXIT
    assert program[-1].code == EXIT


@pytest.mark.parametrize("rule", [
    DeviceRule(allow=True, type="x"),
    DeviceRule(allow=True, type="c", major=1, minor=3, access="rx"),
    DeviceRule(allow=True, type="c", major=1 << 33, minor=3),
    DeviceRule(allow=True, type="a", access=""),
])
def test_invalid_rules(rule):
    with pytest.raises(InvalidArgument):
        compile_rules((rule,))


def test_assemble_encoding():
    program = [
        Insn(code=0x61, dst=2, src=1, off=4, imm=0),
        Insn(code=0x55, dst=4, off=-1, imm=136),
        Insn(code=0x95),
    ]
    assert assemble(program) == (
        bytes([0x61, 0x12, 4, 0, 0, 0, 0, 0])
        + bytes([0x55, 0x04, 0xFF, 0xFF, 136, 0, 0, 0])
        + bytes([0x95, 0, 0, 0, 0, 0, 0, 0])
    )
    assert len(assemble(compile_rules(DOCKER))) == 8 * len(compile_rules(DOCKER))
