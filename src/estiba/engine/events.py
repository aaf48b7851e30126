"""Docker's events (``GET /events``): the core's events of the engine's namespace
translated into Docker's messages (container create/start/die/destroy/pause/unpause,
exec_die, image untag/delete), plus what only the engine knows (kill with its signal,
stop, restart, rename, exec_create/exec_start, tag ...), given to ``emit``.

``emit`` publishes on the core's own exchange (topic ``/docker/events``), so one thread
sees the engine's events and the core's in the order they happened, and records them in
a bounded ring (Docker keeps the last 256) that ``since`` replays. Docker logs a
container's ``die`` before the ``stop`` (or ``destroy``) that follows it, while the core
may tell the exit after the engine has seen it: a stopped container's ``die`` is then
recorded first, from the task, and the core's late exit is not told twice.

Message JSON (moby ``api/types/events.Message``): ``{"status", "id", "from"`` (the
legacy fields, for containers and images), ``"Type", "Action", "Actor": {"ID",
"Attributes"}, "scope": "local", "time", "timeNano"}``.
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
from dataclasses import dataclass

from estiba import errors
from estiba.engine import filters
from estiba.engine.labels import CONFIG, IMAGE, NAME
from estiba.oci.state import parse_timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

TOPIC = "/docker/events"
BUFFER = 256  # events kept for ``since``, as Docker
# container actions Docker logs after the exit they follow
AFTER_EXIT = frozenset({"stop"})
# filter keys Docker knows; others are ignored, as Docker does
FILTER_KEYS = frozenset({"config", "container", "daemon", "event", "image", "label",
                         "network", "node", "plugin", "scope", "secret", "service",
                         "type", "volume"})


@dataclass(frozen=True)
class Actor:
    """What a container's events carry: its name (no slash), image as given, labels."""

    name: str
    image: str
    labels: tuple[tuple[str, str], ...] = ()

    def attributes(self) -> dict[str, str]:
        return {**dict(self.labels), "image": self.image, "name": self.name}


@dataclass(frozen=True)
class Message:
    type: str
    action: str
    actor_id: str
    attributes: tuple[tuple[str, str], ...]
    time_nano: int

    def to_json(self) -> dict:
        """Docker's JSON, keys in Docker's order."""
        shown: dict[str, Any] = {}
        if self.type in ("container", "image"):
            shown = {"status": self.action, "id": self.actor_id}
            if self.type == "container" and dict(self.attributes).get("image"):
                shown["from"] = dict(self.attributes)["image"]
        shown.update({"Type": self.type, "Action": self.action,
                      "Actor": {"ID": self.actor_id, "Attributes": dict(self.attributes)},
                      "scope": "local", "time": self.time_nano // 1_000_000_000,
                      "timeNano": self.time_nano})
        return shown


def message(type: str, action: str, actor_id: str, attributes: Mapping[str, str],
            time_nano: int) -> Message:
    return Message(type, action, actor_id, tuple(sorted(attributes.items())), time_nano)


def actor_of(labels: Mapping[str, str]) -> Actor | None:
    """The Actor of a core container's labels; None for a container that is not
    Docker's."""
    if NAME not in labels:
        return None
    try:
        config = json.loads(labels.get(CONFIG) or "{}")
    except ValueError:
        config = {}
    docker_labels = config.get("Labels") or {}
    return Actor(labels[NAME].lstrip("/"), labels.get(IMAGE, ""),
                 tuple(sorted((str(k), str(v)) for k, v in docker_labels.items())))


@dataclass(frozen=True)
class Seen:
    """What the translation of one core event needs besides the event."""

    actor: Actor | None = None  # the container's, for a container's event
    running: bool = False  # the container's last start has not died yet
    exit_code: int | None = None  # the task's exit status, once it has exited
    exited_at: int | None = None  # and when (ns)
    started_at: int | None = None  # when the last start was told (ns)
    image_id: str = ""  # the image's ID, for an image's event
    image_left: bool = True  # some image of the namespace still has its target


