"""Health checks: the Config's Healthcheck (validation, the image's merged in, the
probe's command), the state machine of results, Go's durations, and the monitor on a
fake core (events from the real exchange, execs answered by socket pairs)."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass

import pytest

from estiba import errors
from estiba.core.events import Events
from estiba.engine import health
from estiba.engine.health import (
    HEALTHY,
    STARTING,
    UNHEALTHY,
    Check,
    Result,
    State,
    check_of,
    go_duration,
    merge,
    next_delay,
    record,
    validate,
)

MS = 1_000_000


# --- the Config ------------------------------------------------------------------------


def test_defaults_are_dockers() -> None:
    check = Check.from_json({"Test": ["CMD", "true"]})
    assert (check.interval_ns, check.timeout_ns, check.start_period_ns,
            check.start_interval_ns, check.retries_or_default) == (
        30_000 * MS, 30_000 * MS, 0, 5_000 * MS, 3)


@pytest.mark.parametrize(("value", "message"), [
    ({"Test": ["CMD", "true"], "Interval": 500_000},
     "Interval in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "Interval": -5},
     "Interval in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "Timeout": 5},
     "Timeout in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "StartPeriod": 10},
     "StartPeriod in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "StartInterval": 10},
     "StartInterval in Healthcheck cannot be less than 1ms"),
    ({"Test": ["CMD", "true"], "Retries": -1}, "Retries in Healthcheck cannot be negative"),
    ({"Test": ["CMD", "true"], "Interval": "1s"}, "invalid Healthcheck Interval '1s'"),
    ({"Test": "CMD"}, None),
    ("nope", "invalid Healthcheck 'nope'"),
])
def test_validation_uses_dockers_words(value: object, message: str | None) -> None:
    if message is None:
        validate(value)
        return
    with pytest.raises(errors.InvalidArgument) as err:
        validate(value)
    assert str(err.value).startswith(message)


def test_valid_values_pass() -> None:
    validate(None)
    validate({"Test": ["NONE"]})
    validate({"Test": ["CMD-SHELL", "x"], "Interval": MS, "Timeout": MS, "StartPeriod": 0,
              "StartInterval": MS, "Retries": 0})


def test_merge_takes_each_field_the_request_leaves_empty_from_the_image() -> None:
    image = {"Test": ["CMD-SHELL", "true"], "Interval": 5000 * MS, "Timeout": 2000 * MS,
             "Retries": 7}
    assert merge(None, None) is None
    assert merge(None, image) == image
    assert merge({"Interval": 1000 * MS}, image) == {**image, "Interval": 1000 * MS}
    assert merge({"Test": ["NONE"]}, image) == {**image, "Test": ["NONE"]}
    assert merge({"Test": ["CMD-SHELL", "exit 0"]}, image) == {
        **image, "Test": ["CMD-SHELL", "exit 0"]}
    # zero fields are left out, in Docker's order
    merged = merge({"Test": ["CMD-SHELL", "x"], "StartPeriod": 10_000 * MS, "Retries": 0,
                    "Interval": 0}, None)
    assert merged == {"Test": ["CMD-SHELL", "x"], "StartPeriod": 10_000 * MS}
    assert list(merge({"Retries": 2, "Test": ["CMD", "a"], "Interval": MS}, None)) == [
        "Test", "Interval", "Retries"]


def test_probe_commands() -> None:
    assert Check(("CMD", "test", "-e", "/x")).command() == ("test", "-e", "/x")
    assert Check(("CMD-SHELL", "test -e /x")).command() == ("/bin/sh", "-c", "test -e /x")
    assert Check(("CMD-SHELL", "x")).command(["/bin/bash", "-lc"]) == ("/bin/bash", "-lc", "x")
    assert Check(("NONE",)).command() is None
    assert Check(()).command() is None
    assert Check(("BOGUS", "x")).command() is None
    found = check_of({"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Retries": 2},
                      "Shell": ["/bin/ash", "-c"]})
    assert found is not None and found[1] == ("/bin/ash", "-c", "true")
    assert found[0].retries == 2
    assert check_of({}) is None
    assert check_of({"Healthcheck": {"Test": ["NONE"], "Interval": MS}}) is None
    assert check_of({"Healthcheck": {"Test": 3}}) is None


# --- the state machine -----------------------------------------------------------------


def _result(code: int, output: str = "") -> Result:
    return Result("s", "e", code, output)


def _run(codes: list[int], retries: int = 3, start_period: int = 0) -> list[State]:
    """The states after each result; the first ``start_period`` probes are taken as
    within the start period."""
    state, seen = health.started(None), []
    for i, code in enumerate(codes):
        state = record(state, _result(code, str(i)), retries, i < start_period)
        seen.append(state)
    return seen


def test_a_success_is_healthy_and_resets_the_streak() -> None:
    states = _run([1, 0])
    assert [(s.status, s.failing_streak) for s in states] == [(STARTING, 1), (HEALTHY, 0)]


def test_retries_failures_in_a_row_are_unhealthy() -> None:
    states = _run([1, 1, 1, 1, 0, 1], retries=3)
    assert [(s.status, s.failing_streak) for s in states] == [
        (STARTING, 1), (STARTING, 2), (UNHEALTHY, 3), (UNHEALTHY, 4), (HEALTHY, 0),
        (HEALTHY, 1)]


def test_retries_zero_means_three() -> None:
    assert [s.status for s in _run([1, 1, 1], retries=0)] == [STARTING, STARTING, UNHEALTHY]


def test_failures_in_the_start_period_do_not_count_while_starting() -> None:
    states = _run([1, 1, 1, 1], retries=1, start_period=2)
    assert [(s.status, s.failing_streak) for s in states] == [
        (STARTING, 0), (STARTING, 0), (UNHEALTHY, 1), (UNHEALTHY, 2)]
    # once healthy, the start period no longer protects
    healthy = record(health.started(None), _result(0), 1, True)
    assert record(healthy, _result(1), 1, True).status == UNHEALTHY


def test_a_timeout_is_a_failure() -> None:
    state = record(health.started(None), _result(-1), 1, False)
    assert (state.status, state.failing_streak) == (UNHEALTHY, 1)


def test_the_log_keeps_the_last_five() -> None:
    states = _run([0] * 7)
    assert [r.output for r in states[-1].log] == ["2", "3", "4", "5", "6"]


def test_stop_marks_unhealthy_and_a_start_begins_again_with_the_log() -> None:
    healthy = _run([0, 0])[-1]
    stopped = health.stopped(healthy)
    assert (stopped.status, stopped.failing_streak, stopped.log) == (
        UNHEALTHY, 0, healthy.log)
    again = health.started(_run([1, 1, 1])[-1])
    assert (again.status, again.failing_streak, len(again.log)) == (STARTING, 0, 3)


def test_json_shapes() -> None:
    state = State(HEALTHY, 0, (Result("2026-01-01T00:00:00.5Z", "2026-01-01T00:00:01Z", 0,
                                      "ok\n"),))
    assert state.to_json() == {"Status": "healthy", "FailingStreak": 0, "Log": [
        {"Start": "2026-01-01T00:00:00.5Z", "End": "2026-01-01T00:00:01Z", "ExitCode": 0,
         "Output": "ok\n"}]}


def test_next_delay_uses_the_start_interval_while_starting_in_the_start_period() -> None:
    check = Check(("CMD", "x"), interval=60_000 * MS, start_period=30_000 * MS)
    assert next_delay(check, STARTING, 1_000 * MS) == 5.0
    assert next_delay(check, STARTING, 31_000 * MS) == 60.0
    assert next_delay(check, HEALTHY, 1_000 * MS) == 60.0
    assert next_delay(Check(("CMD", "x")), STARTING, 0) == 30.0
    fast = Check(("CMD", "x"), interval=200 * MS, start_period=MS * 1000,
                 start_interval=100 * MS)
    assert next_delay(fast, STARTING, 0) == 0.1


# --- texts -----------------------------------------------------------------------------


@pytest.mark.parametrize(("ns", "text"), [
    (0, "0s"), (1, "1ns"), (1500, "1.5µs"), (MS, "1ms"), (300 * MS, "300ms"),
    (1_000 * MS, "1s"), (1_500 * MS, "1.5s"), (30_000 * MS, "30s"), (60_000 * MS, "1m0s"),
    (90_000 * MS, "1m30s"), (3_600_000 * MS, "1h0m0s"), (-2_000 * MS, "-2s"),
])
def test_go_durations(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_output_texts() -> None:
    assert health.output_text(b"ok\n", False) == "ok\n"
    assert health.output_text(b"y" * 4096, True) == "y" * 4096 + "..."
    assert health.output_text(b"\xff", False) == "\ufffd"
    assert health.timeout_output(300 * MS) == "Health check exceeded timeout (300ms)"
    assert health.rfc3339_nano(1_700_000_000_500_000_000) == "2023-11-14T22:13:20.5Z"
    assert health.rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


def test_ps_texts_and_filter_values() -> None:
    assert [health.shown(s) for s in (STARTING, HEALTHY, UNHEALTHY)] == [
        "health: starting", "healthy", "unhealthy"]
    health.check_filter(["starting", "healthy", "unhealthy", "none"])
    with pytest.raises(errors.InvalidArgument,
                       match="^Unrecognised filter value for health: foo$"):
        health.check_filter(["foo"])


# --- the monitor on a fake core ------------------------------------------------------------


@dataclass(frozen=True)
class _Container:
    id: str
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Task:
    id: str
    status: str = "running"
    exit_status: int | None = None
    pid: int = 0


@dataclass(frozen=True)
class _ExecRecord:
    pid: int = 0
    exit_status: int | None = None


class _Containers:
    def __init__(self, core: _FakeCore) -> None:
        self.core = core

    def get(self, namespace: str, cid: str) -> _Container:
        if cid not in self.core.records:
            raise errors.NotFound(cid)
        return self.core.records[cid]

    def list(self, namespace: str) -> list[_Container]:
        return list(self.core.records.values())


class _FakeCore:
    """Containers, tasks and execs enough for ``Health``: an exec answers with the
    next of ``codes`` (output ``out <n>`` on stdout) through a socket pair, as conmon's
    attach socket would; ``hang`` execs never end."""

    def __init__(self, codes: list[int], hang: bool = False) -> None:
        self.events = Events()
        self.containers = _Containers(self)
        self.tasks = self
        self.codes = list(codes)
        self.hang = hang
        self.execs: dict[str, int] = {}
        self.deleted: list[str] = []  # the execs forgotten after their probe
        self.given: list[int] = []
        self.commands: list[list[str]] = []
        self.records: dict[str, _Container] = {}
        self.running: dict[str, _Task] = {}
        self.held: list[socket.socket] = []
        self.lock = threading.Lock()

    def add(self, cid: str, healthcheck: dict) -> None:
        labels = {"estiba.docker.name": "/" + cid,
                  "estiba.docker.config": json.dumps({"Healthcheck": healthcheck})}
        self.records[cid] = _Container(cid, tuple(labels.items()))

    def list(self, namespace: str) -> list[_Task]:
        return list(self.running.values())

    def exec_attached(self, namespace: str, cid: str, exec_id: str, process: dict, *,
                      terminal: bool, stdin: bool) -> tuple[_ExecRecord, socket.socket]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with self.lock:
            self.commands.append(process["args"])
            code = self.codes.pop(0) if self.codes else 0
            self.given.append(code)
            self.execs[exec_id] = code
            n = len(self.commands)
        if self.hang:
            self.held.append(theirs)
        else:
            theirs.send(bytes((2,)) + f"out {n}\n".encode())
            theirs.close()
        return _ExecRecord(), ours

    def wait_exec(self, namespace: str, cid: str, exec_id: str,
                  timeout: float | None = None) -> _ExecRecord:
        return _ExecRecord(exit_status=self.execs[exec_id])

    def delete_exec(self, namespace: str, cid: str, exec_id: str) -> None:
        self.deleted.append(exec_id)


def _poll(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_monitor_probes_after_a_start_and_tells_status_changes() -> None:
    core = _FakeCore([1, 1, 0, 1])
    core.add("c1", {"Test": ["CMD-SHELL", "check it"], "Interval": 20 * MS, "Retries": 2})
    core.add("c2", {"Test": ["NONE"]})
    told: list[tuple] = []
    monitor = health.Health(core, "docker", emit=lambda *a: told.append(a))
    try:
        assert monitor.health("c1") is None and monitor.status("c1") == ""
        core.events.publish("/tasks/start", "docker", {"id": "c1"})
        core.events.publish("/tasks/start", "docker", {"id": "c2"})
        _poll(lambda: monitor.status("c1") == STARTING)
        _poll(lambda: len((monitor.health("c1") or {}).get("Log", [])) >= 4)
        # 1, 1 (retries 2: unhealthy), 0 (healthy), 1 (healthy, a streak of 1), 0 ...
        statuses = [a[1] for a in told if a[1].startswith("health_status")]
        assert statuses == ["health_status: unhealthy", "health_status: healthy"]
        assert core.commands[0] == ["/bin/sh", "-c", "check it"]
        assert told[0][:3] == ("container", "exec_create: /bin/sh -c check it", "c1")
        for entry in monitor.health("c1")["Log"]:
            n = int(entry["Output"].split()[1])
            assert entry["ExitCode"] == core.given[n - 1]
        assert monitor.health("c2") is None
        core.events.publish("/tasks/exit", "docker", {"id": "c1", "exit_status": "0"})
        _poll(lambda: monitor.status("c1") == UNHEALTHY)
        assert set(core.deleted) <= set(core.execs) and core.deleted  # each forgotten
        probes = len(core.commands)
        time.sleep(0.1)
        assert len(core.commands) <= probes + 1  # one may have been under way
        core.events.publish("/containers/delete", "docker", {"id": "c1"})
        _poll(lambda: monitor.health("c1") is None)
    finally:
        monitor.close()


def test_monitor_times_out_a_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "_KILL_GRACE", 0.1)  # the fake's exec never ends
    core = _FakeCore([], hang=True)
    core.add("c1", {"Test": ["CMD", "sleep", "9"], "Interval": 20 * MS,
                    "Timeout": 50 * MS, "Retries": 1})
    monitor = health.Health(core, "docker")
    try:
        core.events.publish("/tasks/start", "docker", {"id": "c1"})
        _poll(lambda: monitor.status("c1") == UNHEALTHY)
        entry = monitor.health("c1")["Log"][0]
        assert (entry["ExitCode"], entry["Output"]) == (
            -1, "Health check exceeded timeout (50ms)")
    finally:
        started = time.monotonic()
        monitor.close()
        assert time.monotonic() - started < 3
        for conn in core.held:
            conn.close()


def test_monitor_resumes_running_containers_at_construction() -> None:
    core = _FakeCore([0])
    core.add("c1", {"Test": ["CMD", "true"], "Interval": 20 * MS})
    core.running["c1"] = _Task("c1")
    monitor = health.Health(core, "docker")
    try:
        assert monitor.status("c1") == STARTING
        _poll(lambda: monitor.status("c1") == HEALTHY)
    finally:
        monitor.close()


def test_a_state_round_trips_through_its_json() -> None:
    state = State("unhealthy", 2, (Result("a", "b", 1, "out"), Result("c", "d", 0, "")))
    assert State.from_json(state.to_json()) == state
    with pytest.raises((KeyError, ValueError, TypeError)):
        State.from_json({"Status": "healthy"})
