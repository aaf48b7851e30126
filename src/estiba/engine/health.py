"""Docker's health checks (``HEALTHCHECK``, ``docker run --health-*``): the Config's
``Healthcheck`` (checked, merged with the image's), and a monitor that probes running
containers and keeps inspect's ``State.Health``.

- Config: ``{"Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"}``,
  durations in nanoseconds, 0 for Docker's default (30s, 30s, 0, 5s; retries 3). Test is
  ``["CMD", args...]``, ``["CMD-SHELL", "cmd"]`` (run by the Config's Shell, ``/bin/sh
  -c``) or ``["NONE"]`` (no checks, the image's turned off). A request's fields override
  the image's one by one, as dockerd's merge does.
- Probes: when a container's task starts (or is resumed from a pause) its status is
  ``starting`` (FailingStreak 0, the Log kept); each probe is an exec in the container
  (its process: the container's env, user and cwd), started ``Interval`` after the
  previous one ended (``StartInterval`` while starting within ``StartPeriod``) and
  killed after ``Timeout`` (exit -1, "Health check exceeded timeout (30s)"); its
  stdout and stderr, together, up to 4096 bytes ("..." marks more), and exit code go to
  the Log, which keeps the last 5. Exit 0 makes it ``healthy`` (streak 0); any other
  failure adds to ``FailingStreak`` (not while starting within ``StartPeriod``) and
  ``Retries`` of them in a row make it ``unhealthy``. Each change of status is told as
  the event ``health_status: <status>``; probes tell ``exec_create``/``exec_start``
  (the core tells their ``exec_die``), as dockerd's do.
- An exit or a pause ends the probes, and the status turns ``unhealthy`` (dockerd's
  choice, kept for compatibility) without an event; the Health stays shown until the
  container is removed. It is kept in memory: a restarted daemon resumes the probes of
  the running containers, from ``starting`` with an empty Log.

One thread schedules the probes of every container; they run in a small pool.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
import json
import os
import secrets
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from estiba import errors
from estiba.engine.labels import NAME, STARTED_AT, config_of
from estiba.oci.state import parse_timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

SECOND = 1_000_000_000  # nanoseconds
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_PERIOD = 0
DEFAULT_START_INTERVAL = 5 * SECOND
DEFAULT_RETRIES = 3
MINIMUM_DURATION = 1_000_000  # 1ms: a shorter non-zero duration is refused
MAX_LOG = 5  # results kept
MAX_OUTPUT = 4096  # bytes of a probe's output kept
DEFAULT_SHELL = ("/bin/sh", "-c")

STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"
FILTER_VALUES = (STARTING, HEALTHY, UNHEALTHY, "none")  # ps's ``health`` filter

# the Config's fields, in the order Docker shows them
_DURATIONS = ("Interval", "Timeout", "StartPeriod", "StartInterval")
_FIELDS = ("Test", *_DURATIONS, "Retries")

_TOPICS = ("/tasks/start", "/tasks/exit", "/tasks/paused", "/tasks/resumed",
           "/containers/delete")
# how often the scheduler looks for the next probes to plan while some run: a probe's
# end is seen by its pool thread, which cannot wake the scheduler's wait on the events
_BUSY_TICK = 0.02
_READ_SLICE = 0.25  # a probe's reads are this short, so that closing ends them soon
_KILL_GRACE = 5.0  # how long a killed probe's end is waited for
_WORKERS = 4


# --- the Config ---------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """A Config's Healthcheck, durations in nanoseconds (0: Docker's default)."""

    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    @classmethod
    def from_json(cls, value: Any) -> Check:
        """The Check of a Healthcheck object; InvalidArgument when a field has the
        wrong type."""
        if not isinstance(value, dict):
            raise errors.InvalidArgument(f"invalid Healthcheck {value!r}: not an object")
        test = value.get("Test") or []
        if isinstance(test, str):
            test = [test]
        if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
            raise errors.InvalidArgument(f"invalid Healthcheck Test {test!r}: a list of "
                                         "strings")
        numbers = {}
        for key in (*_DURATIONS, "Retries"):
            number = value.get(key) or 0
            if not isinstance(number, int) or isinstance(number, bool):
                raise errors.InvalidArgument(f"invalid Healthcheck {key} {number!r}: an "
                                             "integer")
            numbers[key] = number
        return cls(test=tuple(test), interval=numbers["Interval"],
                   timeout=numbers["Timeout"], start_period=numbers["StartPeriod"],
                   start_interval=numbers["StartInterval"], retries=numbers["Retries"])

    def command(self, shell: Iterable[str] = DEFAULT_SHELL) -> tuple[str, ...] | None:
        """The probe's argv; None when there is no probe (``NONE``, no Test, a kind
        Docker does not know)."""
        if not self.test:
            return None
        kind, args = self.test[0], self.test[1:]
        if kind == "CMD":
            return args
        if kind == "CMD-SHELL":
            return (*(tuple(shell) or DEFAULT_SHELL), *args)
        return None

    @property
    def interval_ns(self) -> int:
        return self.interval or DEFAULT_INTERVAL

    @property
    def timeout_ns(self) -> int:
        return self.timeout or DEFAULT_TIMEOUT

    @property
    def start_period_ns(self) -> int:
        return self.start_period or DEFAULT_START_PERIOD

    @property
    def start_interval_ns(self) -> int:
        return self.start_interval or DEFAULT_START_INTERVAL

    @property
    def retries_or_default(self) -> int:
        return self.retries if self.retries > 0 else DEFAULT_RETRIES


def validate(value: Any) -> None:
    """Refuse a create's Healthcheck as dockerd does (InvalidArgument, its words)."""
    if value is None:
        return
    check = Check.from_json(value)
    for key, ns in (("Interval", check.interval), ("Timeout", check.timeout),
                    ("StartPeriod", check.start_period),
                    ("StartInterval", check.start_interval)):
        if ns != 0 and ns < MINIMUM_DURATION:
            raise errors.InvalidArgument(f"{key} in Healthcheck cannot be less than "
                                         f"{go_duration(MINIMUM_DURATION)}")
    if check.retries < 0:
        raise errors.InvalidArgument("Retries in Healthcheck cannot be negative")


