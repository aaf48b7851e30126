"""The container's init: what the forked child does, step by step, to become the
container (the executor of an ``InitPlan``).

It runs in the child right after fork, single-threaded, and never returns: it ends in
exec or in ``os._exit``. Every failure is sent to the runtime over the channel with the
message of the step that failed.

Order: join/create namespaces but the cgroup one → make the mount tree a slave of the
host's and the rootfs a mount point → mounts, devices, /dev symlinks (the runtime makes
the cgroup meanwhile: a mount of it waits for its GO) → into our cgroup
(by ourselves on v1; on v2 the runtime moves us meanwhile) → the cgroup namespace,
rooted at that cgroup → the runtime
runs the prestart and createRuntime hooks → createContainer hooks → pivot_root → hostname,
console, sysctl, read-only and masked paths, read-only root → process set-up → block on
the exec fifo until ``start`` → exec.
"""

from __future__ import annotations

import os
import stat

from estiba.errors import EstibaError, InvalidArgument
from estiba.kernel import consts as k
from estiba.runtime import sync
from estiba.runtime.mounts import open_parent, secure_join
from estiba.runtime.plan import device_mode
from estiba.runtime.process import finish_and_exec
from estiba.runtime.userns import join_namespace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.cgroups import CgroupManager
    from estiba.kernel.linux import Linux
    from estiba.kernel.seccomp import CompiledFilter
    from estiba.oci.runtime_config import Hooks
    from estiba.runtime.plan import InitPlan, MountStep


class InitContext:
    """What the init needs besides its plan: descriptors made by the runtime."""

    def __init__(self, channel: sync.Channel, fifo_fd: int, console_fd: int | None,
                 keep_fds: int, hooks: Hooks, state_json: bytes,
                 seccomp: CompiledFilter | None = None, start_state_json: bytes = b"",
                 cgroup: CgroupManager | None = None, joined: bool = False) -> None:
        self.channel = channel
        # forked into its user namespace with the path namespaces joined (userns.py)
        self.joined = joined
        self.cgroup = cgroup  # set when the init moves itself into its cgroup (v1)
        self.seccomp = seccomp
        self.fifo_fd = fifo_fd
        self.console_fd = console_fd
        self.keep_fds = keep_fds
        self.hooks = hooks
        self.state_json = state_json  # for createContainer hooks: "creating"
        self.start_state_json = start_state_json or state_json  # startContainer: "created"


