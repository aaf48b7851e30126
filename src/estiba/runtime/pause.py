"""``pause`` and ``resume``: freeze and thaw every process of the container through its
cgroup (the freezer on v1, cgroup.freeze on v2)."""

from __future__ import annotations

from estiba.oci import state as oci_state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.runtime.container import Container


def pause(container: Container) -> None:
    container.require(oci_state.RUNNING, action="pause")
    container.cgroup().freeze()


def resume(container: Container) -> None:
    container.require(oci_state.PAUSED, action="resume")
    container.cgroup().thaw()
