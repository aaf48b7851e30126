"""The errors of the object layer: the daemon's refusals typed by their HTTP status, and
a container that ran but failed (``ContainerError``).

Each API error is a ``DockerError`` (``status`` and ``message`` kept, so a command line
can still print docker's ``Error response from daemon: ...``) and the matching class of
Estiba's taxonomy (``except estiba.errors.NotFound`` catches a missing container too).
``api_error`` holds the one table from status to class.
"""

from __future__ import annotations

from estiba import errors
from estiba.client.docker import DockerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.client.models.containers import Container


class APIError(DockerError):
    """The daemon refused, for a reason no subclass names."""


class BadRequest(APIError, errors.InvalidArgument):
    """400: the request was malformed (a bad option, an invalid name)."""


class Forbidden(APIError, errors.PermissionDenied):
    """403: the daemon will not do it to that object (a network with endpoints, a
    predefined network)."""


class NotFound(APIError, errors.NotFound):
    """404: no such container, image, network, volume or exec."""


class Conflict(APIError, errors.Conflict):
    """409: the name is taken, or the object's state or use forbids it."""


_BY_STATUS: dict[int, type[APIError]] = {400: BadRequest, 403: Forbidden, 404: NotFound,
                                          409: Conflict}


def api_error(err: DockerError) -> APIError:
    """The typed form of the low-level client's error (itself when typed already)."""
    if isinstance(err, APIError):
        return err
    typed = _BY_STATUS.get(err.status, APIError)(err.status, err.message)
    typed.__cause__ = err
    return typed


class ContainerError(errors.EstibaError):
    """A container ``run`` waited for exited with a non-zero status."""

    def __init__(self, container: Container, exit_status: int, command: list[str] | None,
                 image: str, stderr: bytes) -> None:
        self.container = container
        self.exit_status = exit_status
        self.command = command
        self.image = image
        self.stderr = stderr
        said = stderr.decode("utf-8", "replace").strip()
        super().__init__(f"container {container.short_id} of image {image!r}: command "
                         f"{command!r} exited with status {exit_status}"
                         + (f": {said}" if said else ""))