def merge(requested: dict | None, image: dict | None) -> dict | None:
    """The Config's Healthcheck: the request's, each field it leaves empty taken from
    the image's; zero fields left out, as Docker shows them."""
    if requested is None and image is None:
        return None
    if requested is None or image is None:
        chosen = dict(requested if requested is not None else image or {})
    else:
        chosen = {key: requested.get(key) or image.get(key) for key in _FIELDS}
    return {key: chosen[key] for key in _FIELDS if chosen.get(key)}


def check_of(config: dict) -> tuple[Check, tuple[str, ...]] | None:
    """(the Check, the probe's argv) of a container's Config; None when it has no
    probe."""
    value = config.get("Healthcheck")
    if not value:
        return None
    try:
        check = Check.from_json(value)
    except errors.InvalidArgument:
        return None
    command = check.command(config.get("Shell") or DEFAULT_SHELL)
    return None if command is None else (check, command)


# --- the state ----------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One probe's result, as the Log shows it."""

    start: str
    end: str
    exit_code: int
    output: str

    def to_json(self) -> dict:
        return {"Start": self.start, "End": self.end, "ExitCode": self.exit_code,
                "Output": self.output}


@dataclass(frozen=True)
class State:
    """A container's Health: status, failing streak, the last results (oldest first)."""

    status: str = STARTING
    failing_streak: int = 0
    log: tuple[Result, ...] = ()

    def to_json(self) -> dict:
        return {"Status": self.status, "FailingStreak": self.failing_streak,
                "Log": [r.to_json() for r in self.log]}

    @classmethod
    def from_json(cls, value: dict) -> State:
        """The state ``to_json`` gave (ValueError, KeyError, TypeError when it is not)."""
        log = tuple(Result(str(r["Start"]), str(r["End"]), int(r["ExitCode"]),
                           str(r["Output"])) for r in value.get("Log") or ())
        return cls(str(value["Status"]), int(value["FailingStreak"]), log)


def started(state: State | None) -> State:
    """The Health of a container whose probes begin (again): starting, its Log kept."""
    return State(STARTING, 0, state.log if state is not None else ())


def stopped(state: State) -> State:
    """The Health of a container whose probes ended (exit, pause): unhealthy, as
    dockerd marks it."""
    return dataclasses.replace(state, status=UNHEALTHY)


