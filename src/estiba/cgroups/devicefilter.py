"""OCI device rules → an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE (pure).

cgroup v2 has no devices.allow/deny files: the kernel runs the BPF_CGROUP_DEVICE
programs attached to the task's cgroup (and its ancestors) on every open and mknod of a
device node, with ``struct bpf_cgroup_dev_ctx`` in r1::

    u32 access_type   (access << 16) | type; access is a mask of BPF_DEVCG_ACC_MKNOD 1,
                      _READ 2, _WRITE 4; type is BPF_DEVCG_DEV_BLOCK 1 or _CHAR 2
    u32 major
    u32 minor

and allows the access when the program returns 1 (admin-guide/cgroup-v2.rst "Device
controller", include/uapi/linux/bpf.h).

The rules mean what the same rules mean on v1, where they are writes to devices.allow and
devices.deny after ``devices.deny a`` (runtime-spec config-linux.md, "Allowed Device
list"; admin-guide/cgroup-v1/devices.rst). ``emulate`` replays them as v1 does into a
default (allow or deny) plus exceptions; ``compile_rules`` turns that into one check per
exception; ``assemble`` encodes the instructions for bpf(BPF_PROG_LOAD).
"""

from __future__ import annotations

from estiba.errors import InvalidArgument
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.oci.runtime_config import DeviceRule

ACC_MKNOD = 1
ACC_READ = 2
ACC_WRITE = 4
ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE
DEV_BLOCK = 1
DEV_CHAR = 2

# eBPF opcodes (include/uapi/linux/bpf.h, bpf_common.h) used by the program
LDX_MEM_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W:  dst = *(u32 *)(src + off)
ALU64_AND_K = 0x57  # BPF_ALU64 | BPF_AND | BPF_K: dst &= imm
ALU64_RSH_K = 0x77  # BPF_ALU64 | BPF_RSH | BPF_K: dst >>= imm
ALU64_MOV_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
ALU64_MOV_X = 0xBF  # BPF_ALU64 | BPF_MOV | BPF_X: dst = src
JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K: if dst == imm goto pc + 1 + off
JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto pc + 1 + off
EXIT = 0x95  # BPF_JMP | BPF_EXIT: return r0

_ACCESS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}
_TYPES = {"b": DEV_BLOCK, "c": DEV_CHAR}


class Insn(Record):
    """One eBPF instruction (struct bpf_insn)."""

    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0


class DeviceException(Record):
    """A device exception of the v1 model: type (DEV_*), major and minor (None: any),
    access (ACC_* mask)."""

    type: int
    major: int | None
    minor: int | None
    access: int


class DeviceState(Record):
    """The v1 device cgroup state: the default, and the devices that are exceptions."""

    default_allow: bool
    exceptions: tuple[DeviceException, ...] = ()


def emulate(rules: tuple[DeviceRule, ...] | list[DeviceRule]) -> DeviceState:
    """Replay ``rules`` as devices.allow/deny writes after ``devices.deny a``.

    As security/device_cgroup.c does: type ``a`` switches the default and drops every
    exception; a rule that agrees with the default removes its access bits from the
    exception with the same type, major and minor; one that disagrees adds its bits to
    that exception (or adds the exception).
    """
    default_allow = False
    exceptions: list[DeviceException] = []
    for rule in rules:
        if rule.type == "a":
            _access(rule.access)
            default_allow = rule.allow
            exceptions = []
            continue
        if rule.type not in _TYPES:
            raise InvalidArgument(f"device rule {rule.type!r}: type must be a, b or c")
        ex = DeviceException(type=_TYPES[rule.type], major=_number(rule.major),
                        minor=_number(rule.minor), access=_access(rule.access))
        same = [i for i, e in enumerate(exceptions)
                if (e.type, e.major, e.minor) == (ex.type, ex.major, ex.minor)]
        if rule.allow == default_allow:
            for i in same:
                exceptions[i] = exceptions[i].replace(access=exceptions[i].access & ~ex.access)
            exceptions = [e for e in exceptions if e.access]
        elif same:
            i = same[0]
            exceptions[i] = exceptions[i].replace(access=exceptions[i].access | ex.access)
        else:
            exceptions.append(ex)
    return DeviceState(default_allow=default_allow, exceptions=tuple(exceptions))


def _access(access: str) -> int:
    if not access or access.strip("rwm"):
        raise InvalidArgument(f"device rule access {access!r}: must be made of r, w, m")
    mask = 0
    for c in access:
        mask |= _ACCESS[c]
    return mask


