"""The last steps before the user program runs, shared by a container's init and by
``exec``: limits, I/O priority, scheduler, personality and memory policy, working
directory, capabilities, user, no_new_privs, seccomp, and the exec itself.

Order matters and follows the kernel's rules: the bounding set is dropped while
CAP_SETPCAP is still held; capabilities survive the switch to a non-root user only with
keepcaps; seccomp without no_new_privs needs CAP_SYS_ADMIN, so it is loaded before the
capabilities are dropped, and with no_new_privs as late as possible, right before exec,
so the filter constrains as little of the runtime's own work as it can.
"""

from __future__ import annotations

import _signal
import os

from estiba.errors import EstibaError, Internal, NotFound, PermissionDenied
from estiba.kernel import capabilities as caps
from estiba.runtime.plan import lookup_path, with_home

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.kernel.linux import Linux
    from estiba.kernel.seccomp import CompiledFilter
    from estiba.runtime.plan import ProcessPlan

# Python ignores these; ignored dispositions survive exec, and a container's program
# must start with the defaults.
_RESET_SIGNALS = (13, 25)  # SIGPIPE, SIGXFSZ


class ExecNotFound(NotFound):
    """runc's wording, which dockerd turns into exit status 127."""


class ExecDenied(PermissionDenied):
    """runc's wording, which dockerd turns into exit status 126."""


def _is_executable(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_mode & 0o170000) == 0o100000 and os.access(path, os.X_OK)


def resolve_executable(plan: ProcessPlan) -> str:
    """The file to exec, found in the container's $PATH as execvp would, with runc's
    messages when it is missing or not executable."""
    if not plan.args:
        raise Internal("process has no args")
    name = plan.args[0]
    found = lookup_path(name, plan.env, _is_executable)
    if found is None:
        raise ExecNotFound(f'exec: "{name}": executable file not found in $PATH')
    if "/" in name:
        try:
            st = os.stat(found)
        except OSError as err:  # Go's exec.LookPath wording, as runc reports it
            raise ExecNotFound(f'exec: "{name}": stat {name}: '
                               f'{(err.strerror or "").lower()}') from None
        if (st.st_mode & 0o170000) == 0o040000 or not os.access(found, os.X_OK):
            raise ExecDenied(f'exec: "{name}": permission denied')
    return found


def finish_and_exec(
    kernel: Linux,
    plan: ProcessPlan,
    *,
    keep_fds: int = 3,
    wait_start: Callable[[], None] | None = None,
    seccomp: CompiledFilter | None = None,
) -> None:
    """Apply the process plan and exec; never returns (raises on failure). ``seccomp``
    is the plan's filter, compiled while libseccomp was still reachable."""
    if plan.oom_score_adj is not None:
        _set_oom_score_adj(kernel, plan.oom_score_adj)
    for name, soft, hard in plan.rlimits:
        kernel.set_rlimit(name, soft, hard)
    # while still privileged: the real-time classes and policies need CAP_SYS_ADMIN or
    # CAP_SYS_NICE; these four settings are kept across exec
    if plan.io_priority is not None:
        kernel.set_io_priority(*plan.io_priority)
    if plan.scheduler is not None:
        kernel.set_scheduler(*plan.scheduler)
    if plan.personality is not None:
        kernel.set_personality(plan.personality)
    if plan.memory_policy is not None:
        kernel.set_memory_policy(*plan.memory_policy)
    executable = resolve_executable(plan)
    env = with_home(plan.env, plan.uid, _read_passwd())

    cwd_pending = False
    try:
        os.chdir(plan.cwd)
    except OSError:
        cwd_pending = True  # maybe only the user can enter it: retry after the switch
    if plan.uid != 0:  # while CAP_CHOWN is still held
        kernel.give_stdio_to(plan.uid)

    last = caps.last_cap()
    if plan.caps is not None:
        kernel.drop_bounding(plan.caps[0], last)
    seccomp_early = seccomp is not None and not plan.no_new_privs
    if seccomp_early:
        kernel.load_seccomp(seccomp)
    if plan.caps is not None:
        kernel.set_keepcaps(True)
    kernel.set_ids(plan.uid, plan.gid, plan.groups)
    if plan.caps is not None:
        kernel.set_keepcaps(False)
        _, effective, permitted, inheritable, ambient = plan.caps
        kernel.capset(effective, permitted, inheritable)
        if ambient:
            kernel.raise_ambient(ambient, last)
    if cwd_pending:
        try:
            os.chdir(plan.cwd)
        except OSError as err:
            raise EstibaError(f"chdir to cwd ({plan.cwd!r}) set in config.json failed: "
                              f"{(err.strerror or '').lower()}") from err
    if plan.umask is not None:
        os.umask(plan.umask)
    if plan.no_new_privs:
        kernel.set_no_new_privs()

    for signum in _RESET_SIGNALS:
        _signal.signal(signum, _signal.SIG_DFL)
    kernel.cloexec_from(keep_fds)
    if wait_start is not None:
        wait_start()
    if seccomp is not None and not seccomp_early:
        kernel.load_seccomp(seccomp)
    kernel.execve(executable, list(plan.args), list(env))


def _read_passwd() -> str:
    """The container's /etc/passwd, read while still root as runc does; "" when it is
    missing or not a regular file (a fifo there must not block the init)."""
    try:
        fd = os.open("/etc/passwd", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        if (os.fstat(fd).st_mode & 0o170000) != 0o100000:
            return ""
        return os.read(fd, 1 << 20).decode(errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _set_oom_score_adj(kernel: Linux, value: int) -> None:
    try:
        with open("/proc/self/oom_score_adj", "rb") as f:
            if int(f.read()) == value:
                return
    except OSError:
        pass
    kernel.write_file("/proc/self/oom_score_adj", str(value))
