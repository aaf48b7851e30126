"""The real kernel: syscall wrappers at the grain the runtime needs.

Every method raises an error of the taxonomy naming the operation and its operands, so a
failure deep inside container set-up reads as ``mount proc on /x/rootfs/proc: operation
not permitted`` rather than a bare errno. ctypes is loaded on first use: ``state`` or
``kill`` never pay for it.
"""

from __future__ import annotations

import os
import sys

from estiba.errors import from_oserror
from estiba.kernel import consts as k

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.kernel.libc import Libc
    from estiba.kernel.seccomp import CompiledFilter
    from estiba.oci.runtime_config import Seccomp

RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

_CAP_V3 = 0x20080522
_RLIM_INFINITY = (1 << 64) - 1


class Linux:
    """Syscalls of the running kernel. One instance per process; cheap to make."""

    def __init__(self) -> None:
        self._libc = None

    @property
    def libc(self) -> Libc:
        if self._libc is None:
            from estiba.kernel.libc import Libc

            self._libc = Libc()
        return self._libc

    def preload(self) -> None:
        """Load now every module and library the wrappers need later: a container's
        init calls them after pivot_root, when the host's files are out of reach."""
        import fcntl  # noqa: F401
        import resource  # noqa: F401

        _ = self.libc

    def _check(self, result: int, what: str) -> int:
        if result < 0:
            err = self.libc.errno()
            raise from_oserror(what, OSError(err, os.strerror(err)))
        return result

    # --- mounts ----------------------------------------------------------------------

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str = "",
              label: str | None = None) -> None:
        """mount(2). ``label`` names the target in errors when ``target`` is an
        ``/proc/self/fd/N`` path (the resolved destination is what a reader needs)."""
        rc = self.libc.mount(
            source.encode() if source else None, target.encode(),
            fstype.encode() if fstype else None, flags, data.encode() if data else None,
        )
        if rc < 0:
            what = f"mount {source or fstype or 'none'} on {label or target}"
            self._check(rc, what)

    def umount(self, target: str, flags: int = 0) -> None:
        self._check(self.libc.umount2(target.encode(), flags), f"umount {target}")

    # --- the new mount API (fsopen, fsconfig, fsmount, move_mount, open_tree) ---------
    #
    # A filesystem context is configured one parameter per call, so no option string and
    # no one-page limit; fsmount makes a *detached* mount, reachable only through its fd
    # (``/proc/self/fd/N`` is a path to its root) and in no mount table; closing the last
    # fd unmounts it. move_mount attaches it somewhere. All fds are close-on-exec.

    def fsopen(self, fstype: str) -> int:
        """A filesystem context for ``fstype``. ENOSYS before Linux 5.2."""
        return self._check(self.libc.syscall(k.SYS_FSOPEN, fstype.encode(),
                                             k.FSOPEN_CLOEXEC), f"fsopen {fstype}")

    def fsconfig(self, fd: int, cmd: int, key: str | None = None,
                 value: str | None = None, aux: int = 0, label: str = "") -> None:
        """One fsconfig(2) call on context ``fd``. A failure names ``label`` (what was
        being set) and adds the messages the filesystem logged into the context."""
        rc = self.libc.syscall(
            k.SYS_FSCONFIG, fd, cmd, key.encode() if key is not None else None,
            value.encode() if value is not None else None, aux,
        )
        if rc < 0:
            err = self.libc.errno()
            log = _context_log(fd)
            what = f"fsconfig {label or key or cmd}" + (f" ({log})" if log else "")
            raise from_oserror(what, OSError(err, os.strerror(err)))

    def fsmount(self, fd: int, attr_flags: int = 0, label: str = "") -> int:
        """The detached mount of created context ``fd``, with ``MOUNT_ATTR_*`` flags."""
        return self._check(
            self.libc.syscall(k.SYS_FSMOUNT, fd, k.FSMOUNT_CLOEXEC, attr_flags),
            f"fsmount {label or fd}")

    def move_mount(self, fd: int, target: str, label: str = "") -> None:
        """Attach detached (or cloned) mount ``fd`` at ``target``."""
        self._check(
            self.libc.syscall(k.SYS_MOVE_MOUNT, fd, b"", k.AT_FDCWD, target.encode(),
                              k.MOVE_MOUNT_F_EMPTY_PATH),
            f"move mount {label or fd} to {target}")

    def open_tree(self, path: str, recursive: bool = True) -> int:
        """A detached copy of the mount tree at ``path`` (a bind mount not yet placed)."""
        flags = k.OPEN_TREE_CLONE | k.OPEN_TREE_CLOEXEC
        if recursive:
            flags |= k.AT_RECURSIVE
        return self._check(
            self.libc.syscall(k.SYS_OPEN_TREE, k.AT_FDCWD, path.encode(), flags),
            f"open tree {path}")

    def mount_setattr(self, fd: int, attr_set: int, attr_clr: int = 0,
                      recursive: bool = True, label: str = "") -> None:
        """Change the ``MOUNT_ATTR_*`` flags of mount ``fd`` (and its children)."""
        import struct

        attr = struct.pack("=QQQQ", attr_set, attr_clr, 0, 0)  # struct mount_attr
        flags = k.AT_EMPTY_PATH | (k.AT_RECURSIVE if recursive else 0)
        self._check(
            self.libc.syscall(k.SYS_MOUNT_SETATTR, fd, b"", flags, attr, len(attr)),
            f"set mount attributes of {label or fd}")

    def mount_in(self, cwd: str, source: str, target: str, fstype: str, flags: int,
                 data: str = "") -> None:
        """mount(2) from working directory ``cwd`` (the data then names paths relative
        to it), made in a forked child, so this process's working directory, shared by
        all its threads, never changes. The child runs no Python past the call."""
        import warnings

        self.libc.mount  # noqa: B018 - bound before the fork, not in the child
        with warnings.catch_warnings():
            # fork() in a threaded process: the child only chdirs, mounts and exits
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 0
            try:
                os.chdir(cwd)
                if self.libc.mount(source.encode() if source else None, target.encode(),
                                   fstype.encode() if fstype else None, flags,
                                   data.encode() if data else None) < 0:
                    code = self.libc.errno()
            except OSError as err:
                code = err.errno or 1
            finally:
                os._exit(min(code, 255))
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            what = f"mount {source or fstype or 'none'} on {target} from {cwd}"
            err = OSError(code, os.strerror(code)) if code > 0 else OSError(
                0, f"child killed by signal {-code}")
            raise from_oserror(what, err)

    def open_path(self, path: str) -> int:
        """An ``O_PATH`` descriptor of directory ``path``: a handle to pass to fsconfig
        (FSCONFIG_SET_FD), whatever the length of the path."""
        try:
            return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as err:
            raise from_oserror(f"open {path}", err) from err

    def close(self, fd: int) -> None:
        try:
            os.close(fd)
        except OSError as err:
            raise from_oserror(f"close descriptor {fd}", err) from err

    def pivot_root_into(self, rootfs: str) -> None:
        """Make ``rootfs`` the root: pivot_root(".", ".") stacks the old root under the
        new one, which is then made a slave (so the detach does not propagate to the
        host) and detached. No directory for the old root is needed inside the rootfs."""
        old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        new = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fchdir(new)
            self._check(self.libc.syscall(k.SYS_PIVOT_ROOT, b".", b"."),
                        f"pivot_root {rootfs}")
            os.fchdir(old)
            self.mount("", ".", "", k.MS_SLAVE | k.MS_REC, label="old root")
            self.umount(".", k.MNT_DETACH)
        finally:
            os.close(old)
            os.close(new)
        os.chdir("/")

    def move_root_into(self, rootfs: str) -> None:
        """The --no-pivot way (for roots pivot_root refuses, like a ramfs): move the
        rootfs mount over / and chroot into it."""
        os.chdir(rootfs)
        self.mount(rootfs, "/", "", k.MS_MOVE, label="/")
        self._chroot(".")
        os.chdir("/")

    def _chroot(self, path: str) -> None:
        try:
            os.chroot(path)
        except OSError as err:
            raise from_oserror(f"chroot {path}", err) from err

    # --- namespaces ------------------------------------------------------------------

    def unshare(self, flags: int) -> None:
        self._check(self.libc.unshare(flags), f"unshare {flags:#x}")

    def setns(self, fd: int, nstype: int, label: str = "") -> None:
        self._check(self.libc.syscall(k.SYS_SETNS, fd, nstype),
                    f"setns {label or fd}")

    def open_beneath(self, dir_fd: int, path: str, flags: int) -> int:
        """openat2(2) of the relative ``path`` under ``dir_fd`` with no symlink followed
        and no step out of it (RESOLVE_NO_SYMLINKS, RESOLVE_NO_MAGICLINKS,
        RESOLVE_BENEATH): one call for a whole path, as a walk one component at a time
        would cost. Raises OSError with the errno, as ``os.open`` does (ELOOP: a
        symlink on the way; EXDEV: a way out)."""
        resolve = k.RESOLVE_NO_SYMLINKS | k.RESOLVE_NO_MAGICLINKS | k.RESOLVE_BENEATH
        # struct open_how {u64 flags; u64 mode; u64 resolve;}, read by the kernel only
        how = flags.to_bytes(8, "little") + bytes(8) + resolve.to_bytes(8, "little")
        fd = self.libc.syscall(k.SYS_OPENAT2, dir_fd, (path or ".").encode(), how, len(how))
        if fd < 0:
            err = self.libc.errno()
            raise OSError(err, os.strerror(err), path)
        return fd

    def sethostname(self, name: str) -> None:
        data = name.encode()
        self._check(self.libc.sethostname(data, len(data)), f"sethostname {name}")

    def setdomainname(self, name: str) -> None:
        data = name.encode()
        self._check(self.libc.setdomainname(data, len(data)), f"setdomainname {name}")

    # --- files the kernel owns -------------------------------------------------------

    def mknod(self, path: str, mode: int, major: int, minor: int) -> None:
        """The node with exactly ``mode``'s permission bits, whatever the umask."""
        try:
            os.mknod(path, mode, os.makedev(major, minor))
            os.chmod(path, mode & 0o7777)
        except OSError as err:
            raise from_oserror(f"mknod {path}", err) from err

    def chown(self, path: str, uid: int, gid: int) -> None:
        try:
            os.chown(path, uid, gid, follow_symlinks=False)
        except OSError as err:
            raise from_oserror(f"chown {path}", err) from err

    def give_stdio_to(self, uid: int) -> None:
        """Make ``uid`` the owner of stdin, stdout and stderr (their group kept), as
        runc's fixStdioPermissions does, so that a non-root process can open its
        terminal (or /dev/stdout) again by name. /dev/null is left alone, and so is what
        cannot be changed here (EINVAL, EPERM, EROFS: not ours to change)."""
        import errno  # built in: importable after pivot_root

        try:
            null = os.stat("/dev/null").st_rdev
        except OSError:
            null = None
        for fd in (0, 1, 2):
            try:
                st = os.fstat(fd)
            except OSError:
                continue  # closed
            if st.st_uid == uid or (st.st_mode & 0o170000 == 0o020000 and st.st_rdev == null):
                continue
            try:
                os.fchown(fd, uid, st.st_gid)
            except OSError as err:
                if err.errno in (errno.EPERM, errno.EINVAL, errno.EROFS):
                    continue
                raise from_oserror(f"chown stdio descriptor {fd} to {uid}", err) from err

    def write_file(self, path: str, data: str) -> None:
        """Write a kernel setting (sysctl, oom_score_adj) in one write(2)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, data.encode())
            finally:
                os.close(fd)
        except OSError as err:
            raise from_oserror(f"write {path}", err) from err

    # --- credentials -----------------------------------------------------------------

    def drop_bounding(self, keep: int, last: int) -> None:
        """Drop from the bounding set every capability not in the ``keep`` mask."""
        for cap in range(last + 1):
            if not keep & (1 << cap):
                self._check(self.libc.prctl(k.PR_CAPBSET_DROP, cap, 0, 0, 0),
                            f"drop capability {cap} from the bounding set")

    def set_keepcaps(self, keep: bool) -> None:
        self._check(self.libc.prctl(k.PR_SET_KEEPCAPS, int(keep), 0, 0, 0), "keepcaps")

    def set_ids(self, uid: int, gid: int, groups: tuple[int, ...] | list[int]) -> None:
        try:
            try:
                os.setgroups(list(groups))
            except PermissionError:
                # In a user namespace mapped without privileges setgroups is denied for
                # good: no groups asked, none to set (the caller's stay, unmapped).
                if groups or not _setgroups_denied():
                    raise
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        except OSError as err:
            raise from_oserror(f"set user {uid}:{gid}", err) from err

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        # struct __user_cap_header_struct, then two struct __user_cap_data_struct, in
        # native order: int.to_bytes spares the init an import of struct.
        header = _u32(_CAP_V3) + _u32(0)
        data = b"".join(_u32(v) for v in (
            effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF,
            effective >> 32, permitted >> 32, inheritable >> 32,
        ))
        self._check(self.libc.syscall(k.SYS_CAPSET, header, data), "capset")

    def raise_ambient(self, caps: int, last: int) -> None:
        for cap in range(last + 1):
            if caps & (1 << cap):
                self._check(
                    self.libc.prctl(k.PR_CAP_AMBIENT, k.PR_CAP_AMBIENT_RAISE, cap, 0, 0),
                    f"raise ambient capability {cap}",
                )

    def set_dumpable(self, dumpable: bool) -> None:
        """Undumpable: the process's /proc files (exe, fd, mem ...) are root's and out of
        reach of processes without CAP_SYS_PTRACE, its own uid's included, until it
        execs."""
        self._check(self.libc.prctl(k.PR_SET_DUMPABLE, int(dumpable), 0, 0, 0), "dumpable")

    def set_no_new_privs(self) -> None:
        self._check(self.libc.prctl(k.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")

    def join_session_keyring(self, name: str) -> None:
        """A new session keyring of this name: the container does not share the
        caller's keys. A kernel without keyrings (ENOSYS) is not an error."""
        rc = self.libc.syscall(k.SYS_KEYCTL, k.KEYCTL_JOIN_SESSION_KEYRING, name.encode())
        if rc < 0 and self.libc.errno() != 38:  # ENOSYS
            self._check(rc, f"join session keyring {name}")

    def set_child_subreaper(self) -> None:
        self._check(self.libc.prctl(k.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0),
                    "child subreaper")

    def set_io_priority(self, io_class: int, level: int) -> None:
        """The calling process's I/O scheduling class and level (ioprio_set(2)), kept
        across exec; the real-time class needs CAP_SYS_ADMIN."""
        value = (io_class << k.IOPRIO_CLASS_SHIFT) | level
        self._check(self.libc.syscall(k.SYS_IOPRIO_SET, k.IOPRIO_WHO_PROCESS, 0, value),
                    f"set io priority class {io_class} level {level}")

    def set_personality(self, persona: int) -> None:
        """The calling process's execution domain (personality(2)), kept across exec:
        PER_LINUX32 makes uname(2) report a 32-bit machine."""
        self._check(self.libc.personality(persona), f"set personality {persona:#x}")

    def set_memory_policy(self, mode: int, nodes: tuple[int, ...]) -> None:
        """The calling process's NUMA memory policy (set_mempolicy(2)): ``mode`` with its
        MPOL_F_* flags, over the nodes numbered in ``nodes``; kept across fork and exec."""
        mask = 0
        for node in nodes:
            mask |= 1 << node
        words = (max(nodes, default=-1) + 64) // 64
        # an array of unsigned longs; the kernel reads maxnode - 1 bits of it
        data = mask.to_bytes(words * 8, sys.byteorder) if words else None
        maxnode = words * 64 + 1 if words else 0
        self._check(self.libc.syscall(k.SYS_SET_MEMPOLICY, mode, data, maxnode),
                    f"set memory policy {mode:#x} nodes {list(nodes)}")

    def set_scheduler(self, policy: int, priority: int, nice: int) -> None:
        """The calling process's scheduling policy, static priority and nice value
        (sched_setscheduler(2), setpriority(2)), kept across exec."""
        try:
            os.sched_setscheduler(0, policy, os.sched_param(priority))
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        except OSError as err:
            raise from_oserror(f"set scheduler policy {policy} priority {priority} "
                               f"nice {nice}", err) from err

    def set_rlimit(self, name: str, soft: int, hard: int) -> None:
        import resource

        def cap(v: int) -> int:
            return resource.RLIM_INFINITY if v >= _RLIM_INFINITY else v

        try:
            resource.setrlimit(RLIMITS[name], (cap(soft), cap(hard)))
        except (OSError, ValueError) as err:
            raise from_oserror(f"setrlimit {name}", OSError(1, str(err))
                               if isinstance(err, ValueError) else err) from err

    def compile_seccomp(self, seccomp: Seccomp) -> CompiledFilter:
        """Build the filter in libseccomp; loading it is a separate, later step."""
        from estiba.kernel import seccomp as libseccomp

        return libseccomp.compile_filter(libseccomp.expand(seccomp))

    def load_seccomp(self, compiled: CompiledFilter) -> None:
        compiled.load()

    # --- terminals and descriptors ---------------------------------------------------

    def set_controlling_tty(self, fd: int) -> None:
        import fcntl

        try:
            os.setsid()
            fcntl.ioctl(fd, k.TIOCSCTTY, 0)
        except OSError as err:
            raise from_oserror("set the controlling terminal", err) from err

    def set_window_size(self, fd: int, rows: int, cols: int) -> None:
        import fcntl

        size = b"".join(v.to_bytes(2, sys.byteorder) for v in (rows, cols, 0, 0))
        fcntl.ioctl(fd, k.TIOCSWINSZ, size)  # struct winsize

    def cloexec_from(self, first: int) -> None:
        """Mark every descriptor from ``first`` up close-on-exec, so none of the
        runtime's own descriptors reach the container's program."""
        rc = self.libc.syscall(k.SYS_CLOSE_RANGE, first, -1, k.CLOSE_RANGE_CLOEXEC)
        if rc < 0:  # kernels before 5.11: walk the table instead
            for name in os.listdir("/proc/self/fd"):
                fd = int(name)
                if fd >= first:
                    try:
                        os.set_inheritable(fd, False)
                    except OSError:
                        pass

    def execve(self, path: str, args: list[str], env: dict[str, str] | list[str]) -> None:
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
        try:
            os.execve(path, args, env)
        except OSError as err:
            raise from_oserror(f"exec {path}", err) from err


def _u32(value: int) -> bytes:
    return value.to_bytes(4, sys.byteorder)


def _context_log(fd: int) -> str:
    """What the filesystem logged into context ``fd`` ("e overlayfs: ..." lines, read
    until ENODATA), joined for an error message; "" when nothing or unreadable."""
    lines = []
    for _ in range(32):
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        lines.append(data.decode(errors="replace").strip())
    return "; ".join(lines)


def _setgroups_denied() -> bool:
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() == "deny"
    except OSError:
        return False
