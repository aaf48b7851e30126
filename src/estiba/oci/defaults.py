"""The defaults of a Linux container's config.json that runc's ``spec``, containerd's
default spec and Docker share: the system mounts, the masked and read-only paths, the
PATH. Pure data; ``linux_mounts`` hands out a fresh copy each time."""

from __future__ import annotations

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_SYSTEM_MOUNTS: tuple[dict, ...] = (
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ("nosuid", "strictatime", "mode=755", "size=65536k")},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ("nosuid", "noexec", "nodev")},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ("nosuid", "noexec", "nodev", "ro")},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ("nosuid", "noexec", "nodev", "relatime", "ro")},
)

# runc's lists; containerd and Docker add to them
MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
    "/proc/scsi",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def linux_mounts(proc_options: tuple[str, ...] = ()) -> list[dict]:
    """/proc (with ``proc_options``: runc's spec gives none, containerd nosuid, noexec,
    nodev), /dev and its pts, shm and mqueue, /sys and /sys/fs/cgroup read-only."""
    proc: dict = {"destination": "/proc", "type": "proc", "source": "proc"}
    if proc_options:
        proc["options"] = list(proc_options)
    return [proc] + [{**m, "options": list(m["options"])} for m in _SYSTEM_MOUNTS]
