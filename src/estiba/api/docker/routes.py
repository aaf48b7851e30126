"""The Docker API's routes (listed in this package's docstring): each decodes, calls
one method of the engine, encodes. Handlers are blocking functions run in the daemon's
thread pool as ``handler(engine, call, **path_params)``."""

from __future__ import annotations

from estiba import errors
from estiba.api.core.http import Reply, Stream
from estiba.api.docker import (
    events,
    execs,
    filesystem,
    images,
    networks,
    system,
    volumes,
)
from estiba.api.docker.call import Call
from estiba.oci.json_codec import dumps
from estiba.oci.state import parse_timestamp, timestamp
from estiba.signals import signal_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

POLL = 0.5  # a follower's chance to see its client gone


_NOT_MODIFIED = Reply(304)


# --- containers ---------------------------------------------------------------------

def containers_list(engine: Any, call: Call) -> list:
    return engine.containers.list(all=call.flag("all"), filters=call.arg("filters"),
                                  limit=call.number("limit"), size=call.flag("size"))


def containers_create(engine: Any, call: Call) -> Reply:
    made = engine.containers.create(call.arg("name"), call.body)
    return Reply(201, dumps(made).encode())


def containers_inspect(engine: Any, call: Call, id: str) -> dict:
    return engine.containers.inspect(id)


def containers_start(engine: Any, call: Call, id: str) -> Any:
    return None if engine.containers.start(id) else _NOT_MODIFIED


def containers_stop(engine: Any, call: Call, id: str) -> Any:
    signal = signal_number(call.arg("signal")) if call.arg("signal") else None
    stopped = engine.containers.stop(id, timeout=call.number("t"), signal=signal)
    return None if stopped else _NOT_MODIFIED


def containers_restart(engine: Any, call: Call, id: str) -> None:
    signal = signal_number(call.arg("signal")) if call.arg("signal") else None
    engine.containers.restart(id, timeout=call.number("t"), signal=signal)


def containers_pause(engine: Any, call: Call, id: str) -> None:
    engine.containers.pause(id)


def containers_unpause(engine: Any, call: Call, id: str) -> None:
    engine.containers.unpause(id)


def containers_rename(engine: Any, call: Call, id: str) -> None:
    engine.containers.rename(id, call.arg("name"))


def containers_top(engine: Any, call: Call, id: str) -> dict:
    return engine.containers.top(id, call.arg("ps_args"))


def containers_update(engine: Any, call: Call, id: str) -> dict:
    return engine.containers.update(id, call.body)


def containers_prune(engine: Any, call: Call) -> dict:
    return engine.containers.prune(call.arg("filters"))


def containers_stats(engine: Any, call: Call, id: str) -> Any:
    """One object (``stream=0``; after a second's sample unless ``one-shot``, so that
    the CLI can tell a CPU percentage), or one a second until the client goes."""
    import time

    first = engine.containers.stats(id)
    stream = call.arg("stream", "1").lower() not in ("0", "false")
    if not stream:
        if call.flag("one-shot"):
            return first
        time.sleep(1)
        return engine.containers.stats(id, first)

    def items() -> Iterator[bytes | None]:
        previous = first
        yield (dumps(first) + "\n").encode()
        while True:
            time.sleep(1)
            try:
                previous = engine.containers.stats(id, previous)
            except errors.NotFound:
                return
            yield (dumps(previous) + "\n").encode()

    return Stream(items(), "application/json")


def containers_kill(engine: Any, call: Call, id: str) -> None:
    engine.containers.kill(id, signal_number(call.arg("signal") or "SIGKILL"))


def containers_wait(engine: Any, call: Call, id: str) -> Stream:
    steps = engine.containers.waiter(id, call.arg("condition", "not-running"))

    def items() -> Iterator[bytes | None]:
        yield None  # the head goes out now: the CLI starts the container after it
        for step in steps:
            yield None if step is None else (dumps(step) + "\n").encode()

    return Stream(items(), "application/json")


def containers_explain(engine: Any, call: Call, id: str) -> list:
    """Estiba's own: what the container's verbs did below the Docker API."""
    return engine.explain(id)


def containers_delete(engine: Any, call: Call, id: str) -> None:
    engine.containers.remove(id, force=call.flag("force"), volumes=call.flag("v"))


def containers_resize(engine: Any, call: Call, id: str) -> None:
    height, width = call.number("h"), call.number("w")
    if height is None or width is None:
        raise errors.InvalidArgument("resize: h and w are required")
    engine.containers.resize(id, height, width)


