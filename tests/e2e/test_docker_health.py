"""Health checks (``docker run --health-*``), the real docker CLI against an estibad of
the module's own: a check that starts failing and then passes turns healthy, one that
keeps failing turns unhealthy with its streak and output in the Log, one that outlasts
its timeout is killed and logged as such; ``docker ps`` shows the status and filters
on it, ``docker events`` tells its changes; a stop leaves the Health shown; bad values
are refused in Docker's words; a restarted daemon resumes the probes."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.docker_cli import docker, engine_daemon

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "daemon"))
from harness import Daemon, poll  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.root]

FAST = ("--health-interval", "200ms")


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    yield from engine_daemon("edc-")  # type: ignore[misc]


def run_detached(d: Daemon, *args: str) -> str:
    done = docker(d, "run", "-d", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def health_of(d: Daemon, cid: str) -> dict | None:
    shown = docker(d, "inspect", "-f", "{{json .State.Health}}", cid)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def wait_status(d: Daemon, cid: str, status: str, timeout: float = 15) -> dict:
    def reached() -> dict | None:
        found = health_of(d, cid)
        return found if found is not None and found["Status"] == status else None

    return poll(reached, timeout, f"health {status} of {cid[:12]}", interval=0.1)


def ps_status(d: Daemon, cid: str) -> str:
    shown = docker(d, "ps", "-a", "--filter", f"id={cid}", "--format", "{{.Status}}")
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.strip()


def remove(d: Daemon, *cids: str) -> None:
    docker(d, "rm", "-f", *cids)


def test_starting_then_healthy(daemon: Daemon) -> None:
    since = f"{time.time():.9f}"
    cid = run_detached(daemon, "--health-cmd", "test -e /tmp/ok", *FAST,
                       "--health-retries", "2", "busybox",
                       "sh", "-c", "sleep 1; touch /tmp/ok; sleep 100")
    try:
        first = health_of(daemon, cid)
        # the first probes fail until the file is made (two of them: unhealthy meanwhile,
        # as with Docker)
        assert first is not None and first["Status"] in ("starting", "unhealthy"), first
        healthy = wait_status(daemon, cid, "healthy")
        assert healthy["FailingStreak"] == 0
        log = healthy["Log"]
        assert 1 <= len(log) <= 5 and log[-1]["ExitCode"] == 0 and log[-1]["Output"] == ""
        assert all(entry["Start"] <= entry["End"] for entry in log)
        assert all(entry["Start"].endswith("Z") for entry in log)
        config = docker(daemon, "inspect", "-f", "{{json .Config.Healthcheck}}", cid)
        assert json.loads(config.stdout) == {
            "Test": ["CMD-SHELL", "test -e /tmp/ok"], "Interval": 200_000_000, "Retries": 2}
        assert ps_status(daemon, cid).endswith("(healthy)"), ps_status(daemon, cid)
        listed = docker(daemon, "ps", "--filter", "health=healthy", "--format", "{{.ID}}")
        assert listed.stdout.split() == [cid[:12]], listed
        until = f"{time.time() + 0.5:.9f}"
        events = docker(daemon, "events", "--since", since, "--until", until, "--filter",
                        f"container={cid}", "--format", "{{.Action}}")
        actions = events.stdout.splitlines()
        assert "health_status: healthy" in actions, actions
        assert "health_status: starting" not in actions
        assert "exec_create: /bin/sh -c test -e /tmp/ok" in actions, actions
        assert "exec_die" in actions, actions
    finally:
        remove(daemon, cid)


def test_failures_in_the_start_period_do_not_count(daemon: Daemon) -> None:
    # one failure would do (retries 1), and the interval is long: within the start
    # period the probes come every start interval and their failures are not counted
    cid = run_detached(daemon, "--health-cmd", "test -e /tmp/ok", "--health-interval",
                       "30s", "--health-start-period", "20s", "--health-start-interval",
                       "100ms", "--health-retries", "1", "busybox",
                       "sh", "-c", "sleep 1; touch /tmp/ok; sleep 100")
    try:
        failing = poll(lambda: (h := health_of(daemon, cid))["Log"] and h, 10,
                       "a first probe")
        assert (failing["Status"], failing["FailingStreak"]) == ("starting", 0), failing
        assert failing["Log"][0]["ExitCode"] == 1
        healthy = wait_status(daemon, cid, "healthy", timeout=10)
        assert healthy["FailingStreak"] == 0
        config = docker(daemon, "inspect", "-f", "{{json .Config.Healthcheck}}", cid)
        assert json.loads(config.stdout) == {
            "Test": ["CMD-SHELL", "test -e /tmp/ok"], "Interval": 30_000_000_000,
            "StartPeriod": 20_000_000_000, "StartInterval": 100_000_000, "Retries": 1}
    finally:
        remove(daemon, cid)


def test_starting_is_shown_before_the_first_probe(daemon: Daemon) -> None:
    cid = run_detached(daemon, "--health-cmd", "true", "--health-interval", "30s",
                       "busybox", "sleep", "100")
    try:
        assert health_of(daemon, cid) == {"Status": "starting", "FailingStreak": 0,
                                          "Log": []}
        assert ps_status(daemon, cid).endswith("(health: starting)"), ps_status(daemon, cid)
        listed = docker(daemon, "ps", "--filter", "health=starting", "--format", "{{.ID}}")
        assert cid[:12] in listed.stdout.split(), listed
    finally:
        remove(daemon, cid)


def test_failing_check_turns_unhealthy_with_its_output(daemon: Daemon) -> None:
    cid = run_detached(daemon, "--health-cmd", "echo out; echo err >&2; exit 3", *FAST,
                       "--health-retries", "2", "busybox", "sleep", "100")
    plain = run_detached(daemon, "busybox", "sleep", "100")
    try:
        unhealthy = wait_status(daemon, cid, "unhealthy")
        assert unhealthy["FailingStreak"] >= 2
        entry = unhealthy["Log"][-1]
        assert entry["ExitCode"] == 3
        assert sorted(entry["Output"].splitlines()) == ["err", "out"], entry
        assert ps_status(daemon, cid).endswith("(unhealthy)"), ps_status(daemon, cid)
        listed = docker(daemon, "ps", "--filter", "health=unhealthy", "--format", "{{.ID}}")
        assert listed.stdout.split() == [cid[:12]], listed
        none = docker(daemon, "ps", "--filter", "health=none", "--format", "{{.ID}}")
        assert none.stdout.split() == [plain[:12]], none
        assert health_of(daemon, plain) is None
        assert not ps_status(daemon, plain).endswith(")")
        bad = docker(daemon, "ps", "--filter", "health=foo")
        assert bad.returncode != 0
        assert "Unrecognised filter value for health: foo" in bad.stderr
        # five results kept, the streak counting on
        poll(lambda: len(health_of(daemon, cid)["Log"]) == 5, 15, "five results")
        assert health_of(daemon, cid)["FailingStreak"] >= 5
    finally:
        remove(daemon, cid, plain)


def test_a_probe_past_its_timeout_is_killed(daemon: Daemon) -> None:
    cid = run_detached(daemon, "--health-cmd", "sleep 5", "--health-timeout", "300ms",
                       *FAST, "--health-retries", "1", "busybox", "sleep", "100")
    try:
        unhealthy = wait_status(daemon, cid, "unhealthy")
        entry = unhealthy["Log"][0]
        assert (entry["ExitCode"], entry["Output"]) == (
            -1, "Health check exceeded timeout (300ms)")
        poll(lambda: len(health_of(daemon, cid)["Log"]) >= 3, 15, "three probes")
        # the probes killed at their timeout do not pile up in the container
        top = docker(daemon, "top", cid)
        assert top.returncode == 0, top.stderr
        assert sum("sleep 5" in line for line in top.stdout.splitlines()) <= 1, top.stdout
    finally:
        remove(daemon, cid)


def test_the_health_stays_shown_after_a_stop(daemon: Daemon) -> None:
    cid = run_detached(daemon, "--health-cmd", "true", *FAST, "busybox", "sleep", "100")
    try:
        healthy = wait_status(daemon, cid, "healthy")
        assert docker(daemon, "stop", "-t", "0", cid).returncode == 0
        stopped = health_of(daemon, cid)
        # Docker marks the health of a stopped container unhealthy, its Log kept
        assert stopped is not None and stopped["Status"] == "unhealthy"
        assert stopped["FailingStreak"] == 0 and len(stopped["Log"]) >= len(healthy["Log"])
        probes = len(stopped["Log"])
        time.sleep(0.6)  # three intervals: a stopped container is not probed
        assert len(health_of(daemon, cid)["Log"]) == probes
        assert docker(daemon, "start", cid).returncode == 0
        wait_status(daemon, cid, "healthy")
    finally:
        remove(daemon, cid)


def test_no_healthcheck_and_bad_values(daemon: Daemon) -> None:
    cid = run_detached(daemon, "--no-healthcheck", "busybox", "sleep", "100")
    try:
        assert health_of(daemon, cid) is None
        config = docker(daemon, "inspect", "-f", "{{json .Config.Healthcheck}}", cid)
        assert json.loads(config.stdout) == {"Test": ["NONE"]}
    finally:
        remove(daemon, cid)
    for flag, message in (("--health-interval=500us",
                           "Interval in Healthcheck cannot be less than 1ms"),
                          ("--health-timeout=1us",
                           "Timeout in Healthcheck cannot be less than 1ms"),
                          ("--health-start-period=10ns",
                           "StartPeriod in Healthcheck cannot be less than 1ms")):
        refused = docker(daemon, "run", "-d", flag, "busybox", "true")
        assert refused.returncode == 125, (flag, refused)
        assert message in refused.stderr, (flag, refused.stderr)


def test_a_restarted_daemon_resumes_the_probes(daemon: Daemon) -> None:
    cid = run_detached(daemon, "--health-cmd", "test ! -e /tmp/bad", *FAST,
                       "--health-retries", "1", "busybox", "sleep", "100")
    try:
        wait_status(daemon, cid, "healthy")
        kept = len(health_of(daemon, cid)["Log"])
        daemon.stop()  # the container keeps running
        daemon.start()
        assert health_of(daemon, cid)["Status"] in ("starting", "healthy")
        assert len(health_of(daemon, cid)["Log"]) >= kept  # its Log was kept
        wait_status(daemon, cid, "healthy")
        assert docker(daemon, "exec", cid, "touch", "/tmp/bad").returncode == 0
        unhealthy = wait_status(daemon, cid, "unhealthy")
        assert unhealthy["Log"][-1]["ExitCode"] == 1
    finally:
        remove(daemon, cid)


def test_probes_leave_no_execs_behind(daemon: Daemon) -> None:
    cid = run_detached(daemon, "--health-cmd", "true", *FAST, "busybox", "sleep", "100")
    wait_status(daemon, cid, "healthy")
    execs = Path(daemon.exec_root, "tasks", "docker", cid, "exec")
    poll(lambda: len(health_of(daemon, cid)["Log"]) >= 4, 15, "four probes")
    assert len(list(execs.iterdir())) <= 1  # the one running now, at most
    remove(daemon, cid)


def test_the_health_of_a_stopped_container_outlives_a_daemon_restart(daemon: Daemon
                                                                     ) -> None:
    cid = run_detached(daemon, "--health-cmd", "true", *FAST, "busybox", "sleep", "100")
    try:
        wait_status(daemon, cid, "healthy")
        assert docker(daemon, "stop", "-t", "1", cid).returncode == 0
        before = health_of(daemon, cid)
        daemon.stop()
        daemon.start()
        assert health_of(daemon, cid) == before  # unhealthy, as Docker marks a stop
    finally:
        remove(daemon, cid)
