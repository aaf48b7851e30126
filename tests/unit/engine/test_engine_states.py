"""The engine's pure parts of container states: restart policies, Docker's filters, the
list filters, stats and top."""

from __future__ import annotations

import re

import pytest

from estiba import errors
from estiba.engine import filters, policy, stats
from estiba.engine.inspect import View, inspect, matches, status_text, summary


def test_restart_policy_check() -> None:
    assert policy.check(None) == {"Name": "", "MaximumRetryCount": 0}
    assert policy.check({"Name": "on-failure", "MaximumRetryCount": 3})["Name"] == "on-failure"
    with pytest.raises(errors.InvalidArgument, match="unknown policy 'sometimes'"):
        policy.check({"Name": "sometimes"})
    with pytest.raises(errors.InvalidArgument, match="only be used with 'on-failure'"):
        policy.check({"Name": "always", "MaximumRetryCount": 2})
    with pytest.raises(errors.InvalidArgument, match="negative"):
        policy.check({"Name": "on-failure", "MaximumRetryCount": -1})
    with pytest.raises(errors.InvalidArgument, match="AutoRemove"):
        policy.check({"Name": "always"}, auto_remove=True)


@pytest.mark.parametrize(("name", "limit", "code", "restarts", "by_user", "expected"), [
    ("no", 0, 1, 0, False, False),
    ("always", 0, 0, 5, False, True),
    ("always", 0, 0, 0, True, False),
    ("unless-stopped", 0, 0, 0, False, True),
    ("on-failure", 0, 0, 0, False, False),
    ("on-failure", 0, 1, 100, False, True),
    ("on-failure", 2, 1, 1, False, True),
    ("on-failure", 2, 1, 2, False, False),
])
def test_should_restart(name: str, limit: int, code: int, restarts: int, by_user: bool,
                        expected: bool) -> None:
    given = {"Name": name, "MaximumRetryCount": limit}
    assert policy.should_restart(given, code, restarts, by_user) is expected


def test_start_at_boot() -> None:
    # always starts even a container a user stopped; unless-stopped does not
    assert policy.start_at_boot({"Name": "always"}, 0, 0, True)
    assert not policy.start_at_boot({"Name": "unless-stopped"}, 0, 0, True)
    assert policy.start_at_boot({"Name": "unless-stopped"}, None, 0, False)
    assert not policy.start_at_boot({"Name": "on-failure"}, 0, 0, False)


def test_restart_delay_doubles_then_starts_over() -> None:
    delay = policy.next_delay(0, 0)
    assert delay == policy.FIRST_DELAY
    delay = policy.next_delay(delay, 0.5)
    assert delay == 2 * policy.FIRST_DELAY
    assert policy.next_delay(50, 1) == policy.MAX_DELAY
    assert policy.next_delay(50, policy.STEADY_RUN) == policy.FIRST_DELAY


def test_filters_parse() -> None:
    allowed = ("status", "label", "dangling")
    assert filters.parse("", allowed) == {}
    assert filters.parse('{"status": ["running", "paused"]}', allowed) == {
        "status": ["running", "paused"]}
    assert filters.parse('{"label": {"a=b": true, "c": false}}', allowed) == {
        "label": ["a=b"]}
    with pytest.raises(errors.InvalidArgument, match="invalid filter 'nope'"):
        filters.parse('{"nope": ["x"]}', allowed)
    with pytest.raises(errors.InvalidArgument):
        filters.parse("{bad", allowed)
    assert filters.boolean({"dangling": ["true"]}, "dangling") is True
    assert filters.boolean({}, "dangling") is None
    with pytest.raises(errors.InvalidArgument):
        filters.boolean({"dangling": ["maybe"]}, "dangling")
    assert filters.labels_match({"a": "b", "c": ""}, ["a=b", "c"])
    assert not filters.labels_match({"a": "b"}, ["a=x"])


def _view(**kw: object) -> View:
    base = dict(id="ab" * 32, name="/web", created="2026-12-04T10:00:00.5Z",
                image="busybox", image_id="sha256:" + "1" * 64, args=("sh",),
                config={"Labels": {"tier": "front"}}, host_config={})
    base.update(kw)
    return View(**base)  # type: ignore[arg-type]


def test_list_filters() -> None:
    view = _view(status="exited", exit_code=3)
    assert matches(view, {"name": ["we"]}) and not matches(view, {"name": ["^db"]})
    assert matches(view, {"id": ["abab"]}) and not matches(view, {"id": ["ff"]})
    assert matches(view, {"status": ["exited", "running"]})
    assert not matches(view, {"status": ["running"]})
    assert matches(view, {"exited": ["3"]}) and not matches(view, {"exited": ["0"]})
    assert matches(view, {"label": ["tier=front"]})
    assert not matches(view, {"label": ["tier=back"]})
    assert matches(view, {}, ancestors={view.image_id})
    assert not matches(view, {}, ancestors=set())
    created = 1796378400.5
    assert matches(view, {}, before=created + 1) and not matches(view, {}, before=created)
    assert matches(view, {}, since=created - 1) and not matches(view, {}, since=created)
    with pytest.raises(errors.InvalidArgument, match="status=sleepy"):
        matches(view, {"status": ["sleepy"]})


