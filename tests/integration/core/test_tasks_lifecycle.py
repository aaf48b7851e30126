"""core.tasks.Tasks with the real conmon, driving estiba-runtime and runc: create,
start, wait, kill, exec, pause, ps, metrics, adopt, delete — on the session's busybox
rootfs, bind-mounted as each task's rootfs."""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from pathlib import Path

import pytest

from estiba.core.records import Container
from estiba.core.spec import default_spec, with_image_config
from estiba.core.tasks import Tasks
from estiba.errors import AlreadyExists, FailedPrecondition
from estiba.kernel.linux import Linux
from estiba.snapshots import Mount
from support.paths import runtime_binary
from support.reaper import zombie_children
from support.runtime import new_runtime_root, remove_tree

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(shutil.which("conmon") is None, reason="conmon is not installed"),
]

NS = "t"
# "estiba-fast": the same estiba-runtime, with start and delete run in-process
RUNTIMES = {"estiba": runtime_binary(), "estiba-fast": runtime_binary(),
            "runc": "/usr/bin/runc"}


class Events:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, dict]] = []

    def __call__(self, topic: str, namespace: str, attrs: dict) -> None:
        with self.lock:
            self.seen.append((topic, namespace, dict(attrs)))

    def topics(self, id: str) -> list[str]:
        with self.lock:
            return [t for t, _, a in self.seen if a.get("id") == id]


@pytest.fixture(params=["estiba", "estiba-fast", "runc"])
def runtime_name(request: pytest.FixtureRequest) -> str:
    if request.param == "runc" and not os.access(RUNTIMES["runc"], os.X_OK):
        pytest.skip("runc is not installed")
    if request.param == "estiba-fast" and "estiba-runtime" not in RUNTIMES["estiba-fast"]:
        pytest.skip("the in-process verbs are estiba-runtime's own")
    return request.param


@pytest.fixture
def exec_root():
    root = new_runtime_root("t")
    yield str(root)
    remove_tree(root)
    try:
        root.parent.rmdir()
    except OSError:
        pass


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def make_tasks(exec_root, tmp_path, runtime_name, cgroup_parent, events):
    made: list[Tasks] = []

    def make() -> Tasks:
        tasks = Tasks(exec_root, str(tmp_path / "logs"), RUNTIMES, runtime_name, Linux(),
                      publish=events, cgroup_parent=cgroup_parent.strip("/"),
                      in_process={"estiba-fast"})
        made.append(tasks)
        return tasks

    # conmons other tests' daemons left to this session are not this service's to reap
    before = set(zombie_children("conmon"))
    yield make
    last = made[-1]
    for task in last.list(NS):
        last.delete(NS, task.id, force=True)
    for tasks in made:
        tasks.close()
    assert sorted(set(zombie_children("conmon")) - before) == []


@pytest.fixture
def tasks(make_tasks) -> Tasks:
    return make_tasks()


@pytest.fixture
def new_task(tasks, busybox_rootfs, runtime_name, cgroup_parent):
    def create(*args: str, **kwargs) -> tuple[str, object]:
        id = f"c{secrets.token_hex(4)}"
        spec = with_image_config(default_spec(NS, id, cgroup_parent=cgroup_parent.strip("/")),
                                 {}, args=list(args))
        container = Container(namespace=NS, id=id, runtime=runtime_name, spec=spec)
        mounts = [Mount(type="bind", source=str(busybox_rootfs), options=("rbind",))]
        return id, tasks.create(container, mounts, **kwargs)
    return create


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def test_run_to_exit_status_and_log(tasks, new_task, events):
    id, created = new_task("sh", "-c", "echo hello; exit 3")
    assert created.status == "created" and created.pid > 0
    bundle = tasks.bundle_dir(NS, id)
    assert _mounted(os.path.join(bundle, "rootfs"))
    tasks.start(NS, id)
    done = tasks.wait(NS, id, timeout=10)
    assert done.status == "stopped" and done.exit_status == 3
    assert done.exited_at
    lines = Path(created.log_path).read_text().splitlines()
    assert any(line.endswith(" stdout F hello") for line in lines), lines
    deleted = tasks.delete(NS, id)
    assert deleted.exit_status == 3
    assert not os.path.exists(bundle)
    assert not _mounted(os.path.join(bundle, "rootfs"))
    assert os.listdir(tasks.socket_dir) == []
    assert events.topics(id) == ["/tasks/create", "/tasks/start", "/tasks/exit",
                                 "/tasks/delete"]
    exit_event = next(a for t, _, a in events.seen if t == "/tasks/exit")
    assert exit_event["exit_status"] == "3"


def test_kill_exec_pause_ps_metrics(tasks, new_task, events):
    id, created = new_task("sleep", "100")
    tasks.start(NS, id)
    assert tasks.get(NS, id).status == "running"
    assert [t.id for t in tasks.list(NS)] == [id]
    assert created.pid in tasks.ps(NS, id)

    proc = tasks.exec(NS, id, "e1", {"args": ["sh", "-c", "echo hi; exit 4"]})
    assert proc.pid > 0
    assert tasks.wait_exec(NS, id, "e1", timeout=10).exit_status == 4
    ok = tasks.exec(NS, id, "e2", {"args": ["echo", "hi"]})
    assert tasks.wait_exec(NS, id, ok.exec_id, timeout=10).exit_status == 0
    assert "/tasks/exec-added" in events.topics(id)
    assert Path(tasks.exec_log(NS, id, "e2")).read_text().endswith(" stdout F hi\n")
    assert "hi" not in Path(created.log_path).read_text()
    with pytest.raises(Exception, match="nonexistent"):
        tasks.exec(NS, id, "e3", {"args": ["/nonexistent"]})
    with pytest.raises(AlreadyExists):
        tasks.exec(NS, id, "e2", {"args": ["true"]})

    metrics = tasks.metrics(NS, id)
    assert metrics["pids"]["current"] >= 1
    assert metrics["memory"]["usage"] > 0

    tasks.pause(NS, id)
    assert tasks.get(NS, id).status == "paused"
    tasks.resume(NS, id)
    assert tasks.get(NS, id).status == "running"

    with pytest.raises(FailedPrecondition, match="running"):
        tasks.delete(NS, id)
    tasks.kill(NS, id, 9)
    assert tasks.wait(NS, id, timeout=10).exit_status == 137
    assert tasks.delete(NS, id).exit_status == 137


