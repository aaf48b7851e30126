"""Docker's events (``engine/events.py``): the core's events translated (pure), Docker's
JSON, the filters, the ``since``/``until`` replay, and the service over a core's real
event exchange with the core's lookups faked."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pytest

from estiba import errors
from estiba.core.events import Events as Exchange
from estiba.engine import events as ev
from estiba.engine.labels import CONFIG, IMAGE, NAME

CID = "c" * 64
ACTOR = ev.Actor("web", "busybox", (("a", "b"),))
NOW = 1_796_405_967_563_875_583


def actions(found: list[ev.Message]) -> list[str]:
    return [m.action for m in found]


def test_the_label_keys_are_the_engines() -> None:
    assert (ev.NAME, ev.IMAGE, ev.CONFIG) == (NAME, IMAGE, CONFIG)


def test_actor_of_labels() -> None:
    labels = {NAME: "/web", IMAGE: "busybox", CONFIG: json.dumps({"Labels": {"a": "b"}})}
    assert ev.actor_of(labels) == ACTOR
    assert ev.actor_of({"other": "x"}) is None
    assert ACTOR.attributes() == {"a": "b", "image": "busybox", "name": "web"}


def test_container_lifecycle_translation() -> None:
    seen = ev.Seen(actor=ACTOR)
    create = ev.translate("/containers/create", {"id": CID, "image": "x"}, NOW, seen)
    assert create == [ev.message("container", "create", CID, ACTOR.attributes(), NOW)]
    assert actions(ev.translate("/tasks/start", {"id": CID, "pid": "7"}, NOW, seen)) == [
        "start"]
    running = ev.Seen(actor=ACTOR, running=True, started_at=NOW - 3_000_000_000)
    die = ev.translate("/tasks/exit", {"id": CID, "exit_status": "3"}, NOW, running)
    assert [dict(m.attributes) for m in die] == [
        {**ACTOR.attributes(), "exitCode": "3", "execDuration": "3"}]
    # an exit told already (or a task that never ran) is not told again
    assert ev.translate("/tasks/exit", {"id": CID, "exit_status": "3"}, NOW, seen) == []
    assert ev.translate("/tasks/delete", {"id": CID, "exit_status": "3"}, NOW, seen) == []
    assert actions(ev.translate("/tasks/delete", {"id": CID, "exit_status": "9"}, NOW,
                                running)) == ["die"]
    assert actions(ev.translate("/tasks/paused", {"id": CID}, NOW, seen)) == ["pause"]
    assert actions(ev.translate("/tasks/resumed", {"id": CID}, NOW, seen)) == ["unpause"]
    assert actions(ev.translate("/containers/delete", {"id": CID}, NOW, seen)) == [
        "destroy"]
    assert ev.translate("/tasks/create", {"id": CID}, NOW, seen) == []
    # not a Docker container: nothing
    assert ev.translate("/containers/create", {"id": CID}, NOW, ev.Seen()) == []


def test_an_exit_not_told_yet_comes_before_stop_and_destroy() -> None:
    exited = ev.Seen(actor=ACTOR, running=True, exit_code=143, exited_at=NOW - 5)
    stop = ev.translate(ev.TOPIC, {"type": "container", "action": "stop", "id": CID,
                                   "attributes": "{}"}, NOW, exited)
    assert actions(stop) == ["die", "stop"]
    assert dict(stop[0].attributes)["exitCode"] == "143"
    assert stop[0].time_nano == NOW - 5
    destroy = ev.translate("/containers/delete", {"id": CID}, NOW, exited)
    assert actions(destroy) == ["die", "destroy"]


def test_exec_die_and_emitted_events() -> None:
    seen = ev.Seen(actor=ACTOR, running=True)
    found = ev.translate("/tasks/exit", {"id": CID, "exec_id": "e1", "exit_status": "0"},
                         NOW, seen)
    assert actions(found) == ["exec_die"]
    assert dict(found[0].attributes)["execID"] == "e1"
    kill = ev.translate(ev.TOPIC, {"type": "container", "action": "kill", "id": CID,
                                   "attributes": json.dumps({"signal": "15"})}, NOW, seen)
    assert dict(kill[0].attributes) == {**ACTOR.attributes(), "signal": "15"}
    rename = ev.translate(ev.TOPIC, {"type": "container", "action": "rename", "id": CID,
                                     "attributes": json.dumps({"oldName": "/old"})},
                          NOW, seen)
    assert dict(rename[0].attributes)["oldName"] == "/old"
    tag = ev.translate(ev.TOPIC, {"type": "image", "action": "tag", "id": "sha256:1",
                                  "attributes": json.dumps({"name": "foo:bar"})},
                       NOW, ev.Seen())
    assert tag == [ev.message("image", "tag", "sha256:1", {"name": "foo:bar"}, NOW)]


def test_image_delete() -> None:
    attrs = {"name": "docker.io/library/foo:bar", "target": "sha256:m"}
    kept = ev.translate("/images/delete", attrs, NOW, ev.Seen(image_id="sha256:i"))
    assert kept == [ev.message("image", "untag", "sha256:i", {"name": "sha256:i"}, NOW)]
    gone = ev.translate("/images/delete", attrs, NOW,
                        ev.Seen(image_id="sha256:i", image_left=False))
    assert actions(gone) == ["untag", "delete"]
    assert ev.translate("/images/create", attrs, NOW, ev.Seen()) == []


def test_docker_json() -> None:
    m = ev.message("container", "create", CID, ACTOR.attributes(), NOW)
    shown = m.to_json()
    assert list(shown) == ["status", "id", "from", "Type", "Action", "Actor", "scope",
                           "time", "timeNano"]
    assert shown["from"] == "busybox" and shown["status"] == "create"
    assert shown["Actor"] == {"ID": CID, "Attributes": {"a": "b", "image": "busybox",
                                                        "name": "web"}}
    assert (shown["scope"], shown["time"], shown["timeNano"]) == ("local", 1796405967, NOW)
    image = ev.message("image", "untag", "sha256:i", {"name": "sha256:i"}, NOW).to_json()
    assert "from" not in image and image["id"] == "sha256:i"
    net = ev.message("network", "connect", "n1", {}, NOW).to_json()
    assert "status" not in net and "id" not in net


def test_parse_filters() -> None:
    assert ev.parse_filters("") == {}
    assert ev.parse_filters('{"type": {"container": true}, "event": ["die", "start"]}') \
        == {"type": {"container"}, "event": {"die", "start"}}
    assert ev.parse_filters('{"unknown": ["x"]}') == {}
    for bad in ("nope", "[1]", '{"type": "container"}'):
        with pytest.raises(errors.InvalidArgument):
            ev.parse_filters(bad)


def test_filters() -> None:
    create = ev.message("container", "create", CID, ACTOR.attributes(), NOW)
    exec_start = ev.message("container", "exec_start: sh -c true", CID,
                            ACTOR.attributes(), NOW)
    untag = ev.message("image", "untag", "sha256:i", {"name": "busybox:latest"}, NOW)

    def inc(filters: dict, m: ev.Message) -> bool:
        return ev.include({k: set(v) for k, v in filters.items()}, m)

    assert inc({}, create)
    assert inc({"type": ["container"]}, create) and not inc({"type": ["image"]}, create)
    assert inc({"event": ["create", "die"]}, create) and not inc({"event": ["die"]}, create)
    assert inc({"event": ["exec_start"]}, exec_start)
    assert not inc({"event": ["exec"]}, exec_start)
    assert inc({"container": ["web"]}, create) and inc({"container": [CID[:12]]}, create)
    assert not inc({"container": ["db"]}, create)
    assert not inc({"container": ["web"]}, untag)  # not a container's event
    assert inc({"image": ["busybox"]}, create) and inc({"image": ["busybox"]}, untag)
    assert inc({"image": ["sha256:i"]}, untag) and not inc({"image": ["alpine"]}, untag)
    assert inc({"label": ["a"]}, create) and inc({"label": ["a=b"]}, create)
    assert not inc({"label": ["a=c"]}, create) and not inc({"label": ["a", "z"]}, create)
    assert inc({"scope": ["local"]}, create) and not inc({"scope": ["swarm"]}, create)


def test_replay() -> None:
    msgs = [ev.message("container", a, CID, {}, t) for a, t in
            (("create", 10), ("start", 20), ("die", 30))]
    assert ev.replay(msgs, None, None) == []
    assert actions(ev.replay(msgs, 20, None)) == ["start", "die"]
    assert actions(ev.replay(msgs, None, 20)) == ["create", "start"]
    assert actions(ev.replay(msgs, 15, 25)) == ["start"]
    # 0 is a time (the epoch), not "not given": dockerd replays all it keeps
    assert actions(ev.replay(msgs, 0, None)) == ["create", "start", "die"]


# --- the service over a core exchange ----------------------------------------------------


@dataclass
class Container:
    id: str
    labels: tuple = ()


@dataclass
class Task:
    id: str
    exit_status: int | None = None
    exited_at: str = ""
    status: str = "running"


@dataclass
class FakeCore:
    events: Exchange = field(default_factory=Exchange)
    containers_by_id: dict = field(default_factory=dict)
    tasks_by_id: dict = field(default_factory=dict)

    @property
    def containers(self) -> FakeCore:
        return self

    @property
    def tasks(self) -> FakeTasks:
        return FakeTasks(self.tasks_by_id)

    @property
    def images(self) -> FakeImages:
        return FakeImages()

    def list(self, ns: str) -> list:
        return list(self.containers_by_id.values())

    def get(self, ns: str, cid: str) -> Container:
        if cid not in self.containers_by_id:
            raise errors.NotFound(cid)
        return self.containers_by_id[cid]


@dataclass
class FakeTasks:
    by_id: dict

    def list(self, ns: str) -> list:
        return list(self.by_id.values())

    def get(self, ns: str, cid: str) -> Task:
        if cid not in self.by_id:
            raise errors.NotFound(cid)
        return self.by_id[cid]


class FakeImages:
    def list(self, ns: str) -> list:
        return []

    def manifest(self, ns: str, name: str) -> None:
        raise errors.NotFound(name)


def drain(listener: ev.Listener, count: int, timeout: float = 5) -> list[ev.Message]:
    found: list[ev.Message] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        found += listener.get(0.05) or []
    return found


def test_service_orders_and_dedupes() -> None:
    core = FakeCore()
    labels = ((NAME, "/web"), (IMAGE, "busybox"), (CONFIG, '{"Labels": {"a": "b"}}'))
    core.containers_by_id[CID] = Container(CID, labels)
    service = ev.Events(core, "docker")
    try:
        _, listener = service.listen()
        publish = core.events.publish
        publish("/containers/create", "docker", {"id": CID})
        publish("/containers/create", "other", {"id": CID})  # another namespace
        publish("/tasks/start", "docker", {"id": CID, "pid": "1"})
        service.emit("container", "kill", CID, {"signal": "15"})
        # the engine saw the exit before the core told it
        core.tasks_by_id[CID] = Task(CID, 143, "2026-12-04T17:39:27.5Z")
        service.emit("container", "stop", CID)
        publish("/tasks/exit", "docker", {"id": CID, "exit_status": "143"})
        publish("/tasks/delete", "docker", {"id": CID, "exit_status": "143"})
        del core.containers_by_id[CID]
        publish("/containers/delete", "docker", {"id": CID})
        found = drain(listener, 6)
        assert actions(found) == ["create", "start", "kill", "die", "stop", "destroy"]
        assert dict(found[2].attributes)["signal"] == "15"
        assert dict(found[5].attributes)["name"] == "web"  # known after its deletion
        assert listener.get(0.1) == []
        since, later = service.listen(since=1)
        assert actions(since) == actions(found)
        assert service.listeners == 2
        later.close()
        listener.close()
        assert service.listeners == 0
    finally:
        service.close()
    assert listener.get(0.1) is None  # closed: readers end


def test_the_buffer_is_bounded() -> None:
    core = FakeCore()
    service = ev.Events(core, "docker", buffer=4)
    try:
        _, listener = service.listen()
        for i in range(10):
            service.emit("image", "tag", f"sha256:{i}", {"name": f"n{i}"})
        assert len(drain(listener, 4)) >= 4
        deadline = time.monotonic() + 5
        while len(service.buffered()) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        kept = service.buffered()
        assert [m.actor_id for m in kept] == [f"sha256:{i}" for i in range(6, 10)]
    finally:
        service.close()
