"""``run``: create, start, and — unless ``--detach`` — wait for the container, then
delete it (unless ``--keep``), exiting with the container's status."""

from __future__ import annotations

from estiba.runtime.create import CreateOptions, create
from estiba.runtime.delete import delete_container
from estiba.runtime.start import start
from estiba.runtime.wait import wait_forwarding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.kernel.linux import Linux


def run(kernel: Linux, root: str, container_id: str, opts: CreateOptions, *,
        detach: bool = False, keep: bool = False, warn=None) -> int:  # noqa: ANN001
    container = create(kernel, root, container_id, opts)
    try:
        start(container, warn=warn)
    except BaseException:
        delete_container(container, force=True)
        raise
    if detach:
        return 0
    code = wait_forwarding(container.pid)
    if not keep:
        delete_container(container, force=True, warn=warn)
    return code
