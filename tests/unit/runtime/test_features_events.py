"""``features`` (the runtime spec's features document) and ``events`` (runc's JSON
stats and oom lines), as pure functions and against a scripted container."""

from __future__ import annotations

import pytest

from estiba.errors import FailedPrecondition, InvalidArgument
from estiba.kernel import seccomp
from estiba.runtime import events, features, mounts
from support.schemas import runtime_validator

FEATURES = runtime_validator("features-schema.json")


def test_features_validate_against_the_schema() -> None:
    doc = features.features(40, "2.5.4")
    FEATURES.validate(doc)
    assert doc["ociVersionMax"] == "1.2.0"
    assert doc["linux"]["capabilities"][-1] == "CAP_CHECKPOINT_RESTORE"  # type: ignore[index]
    assert doc["annotations"]["io.github.seccomp.libseccomp.version"] == "2.5.4"  # type: ignore[index]


def test_features_list_only_what_the_runtime_accepts() -> None:
    doc = features.features(40, "2.5.4")
    for option in doc["mountOptions"]:  # type: ignore[attr-defined]
        mounts.parse_options([option])  # each one parses
    with pytest.raises(InvalidArgument):
        mounts.parse_options(["idmap"])
    linux = doc["linux"]
    assert "user" in linux["namespaces"] and "time" not in linux["namespaces"]  # type: ignore[index]
    assert "SCMP_ACT_NOTIFY" not in linux["seccomp"]["actions"]  # type: ignore[index]
    assert linux["mountExtensions"] == {"idmap": {"enabled": False}}  # type: ignore[index]
    assert set(linux["seccomp"]["actions"]) == set(seccomp.ACTION_NAMES)  # type: ignore[index]


def test_without_libseccomp_seccomp_is_off() -> None:
    doc = features.features(40, None)
    FEATURES.validate(doc)
    sec = doc["linux"]["seccomp"]  # type: ignore[index]
    assert sec["enabled"] is False and sec["supportedFlags"] == []
    assert "io.github.seccomp.libseccomp.version" not in doc["annotations"]  # type: ignore[operator]


V1_STATS = {
    "memory": {"usage": 4096, "limit": None, "max_usage": 8192,
               "stat": {"cache": 1024, "rss": 2048}, "oom_kills": 0},
    "cpu": {"usage_ns": 5_000_000, "user_ns": 3_000_000, "system_ns": 2_000_000},
    "pids": {"current": 2, "limit": 100},
}


def test_stats_event_in_runcs_shape() -> None:
    event = events.stats_event("c1", V1_STATS)
    assert event["type"] == "stats" and event["id"] == "c1"
    data = event["data"]
    assert data["cpu"]["usage"] == {"total": 5_000_000, "kernel": 2_000_000,  # type: ignore[index]
                                    "user": 3_000_000}
    # an unlimited cgroup has no limit field (omitempty)
    assert data["memory"]["usage"] == {"usage": 4096, "max": 8192}  # type: ignore[index]
    assert data["memory"]["cache"] == 1024  # type: ignore[index]
    assert data["pids"] == {"current": 2, "limit": 100}  # type: ignore[index]


def test_v2_cache_is_the_file_counter() -> None:
    stats = {"memory": {"usage": 1, "limit": 10, "max_usage": None,
                        "stat": {"file": 77}, "oom_kills": 0}}
    assert events.stats_data(stats)["memory"]["cache"] == 77  # type: ignore[index]


class _Cgroup:
    def __init__(self, kills: list[int]) -> None:
        self.kills = kills

    def stats(self) -> dict:
        n = self.kills.pop(0) if len(self.kills) > 1 else self.kills[0]
        return {**V1_STATS, "memory": {**V1_STATS["memory"], "oom_kills": n}}


class _Container:
    """A container that runs for ``polls`` status checks, then stops."""

    id = "c1"

    def __init__(self, polls: int, kills: list[int]) -> None:
        self.polls = polls
        self._cgroup = _Cgroup(kills)

    def status(self) -> str:
        self.polls -= 1
        return "running" if self.polls >= 0 else "stopped"

    def cgroup(self) -> _Cgroup:
        return self._cgroup


def _clock() -> tuple:
    now = [0.0]
    return (lambda: now[0]), (lambda s: now.__setitem__(0, now[0] + max(s, 0.01)))


def test_watch_emits_stats_each_interval_and_an_oom_when_the_count_grows() -> None:
    clock, sleep = _clock()
    seen: list[dict] = []
    container = _Container(polls=25, kills=[0, 0, 0, 1, 1])
    events.watch(container, 1.0, seen.append, clock=clock, sleep=sleep)  # type: ignore[arg-type]
    kinds = [e["type"] for e in seen]
    assert kinds.count("oom") == 1
    assert 2 <= kinds.count("stats") <= 4  # ~2.4 s of polling at 0.1 s, one per second


def test_watch_once_prints_one_stats_line() -> None:
    seen: list[dict] = []
    events.watch(_Container(polls=5, kills=[0]), 1.0, seen.append, once=True)  # type: ignore[arg-type]
    assert [e["type"] for e in seen] == ["stats"]


def test_watch_refuses_a_stopped_container() -> None:
    with pytest.raises(FailedPrecondition):
        events.watch(_Container(polls=0, kills=[0]), 1.0, print)  # type: ignore[arg-type]


def test_spec_rootless_maps_the_caller_alone() -> None:
    from estiba.runtime.spec import default_config, rootless_config

    config = rootless_config(default_config(), 1000, 1001)
    linux = config["linux"]
    assert [n["type"] for n in linux["namespaces"]].count("user") == 1
    assert "network" not in [n["type"] for n in linux["namespaces"]]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": 1001, "size": 1}]
    assert "resources" not in linux
    sys_mount = next(m for m in config["mounts"] if m["destination"] == "/sys")
    assert sys_mount["source"] == "/sys" and "rbind" in sys_mount["options"]
    for mount in config["mounts"]:
        assert not any(o.startswith(("uid=", "gid=")) for o in mount.get("options", ()))
