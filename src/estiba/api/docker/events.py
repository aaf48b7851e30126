"""``GET /events?since=&until=&filters=``: Docker's events as JSON lines, the buffered
ones ``since`` asks for first, then the new ones until ``until`` (at once when it is
past) or the client hangs up."""

from __future__ import annotations

import time

from estiba import errors
from estiba.api.core.http import Stream
from estiba.api.core.logs import unix_nanos
from estiba.engine.events import include, parse_filters
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from estiba.api.docker.call import Call

POLL = 0.5  # a listener's chance to see its client gone


def events(engine: Any, call: Call) -> Stream:
    since_text, until_text = call.arg("since"), call.arg("until")
    # given (even 0: the epoch, all that is buffered) or not: dockerd tells them apart
    since = unix_nanos(since_text, "since") if since_text else None
    until = unix_nanos(until_text, "until") if until_text else None
    if until is not None and since is not None and since > until:
        raise errors.InvalidArgument(f"`since` time ({since_text}) cannot be after "
                                     f"`until` time ({until_text})")
    filters = parse_filters(call.arg("filters"))
    service = engine.events

    def items() -> Iterator[bytes | None]:
        replayed, listener = service.listen(since, until)
        try:
            yield None  # the head goes out now, as Docker flushes it
            for m in replayed:
                if include(filters, m):
                    yield (dumps(m.to_json()) + "\n").encode()
            while until is None or time.time_ns() < until:
                left = POLL if until is None else min(POLL, (until - time.time_ns()) / 1e9)
                found = listener.get(max(left, 0))
                if found is None:
                    return
                sent = False
                for m in found:
                    if until is not None and m.time_nano > until:
                        return
                    if include(filters, m):
                        sent = True
                        yield (dumps(m.to_json()) + "\n").encode()
                if not sent:
                    yield None
        finally:
            listener.close()

    return Stream(items(), "application/json")


ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/events", events, "json"),
]