def containers_attach(engine: Any, call: Call, id: str) -> Any:
    from estiba.api.core import attach

    conn, tty, close_stdin = engine.containers.attach(id)
    if conn is None:  # the task could not be made: start will say why
        return attach.takeover(call.request, attach.saying(), tty=tty, stdin=False)
    return attach.takeover(call.request, conn, tty=tty, stdin=call.flag("stdin"),
                           close_stdin=close_stdin, streams=streams_asked(call))


def streams_asked(call: Call) -> frozenset[int]:
    """The Docker stream numbers an attach asks for (``stdout`` 1, ``stderr`` 2): only
    those are sent, as dockerd does (a client has no writer for the others)."""
    return frozenset(n for n, name in ((1, "stdout"), (2, "stderr")) if call.flag(name))


def containers_logs(engine: Any, call: Call, id: str) -> Stream:
    """``tail`` (N or ``all``), ``since``/``until`` (Unix seconds), ``timestamps``,
    ``details`` (the log's attributes before each line, after its timestamp),
    ``follow``, ``stdout``/``stderr``; a terminal's log is its one stream, raw."""
    from estiba.api.core import logs
    from estiba.api.core.attach import multiplexed
    from estiba.engine.logconfig import details

    wanted = {s for s in ("stdout", "stderr") if call.flag(s)}
    if not wanted:
        raise errors.InvalidArgument("Bad parameters: you must choose at least one stream")
    since = logs.unix_nanos(call.arg("since"), "since")
    until = logs.unix_nanos(call.arg("until"), "until")
    try:  # as Docker: what is not a number (``all``) is the whole log
        tail: int | None = int(call.arg("tail", "all"))
    except ValueError:
        tail = None
    if tail is not None and tail < 0:
        tail = None
    timestamps = call.flag("timestamps")
    source = engine.containers.log_source(id)
    path, tty = source.path, source.tty
    prefix = details(source.attributes) if call.flag("details") else b""
    follow = call.flag("follow")

    def items() -> Iterator[bytes | None]:
        if not path:
            return
        for entry in logs.entries(path, follow=follow, exited=source.exited, poll=POLL,
                                  tail=tail, since=since, until=until):
            if entry is None:
                yield None
                continue
            stream = entry.get("stream")
            if stream not in wanted:
                continue
            data = prefix + entry.get("log", "").encode()
            if timestamps:
                ns = parse_timestamp(entry.get("time", ""))
                shown = timestamp(ns) if ns is not None else entry.get("time", "")
                data = shown.encode() + b" " + data
            yield data if tty else multiplexed(1 if stream == "stdout" else 2, data)

    kind = "raw-stream" if tty else "multiplexed-stream"
    return Stream(items(), f"application/vnd.docker.{kind}")


# method, path pattern, handler, body kind (always "json" here)
ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/_ping", system.ping, "json"),
    ("GET", "/version", system.version, "json"),
    ("GET", "/info", system.info, "json"),
    ("GET", "/system/df", system.disk_usage, "json"),
    ("POST", "/build/prune", system.build_prune, "json"),
    ("GET", "/containers/json", containers_list, "json"),
    ("POST", "/containers/create", containers_create, "json"),
    ("GET", "/containers/{id}/json", containers_inspect, "json"),
    ("POST", "/containers/{id}/start", containers_start, "json"),
    ("POST", "/containers/{id}/stop", containers_stop, "json"),
    ("POST", "/containers/{id}/restart", containers_restart, "json"),
    ("POST", "/containers/{id}/pause", containers_pause, "json"),
    ("POST", "/containers/{id}/unpause", containers_unpause, "json"),
    ("POST", "/containers/{id}/rename", containers_rename, "json"),
    ("POST", "/containers/{id}/update", containers_update, "json"),
    ("GET", "/containers/{id}/top", containers_top, "json"),
    ("GET", "/containers/{id}/stats", containers_stats, "json"),
    ("POST", "/containers/prune", containers_prune, "json"),
    ("POST", "/containers/{id}/kill", containers_kill, "json"),
    ("POST", "/containers/{id}/wait", containers_wait, "json"),
    ("POST", "/containers/{id}/attach", containers_attach, "json"),
    ("POST", "/containers/{id}/resize", containers_resize, "json"),
    ("GET", "/containers/{id}/logs", containers_logs, "json"),
    ("GET", "/containers/{id}/explain", containers_explain, "json"),
    ("DELETE", "/containers/{id}", containers_delete, "json"),
    *events.ROUTES,
    *execs.ROUTES,
    *filesystem.ROUTES,
    *images.ROUTES,
    *networks.ROUTES,
    *volumes.ROUTES,
]