def test_paused_restarting_and_oom_are_shown() -> None:
    paused = _view(status="paused", pid=7, started_at="2026-12-04T10:00:00Z")
    assert status_text(paused, 1796378405.0).endswith("(Paused)")
    state = inspect(paused)["State"]
    assert (state["Status"], state["Running"], state["Paused"], state["Pid"]) == (
        "paused", True, True, 7)
    restarting = _view(status="exited", restarting=True, exit_code=1, restart_count=2,
                       finished_at="2026-12-04T10:00:01Z")
    shown = inspect(restarting)
    assert shown["State"]["Restarting"] and shown["State"]["Status"] == "restarting"
    assert shown["RestartCount"] == 2
    assert summary(restarting, 1796378405.0)["Status"].startswith("Restarting (1)")
    assert inspect(_view(status="exited", oom_killed=True))["State"]["OOMKilled"]


PROC_STAT = "cpu  100 0 50 1000 10 0 5 0 0 0\ncpu0 50 0 25 500 5 0 2 0 0 0\n"


def test_stats_sample() -> None:
    assert stats.system_cpu_ns(PROC_STAT) == 1165 * 10_000_000
    assert stats.mem_total("MemTotal:  1024 kB\nMemFree: 1 kB\n") == 1024 * 1024
    metrics = {"cpu": {"usage_ns": 500, "user_ns": 300, "system_ns": 200},
               "memory": {"usage": 4096, "limit": None, "max_usage": 8192,
                          "stat": {"total_inactive_file": 1024}},
               "pids": {"current": 2, "limit": 10}}
    first = stats.sample(metrics, name="/web", id="x", read="t1", system_cpu=10,
                         online_cpus=2, memory_total=1 << 30)
    assert first["cpu_stats"]["cpu_usage"]["total_usage"] == 500
    assert first["precpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert first["memory_stats"]["limit"] == 1 << 30  # unlimited: the host's memory
    assert first["pids_stats"] == {"current": 2, "limit": 10}
    second = stats.sample(metrics, name="/web", id="x", read="t2", system_cpu=20,
                          online_cpus=2, memory_total=1 << 30, previous=first)
    assert second["preread"] == "t1"
    assert second["precpu_stats"] == first["cpu_stats"]
    stopped = stats.sample(None, name="/web", id="x", read="t3", system_cpu=0,
                           online_cpus=2, memory_total=1)
    assert stopped["read"] == stats.ZERO_TIME and stopped["memory_stats"] == {}


def test_top_keeps_the_containers_rows() -> None:
    out = ("UID  PID  PPID  C STIME TTY TIME CMD\n"
           "root 1    0     0 10:00 ?   00:00:01 /sbin/init splash\n"
           "root 42   40    0 10:01 ?   00:00:00 sleep 1000\n")
    shown = stats.top(out, {42})
    assert shown["Titles"][1] == "PID"
    assert shown["Processes"] == [["root", "42", "40", "0", "10:01", "?", "00:00:00",
                                   "sleep 1000"]]
    with pytest.raises(errors.InvalidArgument, match="PID field"):
        stats.top("USER COMMAND\nroot sh\n", {1})


def test_config_types_as_go_decodes_them() -> None:
    from estiba.engine import jsontypes

    jsontypes.check_config({"Image": "busybox", "Cmd": "sh", "Entrypoint": ["a"],
                            "Env": None, "Labels": {"a": "b"}, "Tty": True})
    for body, message in [
        ({"Cmd": 5}, "unmarshal number into Go struct field ContainerConfigWrapper.Cmd"),
        ({"Env": "A=1"}, "unmarshal string into Go struct field ContainerConfigWrapper.Env"),
        ({"Labels": {"a": 1}}, "ContainerConfigWrapper.Labels of type map[string]string"),
        ({"Tty": "yes"}, "unmarshal string into Go struct field ContainerConfigWrapper.Tty"),
        ({"HostConfig": []}, "unmarshal array into Go struct field HostConfig of type"),
        ({"StopTimeout": True}, "unmarshal bool into Go struct field"),
    ]:
        with pytest.raises(errors.InvalidArgument, match=re.escape(message)):
            jsontypes.check_config(body)
    with pytest.raises(errors.InvalidArgument, match="ExecConfig.ConsoleSize"):
        jsontypes.check({"ConsoleSize": [1]}, jsontypes.EXEC_FIELDS, "ExecConfig")


def test_log_config() -> None:
    from estiba.engine import logconfig
    from estiba.units import ram_in_bytes

    assert [ram_in_bytes(t) for t in ("512", "10k", "1.5m", "2GiB", "1KB")] == [
        512, 10240, 1572864, 2 << 30, 1024]
    with pytest.raises(ValueError):
        ram_in_bytes("lots")
    assert logconfig.size_max(None) == 0
    assert logconfig.size_max({"Type": "json-file", "Config": {"max-size": "2k"}}) == 2048
    assert logconfig.size_max({"Type": "", "Config": {"max-file": "3"}}) == 0
    with pytest.raises(errors.Unimplemented, match="'syslog' is not supported yet"):
        logconfig.size_max({"Type": "syslog"})
    with pytest.raises(errors.InvalidArgument, match='no log driver named "nope"'):
        logconfig.size_max({"Type": "nope"})
    with pytest.raises(errors.InvalidArgument, match="unknown log opt 'foo'"):
        logconfig.size_max({"Type": "json-file", "Config": {"foo": "bar"}})
    with pytest.raises(errors.InvalidArgument, match="invalid max-size"):
        logconfig.size_max({"Config": {"max-size": "big"}})
