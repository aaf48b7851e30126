"""The event exchange: topic patterns, namespace filters, bounded queues, timestamps,
publishing from many threads."""

from __future__ import annotations

import re
import threading

import pytest

from estiba.core.events import Events, matches, timestamp
from estiba.core.records import Event
from estiba.errors import InvalidArgument


def test_timestamps_are_rfc3339_with_nanoseconds():
    assert timestamp(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert timestamp(5) == "1970-01-01T00:00:00.000000005Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", timestamp())


@pytest.mark.parametrize(("topics", "namespace", "expected"), [
    ((), "", True),
    (("/tasks/*",), "", True),
    (("/tasks/exit",), "", True),
    (("/tasks/start",), "", False),
    (("/containers/*",), "", False),
    (("/containers/*", "/tasks/*"), "", True),
    ((), "docker", True),
    ((), "other", False),
    (("/tasks/*",), "other", False),
])
def test_matches(topics, namespace, expected):
    event = Event(topic="/tasks/exit", namespace="docker", timestamp=timestamp())
    assert matches(event, topics, namespace) is expected


def test_events_reach_matching_subscribers_only():
    events = Events()
    tasks = events.subscribe(["/tasks/*"])
    docker = events.subscribe(namespace="docker")
    everything = events.subscribe()
    events.publish("/tasks/exit", "docker", {"id": "c1", "exit_status": "0"})
    events.publish("/containers/create", "other", {"id": "c2"})
    got = tasks.get(timeout=1)
    assert got.topic == "/tasks/exit" and dict(got.attributes)["id"] == "c1"
    assert tasks.get(timeout=0.01) is None
    assert docker.get(timeout=1).topic == "/tasks/exit"
    assert docker.get(timeout=0.01) is None
    assert [everything.get(timeout=1).topic for _ in range(2)] == [
        "/tasks/exit", "/containers/create"]


def test_a_subscriber_sees_events_from_its_subscription_on():
    events = Events()
    events.publish("/images/create", "docker")
    late = events.subscribe()
    assert late.get(timeout=0.01) is None


def test_a_full_queue_drops_the_oldest_and_counts():
    events = Events(queue_size=3)
    sub = events.subscribe()
    for i in range(5):
        events.publish("/images/create", "docker", {"n": str(i)})
    assert sub.dropped == 2
    assert [dict(sub.get(0).attributes)["n"] for _ in range(3)] == ["2", "3", "4"]


def test_close_wakes_a_waiting_reader_and_unsubscribes():
    events = Events()
    sub = events.subscribe()
    got = []
    reader = threading.Thread(target=lambda: got.append(sub.get()))
    reader.start()
    sub.close()
    reader.join(5)
    assert got == [None]
    events.publish("/images/create", "docker")
    assert sub.get(0) is None


def test_get_waits_for_a_publisher_in_another_thread():
    events = Events()
    with events.subscribe(["/tasks/exit"]) as sub:
        timer = threading.Timer(0.05, events.publish, ("/tasks/exit", "docker"))
        timer.start()
        assert sub.get(timeout=5).topic == "/tasks/exit"
        timer.join()


def test_many_publishers_lose_nothing_below_the_bound():
    events = Events(queue_size=10_000)
    sub = events.subscribe()
    threads = [threading.Thread(target=lambda n=n: [
        events.publish("/x/y", "ns", {"t": str(n)}) for _ in range(200)]) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = 0
    while sub.get(0) is not None:
        seen += 1
    assert seen == 1600 and sub.dropped == 0


@pytest.mark.parametrize("topic", ["tasks/exit", "/tasks/", "", "/a//b"])
def test_bad_topics_are_refused(topic):
    with pytest.raises(InvalidArgument):
        Events().publish(topic, "docker")


def test_bad_patterns_are_refused():
    with pytest.raises(InvalidArgument):
        Events().subscribe(["tasks/*"])
