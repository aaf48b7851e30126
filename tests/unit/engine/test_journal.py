"""The journal of containers (engine/journal.py): what is kept, for how long, how it
is found; the create's steps made from the spec; the core's details (core/steps.py)."""

from __future__ import annotations

import pytest

from estiba import errors
from estiba.core import steps
from estiba.engine.journal import HEAD, Journal, mount_steps, spec_details
from estiba.snapshots import Mount

CID = "a" * 64


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def journal(**kw: object) -> tuple[Journal, Clock]:
    clock = Clock()
    return Journal(clock=clock, **kw), clock  # type: ignore[arg-type]


def test_steps_are_kept_in_order_with_their_time() -> None:
    j, clock = journal()
    j.begin(CID, "/web", {"api": "POST /containers/create", "id": CID})
    clock.now += 0.25
    j.note(CID, "core", "tasks.create", {"bundle": "/run/b"})
    assert j.explain(CID) == [
        {"at": 0.0, "layer": "engine", "action": "create",
         "details": {"api": "POST /containers/create", "id": CID}},
        {"at": 0.25, "layer": "core", "action": "tasks.create",
         "details": {"bundle": "/run/b"}},
    ]


def test_a_container_without_a_journal_costs_nothing() -> None:
    j, _ = journal()
    called = []
    j.note("b" * 64, "kernel", "namespaces", lambda: called.append(1) or {})
    assert called == []
    with pytest.raises(errors.NotFound, match="no journal of container b"):
        j.explain("b" * 64)


def test_details_made_when_read_unless_marked_at_once() -> None:
    j, _ = journal()
    j.begin(CID, "web", {})
    made = []

    def later() -> dict:
        made.append("later")
        return {"argv": ["estiba-runtime", "start", CID]}

    j.note(CID, "kernel", "namespaces", steps.at_once(lambda: made.append("now") or {
        "net": "net:[1]"}))
    j.note(CID, "runtime", "start", later)
    assert made == ["now"]
    shown = j.explain(CID)
    assert made == ["now", "later"]
    assert [s["details"] for s in shown[1:]] == [
        {"net": "net:[1]"}, {"argv": ["estiba-runtime", "start", CID]}]
    j.explain(CID)
    assert made == ["now", "later"]  # made once


def test_details_that_cannot_be_made_say_why() -> None:
    j, _ = journal()
    j.begin(CID, "web", {})

    def gone() -> dict:
        raise errors.NotFound("read /proc/1234/cgroup: no such file")

    j.note(CID, "kernel", "cgroup", steps.at_once(gone))
    j.note(CID, "kernel", "later", gone)
    assert [s["details"] for s in j.explain(CID)[1:]] == [
        {"unreadable": "read /proc/1234/cgroup: no such file"}] * 2


def test_found_by_name_and_unique_prefix_not_by_an_ambiguous_one() -> None:
    j, _ = journal()
    j.begin(CID, "/web", {})
    j.begin("ab" + "c" * 62, "db", {})
    assert j.explain("web")[0]["action"] == "create"
    assert j.explain("/web") == j.explain(CID)
    assert j.explain("aa") == j.explain(CID)
    with pytest.raises(errors.NotFound):
        j.explain("a")


def test_a_removed_container_is_kept_for_a_while() -> None:
    j, clock = journal(linger=60)
    j.begin(CID, "web", {})
    j.ended(CID)
    assert j.explain(CID)[-1]["action"] == "removed"
    clock.now += 59
    assert j.explain("web")
    clock.now += 2
    with pytest.raises(errors.NotFound):
        j.explain("web")


def test_the_oldest_journals_go_beyond_keep() -> None:
    j, _ = journal(keep=3)
    ids = [str(n) * 64 for n in range(1, 6)]
    for cid in ids:
        j.begin(cid, f"c{cid[0]}", {})
    for cid in ids[:2]:
        with pytest.raises(errors.NotFound):
            j.explain(cid)
    assert all(j.explain(cid) for cid in ids[-2:])


def test_a_long_journal_keeps_its_first_steps_and_its_latest() -> None:
    j, _ = journal(max_steps=HEAD + 20)
    j.begin(CID, "web", {})
    for n in range(1, HEAD + 50):
        j.note(CID, "core", f"step {n}", {})
    shown = j.explain(CID)
    assert len(shown) == HEAD + 20
    assert [s["action"] for s in shown[:2]] == ["create", "step 1"]
    assert shown[HEAD] == {"at": 0.0, "layer": "engine", "action": "left out",
                           "details": {"steps": 31}}
    assert shown[HEAD + 1]["action"] == f"step {HEAD + 31}"
    assert shown[-1]["action"] == f"step {HEAD + 49}"


