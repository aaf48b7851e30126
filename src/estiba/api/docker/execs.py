"""The Docker API's routes of exec instances (``docker exec``): create, start
(hijacked like a container's attach, ``api/core/attach.py``), inspect, resize."""

from __future__ import annotations

import asyncio

from estiba import errors
from estiba.api.core import attach
from estiba.api.core.http import Reply
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from estiba.api.docker.call import Call
    from estiba.engine.execs import Started

# how long the end of an attached exec's stream waits for its exit to be recorded: the
# CLI asks for the exit code as soon as the stream ends
EXIT_WAIT = 10.0


def exec_create(engine: Any, call: Call, id: str) -> Reply:
    made = engine.execs.create(id, call.body)
    return Reply(201, dumps(made).encode())


def exec_start(engine: Any, call: Call, id: str) -> Any:
    """Detached, 200 once the process runs. Attached, the head goes out before the
    process starts, as in dockerd: a client that reads the head through a buffer of its
    own and the stream from the bare socket (docker-py) would lose output sent with
    it."""
    if call.body.get("Detach"):
        engine.execs.start(id, detach=True)
        return Reply(200)
    tty = engine.execs.startable(id)

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        started = await loop.run_in_executor(None, _start, engine, id, tty)
        conn = started.conn or attach.saying(started.error + "\r\n")
        # only the streams the exec attached, as dockerd; but why it could not start is
        # written to stdout whatever it attached (dockerd's too)
        streams = started.streams if started.conn is not None else None
        # an exec's stdin ends with the client's, but for a terminal (Docker's rule)
        await attach.relay(conn, reader, writer, tty=tty, stdin=started.stdin,
                           close_stdin=not tty, streams=streams)
        await loop.run_in_executor(None, _wait_quietly, engine, id)

    return attach.hijacked(call.request, tty, run)


def _start(engine: Any, exec_id: str, tty: bool) -> Started:
    """The exec's ``Started``; a refusal that came after ``startable`` (the container
    stopped meanwhile) as its error, the head being sent already."""
    from estiba.engine.execs import Started

    try:
        started = engine.execs.start(exec_id, detach=False)
    except errors.EstibaError as err:
        return Started(None, tty, error=f"Error response from daemon: {err}")
    return started if started is not None else Started(None, tty)


def _wait_quietly(engine: Any, exec_id: str) -> None:
    try:
        engine.execs.wait(exec_id, timeout=EXIT_WAIT)
    except errors.EstibaError:
        pass  # forgotten meanwhile (its container removed): nothing to wait for


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