def test_force_delete_of_running_and_of_created(tasks, new_task):
    id, _ = new_task("sleep", "100")
    tasks.start(NS, id)
    assert tasks.delete(NS, id, force=True).exit_status == 137
    paused, _ = new_task("sleep", "100")
    tasks.start(NS, paused)
    tasks.pause(NS, paused)
    assert tasks.delete(NS, paused, force=True).exit_status == 137
    id2, _ = new_task("true")
    gone = tasks.delete(NS, id2)
    assert gone.status == "stopped"
    assert not os.path.exists(tasks.bundle_dir(NS, id2))


def test_create_failure_is_reported_and_cleaned(tasks, new_task):
    with pytest.raises(Exception, match="nonexistent") as info:
        new_task("/nonexistent")
    assert tasks.list(NS) == []
    assert os.listdir(os.path.join(tasks.exec_root, "tasks", NS)) == []
    assert type(info.value).__name__ in ("NotFound", "Internal")


def test_adopt_after_restart(tasks, make_tasks, new_task):
    first = tasks
    id, _ = new_task("sh", "-c", "sleep 0.6; exit 5")
    first.start(NS, id)
    early, _ = new_task("sh", "-c", "exit 7")
    first.start(NS, early)
    first.wait(NS, early, timeout=10)
    gone, _ = new_task("sh", "-c", "exit 9")
    first.close()  # the daemon goes away; the shims stay
    first.start(NS, gone)  # (a runtime call: works without the watcher)
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join(first.bundle_dir(NS, gone), "exit", gone)):
        assert time.monotonic() < deadline
        time.sleep(0.01)

    second = make_tasks()
    adopted = {t.id: t for t in second.adopt()}
    assert adopted[id].status == "running"
    assert adopted[early].status == "stopped" and adopted[early].exit_status == 7
    assert second.wait(NS, id, timeout=10).exit_status == 5
    assert second.delete(NS, id).exit_status == 5
    assert second.delete(NS, early).exit_status == 7
    assert adopted[gone].exit_status == 9  # exited while no service watched
    assert second.delete(NS, gone).exit_status == 9


def test_timing_true(tasks, new_task, runtime_name, capsys):
    start = time.monotonic()
    id, _ = new_task("true")
    tasks.start(NS, id)
    assert tasks.wait(NS, id, timeout=10).exit_status == 0
    tasks.delete(NS, id)
    with capsys.disabled():
        print(f"\n[{runtime_name}] create+start+wait+delete of true: "
              f"{(time.monotonic() - start) * 1000:.0f} ms")


def test_terminal(tasks, new_task):
    id, created = new_task("sh", "-c", "tty; exit 0", terminal=True)
    assert created.terminal
    tasks.start(NS, id)
    assert tasks.wait(NS, id, timeout=10).exit_status == 0
    text = Path(created.log_path).read_text()
    assert " stdout " in text and "/dev/pts/" in text, text
    tasks.delete(NS, id)


def test_overlay_snapshot_as_rootfs(tasks, busybox_rootfs, runtime_name, cgroup_parent,
                                    tmp_path):
    from estiba.metadata.db import Database
    from estiba.snapshots.overlay import OverlaySnapshotter

    db = Database(str(tmp_path / "metadata.db"))
    try:
        snaps = OverlaySnapshotter(str(tmp_path / "snaps"), db, NS)
        snaps.prepare("base-active")
        base_fs = snaps.fs(snaps.records.get("base-active").id)
        shutil.copytree(busybox_rootfs, base_fs, symlinks=True, dirs_exist_ok=True)
        snaps.commit("base", "base-active")
        mounts = snaps.prepare("c1-rootfs", "base")
        id = f"c{secrets.token_hex(4)}"
        spec = with_image_config(default_spec(NS, id, cgroup_parent=cgroup_parent.strip("/")),
                                 {}, args=["sh", "-c", "echo layered > /written"])
        container = Container(namespace=NS, id=id, runtime=runtime_name, spec=spec)
        tasks.create(container, mounts)
        tasks.start(NS, id)
        assert tasks.wait(NS, id, timeout=10).exit_status == 0
        tasks.delete(NS, id)
        upper = snaps.fs(snaps.records.get("c1-rootfs").id)
        assert Path(upper, "written").read_text() == "layered\n"
        assert not os.path.exists(os.path.join(base_fs, "written"))
        snaps.remove("c1-rootfs")
    finally:
        db.close()


def test_tasks_from_many_threads(tasks, new_task):
    from concurrent.futures import ThreadPoolExecutor

    def run(n: int) -> int:
        id, _ = new_task("sh", "-c", f"exit {n}")
        tasks.start(NS, id)
        status = tasks.wait(NS, id, timeout=20).exit_status
        assert tasks.delete(NS, id).exit_status == status
        return status

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(run, range(6))) == list(range(6))
    assert tasks.list(NS) == []
