"""``create``: set up a container whose init waits for ``start`` (runtime.md, "create").

The runtime forks the init itself: before the fork it creates (or joins) the pid
namespace for its children only, so the init is pid 1 there and still the runtime's
direct child; right after, it returns its own children to its pid namespace, so hooks
it runs later are not born inside the container. When the runtime exits the init is
reparented to the caller's subreaper (containerd's shim), which reaps it.

Anything made on the way — state directory, cgroup, the init itself — is undone when a
later step fails, so a failed ``create`` leaves nothing behind.
"""

from __future__ import annotations

import os

from estiba.errors import EstibaError, Internal, InvalidArgument, NotFound, from_oserror
from estiba.kernel import consts as k
from estiba.kernel import proc
from estiba.oci import json_codec
from estiba.oci import state as oci_state
from estiba.oci.runtime_config import DeviceRule, Resources, parse_config
from estiba.runtime import sync
from estiba.runtime.container import FORMAT_VERSION, Container
from estiba.runtime.plan import DEFAULT_DEVICE_RULES, bundle_rootfs, plan_init
from estiba.runtime.validate import validate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.kernel.linux import Linux
    from estiba.oci.runtime_config import Spec


class CreateOptions:
    __slots__ = ("bundle", "pid_file", "console_socket", "no_pivot", "no_new_keyring",
                 "preserve_fds", "console_fd")

    def __init__(self, bundle: str, pid_file: str = "", console_socket: str = "",
                 no_pivot: bool = False, no_new_keyring: bool = False,
                 preserve_fds: int = 0,
                 console_fd: int | None = None) -> None:
        self.bundle = bundle
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.preserve_fds = preserve_fds
        self.console_fd = console_fd  # an already connected console socket (run)


def load_bundle(bundle: str) -> tuple[dict, Spec]:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise NotFound(f"open {path}: no such file or directory") from None
    except OSError as err:
        raise InvalidArgument(f"open {path}: {(err.strerror or '').lower()}") from err
    try:
        data = json_codec.loads(raw)
    except ValueError as err:
        raise InvalidArgument(f"{path}: malformed json: {err}") from None
    try:
        spec = parse_config(data)
    except InvalidArgument as err:
        raise InvalidArgument(f"{path}: {err}") from None
    return data, spec


def with_default_devices(resources: Resources | None) -> Resources:
    resources = resources or Resources()
    extra = tuple(
        DeviceRule(allow=True, type=t, major=major, minor=minor, access="rwm")
        for t, major, minor in DEFAULT_DEVICE_RULES
    )
    if not resources.devices:  # no device policy asked: keep the host's (runc's default)
        return resources
    return resources.replace(devices=resources.devices + extra)


def create(kernel: Linux, root: str, container_id: str, opts: CreateOptions,
           loaded: tuple[dict, Spec] | None = None) -> Container:
    """Create the container and return it; its init is waiting for ``start``.
    ``loaded`` is the bundle's config when the caller has read it already."""
    bundle = os.path.abspath(opts.bundle)
    data, spec = loaded or load_bundle(bundle)
    validate(spec, bundle)
    rootfs = bundle_rootfs(bundle, spec.root.path)
    if not os.path.isdir(rootfs):
        raise NotFound(f"rootfs {rootfs}: no such directory")
    if spec.process.terminal and opts.console_fd is None and not opts.console_socket:
        raise InvalidArgument("cannot allocate a tty without a console socket "
                              "(--console-socket)")

    Container.make_dir(root, container_id)
    container = Container(root, container_id, {})
    undo: list = [container.remove_dir]
    try:
        return _create(kernel, container, bundle, data, spec, rootfs, opts, undo)
    except BaseException:
        for step in reversed(undo):
            try:
                step()
            except Exception:  # noqa: BLE001 - undo as much as can be undone
                pass
        raise