def record(state: State, result: Result, retries: int, in_start_period: bool) -> State:
    """``state`` after ``result``; ``in_start_period``: the probe began within the
    StartPeriod of the container's start (a failure then does not count while it is
    starting)."""
    log = (*state.log, result)[-MAX_LOG:]
    if result.exit_code == 0:
        return State(HEALTHY, 0, log)
    if state.status == STARTING and in_start_period:
        return State(state.status, state.failing_streak, log)
    streak = state.failing_streak + 1
    status = UNHEALTHY if streak >= (retries if retries > 0 else DEFAULT_RETRIES) \
        else state.status
    return State(status, streak, log)


def next_delay(check: Check, status: str, since_start_ns: int) -> float:
    """Seconds until the next probe: the StartInterval while starting within the
    StartPeriod, else the Interval."""
    if status == STARTING and since_start_ns < check.start_period_ns:
        return check.start_interval_ns / SECOND
    return check.interval_ns / SECOND


def output_text(data: bytes, truncated: bool) -> str:
    """A probe's output as the Log shows it: "..." after it when more was cut off."""
    text = data.decode("utf-8", errors="replace")
    return text + "..." if truncated else text


def timeout_output(timeout_ns: int) -> str:
    return f"Health check exceeded timeout ({go_duration(timeout_ns)})"


def shown(status: str) -> str:
    """What ``docker ps`` shows after "Up ..." in parentheses: "health: starting",
    "healthy", "unhealthy"."""
    return "health: starting" if status == STARTING else status


def check_filter(values: Iterable[str]) -> None:
    """Refuse a ``health`` filter value Docker does not know."""
    for value in values:
        if value not in FILTER_VALUES:
            raise errors.InvalidArgument(f"Unrecognised filter value for health: {value}")


def go_duration(ns: int) -> str:
    """A duration as Go prints a ``time.Duration`` ("300ms", "1.5s", "1m30s")."""
    if ns == 0:
        return "0s"
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    if ns < SECOND:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if ns < size * 1000:
                return sign + _decimal(ns, size) + unit
    hours, rest = divmod(ns, 3600 * SECOND)
    minutes, rest = divmod(rest, 60 * SECOND)
    seconds = _decimal(rest, SECOND) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _decimal(value: int, size: int) -> str:
    whole, part = divmod(value, size)
    if not part:
        return str(whole)
    return f"{whole}." + str(part).rjust(len(str(size)) - 1, "0").rstrip("0")


def rfc3339_nano(ns: int) -> str:
    """A UTC time as Go's RFC3339Nano writes it (trailing zeros of the fraction cut)."""
    seconds, fraction = divmod(ns, SECOND)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else stamp + "Z"


# --- the monitor --------------------------------------------------------------------


@dataclass
class _Monitor:
    """The probes of one running container (mutable, under ``Health``'s lock)."""

    check: Check
    command: tuple[str, ...]
    started_ns: int  # the container's start (wall clock, ns): the start period's origin
    generation: int  # which start this is: a probe of an older one is dropped
    probing: bool = False


@dataclass(frozen=True)
class _Outcome:
    """What one probe's exec gave."""

    exit_code: int
    output: str
    end_ns: int