def container_init(kernel: Linux, plan: InitPlan, ctx: InitContext) -> None:
    """Never returns."""
    try:
        kernel.preload()
        if plan.process.terminal:
            from estiba.runtime import console  # noqa: F401 - needed after pivot_root
        if ctx.hooks.create_container or ctx.hooks.start_container:
            from estiba.runtime import hooks  # noqa: F401 - needed after pivot_root
        for flag, path in plan.join:
            if flag != k.CLONE_NEWCGROUP and not ctx.joined:
                join_namespace(kernel, flag, path)
        if plan.unshare & ~k.CLONE_NEWCGROUP:
            kernel.unshare(plan.unshare & ~k.CLONE_NEWCGROUP)
        if plan.session_keyring:
            kernel.join_session_keyring(plan.session_keyring)
        made: list[bool] = []
        entered: list[bool] = []

        def cgroup_made() -> None:
            # The runtime makes the cgroup while we make namespaces and mounts, and says
            # GO once it exists (on v2, once it has moved us into it too).
            if not made:
                ctx.channel.expect(sync.GO)
                made.append(True)

        def enter_cgroup() -> None:
            # Into our cgroup — by ourselves on v1, else the runtime has moved us (its
            # first move may wait ~10 ms for the kernel: the mounts are made meanwhile)
            # — and only then into a cgroup namespace, rooted there.
            if entered:
                return
            cgroup_made()
            if ctx.cgroup is not None:
                ctx.cgroup.join_self()
            for flag, path in plan.join:
                if flag == k.CLONE_NEWCGROUP:
                    join_namespace(kernel, flag, path)
            if plan.unshare & k.CLONE_NEWCGROUP:
                kernel.unshare(k.CLONE_NEWCGROUP)
            entered.append(True)

        prepare_rootfs(kernel, plan, before_cgroup2=enter_cgroup, before_cgroup=cgroup_made)
        enter_cgroup()
        ctx.channel.send(sync.HOOKS)
        ctx.channel.expect(sync.GO)
        if ctx.hooks.create_container:
            _run_hooks_in_container("createContainer", ctx)
        if plan.no_pivot:
            kernel.move_root_into(plan.rootfs)
        else:
            kernel.pivot_root_into(plan.rootfs)
        finish_rootfs(kernel, plan, ctx)

        def wait_start() -> None:
            ctx.channel.send(sync.READY)
            # Blocks until `start` opens the fifo for reading. The descriptor stays open
            # (close-on-exec) until the exec: `start` waits for its end of file, so it
            # returns, and runs the poststart hooks, only once the program runs.
            fd = os.open(f"/proc/self/fd/{ctx.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
            os.write(fd, b"0")
            if ctx.hooks.start_container:
                _run_hooks_in_container("startContainer", ctx)

        finish_and_exec(kernel, plan.process, keep_fds=ctx.keep_fds, wait_start=wait_start,
                        seccomp=ctx.seccomp)
    except BaseException as err:  # noqa: BLE001 - the child must never return to the caller
        _fail(ctx.channel, sync.failure_message(err))
    os._exit(1)


def _fail(channel: sync.Channel, message: str) -> None:
    try:
        channel.error(message)
    except OSError:
        # The runtime is gone (the failure came after `start`): the container's stderr
        # is the one place left where someone will read it.
        try:
            os.write(2, f"estiba-runtime: {message}\n".encode())
        except OSError:
            pass
    os._exit(1)


def prepare_rootfs(kernel: Linux, plan: InitPlan,
                   before_cgroup2: Callable[[], None] | None = None,
                   before_cgroup: Callable[[], None] | None = None) -> None:
    """Mounts, devices and /dev links. A cgroup2 mount shows the cgroup namespace of the
    mounter, so ``before_cgroup2`` (entering it) runs before one; ``before_cgroup``
    (waiting until the cgroup exists) runs before any mount of the container's cgroup."""
    root = plan.rootfs
    kernel.mount("", "/", "", plan.root_propagation, label="/")
    # pivot_root needs the new root to be a mount point; a bind of itself makes it one.
    kernel.mount(root, root, "", k.MS_BIND | k.MS_REC)
    # opened after that bind: paths are then resolved in the rootfs's own mount
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _prepare(kernel, plan, root_fd, before_cgroup2, before_cgroup)
    finally:
        os.close(root_fd)


def _prepare(kernel: Linux, plan: InitPlan, root_fd: int,
             before_cgroup2: Callable[[], None] | None,
             before_cgroup: Callable[[], None] | None) -> None:
    root = plan.rootfs
    for step in plan.mounts:
        if step.cgroup and before_cgroup is not None:
            before_cgroup()
        if step.fstype == "cgroup2" and before_cgroup2 is not None:
            before_cgroup2()
        mount_step(kernel, root, step, root_fd)
    for node in plan.devices:
        path = secure_join(root, node.path)
        if node.bind:
            _bind_device(kernel, root_fd, root, node.path, path)
            continue
        # made through a descriptor of its directory, as the mount points are
        parent, name = open_parent(kernel, root_fd, root, path)
        try:
            at = f"/proc/self/fd/{parent}/{name}"
            try:
                kernel.mknod(at, device_mode(node), node.major, node.minor)
            except EstibaError:
                if not os.path.lexists(at):
                    raise
                continue  # the rootfs (or a bind of the host's /dev) has it already
            kernel.chown(at, node.uid, node.gid)
        finally:
            os.close(parent)
    for target, link in plan.symlinks:
        path = secure_join(root, link)
        if not os.path.isdir(os.path.dirname(path)):
            continue
        parent, name = open_parent(kernel, root_fd, root, path)
        try:
            os.symlink(target, name, dir_fd=parent)
        except FileExistsError:
            pass
        finally:
            os.close(parent)


def _bind_device(kernel: Linux, root_fd: int, root: str, host_path: str, path: str) -> None:
    """The host's node at ``path`` (runc's way in a user namespace, where mknod is
    refused); the rootfs's own file there is a mount point or is replaced by one."""
    if os.path.islink(path) or (os.path.lexists(path) and os.path.isdir(path)):
        raise InvalidArgument(f"device {host_path}: the rootfs has a directory or a "
                              "symlink there")
    with _Opened(kernel, root_fd, root, path, "file") as target:
        kernel.mount(host_path, target, "", k.MS_BIND, label=host_path)


def mount_step(kernel: Linux, root: str, step: MountStep, root_fd: int) -> None:
    dest = secure_join(root, step.destination)
    if step.flags & k.MS_REMOUNT:
        with _Opened(kernel, root_fd, root, dest, "") as target:
            kernel.mount("", target, "", step.flags, label=step.destination)
        return
    is_file = False
    if step.host_source:
        try:
            is_file = not stat.S_ISDIR(os.stat(step.source).st_mode)
        except (OSError, ValueError):
            # Whatever stops the stat, the source is as good as missing (os.path.exists).
            raise InvalidArgument(
                f"mount {step.source} on {step.destination}: source: "
                "no such file or directory") from None
    # Made and mounted through descriptors: a symlink swapped into the path meanwhile
    # is refused, not followed (mounts.open_parent).
    with _Opened(kernel, root_fd, root, dest, "file" if is_file else "dir") as target:
        kernel.mount(step.source, target, step.fstype, step.flags, step.data,
                     label=step.destination)
    if step.remount or step.propagation:
        # opened again: the descriptor taken before the mount names what is under it
        with _Opened(kernel, root_fd, root, dest, "") as target:
            if step.remount:
                kernel.mount("", target, "", step.remount, label=step.destination)
            for propagation in step.propagation:
                kernel.mount("", target, "", propagation, label=step.destination)


class _Opened:
    """``with _Opened(kernel, root_fd, root, path, make) as target``: ``target`` names
    ``path`` through an ``O_PATH`` descriptor (``/proc/self/fd/N``) reached without
    following symlinks, beneath the root; ``make``: see ``mounts.open_parent``."""

    def __init__(self, kernel: Linux, root_fd: int, root: str, path: str,
                 make: str) -> None:
        self.kernel, self.root_fd, self.root, self.path = kernel, root_fd, root, path
        self.make = make
        self.fd = -1

    def __enter__(self) -> str:
        parent, name = open_parent(self.kernel, self.root_fd, self.root, self.path,
                                   self.make)
        try:
            self.fd = self.kernel.open_beneath(parent, name, os.O_PATH | os.O_CLOEXEC)
        except OSError as err:
            raise InvalidArgument(f"{self.path}: {(err.strerror or '').lower()}: a "
                                  "symlink or nothing where the mount goes") from None
        finally:
            os.close(parent)
        return f"/proc/self/fd/{self.fd}"

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)


