"""``delete``: remove a stopped container's resources (runtime.md, "delete"); with
``--force`` a running one is killed first. Deleting a created container kills its
waiting init, as runc does. ``delete --force`` of an unknown id succeeds quietly:
containerd deletes twice and relies on it."""

from __future__ import annotations

import os
import time

from estiba.errors import FailedPrecondition, Internal, NotFound
from estiba.oci import state as oci_state
from estiba.runtime.container import Container
from estiba.runtime.kill import signal_all

_DEADLINE = 10.0

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def delete(root: str, container_id: str, force: bool = False,
           warn: Callable[[str], None] | None = None) -> None:
    try:
        container = Container.load(root, container_id)
    except NotFound:
        if force:
            return
        raise
    delete_container(container, force=force, warn=warn)


def delete_container(container: Container, force: bool = False,
                     warn: Callable[[str], None] | None = None) -> None:
    status = container.status()
    if status in (oci_state.RUNNING, oci_state.PAUSED) and not force:
        raise FailedPrecondition(
            f"cannot delete container {container.id} that is not stopped: {status}")
    if status != oci_state.STOPPED:
        try:
            os.kill(container.pid, 9)
        except ProcessLookupError:
            pass
        if status == oci_state.PAUSED:
            container.cgroup().thaw()
        _wait_gone(container)
    destroy(container)
    hooks = container.hooks("poststop")
    if hooks:  # the spec: a failed poststop hook is only a warning
        from estiba.runtime.hooks import run_hooks

        run_hooks("poststop", hooks, container.state().replace(status=oci_state.STOPPED),
                  warn=warn or (lambda message: None))
    container.remove_dir()


def destroy(container: Container) -> None:
    """Kill what is left in the cgroup (processes of a container without its own pid
    namespace outlive its init), then remove the cgroup."""
    cgroup = container.cgroup()
    deadline = time.monotonic() + _DEADLINE
    while cgroup.exists() and cgroup.pids():
        signal_all(container, 9)
        if time.monotonic() > deadline:
            raise Internal(f"delete container {container.id}: processes would not die")
        time.sleep(0.005)
    cgroup.destroy()
    if container.data.get("default_cgroups_path"):
        remove_default_parent(container.data["cgroup_paths"])


def remove_default_parent(cgroup_paths: dict[str, str]) -> None:
    """The parent the runtime makes for containers without a cgroupsPath goes with the
    last of them; it stays while another container is in it."""
    for path in cgroup_paths.values():
        try:
            os.rmdir(os.path.dirname(path))
        except OSError:
            pass


def _wait_gone(container: Container) -> None:
    deadline = time.monotonic() + _DEADLINE
    while container.alive():
        if time.monotonic() > deadline:
            raise Internal(f"delete container {container.id}: its init would not die")
        time.sleep(0.002)