class Health:
    """The health checks of the Docker containers of ``namespace``."""

    def __init__(self, core: Any, namespace: str,
                 emit: Callable[..., None] | None = None, workers: int = _WORKERS,
                 state_path: Callable[[str], str] | None = None) -> None:
        self.core = core
        self.ns = namespace
        self.emit: Callable[..., None] = emit or (lambda *args, **kw: None)
        # where a container's Health is kept across a restart of the daemon (as dockerd
        # keeps it in the container's state); None: in memory only
        self._state_path = state_path
        self._subscription = core.events.subscribe(_TOPICS, namespace)
        self._lock = threading.Lock()
        self._states: dict[str, State] = {}
        self._monitors: dict[str, _Monitor] = {}
        self._due: list[tuple[float, int, str]] = []  # (monotonic time, generation, id)
        self._generations = itertools.count(1)
        self._closing = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers,
                                        thread_name_prefix="docker-health-probe")
        self._restore()
        self._resume()
        self._thread = threading.Thread(target=self._run, name="docker-health",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """End the scheduler and the probes in progress (their processes killed)."""
        self._closing.set()
        self._subscription.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def health(self, cid: str) -> dict | None:
        """Inspect's ``State.Health`` of the container; None when it has none."""
        with self._lock:
            state = self._states.get(cid)
        return state.to_json() if state is not None else None

    def status(self, cid: str) -> str:
        """"starting", "healthy", "unhealthy", or "" when it has no health check."""
        with self._lock:
            state = self._states.get(cid)
        return state.status if state is not None else ""

    # --- the scheduler's thread ------------------------------------------------------

    def _save(self, cid: str, state: State) -> None:
        if self._state_path is None:
            return
        path = self._state_path(cid)
        with contextlib.suppress(OSError):  # the container went meanwhile
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                json.dump(state.to_json(), f)
            os.replace(path + ".tmp", path)

    def _restore(self) -> None:
        """The Health kept for each container of the namespace."""
        if self._state_path is None:
            return
        with contextlib.suppress(errors.EstibaError):
            for container in self.core.containers.list(self.ns):
                try:
                    with open(self._state_path(container.id), encoding="utf-8") as f:
                        state = State.from_json(json.load(f))
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # none kept, or not readable: it starts over
                self._states[container.id] = state

    def _resume(self) -> None:
        """Begin the probes of the containers already running (a restarted daemon)."""
        with contextlib.suppress(errors.EstibaError):
            tasks = {t.id: t for t in self.core.tasks.list(self.ns)}
            for container in self.core.containers.list(self.ns):
                task = tasks.get(container.id)
                if (task is not None and task.exit_status is None
                        and task.status == "running"):
                    self._guard(self._begin, container.id)

    def _run(self) -> None:
        while not self._closing.is_set():
            with self._lock:
                busy = any(m.probing for m in self._monitors.values())
                wait = self._due[0][0] - time.monotonic() if self._due else None
            # nothing due and nothing probing: only an event (or closing) wakes it
            timeout = wait if not busy else _BUSY_TICK if wait is None else min(
                wait, _BUSY_TICK)
            event = self._subscription.get(
                timeout=None if timeout is None else max(0.0, timeout))
            if event is not None:
                self._on_event(event.topic, dict(event.attributes))
            elif self._subscription.closed:
                return
            self._launch_due()

    def _on_event(self, topic: str, attrs: dict[str, str]) -> None:
        cid = attrs.get("id", "")
        if not cid or attrs.get("exec_id"):
            return
        if topic in ("/tasks/start", "/tasks/resumed"):
            self._guard(self._begin, cid)
        elif topic in ("/tasks/exit", "/tasks/paused"):
            self._end(cid)
        elif topic == "/containers/delete":
            with self._lock:
                self._monitors.pop(cid, None)
                self._states.pop(cid, None)

    @staticmethod
    def _guard(fn: Any, *args: Any) -> None:
        """One container's trouble is not the others': it is left without probes."""
        with contextlib.suppress(errors.EstibaError, OSError, ValueError):
            fn(*args)

    def _begin(self, cid: str) -> None:
        container = self.core.containers.get(self.ns, cid)
        labels = dict(container.labels)
        if NAME not in labels:
            return  # not a Docker container
        found = check_of(config_of(container))
        now_ns = time.time_ns()
        started_ns = parse_timestamp(labels.get(STARTED_AT, "")) or now_ns
        with self._lock:
            if found is None:
                self._monitors.pop(cid, None)
                return
            check, command = found
            monitor = _Monitor(check, command, started_ns, next(self._generations))
            self._monitors[cid] = monitor
            state = self._states[cid] = started(self._states.get(cid))
            delay = next_delay(check, STARTING, now_ns - started_ns)
            heapq.heappush(self._due, (time.monotonic() + delay, monitor.generation, cid))
        self._save(cid, state)

    def _end(self, cid: str) -> None:
        with self._lock:
            if self._monitors.pop(cid, None) is None or cid not in self._states:
                return
            state = self._states[cid] = stopped(self._states[cid])
        self._save(cid, state)

    def _launch_due(self) -> None:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > now:
                    return
                _, generation, cid = heapq.heappop(self._due)
                monitor = self._monitors.get(cid)
                if (monitor is None or monitor.generation != generation
                        or monitor.probing):
                    continue
                monitor.probing = True
            try:
                self._pool.submit(self._probe, cid, monitor)
            except RuntimeError:
                return  # the pool is shut down: the daemon is stopping

    # --- a probe (the pool's threads) ------------------------------------------------

    def _probe(self, cid: str, monitor: _Monitor) -> None:
        start_ns = time.time_ns()
        try:
            outcome = self._exec(cid, monitor)
        except Exception as err:  # noqa: BLE001 - a probe's failure is its result
            outcome = _Outcome(-1, str(err), time.time_ns())
        if outcome is None:
            return  # the daemon is stopping
        result = Result(rfc3339_nano(start_ns), rfc3339_nano(outcome.end_ns),
                        outcome.exit_code, outcome.output)
        with self._lock:
            if self._monitors.get(cid) is not monitor:
                return  # stopped (or started again) meanwhile: the result is dropped
            monitor.probing = False
            before = self._states.get(cid) or started(None)
            in_start = start_ns - monitor.started_ns < monitor.check.start_period_ns
            after = record(before, result, monitor.check.retries, in_start)
            self._states[cid] = after
            delay = next_delay(monitor.check, after.status,
                               time.time_ns() - monitor.started_ns)
            heapq.heappush(self._due, (time.monotonic() + delay, monitor.generation, cid))
        self._save(cid, after)
        if after.status != before.status:
            self.emit("container", f"health_status: {after.status}", cid, {})

    def _exec(self, cid: str, monitor: _Monitor) -> _Outcome | None:
        """Run the probe's exec: its exit code and output, or -1 with why it failed
        or timed out; None when the daemon stopped meanwhile."""
        from estiba.engine.execs import start_error  # execs imports containers, which imports this

        command = monitor.command
        exec_id = secrets.token_hex(32)
        said = f"{command[0]} {' '.join(command[1:])}" if command else ""
        self.emit("container", f"exec_create: {said}", cid, {"execID": exec_id})
        try:
            started_exec, conn = self.core.tasks.exec_attached(
                self.ns, cid, exec_id, {"args": list(command)}, terminal=False,
                stdin=False)
        except errors.EstibaError as err:
            return _Outcome(-1, start_error(str(err)), time.time_ns())
        self.emit("container", f"exec_start: {said}", cid, {"execID": exec_id})
        pidfd = _pidfd(started_exec.pid)
        try:
            output, timed_out = self._read(conn, pidfd, monitor.check.timeout_ns / SECOND)
        finally:
            conn.close()
            if pidfd is not None:
                os.close(pidfd)
        try:
            return self._outcome(cid, exec_id, monitor, output, timed_out)
        finally:
            # as dockerd forgets a probe's exec once it ended
            with contextlib.suppress(errors.EstibaError):
                self.core.tasks.delete_exec(self.ns, cid, exec_id)

    def _outcome(self, cid: str, exec_id: str, monitor: _Monitor, output: str,
                 timed_out: bool) -> _Outcome | None:
        if self._closing.is_set():
            return None
        end_ns = time.time_ns()
        if timed_out:
            with contextlib.suppress(errors.EstibaError):
                self.core.tasks.wait_exec(self.ns, cid, exec_id, timeout=_KILL_GRACE)
            return _Outcome(-1, timeout_output(monitor.check.timeout_ns), end_ns)
        try:
            ended = self.core.tasks.wait_exec(self.ns, cid, exec_id, timeout=_KILL_GRACE)
        except errors.EstibaError as err:
            return _Outcome(-1, f"health check of container {cid}: {err}", end_ns)
        code = ended.exit_status
        return _Outcome(-1 if code is None else code, output, time.time_ns())

    def _read(self, conn: socket.socket, pidfd: int | None,
              timeout: float) -> tuple[str, bool]:
        """(the output, whether the timeout passed) of a probe's attach socket, read
        to its end: the process is killed at ``timeout`` (or when closing), then its
        end is waited for a while."""
        kept, truncated, timed_out = bytearray(), False, False
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if not timed_out and (now >= deadline or self._closing.is_set()):
                timed_out = True
                _kill(pidfd)
                deadline = now + _KILL_GRACE
            elif timed_out and (now >= deadline or self._closing.is_set()):
                break
            conn.settimeout(max(0.001, min(deadline - now, _READ_SLICE)))
            try:
                packet = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not packet:
                break
            data = packet[1:]  # conmon's stream tag first: stdout and stderr kept alike
            room = MAX_OUTPUT - len(kept)
            kept += data[:max(room, 0)]
            truncated = truncated or len(data) > room
        return output_text(bytes(kept), truncated), timed_out


def _pidfd(pid: int) -> int | None:
    """A pidfd of a probe's process, taken as soon as it runs, so that a kill at its
    timeout cannot reach another process that got its pid."""
    if pid <= 0:
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None  # exited already


def _kill(pidfd: int | None) -> None:
    if pidfd is not None:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