def _number(n: int | None) -> int | None:
    if n is None or n < 0:
        return None
    if n > 0x7FFFFFFF:
        raise InvalidArgument(f"device rule number {n}: out of range")
    return n


def compile_rules(rules: tuple[DeviceRule, ...] | list[DeviceRule]) -> list[Insn]:
    """The program that allows exactly what ``rules`` allow on v1."""
    return compile_state(emulate(rules))


def compile_state(state: DeviceState) -> list[Insn]:
    """One block per exception; a block that matches returns the opposite of the default.

    Default deny: an exception allows a request whose access is within its access (v1's
    match_exception). Default allow: an exception denies a request that shares any access
    with it (v1's match_exception_partial).
    """
    if not state.exceptions:
        return [Insn(code=ALU64_MOV_K, dst=0, imm=int(state.default_allow)), Insn(code=EXIT)]
    program = [
        Insn(code=LDX_MEM_W, dst=2, src=1, off=0),  # r2 = access_type
        Insn(code=ALU64_AND_K, dst=2, imm=0xFFFF),  # r2 = type
        Insn(code=LDX_MEM_W, dst=3, src=1, off=0),
        Insn(code=ALU64_RSH_K, dst=3, imm=16),  # r3 = access
        Insn(code=LDX_MEM_W, dst=4, src=1, off=4),  # r4 = major
        Insn(code=LDX_MEM_W, dst=5, src=1, off=8),  # r5 = minor
    ]
    verdict = int(not state.default_allow)
    for ex in state.exceptions:
        # each "skip" jump goes to the end of this block (the next block's first insn)
        checks: list[Insn] = [Insn(code=JNE_K, dst=2, imm=ex.type)]
        if ex.major is not None:
            checks.append(Insn(code=JNE_K, dst=4, imm=ex.major))
        if ex.minor is not None:
            checks.append(Insn(code=JNE_K, dst=5, imm=ex.minor))
        if ex.access != ACC_ALL:
            checks.append(Insn(code=ALU64_MOV_X, dst=1, src=3))
            if state.default_allow:  # deny when the request shares an access bit
                checks.append(Insn(code=ALU64_AND_K, dst=1, imm=ex.access))
                checks.append(Insn(code=JEQ_K, dst=1, imm=0))
            else:  # allow when the request has no bit outside the exception's access
                checks.append(Insn(code=ALU64_AND_K, dst=1, imm=ACC_ALL & ~ex.access))
                checks.append(Insn(code=JNE_K, dst=1, imm=0))
        block = [*checks, Insn(code=ALU64_MOV_K, dst=0, imm=verdict), Insn(code=EXIT)]
        end = len(block)
        for i, insn in enumerate(block):
            if insn.code in (JEQ_K, JNE_K):
                block[i] = insn.replace(off=end - i - 1)
        program += block
    program += [Insn(code=ALU64_MOV_K, dst=0, imm=int(state.default_allow)), Insn(code=EXIT)]
    return program


def assemble(program: list[Insn]) -> bytes:
    """struct bpf_insn[], little-endian (the byte order of the hosts estiba runs on)."""
    out = bytearray()
    for insn in program:
        out += insn.code.to_bytes(1, "little")
        out += ((insn.src << 4) | insn.dst).to_bytes(1, "little")
        out += insn.off.to_bytes(2, "little", signed=True)
        out += insn.imm.to_bytes(4, "little", signed=True)
    return bytes(out)


def run(program: list[Insn], type: int, major: int, minor: int, access: int) -> int:
    """Interpret ``program`` for one request, as the kernel would (the opcodes above only):
    lets unit tests check what a program allows without loading it."""
    regs = [0] * 11
    ctx = ((access << 16) | type, major, minor)
    pc = 0
    for _ in range(4096):
        insn = program[pc]
        pc += 1
        code, dst, imm = insn.code, insn.dst, insn.imm
        if code == LDX_MEM_W:
            regs[dst] = ctx[insn.off // 4]
        elif code == ALU64_AND_K:
            regs[dst] &= imm
        elif code == ALU64_RSH_K:
            regs[dst] >>= imm
        elif code == ALU64_MOV_K:
            regs[dst] = imm
        elif code == ALU64_MOV_X:
            regs[dst] = regs[insn.src]
        elif code == JEQ_K:
            pc += insn.off if regs[dst] == imm else 0
        elif code == JNE_K:
            pc += insn.off if regs[dst] != imm else 0
        elif code == EXIT:
            return regs[0]
        else:
            raise InvalidArgument(f"bpf instruction {code:#x}: not interpreted")
    raise InvalidArgument("bpf program: did not exit")
