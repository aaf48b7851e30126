"""Seccomp: the kernel's system-call filter, compiled by libseccomp.

A seccomp filter is a BPF program that the kernel runs on every system call of a task
before the call does anything. It sees the architecture, the syscall number and the six
raw arguments, and returns an action: allow, fail with an errno without running the call,
send SIGSYS (trap), kill the thread or the process, log, or stop for a ptrace tracer.
Filters are inherited across fork and kept across execve, and can only be added, never
removed, so a container's filter is loaded by the runtime just before it execs the
container's process. Loading one needs either CAP_SYS_ADMIN or no_new_privs; the runtime
sets no_new_privs itself when the config asks for it, so ``load`` never forces it.

libseccomp turns the rule table of ``linux.seccomp`` (runtime-spec config-linux.md,
"Seccomp") into that program for every architecture listed (Docker's profile on amd64
lists x86_64, x86 and x32, so 32-bit callers cannot slip past with other syscall numbers).

Two stages, as everywhere in Estiba:
- ``expand(seccomp) -> FilterPlan`` is pure: it checks every action, operator, architecture
  and flag name, resolves them to libseccomp's numbers (seccomp.h is the authority for
  them) and applies runc's rules (libcontainer/seccomp/seccomp_linux.go): one rule per
  syscall name, rules whose action equals the default action dropped (libseccomp refuses
  them), and a rule comparing one argument index more than once split into one rule per
  comparison, which libseccomp ORs (it cannot AND two comparisons of the same argument).
- ``load(plan)`` hands the plan to libseccomp.so.2 through ctypes and installs the filter on
  the calling thread. ctypes and the library are loaded there, not at import: the runtime
  starts once per OCI call and most calls never load a filter.

Not supported yet: SCMP_ACT_NOTIFY and its listener (refused with ``Unimplemented``), and
runc's patched filter that answers ENOSYS instead of the default action for syscalls newer
than the profile.
"""

from __future__ import annotations

import errno
import os

from estiba import errors
from estiba.oci.record import Record

TYPE_CHECKING = False  # typing costs ~8 ms to import; it is needed by type checkers only
if TYPE_CHECKING:
    from estiba.oci.runtime_config import Seccomp, SeccompArg


# --- libseccomp's numbers, from seccomp.h (libseccomp 2.5) ----------------------------

ACT_KILL_THREAD = 0x00000000
ACT_KILL_PROCESS = 0x80000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000  # | errno, low 16 bits (SCMP_ACT_ERRNO(x))
ACT_TRACE = 0x7FF00000  # | message for the tracer, low 16 bits (SCMP_ACT_TRACE(x))
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000

CMP_NE = 1
CMP_LT = 2
CMP_LE = 3
CMP_EQ = 4
CMP_GE = 5
CMP_GT = 6
CMP_MASKED_EQ = 7  # (arg & value) == value_two

_ACTIONS = {
    "SCMP_ACT_KILL": ACT_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": ACT_TRAP,
    "SCMP_ACT_ERRNO": ACT_ERRNO,
    "SCMP_ACT_TRACE": ACT_TRACE,
    "SCMP_ACT_LOG": ACT_LOG,
    "SCMP_ACT_ALLOW": ACT_ALLOW,
}

_OPS = {
    "SCMP_CMP_NE": CMP_NE,
    "SCMP_CMP_LT": CMP_LT,
    "SCMP_CMP_LE": CMP_LE,
    "SCMP_CMP_EQ": CMP_EQ,
    "SCMP_CMP_GE": CMP_GE,
    "SCMP_CMP_GT": CMP_GT,
    "SCMP_CMP_MASKED_EQ": CMP_MASKED_EQ,
}

