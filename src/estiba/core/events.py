"""Events: what happened in the core (``/containers/create``, ``/tasks/exit`` ...),
published from any thread to every subscriber whose filter matches, as containerd's
exchange (``core/events/exchange``) does.

A subscriber names topic patterns (shell-style: ``/tasks/*`` matches ``/tasks/exit``;
none = every topic) and a namespace ("" = every namespace), and sees the events
published from its subscription on. Each subscription has a bounded queue: a subscriber
that does not keep up loses its oldest events, never blocks the publisher, and
``dropped`` counts what it lost. Timestamps are RFC 3339 UTC with nanoseconds.
"""

from __future__ import annotations

import collections
import fnmatch
import threading

from estiba.core.records import Event
from estiba.errors import InvalidArgument
from estiba.oci.state import timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# events a subscriber may leave unread before the oldest are dropped
QUEUE_SIZE = 1024


def check_topic(topic: str) -> None:
    if not topic.startswith("/") or topic.endswith("/") or "//" in topic or "\0" in topic:
        raise InvalidArgument(f"invalid event topic {topic!r}: a path like /tasks/exit")


def matches(event: Event, topics: Sequence[str], namespace: str) -> bool:
    """Whether a subscription to ``topics`` (patterns; none = all) in ``namespace``
    ("" = all) receives ``event``."""
    if namespace and event.namespace != namespace:
        return False
    return not topics or any(fnmatch.fnmatchcase(event.topic, p) for p in topics)


class Subscription:
    """What one subscriber receives; ``get`` it, ``close`` it when done."""

    def __init__(self, events: Events, topics: tuple[str, ...], namespace: str,
                 size: int) -> None:
        self._events = events
        self.topics = topics
        self.namespace = namespace
        self._queue: collections.deque[Event] = collections.deque(maxlen=size)
        self._ready = threading.Condition()
        self._closed = False
        self.dropped = 0  # events lost because the queue was full

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds (None: until one comes);
        None on timeout, or once closed and drained."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._queue or self._closed, timeout):
                return None
            return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        self._events._unsubscribe(self)
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def _offer(self, event: Event) -> None:
        with self._ready:
            if self._closed:
                return
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1  # the deque drops the oldest on append
            self._queue.append(event)
            self._ready.notify()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Events:
    """The exchange: thread-safe publish and subscribe."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise InvalidArgument(f"event queue size {queue_size}: must be at least 1")
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []

    def publish(self, topic: str, namespace: str,
                attributes: Mapping[str, str] | None = None) -> Event:
        check_topic(topic)
        event = Event(topic=topic, namespace=namespace, timestamp=timestamp(),
                      attributes=tuple(sorted((attributes or {}).items())))
        with self._lock:
            subscribers = list(self._subscriptions)
        for subscription in subscribers:
            if matches(event, subscription.topics, subscription.namespace):
                subscription._offer(event)
        return event

    def subscribe(self, topics: Sequence[str] = (), namespace: str = "") -> Subscription:
        if isinstance(topics, str):
            topics = (topics,)
        for pattern in topics:
            if not pattern.startswith("/"):
                raise InvalidArgument(f"invalid topic pattern {pattern!r}: starts with /")
        subscription = Subscription(self, tuple(topics), namespace, self.queue_size)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def close(self) -> None:
        """Close every subscription: their readers get None once drained."""
        with self._lock:
            subscribers = list(self._subscriptions)
        for subscription in subscribers:
            subscription.close()

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
