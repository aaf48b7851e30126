"""core.tasks.Tasks without root: a fake conmon and a fake runtime (small Python
programs speaking their protocols) stand in for the real ones, and root.path is an
absolute directory (no mounts). What is tested is the service: states, events, waiting,
the shim's death, create failures, adopt."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
import time

import pytest

from estiba.core.records import Container
from estiba.core.tasks import UNKNOWN_EXIT, Tasks
from estiba.errors import FailedPrecondition, NotFound, Unavailable
from estiba.kernel.fake import RecordingKernel

# The container is the fake conmon itself: args ["exit", N] exits N once started,
# ["sleep"] runs until killed (128 + signal), ["vanish"] dies without an exit file,
# ["fail"] makes create fail.
FAKE_CONMON = """
import json, os, sys, time
args = sys.argv[1:]
def opt(name):
    return args[args.index(name) + 1] if name in args else None
def put(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)
cid, shim_dir = opt("-c"), opt("-b")
root = next(a for a in args if a.startswith("--root=")).split("=", 1)[1]
sync = int(os.environ["_OCI_SYNCPIPE"])
start = int(os.environ["_OCI_STARTPIPE"])
if os.fork():
    os._exit(0)
os.setsid()
put(opt("--conmon-pidfile"), str(os.getpid()))
os.read(start, 1)
spec = opt("--exec-process-spec")
process = json.load(open(spec)) if spec else json.load(open(shim_dir + "/config.json"))["process"]
argv = process["args"]
if argv[0] == "fail":
    os.write(sync, b'{"data": -1, "message": "fake: exec: \\\\"fail\\\\": no such file"}\\n')
    os._exit(1)
put(opt("-p"), str(os.getpid()))
if not spec:
    os.makedirs(root, exist_ok=True)
    put(os.path.join(root, cid), shim_dir)
os.write(sync, json.dumps({"data": os.getpid()}).encode() + b"\\n")
# never outlive a test that failed: a fake that is not told within a minute leaves
deadline = time.monotonic() + 60
def waiting():
    if time.monotonic() > deadline or not os.path.isdir(shim_dir):
        os._exit(2)
    time.sleep(0.002)
    return True
while not spec and not os.path.exists(shim_dir + "/started") and waiting():
    pass
status = None
if argv[0] == "exit":
    status = int(argv[1])
elif argv[0] == "sleep":
    while not os.path.exists(shim_dir + "/killed") and waiting():
        pass
    status = 128 + int(open(shim_dir + "/killed").read())
if status is not None:
    exit_dir = opt("--exit-dir")
    os.makedirs(exit_dir, exist_ok=True)
    put(os.path.join(exit_dir, cid), str(status))
"""

FAKE_RUNTIME = """
import json, os, sys
args = sys.argv[1:]
root = args[args.index("--root") + 1]
verb, cid = args[2], args[-1]
link = os.path.join(root, cid)
if verb == "kill":
    cid = args[-2]
    link = os.path.join(root, cid)
if not os.path.exists(link):
    sys.stderr.write(f"fake: container {cid} does not exist\\n")
    sys.exit(1)
bundle = open(link).read()
exited = os.path.exists(os.path.join(bundle, "exit", cid))
def killed(signal):
    # whole or not there: the fake conmon reads it as soon as it exists
    with open(os.path.join(bundle, "killed.tmp"), "w") as f:
        f.write(signal)
    os.rename(os.path.join(bundle, "killed.tmp"), os.path.join(bundle, "killed"))
if verb == "start":
    open(os.path.join(bundle, "started"), "w").close()
elif verb == "state":
    pid = int(open(os.path.join(bundle, "init.pid")).read())
    status = "stopped" if exited else (
        "running" if os.path.exists(os.path.join(bundle, "started")) else "created")
    print(json.dumps({"id": cid, "pid": 0 if exited else pid, "status": status}))
elif verb == "list":
    print("null")
elif verb == "kill":
    killed(args[-1])
elif verb == "delete":
    if "--force" in args:
        killed("9")
    os.unlink(link)
