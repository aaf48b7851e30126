"""The Docker API's routes of exec instances (``docker exec``): create, start
(hijacked like a container's attach, ``api/core/attach.py``), inspect, resize."""

from __future__ import annotations

import asyncio
import socket

from estiba import errors
from estiba.api.core import attach
from estiba.api.core.http import Reply, Takeover
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from estiba.api.docker.call import Call

# how long the end of an attached exec's stream waits for its exit to be recorded: the
# CLI asks for the exit code as soon as the stream ends
EXIT_WAIT = 10.0
_STDOUT = 2  # conmon's tag of stdout packets (shim/conmon.py)


def exec_create(engine: Any, call: Call, id: str) -> Reply:
    made = engine.execs.create(id, call.body)
    return Reply(201, dumps(made).encode())


def exec_start(engine: Any, call: Call, id: str) -> Any:
    started = engine.execs.start(id, detach=bool(call.body.get("Detach")))
    if started is None:
        return Reply(200)
    if started.conn is None:  # the process could not start: the client reads why
        return attach.takeover(call.request, _saying(started.error + "\r\n"),
                               tty=started.tty, stdin=False)
    relayed = attach.takeover(call.request, started.conn, tty=started.tty,
                              stdin=started.stdin)

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await relayed.run(reader, writer)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _wait_quietly, engine, id)

    return Takeover(run, relayed.status, relayed.headers)


def _wait_quietly(engine: Any, exec_id: str) -> None:
    try:
        engine.execs.wait(exec_id, timeout=EXIT_WAIT)
    except errors.EstibaError:
        pass  # forgotten meanwhile (its container removed): nothing to wait for


def _saying(text: str) -> socket.socket:
    """A socket that gives one stdout packet of ``text`` as conmon would, then ends."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    theirs.send(bytes((_STDOUT,)) + text.encode())
    theirs.close()
    return ours


def exec_inspect(engine: Any, call: Call, id: str) -> dict:
    return engine.execs.inspect(id)


def exec_resize(engine: Any, call: Call, id: str) -> None:
    height, width = call.number("h"), call.number("w")
    if height is None or width is None:
        raise errors.InvalidArgument("resize: h and w are required")
    engine.execs.resize(id, height, width)


# method, path pattern, handler, body kind
ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("POST", "/containers/{id}/exec", exec_create, "json"),
    ("POST", "/exec/{id}/start", exec_start, "json"),
    ("GET", "/exec/{id}/json", exec_inspect, "json"),
    ("POST", "/exec/{id}/resize", exec_resize, "json"),
]
