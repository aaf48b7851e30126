"""Every route of the core API against the fake core, over a real unix socket, through
the client (which also checks the client's error mapping)."""

from __future__ import annotations

import io
import threading
import time

import pytest
from fake_core import CONFIG, DIGEST

from estiba import errors

BUSYBOX = "docker.io/library/busybox:latest"


def test_version(api) -> None:
    v = api.client().version()
    assert v["api_version"] == "1"
    assert v["version"]


def test_namespaces(api) -> None:
    c = api.client()
    assert [n["name"] for n in c.namespaces()] == ["default"]
    created = c.create_namespace("k8s", {"a": "b"})
    assert created["name"] == "k8s" and created["labels"] == {"a": "b"}
    with pytest.raises(errors.Conflict, match="already exists"):
        c.create_namespace("k8s")
    c.delete_namespace("k8s")
    with pytest.raises(errors.NotFound, match="namespace k8s: not found"):
        c.delete_namespace("k8s")


def test_content(api) -> None:
    c = api.client("ns1")
    [blob] = c.content()
    assert blob == {"digest": DIGEST, "size": 1234, "created_at": "2017-07-14T02:40:00Z",
                    "labels": {"a": "b"}}
    assert c.content_info(DIGEST)["size"] == 1234
    assert ("content", "list", ("ns1",)) in api.core.calls
    c.delete_content(DIGEST)
    with pytest.raises(errors.NotFound):
        c.content_info(DIGEST)


def test_images(api) -> None:
    c = api.client()
    [image] = c.images()
    assert image["name"] == BUSYBOX
    assert image["target"] == {"digest": DIGEST, "size": 500,
                               "mediaType": "application/vnd.oci.image.manifest.v1+json"}
    assert c.image(BUSYBOX)["name"] == BUSYBOX  # '/' and ':' quoted into one segment
    assert c.tag_image(BUSYBOX, "x/y:1")["name"] == "x/y:1"
    assert c.unpack_image("x/y:1") == {"chain_id": "sha256:" + "cd" * 32}
    c.delete_image("x/y:1")
    with pytest.raises(errors.NotFound, match="image x/y:1: not found"):
        c.image("x/y:1")


def test_image_import_streams_the_body(api) -> None:
    c = api.client()
    archive = io.BytesIO(b"TAR" + b"\0" * 300000)
    assert c.import_images(archive, tag="a/b:c", unpack=True) == [
        {"name": "a/b:c", "digest": DIGEST}]
    assert ("images", "import_archive", ("default", 300003, "a/b:c", True)) in api.core.calls
    with pytest.raises(errors.InvalidArgument, match="not a tar"):
        c.import_images(io.BytesIO(b"nope"))
    assert c.version()  # the connection (or a new one) still serves


def test_image_export_streams_the_archive(api) -> None:
    c = api.client()
    out = io.BytesIO()
    c.export_images([BUSYBOX], out)
    assert out.getvalue().startswith(f"TAR {BUSYBOX}\n".encode())
    assert len(out.getvalue()) == len(f"TAR {BUSYBOX}\n") + 100000
    with pytest.raises(errors.NotFound):
        c.export_images(["missing:1"], io.BytesIO())
    with pytest.raises(errors.InvalidArgument, match="name at least one image"):
        c.export_images([], io.BytesIO())


def test_snapshots(api) -> None:
    c = api.client()
    key = "sha256:" + "cd" * 32
    [snap] = c.snapshots()
    assert snap["kind"] == "committed" and snap["name"] == key and snap["labels"] == {}
    assert c.snapshot(key)["name"] == key
    assert c.snapshot_usage(key) == {"size": 4096, "inodes": 3}
    with pytest.raises(errors.NotFound):
        c.snapshot_usage("nope")