def translate(topic: str, attributes: Mapping[str, str], when: int,
              seen: Seen) -> list[Message]:
    """The Docker messages of one core event (pure)."""
    if topic.startswith("/images/"):
        return _image(topic, attributes, when, seen)
    if topic == TOPIC:
        return _emitted(attributes, when, seen)
    actor = seen.actor
    cid = attributes.get("id", "")
    if actor is None or not cid:
        return []
    base = actor.attributes()

    def died(at: int, code: Any) -> Message:
        extra = {"exitCode": str(code)}
        if seen.started_at is not None:
            extra["execDuration"] = str(max(at - seen.started_at, 0) // 1_000_000_000)
        return message("container", "die", cid, {**base, **extra}, at)

    exec_id = attributes.get("exec_id", "")
    if topic == "/containers/create":
        return [message("container", "create", cid, base, when)]
    if topic == "/tasks/start" and not exec_id:
        return [message("container", "start", cid, base, when)]
    if topic == "/tasks/exit" and exec_id:
        return [message("container", "exec_die", cid,
                        {**base, "execID": exec_id,
                         "exitCode": attributes.get("exit_status", "")}, when)]
    if topic == "/tasks/exit":
        return [died(when, attributes.get("exit_status", ""))] if seen.running else []
    if topic == "/tasks/delete":
        return [died(when, attributes.get("exit_status", ""))] if seen.running else []
    if topic == "/tasks/paused":
        return [message("container", "pause", cid, base, when)]
    if topic == "/tasks/resumed":
        return [message("container", "unpause", cid, base, when)]
    if topic == "/containers/delete":
        found = []
        if seen.running and seen.exit_code is not None:
            found.append(died(seen.exited_at or when, seen.exit_code))
        return [*found, message("container", "destroy", cid, base, when)]
    return []


def _emitted(attributes: Mapping[str, str], when: int, seen: Seen) -> list[Message]:
    type, action, actor_id = (attributes.get(k, "") for k in ("type", "action", "id"))
    try:
        given = dict(json.loads(attributes.get("attributes") or "{}"))
    except ValueError:
        given = {}
    if type != "container":
        return [message(type, action, actor_id, given, when)]
    if seen.actor is None:
        return []
    base = seen.actor.attributes()
    found = []
    if action in AFTER_EXIT and seen.running and seen.exit_code is not None:
        at = min(seen.exited_at or when, when)
        extra = {"exitCode": str(seen.exit_code)}
        if seen.started_at is not None:
            extra["execDuration"] = str(max(at - seen.started_at, 0) // 1_000_000_000)
        found.append(message("container", "die", actor_id, {**base, **extra}, at))
    return [*found, message("container", action, actor_id, {**base, **given}, when)]


def _image(topic: str, attributes: Mapping[str, str], when: int,
           seen: Seen) -> list[Message]:
    if topic != "/images/delete":
        return []
    image_id = seen.image_id or attributes.get("target", "")
    found = [message("image", "untag", image_id, {"name": image_id}, when)]
    if not seen.image_left:
        found.append(message("image", "delete", image_id, {"name": image_id}, when))
    return found


# --- filters ---------------------------------------------------------------------------


def parse_filters(text: str) -> dict[str, set[str]]:
    """Docker's ``filters`` argument as key -> values; keys Docker's events do not know
    are left out."""
    return {key: set(values)
            for key, values in filters.parse(text, FILTER_KEYS, ignore_unknown=True).items()}


def _exact(filters: Mapping[str, set[str]], key: str, *sources: str) -> bool:
    wanted = filters.get(key)
    return not wanted or any(s in wanted for s in sources)


def _fuzzy(filters: Mapping[str, set[str]], key: str, *sources: str) -> bool:
    """An exact value, or one a source begins with (an id prefix)."""
    wanted = filters.get(key)
    return not wanted or any(s and s.startswith(w) for s in sources for w in wanted)


def _strip_tag(name: str) -> str:
    name = name.partition("@")[0]
    base, _, last = name.rpartition("/")
    if ":" in last:
        last = last.partition(":")[0]
    return f"{base}/{last}" if base else last


def include(filters: Mapping[str, set[str]], event: Message) -> bool:
    """Whether ``event`` passes ``filters`` (moby ``daemon/events/filter.go``): every key
    must match one of its values; ``label`` wants every one of its values."""
    attrs = dict(event.attributes)
    action = event.action
    events = filters.get("event") or set()
    if events & {"health_status", "exec_create", "exec_start"}:
        if not _fuzzy(filters, "event", action):
            return False
    elif not _exact(filters, "event", action):
        return False
    if not _exact(filters, "type", event.type) or not _exact(filters, "scope", "local"):
        return False
    for kind in ("container", "network", "volume", "plugin", "node", "service", "secret",
                 "config"):
        if kind in filters and not (event.type == kind and _fuzzy(
                filters, kind, event.actor_id, attrs.get("name", ""))):
            return False
    if "image" in filters:
        name = attrs.get("name" if event.type == "image" else "image", "")
        if not _exact(filters, "image", event.actor_id, name, _strip_tag(event.actor_id),
                      _strip_tag(name)):
            return False
    for wanted in filters.get("label") or ():
        key, eq, value = wanted.partition("=")
        if key not in attrs or (eq and attrs[key] != value):
            return False
    return True


def replay(buffered: Iterable[Message], since: int | None,
           until: int | None) -> list[Message]:
    """The buffered events Docker replays for ``since``/``until`` (ns, None = not
    given; 0 is the epoch): none when neither is given, else those in [since, until]."""
    if since is None and until is None:
        return []
    return [m for m in buffered if m.time_nano >= (since or 0) and (
        until is None or m.time_nano <= until)]


# --- the service -----------------------------------------------------------------------


class Listener:
    """One ``GET /events`` reader: ``get`` the next events, ``close`` when done."""

    def __init__(self, events: Events, cursor: int) -> None:
        self._events = events
        self.cursor = cursor  # the sequence number of the last event handed out

    def get(self, timeout: float) -> list[Message] | None:
        """The events recorded since the last call, waiting up to ``timeout`` seconds
        for one ([] on timeout); None once the service is closed."""
        return self._events._after(self, timeout)

    def close(self) -> None:
        self._events._drop(self)

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Events:
    """Docker's events of the engine's namespace over the core's."""

    def __init__(self, core: Any, namespace: str, buffer: int = BUFFER) -> None:
        self.core = core
        self.ns = namespace
        self._cond = threading.Condition()
        self._ring: collections.deque[tuple[int, Message]] = collections.deque(
            maxlen=buffer)
        self._seq = 0
        self._listeners: set[Listener] = set()
        self._closed = False
        self._actors: dict[str, Actor] = {}
        self._running: dict[str, int] = {}  # container id -> when its start was told
        self._image_ids: dict[str, str] = {}  # image name -> ID (config digest)
        self._subscription = core.events.subscribe((), namespace)
        self._prime()
        self._thread = threading.Thread(target=self._translate_all, name="docker-events",
                                        daemon=True)
        self._thread.start()

    @property
    def listeners(self) -> int:
        """How many readers are listening (``NEventsListener``)."""
        with self._cond:
            return len(self._listeners)

    def emit(self, type: str, action: str, actor_id: str,
             attributes: Mapping[str, str] | None = None) -> None:
        """Record an event only the engine knows; a container's name, image and labels
        are added to its attributes."""
        self.core.events.publish(TOPIC, self.ns, {
            "type": type, "action": action, "id": actor_id,
            "attributes": json.dumps(dict(attributes or {}), sort_keys=True)})

    def listen(self, since: int | None = None,
               until: int | None = None) -> tuple[list[Message], Listener]:
        """The buffered events Docker replays for ``since``/``until`` (ns, None = not
        given), and a listener of the events recorded after them."""
        with self._cond:
            listener = Listener(self, self._seq)
            self._listeners.add(listener)
            return replay((m for _, m in self._ring), since, until), listener

    def buffered(self) -> list[Message]:
        with self._cond:
            return [m for _, m in self._ring]

    def close(self) -> None:
        self._subscription.close()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(5)

    # --- listeners ----------------------------------------------------------------------

    def _after(self, listener: Listener, timeout: float) -> list[Message] | None:
        with self._cond:
            self._cond.wait_for(lambda: self._seq > listener.cursor or self._closed,
                                timeout)
            if self._closed and self._seq <= listener.cursor:
                return None
            found = [m for seq, m in self._ring if seq > listener.cursor]
            listener.cursor = self._seq
            return found

    def _drop(self, listener: Listener) -> None:
        with self._cond:
            self._listeners.discard(listener)

    # --- translation ------------------------------------------------------------------

    def _prime(self) -> None:
        """What was there before: the containers' actors, the running tasks, the
        images' IDs."""
        with contextlib.suppress(errors.EstibaError):
            for container in self.core.containers.list(self.ns):
                actor = actor_of(dict(container.labels))
                if actor is not None:
                    self._actors[container.id] = actor
        with contextlib.suppress(errors.EstibaError):
            for task in self.core.tasks.list(self.ns):
                if task.exit_status is None and task.status != "created":
                    self._running[task.id] = time.time_ns()
        with contextlib.suppress(errors.EstibaError):
            for image in self.core.images.list(self.ns):
                self._remember_image(image.name)

    def _translate_all(self) -> None:
        while True:
            event = self._subscription.get()
            if event is None:
                return
            try:
                self._record(self._translate(event))
            except Exception:  # noqa: BLE001 - one event's failure must not end the stream
                continue

    def _record(self, found: list[Message]) -> None:
        if not found:
            return
        with self._cond:
            for m in found:
                self._seq += 1
                self._ring.append((self._seq, m))
            self._cond.notify_all()

    def _translate(self, event: Any) -> list[Message]:
        attrs = dict(event.attributes)
        topic = event.topic
        when = parse_timestamp(event.timestamp) or time.time_ns()
        if topic.startswith("/images/"):
            return self._translate_image(topic, attrs, when)
        cid = attrs.get("id", "") if topic != TOPIC or attrs.get("type") == "container" \
            else ""
        if topic in ("/containers/create", "/containers/update") or (
                cid and cid not in self._actors):
            self._refresh_actor(cid)
        seen = Seen(actor=self._actors.get(cid), running=cid in self._running,
                    started_at=self._running.get(cid))
        needs_exit = (topic == "/containers/delete" or (
            topic == TOPIC and attrs.get("action") in AFTER_EXIT))
        if seen.running and needs_exit:
            seen = self._with_exit(cid, seen)
        found = translate(topic, attrs, when, seen)
        for m in found:
            if m.type == "container" and m.action == "start":
                self._running[m.actor_id] = m.time_nano
            elif m.type == "container" and m.action == "die":
                self._running.pop(m.actor_id, None)
        if topic == "/containers/delete":
            self._actors.pop(cid, None)
            self._running.pop(cid, None)
        return found

    def _with_exit(self, cid: str, seen: Seen) -> Seen:
        try:
            task = self.core.tasks.get(self.ns, cid)
        except errors.EstibaError:
            return seen
        if task.exit_status is None:
            return seen
        return Seen(actor=seen.actor, running=True, exit_code=task.exit_status,
                    exited_at=parse_timestamp(task.exited_at or ""), started_at=seen.started_at)

    def _refresh_actor(self, cid: str) -> None:
        try:
            container = self.core.containers.get(self.ns, cid)
        except errors.EstibaError:
            return
        actor = actor_of(dict(container.labels))
        if actor is not None:
            self._actors[cid] = actor

    def _remember_image(self, name: str) -> None:
        with contextlib.suppress(errors.EstibaError):
            manifest, _ = self.core.images.manifest(self.ns, name)
            self._image_ids[name] = str(manifest.config.digest)

    def _translate_image(self, topic: str, attrs: dict, when: int) -> list[Message]:
        name = attrs.get("name", "")
        if topic in ("/images/create", "/images/update"):
            self._remember_image(name)
            return []
        image_id = self._image_ids.pop(name, "")
        left = True
        with contextlib.suppress(errors.EstibaError):
            target = attrs.get("target", "")
            left = any(image.target_digest == target
                       for image in self.core.images.list(self.ns))
        return translate(topic, attrs, when, Seen(image_id=image_id, image_left=left))
