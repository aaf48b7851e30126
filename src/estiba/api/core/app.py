"""The core API as an application of ``server.Server``: the routing table, the body
decoding, the handler run in the thread pool, the result encoded and every error mapped
to its status here, once (``encoding.status_for``)."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

from estiba.api.core import encoding, routes
from estiba.api.core.encoding import decode_object, encode, message_for, status_for
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
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from concurrent.futures import Executor
    from typing import Any

MAX_JSON_BODY = 16 * 1024 * 1024


class Router:
    """Path patterns (``/v1/tasks/{id}/kill``) to handlers. Segments are split before
    they are unquoted, so ``%2F`` stays inside a parameter (image names)."""

    def __init__(self, table: Iterable[tuple[str, str, Any, str]]) -> None:
        self._routes: list[tuple[str, tuple[str, ...], Any, str]] = []
        for method, pattern, handler, body in table:
            self._routes.append((method, tuple(pattern.strip("/").split("/")), handler, body))
        # literal segments win over parameters, position by position
        self._routes.sort(key=lambda r: tuple(s.startswith("{") for s in r[1]))

    def match(self, method: str, path: str) -> tuple[Any, str, dict[str, str]]:
        """(handler, body kind, parameters); HTTPError 404 or 405."""
        segments = path.strip("/").split("/")
        allowed = []
        for route_method, pattern, handler, body in self._routes:
            if len(pattern) != len(segments):
                continue
            params = {}
            for want, got in zip(pattern, segments, strict=True):
                if want.startswith("{"):
                    if not got:
                        break
                    params[want[1:-1]] = unquote(got)
                elif want != got:
                    break
            else:
                if route_method == method:
                    return handler, body, params
                allowed.append(route_method)
        if allowed:
            raise HTTPError(405, f"{method} {path}: method not allowed (allowed: "
                                 f"{', '.join(sorted(set(allowed)))})")
        raise HTTPError(404, f"no route for {method} {path}")


def error_reply(exc: BaseException, table: tuple = encoding.STATUS) -> Reply:
    """``{"message"}`` with the status ``table`` gives the error (the core API's by
    default; the Docker API passes its own)."""
    return Reply(status_for(exc, table), dumps({"message": message_for(exc)}).encode())


class CoreAPI:
    """``await api(request)``: the response to one request of the core API."""

    def __init__(self, core: Any, executor: Executor, log: Callable[..., None],
                 table: Iterable[tuple[str, str, Any, str]] = routes.ROUTES) -> None:
        self.core = core
        self.executor = executor
        self.log = log
        self.router = Router(table)

    async def __call__(self, request: Request) -> Any:
        response = await self._respond(request)
        self.log("debug", "request", method=request.method, path=request.target,
                 status=getattr(response, "status", 200))
        return response

    async def _respond(self, request: Request) -> Any:
        loop = asyncio.get_running_loop()
        try:
            handler, kind, params = self.router.match(request.method, request.path)
        except HTTPError as err:
            await read_body(request.reader, request, MAX_JSON_BODY)  # keep the framing
            return Reply(err.status, dumps({"message": str(err)}).encode())
        stream = None
        body: dict = {}
        try:
            if kind == "raw":
                stream = BlockingBody(loop, request.reader, request)
            else:
                body = decode_object(await read_body(request.reader, request,
                                                     MAX_JSON_BODY))
            call = routes.Call(request, body, stream)
            result = await loop.run_in_executor(
                self.executor, lambda: handler(self.core, call, **params))
            if stream is not None:
                await loop.run_in_executor(self.executor, stream.drain)
        except HTTPError:
            raise  # unreadable request: answered by the server, connection closed
        except (asyncio.IncompleteReadError, ConnectionError):
            raise  # the client went, or cut its body off: nobody to answer
        except Exception as exc:  # noqa: BLE001 - every error is mapped here, once
            status = status_for(exc)
            if status == 500:
                self.log("error", "request failed", method=request.method,
                         path=request.path, error=message_for(exc),
                         traceback=_traceback(exc))
            if stream is not None:
                cut = _cut_off(exc)
                if cut is not None:
                    raise cut from exc  # the body was cut off: the client went
                # the body may be half read: answered by the server, connection closed
                raise HTTPError(status, message_for(exc)) from exc
            return error_reply(exc)
        if isinstance(result, Stream | Download | Takeover):
            return result
        if result is None:
            return Reply(204)
        return Reply(200, encode(result))


def _cut_off(exc: BaseException) -> BaseException | None:
    """The end of a streamed body that came too early (the client closed or reset its
    connection), when it is what ``exc`` was raised from (an archive loader reading
    the body wraps the error it met)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, asyncio.IncompleteReadError | ConnectionError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _traceback(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc)).rstrip()