def finish_rootfs(kernel: Linux, plan: InitPlan, ctx: InitContext) -> None:
    """The steps after pivot_root, when paths are the container's."""
    if plan.hostname:
        kernel.sethostname(plan.hostname)
    if plan.domainname:
        kernel.setdomainname(plan.domainname)
    if plan.process.terminal:
        _setup_console(kernel, plan, ctx)
    for key, value in plan.sysctl:
        kernel.write_file("/proc/sys/" + key.replace(".", "/"), value)
    for path in plan.readonly_paths:
        if not os.path.lexists(path):
            continue
        kernel.mount(path, path, "", k.MS_BIND | k.MS_REC)
        kernel.mount("", path, "", k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | k.MS_REC
                     | _locked_flags(path))
    for path in plan.masked_paths:
        if not os.path.lexists(path):
            continue
        if os.path.isdir(path):
            kernel.mount("tmpfs", path, "tmpfs", k.MS_RDONLY)
        else:
            kernel.mount("/dev/null", path, "", k.MS_BIND)
    cwd = plan.process.cwd
    if not os.path.lexists(cwd):
        # As runc does: the working directory is made if the image lacks it (before a
        # read-only root forbids it; the path is the container's own, after pivot_root).
        os.makedirs(cwd, mode=0o755, exist_ok=True)
    if plan.readonly_root:
        kernel.mount("", "/", "", k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | _locked_flags("/"),
                     label="/")


def _locked_flags(path: str) -> int:
    """nosuid/nodev/noexec of the mount at ``path``: a bind remount must repeat them."""
    st = os.statvfs(path)
    flags = 0
    if st.f_flag & os.ST_NOSUID:
        flags |= k.MS_NOSUID
    if st.f_flag & os.ST_NODEV:
        flags |= k.MS_NODEV
    if st.f_flag & os.ST_NOEXEC:
        flags |= k.MS_NOEXEC
    return flags


def _setup_console(kernel: Linux, plan: InitPlan, ctx: InitContext) -> None:
    from estiba.runtime.console import setup_pty

    if ctx.console_fd is None:
        raise InvalidArgument("process.terminal is set but there is no console socket")
    slave_path = setup_pty(kernel, ctx.console_fd, plan.process.console_size)
    if not os.path.lexists("/dev/console"):
        os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    kernel.mount(slave_path, "/dev/console", "", k.MS_BIND)


def _run_hooks_in_container(kind: str, ctx: InitContext) -> None:
    from estiba.runtime.hooks import run_hook

    if kind == "createContainer":
        hooks, payload = ctx.hooks.create_container, ctx.state_json
    else:
        hooks, payload = ctx.hooks.start_container, ctx.start_state_json
    for hook in hooks:
        run_hook(kind, hook, payload)
