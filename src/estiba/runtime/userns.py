"""Forking a container's init into its user namespace.

The init must be pid 1 of a pid namespace its user namespace owns (else it may not mount
/proc), and a pid namespace belongs to the user namespace of whoever made it. So an
intermediate child makes them in order, as runc's nsexec does: it joins the namespaces
the config names by path (which needs the host's privileges), enters a new user
namespace (or joins one by path), waits while the runtime writes the id maps from
outside (directly as root, else through newuidmap/newgidmap, which check /etc/subuid),
makes the pid namespace, forks the init and exits. The runtime is a child subreaper, so
the init is its child from then on, as it is without a user namespace.
"""

from __future__ import annotations

import os

from estiba.errors import Internal, InvalidArgument, Unavailable, from_oserror
from estiba.kernel import consts as k
from estiba.runtime import sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.kernel.linux import Linux
    from estiba.oci.runtime_config import IDMapping
    from estiba.runtime.plan import InitPlan


def map_text(mappings: tuple[IDMapping, ...]) -> str:
    """The lines of /proc/<pid>/uid_map (or gid_map): ``inside outside count``."""
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings)


def map_helper_args(tool: str, pid: int, mappings: tuple[IDMapping, ...]) -> list[str]:
    """newuidmap/newgidmap's command line for the same maps."""
    args = [tool, str(pid)]
    for m in mappings:
        args += [str(m.container_id), str(m.host_id), str(m.size)]
    return args


def become_namespace_root() -> None:
    """Root of the user namespace just entered, as runc's init is: the host's root is
    not mapped in it, and the kernel refuses to make files for an unmapped owner
    (EOVERFLOW). The process's own user is set just before its exec."""
    try:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    except OSError:
        pass  # 0 not mapped: setting up fails later, with the kernel's reason


# the intermediate child's messages, besides sync's GO (the maps are written)
USER_NAMESPACE = "userns"  # it is in its user namespace: write the maps
INIT = "init"  # "init <pid>": the init's pid, seen from the runtime


def fork_in_user_namespace(kernel: Linux, plan: InitPlan) -> int:
    """fork() for the init: 0 in the init (in its user and pid namespaces, the config's
    path namespaces but the cgroup one joined), its pid in the runtime."""
    kernel.set_child_subreaper()
    runtime_side, middle_side = sync.Channel.pair()
    middle = os.fork()
    if middle == 0:
        runtime_side.close()
        try:
            init = _middle(kernel, plan, middle_side)
        except BaseException as err:  # noqa: BLE001 - this child never returns but as init
            try:
                middle_side.error(sync.failure_message(err))
            except OSError:
                pass
            os._exit(1)
        if init == 0:
            middle_side.close()
            become_namespace_root()
            return 0
        middle_side.send(f"{INIT} {init}")
        os._exit(0)
    middle_side.close()
    try:
        try:
            runtime_side.expect(USER_NAMESPACE)
        except sync.ChildFailed as err:
            raise Internal(f"make the user namespace: {err}") from None
        if plan.user_namespace == "new":
            write_maps(middle, plan)
        runtime_side.send(sync.GO)
        try:
            said = runtime_side.receive() or ""
        except sync.ChildFailed as err:
            raise Internal(f"make the pid namespace: {err}") from None
        if not said.startswith(INIT + " "):
            raise Internal("make the pid namespace: the child exited")
        return int(said[len(INIT) + 1:])
    finally:
        runtime_side.close()
        os.waitpid(middle, 0)


def _middle(kernel: Linux, plan: InitPlan, channel: sync.Channel) -> int:
    # The runtime writes our maps through /proc/<pid>, which an undumpable process
    # keeps for root alone; nothing of the container sees us before we fork the init,
    # who is undumpable again.
    kernel.set_dumpable(True)
    for flag, path in plan.join:
        if flag != k.CLONE_NEWCGROUP:
            join_namespace(kernel, flag, path)
    if plan.user_namespace == "new":
        kernel.unshare(k.CLONE_NEWUSER)
    else:
        join_namespace(kernel, k.CLONE_NEWUSER, plan.user_namespace)
    channel.send(USER_NAMESPACE)
    channel.expect(sync.GO)  # the maps are written (an error if the runtime is gone)
    kernel.set_dumpable(False)
    if plan.pid_namespace == "new":
        kernel.unshare(k.CLONE_NEWPID)
    elif plan.pid_namespace != "host":
        join_namespace(kernel, k.CLONE_NEWPID, plan.pid_namespace)
    return os.fork()


def join_namespace(kernel: Linux, flag: int, path: str) -> None:
    """setns(2) into the namespace at ``path`` (a CLONE_NEW* ``flag``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise InvalidArgument(f"open namespace {path}: {(err.strerror or '').lower()}") from err
    try:
        kernel.setns(fd, flag, label=path)
    finally:
        os.close(fd)


def own_ids_only(plan: InitPlan, uid: int, gid: int) -> bool:
    """Whether the maps are the caller's own ids and nothing more: what a process
    without privileges may write itself (the gid map once setgroups is denied)."""
    return all(len(maps) == 1 and maps[0].host_id == own and maps[0].size == 1
               for maps, own in ((plan.uid_mappings, uid), (plan.gid_mappings, gid)))


def write_maps(pid: int, plan: InitPlan) -> None:
    privileged = os.geteuid() == 0
    if privileged or own_ids_only(plan, os.geteuid(), os.getegid()):
        files = [("gid_map", map_text(plan.gid_mappings)),
                 ("uid_map", map_text(plan.uid_mappings))]
        if not privileged:  # the kernel's condition for an unprivileged gid map
            files.insert(0, ("setgroups", "deny"))
        # gid_map first: nothing orders them for root, and runc writes it first too
        for name, text in files:
            path = f"/proc/{pid}/{name}"
            try:
                with open(path, "w") as f:
                    f.write(text)
            except OSError as err:
                raise from_oserror(f"write {path}", err) from err
        return
    import shutil
    import subprocess

    for tool, mappings in (("newgidmap", plan.gid_mappings),
                           ("newuidmap", plan.uid_mappings)):
        if shutil.which(tool) is None:
            raise Unavailable(f"mapping ids other than the caller's own needs {tool} "
                              "(apt-get install uidmap) or root")
        try:
            done = subprocess.run(map_helper_args(tool, pid, mappings),
                                  capture_output=True, text=True, timeout=10)
        except OSError as err:
            raise from_oserror(f"run {tool}", err) from err
        if done.returncode != 0:
            raise Internal(f"{tool}: {done.stderr.strip() or f'exit {done.returncode}'}")
