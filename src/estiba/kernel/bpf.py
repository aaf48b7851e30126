"""bpf(2): loading an eBPF program and attaching it to a cgroup.

The kernel takes every bpf command as ``bpf(cmd, union bpf_attr *attr, size)``; the
structs below are the parts of ``union bpf_attr`` (include/uapi/linux/bpf.h) that the
commands used here read; the kernel requires the bytes it does not know to be zero.
A program is a kernel object held by file descriptors: once attached, the cgroup holds
it, and the fd that loaded it can be closed. With BPF_F_ALLOW_MULTI several programs
can be attached to one cgroup, and a request must pass them all (and those of the
cgroup's ancestors), so replacing a program is: attach the new one, then detach the old.

This module is imported only when a program has to be loaded (ctypes is not cheap).
"""

from __future__ import annotations

import ctypes
import os

from estiba.errors import EstibaError, NotFound, Unavailable, from_oserror

# syscall numbers of bpf(2) (arch/*/entry/syscalls, include/uapi/asm-generic/unistd.h)
_SYS_BPF = {
    "x86_64": 321, "aarch64": 280, "riscv64": 280, "loongarch64": 280,
    "ppc64le": 361, "ppc64": 361, "s390x": 351, "i686": 357, "armv7l": 386,
}

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2

_u32 = ctypes.c_uint32
_u64 = ctypes.c_uint64


class _ProgLoad(ctypes.Structure):
    _fields_ = [
        ("prog_type", _u32), ("insn_cnt", _u32), ("insns", _u64), ("license", _u64),
        ("log_level", _u32), ("log_size", _u32), ("log_buf", _u64), ("kern_version", _u32),
        ("prog_flags", _u32), ("prog_name", ctypes.c_char * 16), ("prog_ifindex", _u32),
        ("expected_attach_type", _u32),
    ]


class _ProgAttach(ctypes.Structure):
    _fields_ = [
        ("target_fd", _u32), ("attach_bpf_fd", _u32), ("attach_type", _u32),
        ("attach_flags", _u32), ("replace_bpf_fd", _u32),
    ]


class _ProgQuery(ctypes.Structure):
    _fields_ = [
        ("target_fd", _u32), ("attach_type", _u32), ("query_flags", _u32),
        ("attach_flags", _u32), ("prog_ids", _u64), ("prog_cnt", _u32), ("_pad", _u32),
    ]


class _GetFdById(ctypes.Structure):
    _fields_ = [("prog_id", _u32), ("next_id", _u32), ("open_flags", _u32)]


class Bpf:
    """The bpf(2) operations estiba needs. Tests of the callers pass a recording fake."""

    def __init__(self) -> None:
        machine = os.uname().machine
        if machine not in _SYS_BPF:
            raise Unavailable(f"bpf: no syscall number known for {machine}")
        self._nr = _SYS_BPF[machine]
        self._syscall = ctypes.CDLL(None, use_errno=True).syscall
        self._syscall.restype = ctypes.c_long

    def _bpf(self, cmd: int, attr: ctypes.Structure, what: str) -> int:
        r = self._syscall(ctypes.c_long(self._nr), ctypes.c_long(cmd),
                          ctypes.c_void_p(ctypes.addressof(attr)),
                          ctypes.c_long(ctypes.sizeof(attr)))
        if r < 0:
            code = ctypes.get_errno()
            raise from_oserror(what, OSError(code, os.strerror(code)))
        return r

    def load_cgroup_device_program(self, program: bytes, name: str = "estiba_dev") -> int:
        """Load ``program`` (struct bpf_insn[]) as a cgroup device program; returns its fd.
        On a verifier rejection the verifier's log is in the error message."""
        if len(program) % 8:
            raise ValueError("bpf program: not a whole number of instructions")
        insns = ctypes.create_string_buffer(program, len(program))
        license = ctypes.create_string_buffer(b"Apache-2.0")
        attr = _ProgLoad(
            prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt=len(program) // 8,
            insns=ctypes.addressof(insns), license=ctypes.addressof(license),
            prog_name=name.encode()[:15], expected_attach_type=BPF_CGROUP_DEVICE,
        )
        what = "load bpf device program"
        try:
            return self._bpf(BPF_PROG_LOAD, attr, what)
        except EstibaError:
            pass
        # load it again with the verifier's log on, to say why it was refused
        log = ctypes.create_string_buffer(65536)
        attr.log_level, attr.log_size, attr.log_buf = 1, len(log), ctypes.addressof(log)
        try:
            return self._bpf(BPF_PROG_LOAD, attr, what)
        except EstibaError as err:
            lines = log.value.decode(errors="replace").strip().splitlines()
            if lines:
                err.args = (f"{err.args[0]} (verifier: {lines[-1]})",)
            raise

    def attach_cgroup_device_program(self, cgroup_fd: int, prog_fd: int) -> None:
        attr = _ProgAttach(target_fd=cgroup_fd, attach_bpf_fd=prog_fd,
                           attach_type=BPF_CGROUP_DEVICE, attach_flags=BPF_F_ALLOW_MULTI)
        self._bpf(BPF_PROG_ATTACH, attr, "attach bpf device program")

    def cgroup_device_programs(self, cgroup_fd: int) -> list[int]:
        """The ids of the device programs attached to the cgroup itself."""
        size = 16
        while True:
            ids = (_u32 * size)()
            attr = _ProgQuery(target_fd=cgroup_fd, attach_type=BPF_CGROUP_DEVICE,
                              prog_ids=ctypes.addressof(ids), prog_cnt=size)
            try:
                self._bpf(BPF_PROG_QUERY, attr, "query bpf device programs")
            except EstibaError:
                if attr.prog_cnt > size:  # ENOSPC: the kernel says how many there are
                    size = attr.prog_cnt
                    continue
                raise
            return [ids[i] for i in range(attr.prog_cnt)]

    def detach_cgroup_device_program(self, cgroup_fd: int, prog_id: int) -> None:
        get = _GetFdById(prog_id=prog_id)
        try:
            prog_fd = self._bpf(BPF_PROG_GET_FD_BY_ID, get, f"open bpf program {prog_id}")
        except NotFound:
            return  # detached and freed meanwhile
        try:
            attr = _ProgAttach(target_fd=cgroup_fd, attach_bpf_fd=prog_fd,
                               attach_type=BPF_CGROUP_DEVICE)
            self._bpf(BPF_PROG_DETACH, attr, f"detach bpf program {prog_id}")
        finally:
            os.close(prog_fd)

    def replace_cgroup_device_program(self, cgroup_dir: str, program: bytes) -> None:
        """Make ``program`` the one device program attached to the cgroup at
        ``cgroup_dir``: attach it, then detach the ones attached before (the cgroup is
        never without a program, for a moment it has both)."""
        try:
            cgroup_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as err:
            raise from_oserror(f"open cgroup {cgroup_dir}", err) from err
        try:
            old = self.cgroup_device_programs(cgroup_fd)
            prog_fd = self.load_cgroup_device_program(program)
            try:
                self.attach_cgroup_device_program(cgroup_fd, prog_fd)
            finally:
                os.close(prog_fd)
            for prog_id in old:
                self.detach_cgroup_device_program(cgroup_fd, prog_id)
        finally:
            os.close(cgroup_fd)