def test_container_from_an_image(api) -> None:
    c = api.client()
    created = c.create_container("c1", BUSYBOX, args=["echo", "hi"], env=["A=1"],
                                 labels={"l": "v"}, runtime="runc")
    assert created["id"] == "c1" and created["image"] == BUSYBOX
    assert created["snapshot_key"] == "c1" and created["labels"] == {"l": "v"}
    assert created["runtime"] == "runc"
    process = created["spec"]["process"]
    assert process["args"] == ["echo", "hi"]
    assert "A=1" in process["env"] and "PATH=/bin" in process["env"]
    assert ("snapshots", "prepare", ("default", "c1", "sha256:" + "cd" * 32)) \
        in api.core.calls
    assert [x["id"] for x in c.containers()] == ["c1"]
    assert c.container("c1")["spec"] == created["spec"]
    with pytest.raises(errors.Conflict, match="container c1: already exists"):
        c.create_container("c1", BUSYBOX)
    c.delete_container("c1")
    assert ("core", "remove_container", ("default", "c1")) in api.core.calls
    assert "c1" not in api.core.snapshots.items
    with pytest.raises(errors.NotFound):
        c.container("c1")
    with pytest.raises(errors.NotFound, match="image nope:1: not found"):
        c.create_container("c2", "nope:1")


def test_container_from_a_spec_alone(api) -> None:
    c = api.client()
    with pytest.raises(errors.InvalidArgument, match="name an image or give a spec"):
        c.create_container("c2")
    made = c.create_container("c2", spec={"process": {"args": ["a"]}})
    assert made["spec"] == {"process": {"args": ["a"]}} and made["image"] == ""
    with pytest.raises(errors.InvalidArgument, match="field 'terminal': expected bool"):
        c.create_container("c3", BUSYBOX, terminal="yes")


def test_container_with_a_task_is_not_deleted(api) -> None:
    c = api.client()
    c.create_container("c1", BUSYBOX)
    c.create_task("c1")
    with pytest.raises(errors.FailedPrecondition, match="has a task"):
        c.delete_container("c1")


def test_task_lifecycle(api) -> None:
    c = api.client("ns2")
    c.create_container("t1", BUSYBOX)
    task = c.create_task("t1", terminal=True, log_path="/x.log")
    assert task["status"] == "created" and task["terminal"] and task["pid"] == 4242
    [(_, _, args)] = [call for call in api.core.calls if call[:2] == ("tasks", "create")]
    assert args[1][0].source == "/snap/t1"  # the container's snapshot mounts
    assert c.start_task("t1")["status"] == "running"
    assert [t["id"] for t in c.tasks()] == ["t1"]
    c.pause_task("t1")
    assert c.task("t1")["status"] == "paused"
    c.resume_task("t1")
    assert c.ps("t1") == [{"pid": 4242}, {"pid": 4243}]
    assert c.metrics("t1")["pids"] == {"current": 2}
    assert c.exec("t1", "e1", ["ls"]) == {"pid": 5000}
    assert c.exec("t1", "e2", ["false"], wait=True) == {"pid": 5000, "exit_status": 3}
    with pytest.raises(errors.FailedPrecondition, match="still running"):
        c.delete_task("t1")
    c.kill_task("t1", "SIGKILL", all=True)
    assert ("tasks", "kill", ("ns2", "t1", 9, True)) in api.core.calls
    assert c.wait_task("t1") == {"exit_status": 137, "exited_at": "2026-01-02T03:04:05Z"}
    assert c.delete_task("t1")["exit_status"] == 137
    with pytest.raises(errors.NotFound):
        c.task("t1")


def test_kill_rejects_unknown_signals(api) -> None:
    c = api.client()
    c.create_container("k", BUSYBOX)
    c.create_task("k")
    with pytest.raises(errors.InvalidArgument, match="invalid signal 'SIGNOPE'"):
        c.kill_task("k", "SIGNOPE")
    c.kill_task("k", 2)
    assert c.task("k")["exit_status"] == 130


def test_wait_blocks_until_the_exit(api) -> None:
    c = api.client()
    c.create_container("w", BUSYBOX)
    c.create_task("w")
    c.start_task("w")
    threading.Timer(0.2, api.core.tasks.exit, ("default", "w", 7)).start()
    started = time.monotonic()
    assert api.client().wait_task("w")["exit_status"] == 7
    assert time.monotonic() - started >= 0.15


