"""``docker exec``'s pure parts (the exec's process over its container's, ExecInspect,
the start error's words) and the exec instances' states on a fake core."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from estiba import errors
from estiba.engine.execs import (
    Exec,
    Execs,
    command_of,
    console_size,
    exec_inspect,
    exec_overrides,
    start_error,
)
from estiba.engine.labels import CONFIG

CID = "c" * 64
ENV = ["PATH=/bin", "FOO=bar", "HOME=/"]


def test_command_is_required() -> None:
    assert command_of({"Cmd": ["sh", "-c", "x"]}) == ["sh", "-c", "x"]
    assert command_of({"Cmd": "true"}) == ["true"]
    for config in ({}, {"Cmd": []}, {"Cmd": None}, {"Cmd": [1]}):
        with pytest.raises(errors.InvalidArgument, match="No exec command specified"):
            command_of(config)


def test_overrides_keep_the_container_s_process_unless_given() -> None:
    plain = exec_overrides({"Cmd": ["true"]}, ENV, "")
    assert plain == {"args": ["true"], "env": ENV}  # cwd, user, caps: the container's
    given = exec_overrides({"Cmd": ["id"], "Env": ["FOO=baz", "X=1", "HOME"],
                            "WorkingDir": "/tmp", "Tty": True}, ENV, "1:2")
    assert given["env"] == ["PATH=/bin", "FOO=baz", "X=1", "TERM=xterm"]
    assert given["cwd"] == "/tmp" and given["user"] == {"uid": 1, "gid": 2}
    sized = exec_overrides({"Cmd": ["sh"], "Tty": True, "ConsoleSize": [24, 80]}, ENV, "")
    assert sized["consoleSize"] == {"height": 24, "width": 80}
    kept_term = exec_overrides({"Cmd": ["sh"], "Tty": True}, [*ENV, "TERM=dumb"], "")
    assert kept_term["env"][-1] == "TERM=dumb"


def test_privileged_gets_every_capability() -> None:
    caps = exec_overrides({"Cmd": ["sh"], "Privileged": True}, ENV, "")["capabilities"]
    assert set(caps) == {"bounding", "effective", "inheritable", "permitted"}
    assert "CAP_SYS_ADMIN" in caps["effective"] and "CAP_CHOWN" in caps["bounding"]
    # those the daemon has, as run --privileged gives
    held = exec_overrides({"Cmd": ["sh"], "Privileged": True}, ENV, "",
                          available=("CAP_CHOWN", "CAP_KILL"))["capabilities"]
    assert held["effective"] == ["CAP_CHOWN", "CAP_KILL"]


def test_inspect_shape() -> None:
    ex = Exec(id="e" * 64, container_id=CID,
              config={"Cmd": ["sh", "-c", "x"], "AttachStdout": True, "Tty": True},
              user="1:2", process={"args": ["sh", "-c", "x"]})
    shown = exec_inspect(ex)
    assert shown == {
        "ID": "e" * 64, "Running": False, "ExitCode": None,
        "ProcessConfig": {"tty": True, "entrypoint": "sh", "arguments": ["-c", "x"],
                          "privileged": False, "user": "1:2"},
        "OpenStdin": False, "OpenStderr": False, "OpenStdout": True, "CanRemove": False,
        "ContainerID": CID, "DetachKeys": "", "Pid": 0}
    ex.started, ex.pid = True, 42
    assert exec_inspect(ex)["Running"] and exec_inspect(ex)["Pid"] == 42
    ex.exit_code = 3
    assert (exec_inspect(ex)["Running"], exec_inspect(ex)["ExitCode"]) == (False, 3)


def test_start_error_in_docker_s_words() -> None:
    core = ('exec in abc: estiba-runtime: exec: "/no/such": stat /no/such: no such '
            "file or directory")
    assert start_error(core) == (
        'OCI runtime exec failed: exec failed: unable to start container process: exec: '
        '"/no/such": stat /no/such: no such file or directory: unknown')
    runc = "runc: unable to start container process: exec: \"x\": not found"
    assert start_error(runc).count("unable to start container process") == 1


def test_console_size() -> None:
    assert console_size(None) is None and console_size([0, 0]) is None
    assert console_size([24, 80]) == (24, 80)
    for bad in ([24], "24x80", [-1, 3]):
        with pytest.raises(errors.InvalidArgument):
            console_size(bad)


# --- the instances on a fake core ---------------------------------------------------


class FakeCore:
    """Containers and tasks, answered by objects of their own as the core's are."""

    def __init__(self) -> None:
        self.records: dict[str, Any] = {}
        self.task_records: dict[str, Any] = {}
        self.execs: dict[str, Any] = {}
        self.started: list[tuple[str, dict, bool]] = []
        self.containers = SimpleNamespace(get=self._container)
        self.tasks = SimpleNamespace(get=self._task, exec=self._exec,
                                     exec_attached=self._exec_attached,
                                     get_exec=lambda ns, cid, exec_id: self.execs[exec_id],
                                     delete_exec=self._delete_exec)
        self.deleted: list[str] = []

    def _delete_exec(self, ns: str, cid: str, exec_id: str) -> None:
        self.deleted.append(exec_id)

    def add(self, cid: str, status: str, user: str = "") -> None:
        self.records[cid] = SimpleNamespace(
            id=cid, spec={"process": {"env": list(ENV)}},
            labels=((CONFIG, json.dumps({"User": user})),))
        self.task_records[cid] = SimpleNamespace(status=status, exit_status=None)

    def _container(self, ns: str, cid: str) -> Any:
        if cid not in self.records:
            raise errors.NotFound(cid)
        return self.records[cid]

    def _task(self, ns: str, cid: str) -> Any:
        if cid not in self.task_records:
            raise errors.NotFound(cid)
        return self.task_records[cid]

    def _exec(self, ns: str, cid: str, exec_id: str, process: dict, *, terminal: bool,
              stdin: bool) -> Any:
        if process["args"] == ["/no/such"]:
            raise errors.NotFound(f"exec in {cid}: estiba-runtime: exec: no such file")
        self.started.append((exec_id, process, terminal))
        self.execs[exec_id] = SimpleNamespace(pid=7, exit_status=None)
        return self.execs[exec_id]

    def _exec_attached(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return self._exec(*args, **kwargs), object()


class FakeContainers:
    def __init__(self, core: FakeCore) -> None:
        self.core = core

    def resolve(self, ref: str) -> str:
        if ref not in self.core.records:
            raise errors.NotFound(f"No such container: {ref}")
        return ref


def _make() -> tuple[Execs, FakeCore]:
    core = FakeCore()
    return Execs(core, "docker", FakeContainers(core)), core  # type: ignore[arg-type]


def test_create_needs_a_running_container() -> None:
    execs, core = _make()
    core.add("run", "running", user="1:2")
    core.add("made", "created")
    core.add("paused", "paused")
    with pytest.raises(errors.NotFound, match="No such container: nope"):
        execs.create("nope", {"Cmd": ["true"]})
    with pytest.raises(errors.Conflict, match="Container made is not running"):
        execs.create("made", {"Cmd": ["true"]})
    with pytest.raises(errors.Conflict, match="Container paused is paused, unpause"):
        execs.create("paused", {"Cmd": ["true"]})
    with pytest.raises(errors.InvalidArgument):
        execs.create("run", {})
    made = execs.create("run", {"Cmd": ["id"]})["Id"]
    assert execs.inspect(made)["ProcessConfig"]["user"] == "1:2"  # the container's
    assert execs.ids_of("run") == [made]


def test_start_once_then_exit_code_and_forgotten_with_the_container() -> None:
    execs, core = _make()
    core.add("run", "running")
    made = execs.create("run", {"Cmd": ["true"], "Env": ["X=1"]})["Id"]
    assert execs.start(made, detach=True) is None
    assert core.started[0][1]["env"] == [*ENV, "X=1"]
    assert execs.inspect(made)["Running"] and execs.inspect(made)["Pid"] == 7
    with pytest.raises(errors.Conflict, match="is already running"):
        execs.start(made, detach=True)
    core.execs[made].exit_status = 3
    assert execs.inspect(made)["ExitCode"] == 3 and execs.ids_of("run") == []
    assert core.deleted == [made]  # its code read: the core forgets it
    with pytest.raises(errors.Conflict, match="has already run"):
        execs.start(made, detach=True)
    del core.records["run"]
    with pytest.raises(errors.NotFound, match="No such exec instance"):
        execs.inspect(made)


def test_a_process_that_cannot_start_exits_126() -> None:
    execs, core = _make()
    core.add("run", "running")
    made = execs.create("run", {"Cmd": ["/no/such"]})["Id"]
    with pytest.raises(errors.InvalidArgument, match="OCI runtime exec failed"):
        execs.start(made, detach=True)
    assert execs.inspect(made)["ExitCode"] == 126
    attached = execs.create("run", {"Cmd": ["/no/such"]})["Id"]
    started = execs.start(attached, detach=False)
    assert started is not None and started.conn is None
    assert started.error.startswith("OCI runtime exec failed: exec failed: ")
    assert execs.inspect(attached)["ExitCode"] == 126
