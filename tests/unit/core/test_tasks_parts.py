"""core.tasks: the pure parts (an exec's process, mount points under a bundle) and the
checks made before anything is touched."""

from __future__ import annotations

import pytest

from estiba.core import tasks as t
from estiba.core.records import Container
from estiba.errors import InvalidArgument
from estiba.kernel.fake import RecordingKernel
from estiba.kernel.proc import mounted_under

SPEC_PROCESS = {"terminal": False, "args": ["sleep", "100"], "env": ["PATH=/bin", "A=1"],
                "cwd": "/srv", "user": {"uid": 5, "gid": 6},
                "capabilities": {"bounding": ["CAP_KILL"]}, "noNewPrivileges": True}


def test_exec_process_inherits_the_containers_settings():
    got = t.exec_process(SPEC_PROCESS, {"args": ["echo", "hi"]}, terminal=False)
    assert got == {"args": ["echo", "hi"], "terminal": False, "env": ["PATH=/bin", "A=1"],
                   "cwd": "/srv", "user": {"uid": 5, "gid": 6},
                   "capabilities": {"bounding": ["CAP_KILL"]}, "noNewPrivileges": True}


def test_exec_process_given_fields_win():
    got = t.exec_process(SPEC_PROCESS, {"args": ["id"], "env": ["B=2"], "cwd": "/",
                                        "user": {"uid": 0, "gid": 0}}, terminal=True)
    assert got["env"] == ["B=2"] and got["cwd"] == "/" and got["terminal"] is True
    assert got["user"] == {"uid": 0, "gid": 0}
    assert SPEC_PROCESS["args"] == ["sleep", "100"]  # not changed


def test_exec_process_needs_args():
    with pytest.raises(InvalidArgument, match="args"):
        t.exec_process(SPEC_PROCESS, {"env": []}, terminal=False)


def test_exec_process_defaults_without_a_spec_process():
    assert t.exec_process({}, {"args": ["x"]}, terminal=False) == {
        "args": ["x"], "terminal": False, "cwd": "/", "user": {"uid": 0, "gid": 0}}


def test_mounted_under(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 0:21 / / rw - ext4 /dev/sda rw\n"
        "90 22 0:50 / /run/e/tasks/ns/c1/rootfs rw - overlay overlay rw\n"
        "91 90 0:51 / /run/e/tasks/ns/c1/rootfs/proc rw - proc proc rw\n"
        "92 22 0:52 / /run/e/tasks/ns/c10/rootfs rw - overlay overlay rw\n"
        "93 22 0:53 / /run/e/with\\040space/rootfs rw - tmpfs tmpfs rw\n")
    assert mounted_under("/run/e/tasks/ns/c1", str(info)) == [
        "/run/e/tasks/ns/c1/rootfs", "/run/e/tasks/ns/c1/rootfs/proc"]
    assert mounted_under("/run/e/with space", str(info)) == ["/run/e/with space/rootfs"]
    assert mounted_under("/run/e/tasks/ns/c2", str(info)) == []


@pytest.fixture
def service(tmp_path):
    tasks = t.Tasks(str(tmp_path / "exec"), str(tmp_path / "logs"),
                    {"runc": "/usr/bin/runc"}, "runc", RecordingKernel())
    yield tasks
    tasks.close()


def test_unknown_default_runtime_is_refused(tmp_path):
    with pytest.raises(InvalidArgument, match="default runtime"):
        t.Tasks(str(tmp_path), str(tmp_path), {"runc": "/usr/bin/runc"}, "crun",
                RecordingKernel())


@pytest.mark.parametrize(("container", "match"), [
    (Container(namespace="ns", id="../x", spec={}), "task id"),
    (Container(namespace="a/b", id="x", spec={}), "namespace"),
    (Container(namespace="ns", id="x", spec=None), "no spec"),
    (Container(namespace="ns", id="x", runtime="crun", spec={"root": {}}), "crun"),
    (Container(namespace="ns", id="x", spec={"root": {"path": "rootfs"}}), "absolute"),
])
def test_create_checks_before_touching_anything(service, tmp_path, container, match):
    with pytest.raises(InvalidArgument, match=match):
        service.create(container, [])
    assert not (tmp_path / "exec").exists()
    assert service.kernel.calls == []


def test_unknown_task_is_not_found(service):
    from estiba.errors import NotFound

    for call in (lambda: service.get("ns", "x"), lambda: service.wait("ns", "x", 0),
                 lambda: service.delete("ns", "x"), lambda: service.kill("ns", "x")):
        with pytest.raises(NotFound):
            call()
    assert service.list("ns") == []
    assert service.adopt() == []
