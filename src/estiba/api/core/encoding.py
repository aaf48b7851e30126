"""JSON of the core API: records to objects, bodies to values, and the one mapping of
the error taxonomy to HTTP status codes (and back, for the client: ``client/core.py``
keeps its own copy of the reverse table, as the client never imports the server)."""

from __future__ import annotations

from estiba import errors
from estiba.oci.json_codec import dumps, loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# the docstring of api/core: InvalidArgument 400, PermissionDenied 403, NotFound 404,
# AlreadyExists and Conflict 409, FailedPrecondition 412, Unimplemented 501,
# Unavailable 503, anything else 500
STATUS = (
    (errors.InvalidArgument, 400),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.AlreadyExists, 409),
    (errors.Conflict, 409),
    (errors.FailedPrecondition, 412),
    (errors.Unimplemented, 501),
    (errors.Unavailable, 503),
)

# record fields held as tuples of (key, value) pairs, sent as JSON objects
_MAPPINGS = frozenset({"labels", "attributes", "annotations"})


def status_for(exc: BaseException,
               table: tuple[tuple[type[BaseException], int], ...] = STATUS) -> int:
    """The status of ``exc`` in ``table`` (the core API's by default), else 500."""
    for kind, status in table:
        if isinstance(exc, kind):
            return status
    return 500


def message_for(exc: BaseException) -> str:
    if isinstance(exc, errors.EstibaError):
        return str(exc) or type(exc).__name__.lower()
    # an exception outside the taxonomy is a bug: say what it was, not only its text
    return f"internal error: {type(exc).__name__}: {exc}"


def to_json(value: Any) -> Any:
    """A JSON-able value: records become objects of their fields (pairs fields become
    objects), tuples become arrays."""
    fields = getattr(type(value), "__fields__", None)
    if fields is not None:
        out = {}
        for name in fields:
            item = getattr(value, name)
            if name in _MAPPINGS and isinstance(item, tuple):
                out[name] = {k: v for k, v in item}
            else:
                out[name] = to_json(item)
        return out
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def encode(value: Any) -> bytes:
    return dumps(to_json(value)).encode()


def decode_object(body: bytes) -> dict:
    """A request body that must be a JSON object ({} when empty)."""
    if not body.strip():
        return {}
    try:
        value = loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise errors.InvalidArgument(f"malformed JSON body: {err}") from err
    if not isinstance(value, dict):
        raise errors.InvalidArgument(
            f"malformed JSON body: expected an object, got {type(value).__name__}")
    return value


def labels(value: object, what: str = "labels") -> tuple[tuple[str, str], ...]:
    """``{"k": "v"}`` from a request as the records' sorted pairs."""
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise errors.InvalidArgument(f"{what}: expected an object of strings")
    return tuple(sorted(value.items()))


def rfc3339(seconds: float | None) -> str:
    """Seconds since the epoch (the content store's times) as RFC 3339, UTC."""
    if seconds is None:
        return ""
    import time

    whole = int(seconds)
    nanos = int(round((seconds - whole) * 1e9))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{stamp}.{nanos:09d}Z" if nanos else f"{stamp}Z"
