"""The HTTP server: accepts on unix sockets and TCP ports, reads requests in turn on
each connection, hands them to an application (``async app(request) -> Reply | Stream |
Download | Takeover``) and writes what it returns. Shutdown stops accepting, closes the
connections waiting for a request, lets the requests in flight finish for a bounded
time, then cancels what is left.

Bad clients cost one connection, never the server: a connection that sends no whole
request head within ``idle_timeout`` seconds is closed (a silent client, or one that
dribbles its head); a request whose body is cut off is not answered (the client went);
what is not HTTP is answered 400 (or 431 past ``MAX_HEAD``) and the connection closed.
"""

from __future__ import annotations

import asyncio
import os

from estiba import errors
from estiba.api.core.http import (
    MAX_HEAD,
    ChunkedWriter,
    Download,
    HTTPError,
    Reply,
    Request,
    Stream,
    Takeover,
    parse_head,
    response_head,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from concurrent.futures import Executor

_END = object()
IDLE_TIMEOUT = 120.0  # seconds a connection may wait before sending its request head


class Server:
    def __init__(self, app: Callable[[Request], Awaitable[object]],
                 error_reply: Callable[[BaseException], Reply],
                 executor: Executor, log: Callable[..., None],
                 idle_timeout: float | None = IDLE_TIMEOUT) -> None:
        self.app = app
        # a connection that sends no whole request head for this long is closed (a
        # client that connects and says nothing, or dribbles a head): None, never
        self.idle_timeout = idle_timeout
        self.error_reply = error_reply
        self.executor = executor
        self.log = log
        self.closing = False
        self._servers: list[asyncio.AbstractServer] = []
        self._idle: set[asyncio.Task] = set()
        self._connections: set[asyncio.Task] = set()

    async def listen_unix(self, path: str) -> asyncio.AbstractServer:
        server = await asyncio.start_unix_server(self._connection, path, limit=MAX_HEAD)
        self._servers.append(server)
        return server

    async def listen_tcp(self, host: str, port: int) -> asyncio.AbstractServer:
        """Accept on every address ``host`` resolves to (``localhost``: 127.0.0.1 and
        ::1). A client's half-close (the end of an attach's stdin) reaches a takeover as
        EOF, the connection still writable, as on a unix socket. An ``EstibaError``
        naming the address when it cannot be had (in use, a name that does not
        resolve)."""
        try:
            server = await asyncio.start_server(self._connection, host, port,
                                                limit=MAX_HEAD)
        except OSError as err:
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            # asyncio words a bind's failure "error while attempting to bind on address
            # (...): ..."; the address is named here already
            plain = OSError(err.errno, os.strerror(err.errno)) if err.errno and \
                err.errno > 0 else err
            raise errors.from_oserror(f"listen on tcp://{where}", plain) from err
        self._servers.append(server)
        return server

    def bound_addresses(self) -> list[str]:
        """The IP addresses of the TCP listeners (what a port bound to a name or to
        0.0.0.0 serves)."""
        return [sock.getsockname()[0] for server in self._servers
                for sock in server.sockets if not isinstance(sock.getsockname(), str)]

    async def shutdown(self, grace: float) -> None:
        """Stop accepting; give the requests in flight ``grace`` seconds."""
        self.closing = True
        for server in self._servers:
            server.close()
        for task in list(self._idle):
            task.cancel()
        busy = [t for t in self._connections if not t.done()]
        if busy:
            self.log("info", "waiting for requests in flight", count=len(busy),
                     grace=grace)
            _, pending = await asyncio.wait(busy, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        for server in self._servers:
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            await self._serve(reader, writer, task)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except Exception as exc:  # noqa: BLE001 - one connection's bug, not the daemon's
            self.log("error", "connection failed", error=repr(exc))
        finally:
            self._connections.discard(task)
            self._idle.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     task: asyncio.Task) -> None:
        loop = asyncio.get_running_loop()
        while not self.closing:
            self._idle.add(task)
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                              self.idle_timeout)
            except asyncio.IncompleteReadError:
                return  # the client closed the connection
            except TimeoutError:
                return  # idle: closed
            except asyncio.LimitOverrunError:
                await self._send_reply(writer, Reply(431, b'{"message": "request head too '
                                                     b'large"}'), keep_alive=False)
                return
            finally:
                self._idle.discard(task)
            try:
                request = parse_head(head[:-4])
            except HTTPError as err:
                await self._send_reply(writer, _message(err.status, str(err)), False)
                return
            request.reader, request.writer, request.loop = reader, writer, loop
            if request.headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            try:
                response = await self.app(request)
            except HTTPError as err:
                await self._send_reply(writer, _message(err.status, str(err)), False)
                return
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the client cut its request off: nobody to answer
            except Exception as exc:  # noqa: BLE001 - the app maps its errors; a bug here
                self.log("error", "request failed", method=request.method,
                         path=request.path, error=repr(exc))
                await self._send_reply(writer, self.error_reply(exc), False)
                return
            keep_alive = request.keep_alive and not self.closing
            if isinstance(response, Reply):
                await self._send_reply(writer, response, keep_alive,
                                       head_only=request.method == "HEAD")
            elif isinstance(response, Stream):
                keep_alive = await self._send_stream(request, response) and keep_alive
            elif isinstance(response, Download):
                keep_alive = await self._send_download(request, response) and keep_alive
            elif isinstance(response, Takeover):
                writer.write(response_head(response.status, list(response.headers)))
                await writer.drain()
                await response.run(reader, writer)
                return
            else:
                raise TypeError(f"app returned {type(response).__name__}")
            if not keep_alive:
                return

    async def _send_reply(self, writer: asyncio.StreamWriter, reply: Reply,
                          keep_alive: bool, head_only: bool = False) -> None:
        """``head_only``: the answer to a HEAD request, its head alone."""
        headers = [("Content-Type", reply.content_type),
                   ("Content-Length", str(len(reply.body)))]
        if reply.status in (204, 304):
            headers = []
        headers.extend(reply.headers)
        if not keep_alive:
            headers.append(("Connection", "close"))
        body = b"" if head_only or reply.status in (204, 304) else reply.body
        writer.write(response_head(reply.status, headers) + body)
        await writer.drain()

    async def _send_stream(self, request: Request, stream: Stream) -> bool:
        """Send the items until the iterator ends (True: the connection stays usable),
        the client leaves or the server shuts down (False)."""
        loop = asyncio.get_running_loop()
        reader, writer = request.reader, request.writer
        items = stream.items
        started = False
        complete = False
        try:
            while True:
                try:
                    item = await loop.run_in_executor(self.executor, next, items, _END)
                except Exception as exc:  # noqa: BLE001 - mapped below
                    if started:
                        self.log("error", "stream failed", path=request.path,
                                 error=repr(exc))
                        return False
                    await self._send_reply(writer, self.error_reply(exc), False)
                    return False
                if item is _END:
                    complete = True
                    break
                if not started:
                    started = True
                    writer.write(response_head(200, [
                        ("Content-Type", stream.content_type),
                        ("Transfer-Encoding", "chunked")]))
                if item is None:
                    if self.closing or reader.at_eof() or writer.is_closing():
                        break
                    await writer.drain()
                    continue
                writer.write(b"%x\r\n%b\r\n" % (len(item), item))
                await writer.drain()
            if not started:
                writer.write(response_head(200, [("Content-Type", stream.content_type),
                                                 ("Transfer-Encoding", "chunked")]))
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return complete
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                await loop.run_in_executor(self.executor, close)

    async def _send_download(self, request: Request, download: Download) -> bool:
        loop = asyncio.get_running_loop()
        out = ChunkedWriter(loop, request.writer, download.content_type, download.headers)
        try:
            await loop.run_in_executor(self.executor, download.write, out)
        except Exception as exc:  # noqa: BLE001 - mapped below
            if out.started:
                self.log("error", "download failed", path=request.path, error=repr(exc))
                return False
            await self._send_reply(request.writer, self.error_reply(exc), False)
            return False
        await out.finish()
        return True


def _message(status: int, message: str) -> Reply:
    from estiba.oci.json_codec import dumps

    return Reply(status, dumps({"message": message}).encode())
