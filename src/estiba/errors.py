"""The one error taxonomy of Estiba.

Every layer raises these; only the edges translate them (to HTTP status codes in the
API, to exit statuses in the command lines). Messages are lower case and say what failed
on what, for example ``mount proc on /run/x/rootfs/proc: operation not permitted``.
This module imports nothing of estiba.
"""

from __future__ import annotations


class EstibaError(Exception):
    """Base of every error Estiba raises on purpose."""


class NotFound(EstibaError):
    """The named object does not exist."""


class AlreadyExists(EstibaError):
    """An object with that name or id exists already."""


class InvalidArgument(EstibaError):
    """The input is malformed or breaks a rule of the spec."""


class FailedPrecondition(EstibaError):
    """The object is in the wrong state for the operation."""


class Conflict(EstibaError):
    """The operation clashes with another one or with the object's use."""


class PermissionDenied(EstibaError):
    """The kernel or a policy refused the operation."""


class Unavailable(EstibaError):
    """A service or kernel feature the operation needs is not there."""


class Unimplemented(EstibaError):
    """The operation or option is deliberately not supported (gRPC's UNIMPLEMENTED; not
    named NotImplemented, which would shadow the builtin)."""


class Internal(EstibaError):
    """A kernel call or a helper program failed for a reason none of the above names;
    ``errno`` carries the kernel's reason when there is one."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


def from_oserror(what: str, err: OSError) -> EstibaError:
    """Turn an OSError into the taxonomy, naming the operation that failed.

    The kernel's reason is kept in lower case after the operation, the style every
    message of the project follows.
    """
    import errno as _errno

    reason = (err.strerror or str(err)).lower()
    message = f"{what}: {reason}"
    code = err.errno or 0
    if code == _errno.ENOENT:
        exc: EstibaError = NotFound(message)
    elif code == _errno.EEXIST:
        exc = AlreadyExists(message)
    elif code in (_errno.EPERM, _errno.EACCES):
        exc = PermissionDenied(message)
    elif code == _errno.EINVAL:
        exc = InvalidArgument(message)
    elif code == _errno.EBUSY:
        exc = Conflict(message)
    else:
        exc = Internal(message, code)
    exc.__cause__ = err
    return exc