def _cri_log(path, lines: list[str]) -> None:
    with open(path, "a") as f:
        f.writelines(line + "\n" for line in lines)


def test_logs(api, tmp_path) -> None:
    log = tmp_path / "l.log"
    _cri_log(log, ["2026-01-01T00:00:00Z stdout P hel", "2026-01-01T00:00:01Z stderr F oops",
                   "2026-01-01T00:00:02Z stdout F lo"])
    c = api.client()
    c.create_container("l", BUSYBOX)
    c.create_task("l", log_path=str(log))
    assert list(c.logs("l")) == [
        {"time": "2026-01-01T00:00:01Z", "stream": "stderr", "log": "oops\n"},
        {"time": "2026-01-01T00:00:02Z", "stream": "stdout", "log": "hello\n"}]
    with pytest.raises(errors.NotFound):
        list(c.logs("nope"))


def test_logs_follow_until_the_exit(api, tmp_path) -> None:
    log = tmp_path / "f.log"
    c = api.client()
    c.create_container("f", BUSYBOX)
    c.create_task("f", log_path=str(log))
    c.start_task("f")

    def later() -> None:
        time.sleep(0.2)
        _cri_log(log, ["2026-01-01T00:00:00Z stdout F one"])
        time.sleep(0.2)
        _cri_log(log, ["2026-01-01T00:00:01Z stdout F two"])
        api.core.tasks.exit("default", "f", 0)

    threading.Thread(target=later).start()
    got = list(c.logs("f", follow=True))
    assert [e.get("log") for e in got[:2]] == ["one\n", "two\n"]
    assert got[-1] == {"exit_status": 0}


def test_leases(api) -> None:
    c = api.client()
    lease = c.create_lease("l1", 60)
    assert lease["id"] == "l1" and lease["expires_at"] == 1.5e9 + 60
    assert [x["id"] for x in c.leases()] == ["l1"]
    c.delete_lease("l1")
    with pytest.raises(errors.NotFound):
        c.delete_lease("l1")


def test_events_stream_and_end_with_the_client(api) -> None:
    c = api.client("ns3")
    stream = c.events(["/tasks/*"])
    events = api.core.events
    got: list[dict] = []

    def reader() -> None:
        for event in stream:
            got.append(event)
            if len(got) == 2:
                break
        stream.close()

    thread = threading.Thread(target=reader)
    thread.start()
    events.wait_for_subscriber()
    events.publish("/containers/create", "ns3", {"id": "x"})  # not a /tasks/* topic
    events.publish("/tasks/start", "other", {"id": "x"})  # another namespace
    events.publish("/tasks/start", "ns3", {"id": "a"})
    events.publish("/tasks/exit", "ns3", {"id": "a"})
    thread.join(5)
    assert [(e["topic"], e["attributes"]) for e in got] == [
        ("/tasks/start", {"id": "a"}), ("/tasks/exit", {"id": "a"})]
    assert got[0]["namespace"] == "ns3" and got[0]["timestamp"]
    # the client went away: the server notices within a poll and closes the subscription
    deadline = time.monotonic() + 5
    while events.subscribers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not events.subscribers
    assert all(s.closed for s in events.all_subscriptions)


def test_image_config_is_used_for_the_command(api) -> None:
    made = api.client().create_container("cfg", BUSYBOX)
    assert made["spec"]["process"]["args"] == CONFIG["config"]["Cmd"]
    assert made["spec"]["linux"]["cgroupsPath"] == "/estiba/default-cfg"


def test_import_refused_early_still_answers(api) -> None:
    api.core.fail["images.import_archive"] = errors.InvalidArgument("import: bad archive")
    c = api.client()
    with pytest.raises(errors.InvalidArgument, match="import: bad archive"):
        c.import_images(io.BytesIO(b"x" * 20_000_000))
    assert c.version()
