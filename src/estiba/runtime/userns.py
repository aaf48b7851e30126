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

from estiba.errors import Internal, Unavailable, from_oserror
from estiba.kernel import consts as k

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


def fork_in_user_namespace(kernel: Linux, plan: InitPlan) -> int:
    """fork() for the init: 0 in the init (in its user and pid namespaces, the config's
    path namespaces but the cgroup one joined), its pid in the runtime."""
    kernel.set_child_subreaper()
    up_r, up_w = os.pipe2(os.O_CLOEXEC)  # the intermediate child to the runtime
    down_r, down_w = os.pipe2(os.O_CLOEXEC)  # the runtime to it
    middle = os.fork()
    if middle == 0:
        os.close(up_r)
        os.close(down_w)
        try:
            init = _middle(kernel, plan, up_w, down_r)
        except BaseException as err:  # noqa: BLE001 - this child never returns but as init
            _say(up_w, b"E" + str(err).encode()[:4000])
            os._exit(1)
        if init == 0:
            os.close(up_w)
            os.close(down_r)
            become_namespace_root()
            return 0
        _say(up_w, b"P%d" % init)
        os._exit(0)
    os.close(up_w)
    os.close(down_r)
    try:
        said = _hear(up_r)
        if said != b"U":
            raise Internal(f"make the user namespace: {_reason(said)}")
        if plan.user_namespace == "new":
            write_maps(middle, plan)
        os.write(down_w, b"G")
        said = _hear(up_r)
        if not said.startswith(b"P"):
            raise Internal(f"make the pid namespace: {_reason(said)}")
        return int(said[1:])
    finally:
        os.close(up_r)
        os.close(down_w)
        os.waitpid(middle, 0)


def _middle(kernel: Linux, plan: InitPlan, up: int, down: int) -> int:
    # The runtime writes our maps through /proc/<pid>, which an undumpable process
    # keeps for root alone; nothing of the container sees us before we fork the init,
    # who is undumpable again.
    kernel.set_dumpable(True)
    for flag, path in plan.join:
        if flag != k.CLONE_NEWCGROUP:
            _setns(kernel, path, flag)
    if plan.user_namespace == "new":
        kernel.unshare(k.CLONE_NEWUSER)
    else:
        _setns(kernel, plan.user_namespace, k.CLONE_NEWUSER)
    _say(up, b"U")
    if os.read(down, 1) != b"G":  # the maps are written (or the runtime is gone)
        os._exit(1)
    kernel.set_dumpable(False)
    if plan.pid_namespace == "new":
        kernel.unshare(k.CLONE_NEWPID)
    elif plan.pid_namespace != "host":
        _setns(kernel, plan.pid_namespace, k.CLONE_NEWPID)
    return os.fork()


def _setns(kernel: Linux, path: str, flag: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        kernel.setns(fd, flag, label=path)
    finally:
        os.close(fd)


def _say(fd: int, message: bytes) -> None:
    try:
        os.write(fd, len(message).to_bytes(4, "little") + message)
    except OSError:
        pass


def _hear(fd: int) -> bytes:
    head = os.read(fd, 4)
    if len(head) < 4:
        return b""
    size = int.from_bytes(head, "little")
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _reason(said: bytes) -> str:
    return said[1:].decode(errors="replace") if said.startswith(b"E") else "the child exited"


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
