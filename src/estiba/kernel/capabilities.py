"""Linux capability names and numbers (linux/capability.h), and the last one the running
kernel knows (``/proc/sys/kernel/cap_last_cap``)."""

from __future__ import annotations

from estiba.errors import InvalidArgument

NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
NUMBERS = {name: number for number, name in enumerate(NAMES)}


def number(name: str) -> int:
    """The number of a capability given as ``CAP_X`` or ``X`` (any case)."""
    key = name.upper()
    if not key.startswith("CAP_"):
        key = "CAP_" + key
    try:
        return NUMBERS[key]
    except KeyError:
        raise InvalidArgument(f"unknown capability {name!r}") from None


def mask(names: tuple[str, ...] | list[str], last: int) -> int:
    """The bit mask of ``names``; capabilities past the kernel's ``last`` are left out,
    as runc does, so that a config written for a newer kernel still runs."""
    bits = 0
    for name in names:
        n = number(name)
        if n <= last:
            bits |= 1 << n
    return bits


def last_cap(path: str = "/proc/sys/kernel/cap_last_cap") -> int:
    try:
        with open(path, "rb") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1