def test_spec_details_name_namespaces_joined_by_path() -> None:
    spec = {"hostname": "h", "process": {"args": ["sh", "-c", "true"],
                                         "user": {"uid": 1, "gid": 2}},
            "linux": {"cgroupsPath": "/estiba/docker-x",
                      "namespaces": [{"type": "pid"},
                                     {"type": "network", "path": "/run/netns/x"}]}}
    assert spec_details(spec) == {
        "namespaces": ["pid", "network (join /run/netns/x)"],
        "cgroupsPath": "/estiba/docker-x", "args": ["sh", "-c", "true"], "user": "1:2",
        "hostname": "h"}


def test_mount_steps_tell_files_volumes_binds_and_tmpfs() -> None:
    spec = {"mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/etc/hosts", "type": "bind", "source": "/e/hosts",
         "options": ["rbind"]},
        {"destination": "/data", "type": "bind", "source": "/v/vol/_data",
         "options": ["rbind", "rprivate"]},
        {"destination": "/src", "type": "bind", "source": "/home/src",
         "options": ["rbind", "ro"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["size=1m"]},
    ]}
    volumes = [{"Name": "vol", "Destination": "/data"}]
    got = mount_steps(spec, volumes, ["vol"], ["/proc", "/etc/hosts"],
                      lambda name: f"/root/volumes/{name}/_data")
    assert got == [
        ("engine", "files", {"/etc/hosts": "/e/hosts"}),
        ("engine", "volume", {"name": "vol", "made": True,
                              "source": "/root/volumes/vol/_data", "destination": "/data",
                              "options": "rbind,rprivate"}),
        ("engine", "bind", {"source": "/home/src", "destination": "/src",
                            "options": "rbind,ro"}),
        ("engine", "tmpfs", {"destination": "/tmp", "options": "size=1m"}),
    ]


# --- the core's details ----------------------------------------------------------------


def test_an_overlay_mount_shows_its_directories_absolute() -> None:
    record = Mount(type="overlay", source="overlay", cwd="/s",
                   options=("workdir=2/work", "upperdir=2/fs", "lowerdir=l/1:l/0",
                            "volatile"))
    assert steps.mount(record) == {
        "type": "overlay", "source": "overlay", "lowerdir": "/s/l/1:/s/l/0",
        "upperdir": "/s/2/fs", "workdir": "/s/2/work", "options": "volatile"}
    assert steps.mounted([record], "/b/rootfs")["target"] == "/b/rootfs"


def test_cgroup_hierarchies_one_line_per_path_the_root_left_out() -> None:
    text = ("9:name=systemd:/estiba/docker-x\n8:pids:/estiba/docker-x\n"
            "4:memory:/estiba/docker-x\n1:cpu,cpuacct:/estiba/docker-x\n0::/\n")
    assert steps.hierarchies(text) == [
        "cpu, cpuacct, memory, name=systemd, pids: /estiba/docker-x"]
    assert steps.hierarchies("0::/estiba/docker-x\n") == ["cgroup2: /estiba/docker-x"]


def test_the_runtime_create_is_told_as_conmon_runs_it() -> None:
    from estiba.shim.conmon import Launch, runtime_args, task_files

    launch = Launch(conmon="conmon", id=CID, runtime_path="/bin/estiba-runtime",
                    files=task_files("/run/b", CID), log_path="/l", socket_dir="/s",
                    runtime_args=runtime_args("/run/rt"), terminal=True)
    spec = {"mounts": [{"destination": "/data", "source": "/v/_data", "type": "bind",
                        "options": ["rbind"]}, {"destination": "/proc", "type": "proc",
                                                "source": "proc"}]}
    told = steps.created(launch, "/run/b", 42, spec)
    assert told["argv"] == ["/bin/estiba-runtime", "--root=/run/rt", "create", "--bundle",
                            "/run/b", "--pid-file", "/run/b/init.pid", "--console-socket",
                            "<conmon's>", CID]
    assert told["mounts"] == ["/data <- /v/_data (bind rbind)", "/proc <- proc (proc)"]
    assert (told["pid"], told["config"]) == (42, "/run/b/config.json")
