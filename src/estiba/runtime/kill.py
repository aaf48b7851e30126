"""``kill``: send a signal to the container's init, or with ``--all`` to every process
in its cgroup (runtime.md, "kill")."""

from __future__ import annotations

import os

from estiba.errors import FailedPrecondition
from estiba.oci import state as oci_state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.runtime.container import Container


def kill(container: Container, signal: int, all_processes: bool = False) -> None:
    status = container.status()
    if status == oci_state.STOPPED and not all_processes:
        raise FailedPrecondition(f"cannot kill container {container.id}: it is not running")
    if all_processes:
        signal_all(container, signal)
        return
    try:
        os.kill(container.pid, signal)
    except ProcessLookupError:
        raise FailedPrecondition(f"cannot kill container {container.id}: "
                                 "it is not running") from None


def signal_all(container: Container, signal: int) -> None:
    """Signal every process of the cgroup; a frozen cgroup is thawed after a SIGKILL so
    the processes can die."""
    cgroup = container.cgroup()
    for pid in cgroup.pids():
        try:
            os.kill(pid, signal)
        except ProcessLookupError:
            pass
    if signal == 9 and cgroup.frozen():
        cgroup.thaw()