def _create(kernel: Linux, container: Container, bundle: str, data: dict, spec: Spec,
            rootfs: str, opts: CreateOptions, undo: list) -> Container:
    from estiba.cgroups import open_cgroup, prime_migration

    linux = spec.linux
    os.mkfifo(container.fifo, 0o622)
    # Writable by anyone whatever the umask: the init opens it after switching user.
    os.chmod(container.fifo, 0o622)
    cgroups_path = linux.cgroups_path or f"/estiba/{container.id}"
    cgroup = open_cgroup(cgroups_path)
    if not linux.cgroups_path:  # undone after the cgroup itself (undo runs backwards)
        undo.append(lambda: _remove_default_parent(cgroup.paths()))
    undo.append(cgroup.destroy)  # before create: a create that fails halfway is undone too
    # On v1 the init moves itself into the cgroup, thread by thread, which costs the
    # kernel no grace period (CgroupV1.join_self); on v2 the runtime moves it, and the
    # kernel's wait before that first move overlaps the planning and forking below.
    # (not from inside a user namespace, where the host's cgroup files are not ours)
    in_user_ns = any(ns.type == "user" for ns in linux.namespaces)
    joins_itself = cgroup.version == 1 and not in_user_ns
    if not joins_itself:
        import _thread

        _thread.start_new_thread(prime_migration, ())
    cgroup_paths = cgroup.paths()
    resources = with_default_devices(linux.resources)

    plan = plan_init(spec, rootfs, cgroup_paths, cgroups_path, no_pivot=opts.no_pivot,
                     session_keyring=None if opts.no_new_keyring else f"_ses.{container.id}")
    # Built here, before the fork: the init loads it after pivot_root, when libseccomp
    # is out of its reach. A bad profile fails here, before any process exists.
    seccomp = kernel.compile_seccomp(linux.seccomp) if linux.seccomp else None
    console_fd = opts.console_fd
    if plan.process.terminal and console_fd is None:
        from estiba.runtime.console import connect

        console_fd = connect(opts.console_socket)
    creating = oci_state.State(id=container.id, status=oci_state.CREATING, pid=0,
                               bundle=bundle, annotations=spec.annotations)
    # Loaded by the parent, once: the child would pay for each page the imports touch.
    kernel.preload()
    from estiba.runtime.init import InitContext, container_init

    runtime_side, child_side = sync.Channel.pair()
    fifo_fd = os.open(container.fifo, os.O_PATH | os.O_CLOEXEC)
    # Inherited by the init across fork, with no window: until it execs, nothing in the
    # container may open its /proc/<pid>/exe (the host's interpreter: CVE-2019-5736's
    # way out) or its descriptors.
    kernel.set_dumpable(False)
    if plan.user_namespace == "host":
        pid = fork_into_pid_namespace(kernel, plan.pid_namespace)
    else:
        from estiba.runtime.userns import fork_in_user_namespace

        pid = fork_in_user_namespace(kernel, plan)
    if pid == 0:
        runtime_side.close()
        # The hooks run in the container see its pid as it does (runc's rule); the
        # startContainer ones run once it is created.
        in_container = creating.replace(pid=os.getpid())
        state_json = json_codec.dumps(in_container.to_json()).encode()
        start_state_json = json_codec.dumps(
            in_container.replace(status=oci_state.CREATED).to_json()).encode()
        container_init(kernel, plan, InitContext(
            channel=child_side, fifo_fd=fifo_fd, console_fd=console_fd,
            keep_fds=3 + opts.preserve_fds, hooks=spec.hooks, state_json=state_json,
            start_state_json=start_state_json,
            seccomp=seccomp, cgroup=cgroup if joins_itself else None,
            joined=plan.user_namespace != "host",
        ))
        os._exit(1)  # not reached: container_init ends in exec or _exit
    child_side.close()
    os.close(fifo_fd)
    if console_fd is not None:
        os.close(console_fd)
    undo.append(lambda: kill_and_reap(pid))
    try:
        # The cgroup is made while the init makes its namespaces and mounts: it waits
        # for GO before it needs the cgroup (a bind of it, or joining it).
        try:
            # The child is often queued on this CPU behind us (measured: ~1.5 ms before
            # it first runs); yielding lets it start its unshare and mounts at once.
            os.sched_yield()
            cgroup.create()
            cgroup.apply(resources)
        except BaseException:
            kill_and_reap(pid)
            raise
        try:
            if not joins_itself:
                cgroup.join(pid)
            runtime_side.send(sync.GO)
        except (EstibaError, OSError):
            # The init may have failed on its own meanwhile (it sets up its mounts while
            # we join it to the cgroup): its message says more than ours.
            kill_and_reap(pid)
            runtime_side.receive()
            raise
        # The init is our unreaped child: its pid and start time hold until we exit.
        st = proc.stat(pid)
        if st is None:
            raise Internal("container init exited before it was ready")
        container.data = {
            "version": FORMAT_VERSION,
            "id": container.id,
            "bundle": bundle,
            "rootfs": rootfs,
            "pid": pid,
            "start_time": st.start_time,
            # taken while the init sets up, a few ms before it is ready: the record is
            # written meanwhile and only renamed into place once it is
            "created": oci_state.timestamp(),
            "owner": "",
            "cgroups_path": cgroups_path,
            "default_cgroups_path": not linux.cgroups_path,
            "cgroup_paths": cgroup_paths,
            "config": data,
        }
        staged = container.stage()  # while the init makes its mounts
        runtime_side.expect(sync.HOOKS)
        if spec.hooks.prestart or spec.hooks.create_runtime:
            from estiba.runtime.hooks import run_hooks

            with_pid = creating.replace(pid=pid)
            run_hooks("prestart", spec.hooks.prestart, with_pid)
            run_hooks("createRuntime", spec.hooks.create_runtime, with_pid)
        runtime_side.send(sync.GO)
        message = runtime_side.receive()
        if message != sync.READY:
            raise Internal("container init exited before it was ready")
    finally:
        runtime_side.close()

    container.commit(staged)
    if opts.pid_file:
        write_pid_file(opts.pid_file, pid)
    return container


def _remove_default_parent(paths: dict[str, str]) -> None:
    from estiba.runtime.delete import remove_default_parent

    remove_default_parent(paths)


def fork_into_pid_namespace(kernel: Linux, pid_namespace: str) -> int:
    """fork(), with the child in a new pid namespace, a joined one, or ours."""
    if pid_namespace == "host":
        return os.fork()
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if pid_namespace == "new":
            kernel.unshare(k.CLONE_NEWPID)
        else:
            fd = os.open(pid_namespace, os.O_RDONLY | os.O_CLOEXEC)
            try:
                kernel.setns(fd, k.CLONE_NEWPID, label=pid_namespace)
            finally:
                os.close(fd)
        pid = os.fork()
        if pid != 0:
            kernel.setns(own, k.CLONE_NEWPID, label="the runtime's pid namespace")
        return pid
    finally:
        os.close(own)


def kill_and_reap(pid: int) -> None:
    """SIGKILL a child of ours and reap it; one already gone is fine."""
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def write_pid_file(path: str, pid: int) -> None:
    """Atomically: the caller may read the file as soon as it exists."""
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(str(pid))
        os.rename(tmp, path)
    except OSError as err:
        raise from_oserror(f"write pid file {path}", err) from err