"""

NS = "ns"


def _program(path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


class Events(list):
    def __call__(self, topic, namespace, attrs):
        self.append((topic, dict(attrs)))


@pytest.fixture
def setup(tmp_path):
    conmon = _program(tmp_path / "fake-conmon", FAKE_CONMON)
    runtime = _program(tmp_path / "fake-runtime", FAKE_RUNTIME)
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    events = Events()
    made = []

    def make() -> Tasks:
        tasks = Tasks(str(tmp_path / "exec"), str(tmp_path / "logs"), {"fake": runtime},
                      "fake", RecordingKernel(), publish=events, conmon=conmon)
        made.append(tasks)
        return tasks

    def container(id: str, *args: str) -> Container:
        return Container(namespace=NS, id=id, spec={
            "process": {"args": list(args), "cwd": "/", "env": ["A=1"]},
            "root": {"path": str(rootfs)}})

    yield make, container, events
    for tasks in made:
        tasks.close()
    _reap_children()


def _reap_children() -> None:
    """The fake shims daemonize; this process is no subreaper in unit runs, but reap
    any that are its children anyway."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.01)
        except ChildProcessError:
            return


def test_lifecycle_states_and_events(setup):
    make, container, events = setup
    tasks = make()
    created = tasks.create(container("a", "exit", "3"), [])
    assert created.status == "created" and created.pid > 0
    assert tasks.get(NS, "a").status == "created"
    tasks.start(NS, "a")
    done = tasks.wait(NS, "a", timeout=10)
    assert (done.status, done.exit_status) == ("stopped", 3)
    assert [t.status for t in tasks.list(NS)] == ["stopped"]
    assert tasks.delete(NS, "a").exit_status == 3
    assert [t for t, _ in events] == ["/tasks/create", "/tasks/start", "/tasks/exit",
                                      "/tasks/delete"]
    assert events[2][1] == {"id": "a", "pid": str(created.pid), "exit_status": "3"}
    with pytest.raises(NotFound):
        tasks.get(NS, "a")
    assert os.listdir(os.path.join(tasks.exec_root, "tasks", NS)) == []


def test_kill_and_refused_delete(setup):
    make, container, _ = setup
    tasks = make()
    tasks.create(container("s", "sleep"), [])
    tasks.start(NS, "s")
    assert tasks.get(NS, "s").status == "running"
    with pytest.raises(FailedPrecondition):
        tasks.delete(NS, "s")
    with pytest.raises(Unavailable):
        tasks.wait(NS, "s", timeout=0.05)
    tasks.kill(NS, "s", 9)
    assert tasks.wait(NS, "s", timeout=10).exit_status == 137
    with pytest.raises(FailedPrecondition):
        tasks.kill(NS, "s", 9)
    tasks.delete(NS, "s")


def test_shim_dying_without_a_status(setup):
    make, container, events = setup
    tasks = make()
    tasks.create(container("v", "vanish"), [])
    tasks.start(NS, "v")
    assert tasks.wait(NS, "v", timeout=10).exit_status == UNKNOWN_EXIT
    tasks.delete(NS, "v")


def test_create_failure_cleans_up(setup):
    make, container, events = setup
    tasks = make()
    with pytest.raises(NotFound, match='create f: fake: exec: "fail": no such file'):
        tasks.create(container("f", "fail"), [])
    assert tasks.list(NS) == [] and events == []
    assert os.listdir(os.path.join(tasks.exec_root, "tasks", NS)) == []


def test_exec_merges_the_process_and_reports_its_exit(setup):
    make, container, events = setup
    tasks = make()
    tasks.create(container("e", "sleep"), [])
    tasks.start(NS, "e")
    proc = tasks.exec(NS, "e", "x1", {"args": ["exit", "4"]})
    assert proc.status == "running"
    assert tasks.wait_exec(NS, "e", "x1", timeout=10).exit_status == 4
    spec = os.path.join(tasks.bundle_dir(NS, "e"), "exec", "x1", "process.json")
    with open(spec) as f:
        assert '"env": ["A=1"]' in f.read()
    assert ("/tasks/exit", {"id": "e", "pid": str(proc.pid), "exit_status": "4",
                            "exec_id": "x1"}) in events
    tasks.delete(NS, "e", force=True)


def test_adopt(setup):
    make, container, events = setup
    first = make()
    first.create(container("r", "sleep"), [])
    first.start(NS, "r")
    first.create(container("q", "exit", "6"), [])
    first.close()
    first.start(NS, "q")
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join(first.bundle_dir(NS, "q"), "exit", "q")):
        assert time.monotonic() < deadline
        time.sleep(0.005)

    second = make()
    got = {t.id: t for t in second.adopt()}
    assert got["r"].status == "running" and got["q"].exit_status == 6
    assert second.adopt() == []  # known already: not adopted twice
    waiter = threading.Thread(target=lambda: second.wait(NS, "r", timeout=10))
    waiter.start()
    second.kill(NS, "r", 15)
    waiter.join()
    assert second.get(NS, "r").exit_status == 143
    for id in ("r", "q"):
        second.delete(NS, id)