# The names after SCMP_ARCH_, lower-cased, are libseccomp's own names for
# seccomp_arch_resolve_name (the spec's list plus what libseccomp 2.6 added).
_ARCHES = frozenset((
    "x86", "x86_64", "x32", "arm", "aarch64", "loongarch64", "m68k",
    "mips", "mips64", "mips64n32", "mipsel", "mipsel64", "mipsel64n32",
    "ppc", "ppc64", "ppc64le", "s390", "s390x", "parisc", "parisc64", "riscv64", "sh", "sheb",
))

# enum scmp_filter_attr
_FLTATR_CTL_NNP = 3
_FLTATR_CTL_TSYNC = 4
_FLTATR_CTL_LOG = 6
_FLTATR_CTL_SSB = 7
_FLTATR_API_SYSRAWRC = 9

_FLAG_ATTRIBUTES = {
    "SECCOMP_FILTER_FLAG_TSYNC": _FLTATR_CTL_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": _FLTATR_CTL_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": _FLTATR_CTL_SSB,
}
# Spec flags that only make sense with a notify listener, which is not supported yet.
_LISTENER_FLAGS = frozenset(("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",))

# What ``features`` reports: the names this module compiles.
ACTION_NAMES = frozenset(_ACTIONS)
OPERATOR_NAMES = frozenset(_OPS)
ARCH_NAMES = _ARCHES
FLAG_NAMES = frozenset(_FLAG_ATTRIBUTES)
LISTENER_FLAG_NAMES = _LISTENER_FLAGS

_MAX_ARGS = 6
_UINT64_MAX = (1 << 64) - 1
_NR_SCMP_ERROR = -1  # what seccomp_syscall_resolve_name returns for an unknown name


# --- the plan ----------------------------------------------------------------------------


class Comparison(Record):
    """One ``struct scmp_arg_cmp``: argument ``index`` compared with ``op`` (a CMP_*
    code) to ``value``; for CMP_MASKED_EQ ``value`` is the mask and ``value_two`` the
    value the masked argument must equal."""

    index: int
    op: int
    value: int
    value_two: int = 0


class FilterRule(Record):
    """One libseccomp rule: ``action`` (an ACT_* code, errno included) when ``syscall``
    is called and every comparison holds (no comparison: always)."""

    syscall: str
    action: int
    comparisons: tuple[Comparison, ...] = ()


class FilterPlan(Record):
    """What ``load`` installs: the default action code, libseccomp's names of the
    architectures to add beside the native one (``"x86_64"``, ``"x32"``), the spec's
    filter flags, and the rules in the config's order."""

    default_action: int
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    rules: tuple[FilterRule, ...] = ()


def expand(seccomp: Seccomp) -> FilterPlan:
    """Check ``linux.seccomp`` and turn it into a ``FilterPlan``.

    Raises ``InvalidArgument`` for an unknown action, operator, architecture or flag, an
    empty syscall name or an out-of-range number, and ``Unimplemented`` for what needs a
    notify listener.
    """
    if seccomp.listener_path:
        raise errors.Unimplemented("seccomp: listener path: seccomp notify is not supported")
    default = _action(seccomp.default_action, seccomp.default_errno_ret, "default action")
    architectures: list[str] = []
    for name in seccomp.architectures:
        arch = name[len("SCMP_ARCH_"):].lower() if name.startswith("SCMP_ARCH_") else ""
        if arch not in _ARCHES:
            raise errors.InvalidArgument(f"seccomp: unknown architecture {name!r}")
        if arch not in architectures:
            architectures.append(arch)
    for name in seccomp.flags:
        if name in _LISTENER_FLAGS:
            raise errors.Unimplemented(f"seccomp: flag {name}: seccomp notify is not supported")
        if name not in _FLAG_ATTRIBUTES:
            raise errors.InvalidArgument(f"seccomp: unknown flag {name!r}")
    rules: list[FilterRule] = []
    for i, rule in enumerate(seccomp.syscalls):
        where = f"syscalls[{i}]"
        action = _action(rule.action, rule.errno_ret, where)
        comparisons = tuple(
            _comparison(arg, f"{where}.args[{j}]") for j, arg in enumerate(rule.args)
        )
        for name in rule.names:
            if not name:
                raise errors.InvalidArgument(f"seccomp: {where}: empty syscall name")
        if action == default:
            continue  # redundant, and libseccomp refuses a rule with the default action
        indexes = [c.index for c in comparisons]
        if len(set(indexes)) < len(indexes):
            # libseccomp cannot AND two comparisons of one argument; like runc, add one
            # rule per comparison, which the filter ORs.
            groups = [(c,) for c in comparisons]
        else:
            groups = [comparisons]
        for name in rule.names:
            rules.extend(FilterRule(syscall=name, action=action, comparisons=g) for g in groups)
    return FilterPlan(
        default_action=default,
        architectures=tuple(architectures),
        flags=tuple(dict.fromkeys(seccomp.flags)),
        rules=tuple(rules),
    )


