"""The Docker API as an application of ``api.core.server.Server``: the optional version
prefix (``/v1.47/containers/json``), the routing table, the handler run in the thread
pool, and every error mapped to Docker's status once (``status_for``)."""

from __future__ import annotations

import asyncio
import re

from estiba import errors
from estiba.api.core import encoding
from estiba.api.core.app import Router
from estiba.api.core.app import error_reply as core_error_reply
from estiba.api.core.encoding import decode_object, message_for
from estiba.api.core.http import (
    BlockingBody,
    Download,
    HTTPError,
    Reply,
    Request,
    Stream,
    Takeover,
    read_body,
)
from estiba.api.docker import routes
from estiba.api.docker.system import API_VERSION, MIN_API_VERSION, VERSION_HEADERS
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Executor
    from typing import Any

MAX_JSON_BODY = 16 * 1024 * 1024
DRAIN_ON_ERROR = 8 * 1024 * 1024  # of a refused upload, read before the answer
_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")

# Docker's statuses (moby errdefs/http_helpers.go): the core API's, but a failed
# precondition is a conflict
STATUS = tuple((kind, 409 if kind is errors.FailedPrecondition else status)
               for kind, status in encoding.STATUS)


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor)


def strip_version(path: str) -> str:
    """The path without its ``/v1.NN`` prefix; HTTPError 400 for a version outside
    [1.24, 1.47] (pure)."""
    found = _PREFIX.match(path)
    if not found:
        return path
    version = (int(found.group(1)), int(found.group(2)))
    shown = f"{found.group(1)}.{found.group(2)}"
    if version < _version(MIN_API_VERSION):
        raise HTTPError(400, f"client version {shown} is too old. Minimum supported API "
                             f"version is {MIN_API_VERSION}, please upgrade your client "
                             "to a newer version")
    if version > _version(API_VERSION):
        raise HTTPError(400, f"client version {shown} is too new. Maximum supported API "
                             f"version is {API_VERSION}")
    return found.group(3)


def quote_image_name(path: str) -> str:
    """``/images/docker.io/library/busybox/json`` as ``/images/<quoted name>/json``: the
    CLI sends image names with their slashes unquoted (pure)."""
    from urllib.parse import quote

    if not path.startswith("/images/") or path in ("/images/json", "/images/create"):
        return path
    name = path[len("/images/"):]
    suffix = ""
    for verb in ("/json", "/tag", "/push", "/history", "/get"):
        if name.endswith(verb):
            name, suffix = name[:-len(verb)], verb
            break
    return f"/images/{quote(name, safe='')}{suffix}"


def status_for(exc: BaseException) -> int:
    return encoding.status_for(exc, STATUS)


def error_reply(exc: BaseException) -> Reply:
    return core_error_reply(exc, STATUS)


class DockerAPI:
    """``await api(request)``: the response to one request of the Docker API."""

    def __init__(self, engine: Any, executor: Executor, log: Callable[..., None]) -> None:
        self.engine = engine
        self.executor = executor
        self.log = log
        self.router = Router(routes.ROUTES)

    async def __call__(self, request: Request) -> Any:
        response = await self._respond(request)
        if isinstance(response, Reply) and not response.headers:
            response.headers = VERSION_HEADERS  # on every answer, as dockerd does
        self.log("debug", "docker request", method=request.method, path=request.target,
                 status=getattr(response, "status", 200))
        return response

    async def _respond(self, request: Request) -> Any:
        loop = asyncio.get_running_loop()
        try:
            path = quote_image_name(strip_version(request.path))
            method = "GET" if request.method == "HEAD" else request.method
            handler, kind, params = self.router.match(method, path)
            stream = None
            body = b""
            if kind == "raw":  # a tar body: the handler reads it as a blocking file
                stream = BlockingBody(loop, request.reader, request)
            else:
                body = await read_body(request.reader, request, MAX_JSON_BODY)
        except HTTPError as err:
            if err.status in (404, 405, 400):
                await read_body(request.reader, request, MAX_JSON_BODY)
                return Reply(err.status, dumps({"message": str(err)}).encode())
            raise
        try:
            decoded = decode_object(body) if body.strip() else {}
            call = routes.Call(request, decoded, stream)
            result = await loop.run_in_executor(
                self.executor, lambda: handler(self.engine, call, **params))
            if stream is not None:
                await loop.run_in_executor(self.executor, stream.drain)
        except (asyncio.IncompleteReadError, ConnectionError):
            raise
        except Exception as exc:  # noqa: BLE001 - every error is mapped here, once
            status = status_for(exc)
            if status == 500:
                self.log("error", "docker request failed", method=request.method,
                         path=request.path, error=message_for(exc))
            if stream is not None and not await loop.run_in_executor(
                    self.executor, lambda: stream.drain(DRAIN_ON_ERROR)):
                # a large body half read: answered, then the connection is closed
                raise HTTPError(status, message_for(exc)) from exc
            # a small one is read to its end first, so that its client, still sending
            # it, reads the answer instead of failing on a closed connection
            return error_reply(exc)
        if isinstance(result, Reply | Stream | Download | Takeover):
            return result
        if result is None:
            return Reply(204)
        return Reply(200, dumps(result).encode())
