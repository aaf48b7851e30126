"""``exec``: start another process inside a running container.

The runtime opens the init's namespaces, forks into the container's pid namespace and
puts the child in the container's cgroup (on v1 the child moves itself); the child joins
the other namespaces (the mount namespace last: after it, the host's /proc paths are
gone) before the same process set-up an init gets. The runtime learns that the exec
happened when the child's end of the channel closes on exec.
"""

from __future__ import annotations

import os

from estiba.errors import FailedPrecondition
from estiba.kernel import consts as k
from estiba.oci import state as oci_state
from estiba.oci.runtime_config import parse_config
from estiba.runtime import sync
from estiba.runtime.create import fork_into_pid_namespace, kill_and_reap, write_pid_file
from estiba.runtime.plan import plan_memory_policy, plan_personality, plan_process
from estiba.runtime.process import finish_and_exec
from estiba.runtime.userns import become_namespace_root
from estiba.runtime.validate import validate_process
from estiba.runtime.wait import wait_forwarding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cgroups import CgroupManager
    from estiba.kernel.linux import Linux
    from estiba.kernel.seccomp import CompiledFilter
    from estiba.oci.runtime_config import Process
    from estiba.runtime.container import Container
    from estiba.runtime.plan import ProcessPlan

# Joined in this order; mount last (see above).
# the user namespace first: it owns the others
_ORDER = ("user", "ipc", "uts", "network", "cgroup", "mount")


def exec_process(
    kernel: Linux,
    container: Container,
    process: Process,
    *,
    detach: bool = False,
    pid_file: str = "",
    console_socket: str = "",
    preserve_fds: int = 0,
) -> int:
    status = container.status()
    if status not in (oci_state.RUNNING, oci_state.CREATED):
        raise FailedPrecondition(f"cannot exec in container {container.id}: it is {status}")
    validate_process(process)
    spec = parse_config(container.config)
    plan = plan_process(process, spec.linux.seccomp if spec.linux else None,
                        personality=plan_personality(spec),
                        memory_policy=plan_memory_policy(spec))
    if plan.terminal and not console_socket:
        raise FailedPrecondition("cannot allocate a tty without a console socket "
                                 "(--console-socket)")
    seccomp = kernel.compile_seccomp(plan.seccomp) if plan.seccomp else None
    types = {ns.type for ns in spec.linux.namespaces} if spec.linux else set()
    ns_fds: list[tuple[int, int, str]] = []
    try:
        for ns_type in _ORDER:
            if ns_type in types:
                path = f"/proc/{container.pid}/ns/{k.NAMESPACE_PROC_NAMES[ns_type]}"
                ns_fds.append((os.open(path, os.O_RDONLY | os.O_CLOEXEC),
                               k.NAMESPACE_FLAGS[ns_type], path))
        console_fd = None
        if plan.terminal:
            from estiba.runtime.console import connect

            console_fd = connect(console_socket)
        pid_ns = f"/proc/{container.pid}/ns/pid" if "pid" in types else "host"
        cgroup = container.cgroup()
        # v1: the child moves itself, which spares the kernel's grace period (see
        # CgroupV1.join_self); v2: we move it.
        self_join = cgroup if cgroup.version == 1 else None
        # Loaded by the parent, once: the child would pay for each page the imports touch.
        kernel.preload()
        runtime_side, child_side = sync.Channel.pair()
        kernel.set_dumpable(False)  # as for the init: see create.py
        pid = fork_into_pid_namespace(kernel, pid_ns)
        if pid == 0:
            runtime_side.close()
            _child(kernel, plan, child_side, ns_fds, console_fd, 3 + preserve_fds, seccomp,
                   self_join)
        child_side.close()
        if console_fd is not None:
            os.close(console_fd)
    finally:
        for fd, _, _ in ns_fds:
            os.close(fd)
    try:
        if self_join is None:
            cgroup.join(pid)
        runtime_side.send(sync.GO)
        runtime_side.receive()  # EOF once the program runs; raises what the child said
    except BaseException:
        kill_and_reap(pid)
        raise
    finally:
        runtime_side.close()
    if pid_file:
        write_pid_file(pid_file, pid)
    if detach:
        return 0
    return wait_forwarding(pid)


def _child(kernel: Linux, plan: ProcessPlan, channel: sync.Channel,
           ns_fds: list[tuple[int, int, str]], console_fd: int | None, keep_fds: int,
           seccomp: CompiledFilter | None, cgroup: CgroupManager | None) -> None:
    try:
        if cgroup is not None:
            cgroup.join_self()
        channel.expect(sync.GO)
        kernel.preload()  # after setns into the mount namespace the host's files are gone
        for fd, flag, path in ns_fds:
            kernel.setns(fd, flag, label=path)
            if flag == k.CLONE_NEWUSER:
                become_namespace_root()
        if console_fd is not None:
            from estiba.runtime.console import setup_pty

            setup_pty(kernel, console_fd, plan.console_size)
        finish_and_exec(kernel, plan, keep_fds=keep_fds, seccomp=seccomp)
    except BaseException as err:  # noqa: BLE001 - never return into the runtime's code
        channel.error(sync.failure_message(err))
    os._exit(1)