def _action(name: str, errno_ret: int | None, where: str) -> int:
    if name == "SCMP_ACT_NOTIFY":
        raise errors.Unimplemented(f"seccomp: {where}: {name}: seccomp notify is not supported")
    code = _ACTIONS.get(name)
    if code is None:
        raise errors.InvalidArgument(f"seccomp: {where}: unknown action {name!r}")
    if code in (ACT_ERRNO, ACT_TRACE):
        # errnoRet defaults to EPERM, for ERRNO (runtime-spec) and TRACE (as runc does)
        errno_ret = errno.EPERM if errno_ret is None else errno_ret
        if not 0 <= errno_ret <= 0xFFFF:  # the filter's return has 16 bits of data
            raise errors.InvalidArgument(f"seccomp: {where}: errno {errno_ret} is out of range")
        code |= errno_ret
    return code


def _comparison(arg: SeccompArg, where: str) -> Comparison:
    op = _OPS.get(arg.op)
    if op is None:
        raise errors.InvalidArgument(f"seccomp: {where}: unknown operator {arg.op!r}")
    index, value, value_two = arg.index, arg.value, arg.value_two
    if not 0 <= index < _MAX_ARGS:
        raise errors.InvalidArgument(f"seccomp: {where}: argument index {index} is out of range")
    for number in (value, value_two):
        if not 0 <= number <= _UINT64_MAX:
            raise errors.InvalidArgument(f"seccomp: {where}: value {number} is out of range")
    return Comparison(index=index, op=op, value=value, value_two=value_two)


# --- the kernel part ---------------------------------------------------------------------


def load(plan: FilterPlan) -> None:
    """Install ``plan`` as a seccomp filter on the calling thread (and, with the TSYNC
    flag, on every thread of the process)."""
    compile_filter(plan).load()


class CompiledFilter:
    """A filter built in libseccomp, not yet loaded. A container's init builds it while
    the host's files (libseccomp itself) are still reachable, and loads it after
    pivot_root, right before exec."""

    def __init__(self, lib, ctx) -> None:  # noqa: ANN001 - ctypes objects
        self._lib = lib
        self._ctx = ctx

    def load(self) -> None:
        try:
            _check(self._lib.seccomp_load(self._ctx), "load filter")
        finally:
            self.release()

    def release(self) -> None:
        if self._ctx:
            self._lib.seccomp_release(self._ctx)
            self._ctx = None


def compile_filter(plan: FilterPlan) -> CompiledFilter:
    """Build ``plan`` in libseccomp without loading it.

    Syscall names this libseccomp does not know are skipped, as runc does: profiles list
    syscalls of kernels newer than the host's. Raises the error taxonomy's types, with the
    kernel's or libseccomp's reason (``seccomp: add rule for keyctl: invalid argument``).
    """
    import ctypes

    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError as err:
        raise errors.Unavailable(f"seccomp: open libseccomp.so.2: {str(err).lower()}") from err

    class ArgCmp(ctypes.Structure):
        _fields_ = (
            ("arg", ctypes.c_uint),
            ("op", ctypes.c_int),  # enum scmp_compare
            ("datum_a", ctypes.c_uint64),
            ("datum_b", ctypes.c_uint64),
        )

    ctx_t = ctypes.c_void_p
    lib.seccomp_init.argtypes = (ctypes.c_uint32,)
    lib.seccomp_init.restype = ctx_t
    lib.seccomp_release.argtypes = (ctx_t,)
    lib.seccomp_release.restype = None
    lib.seccomp_attr_set.argtypes = (ctx_t, ctypes.c_int, ctypes.c_uint32)
    lib.seccomp_attr_set.restype = ctypes.c_int
    lib.seccomp_arch_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_add.argtypes = (ctx_t, ctypes.c_uint32)
    lib.seccomp_arch_add.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = (
        ctx_t, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ArgCmp),
    )
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_load.argtypes = (ctx_t,)
    lib.seccomp_load.restype = ctypes.c_int

    ctx = lib.seccomp_init(plan.default_action)
    if not ctx:
        raise errors.InvalidArgument(
            f"seccomp: create filter: libseccomp refused default action {plan.default_action:#x}"
        )
    try:
        # Best effort: with it (libseccomp >= 2.5) a failed load reports the kernel's
        # errno instead of libseccomp's generic ECANCELED.
        lib.seccomp_attr_set(ctx, _FLTATR_API_SYSRAWRC, 1)
        _check(lib.seccomp_attr_set(ctx, _FLTATR_CTL_NNP, 0), "unset no_new_privs on load")
        # No SCMP_FLTATR_CTL_OPTIMIZE=2 (the binary tree runc asks for past 8 rules): it adds
        # ~4 ms to loading Docker's profile for three architectures, and since Linux 5.11
        # the kernel's action cache skips the filter altogether for every syscall it allows
        # whatever the arguments, which is most of what a container calls.
        for flag in plan.flags:
            _check(lib.seccomp_attr_set(ctx, _FLAG_ATTRIBUTES[flag], 1), f"set flag {flag}")
        for arch in plan.architectures:
            token = lib.seccomp_arch_resolve_name(arch.encode())
            if not token:
                raise errors.Unavailable(f"seccomp: add architecture {arch}: unknown to libseccomp")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc != -errno.EEXIST:  # the native architecture is in every new filter
                _check(rc, f"add architecture {arch}")
        numbers: dict[str, int] = {}
        for rule in plan.rules:
            number = numbers.get(rule.syscall)
            if number is None:
                number = numbers[rule.syscall] = lib.seccomp_syscall_resolve_name(
                    rule.syscall.encode()
                )
            if number == _NR_SCMP_ERROR:
                continue  # unknown to this libseccomp, so to the kernels it targets
            count = len(rule.comparisons)
            array = (ArgCmp * count)(
                *((c.index, c.op, c.value, c.value_two) for c in rule.comparisons)
            )
            _check(
                lib.seccomp_rule_add_array(ctx, rule.action, number, count, array),
                f"add rule for {rule.syscall}",
            )
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return CompiledFilter(lib, ctx)


def _check(rc: int, what: str) -> None:
    """Raise for libseccomp's negative-errno return codes."""
    if rc >= 0:
        return
    err = OSError(-rc, os.strerror(-rc))
    if -rc in (errno.EOPNOTSUPP, errno.ENOSYS):
        raise errors.Unavailable(f"seccomp: {what}: {err.strerror.lower()}") from err
    raise errors.from_oserror(f"seccomp: {what}", err)


def library_version() -> str | None:
    """libseccomp's version ("2.5.4"), or None when libseccomp.so.2 is not there."""
    import ctypes

    class Version(ctypes.Structure):
        _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint),
                    ("micro", ctypes.c_uint))

    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return None
    lib.seccomp_version.restype = ctypes.POINTER(Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"
