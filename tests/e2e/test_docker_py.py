"""docker-py (the ``docker`` package, unchanged) against estibad's Docker API: the
course's lifecycle demos through the Python SDK, from ping to attach, asserting what a
user of the SDK sees (return values, attributes, exceptions)."""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from harness import poll

from support.docker_cli import engine_daemon

docker = pytest.importorskip("docker")

pytestmark = [pytest.mark.e2e, pytest.mark.root]

BUSYBOX = "busybox"


@pytest.fixture(scope="module")
def daemon() -> Iterator[Any]:
    yield from engine_daemon("edp-")


@pytest.fixture(scope="module")
def client(daemon: Any) -> Iterator[Any]:
    made = docker.DockerClient(base_url=f"unix://{daemon.docker_sock}", version="1.45")
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def cleanup(client: Any) -> Iterator[list[str]]:
    """Names or ids of containers the test makes: removed (forced) after it."""
    made: list[str] = []
    yield made
    for ref in made:
        try:
            client.api.remove_container(ref, force=True)
        except docker.errors.NotFound:
            pass



def status_of(container: Any) -> str:
    container.reload()
    return container.status


def tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def read_tar(chunks: Iterator[bytes]) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
                for m in tar.getmembers()}


# --- system -------------------------------------------------------------------------

def test_ping_version_info(client: Any) -> None:
    assert client.ping() is True
    version = client.version()
    assert version["ApiVersion"] and version["Os"] == "linux"
    assert any(c["Name"] == "Engine" for c in version["Components"])
    info = client.info()
    assert info["OSType"] == "linux" and info["NCPU"] >= 1
    assert isinstance(info["Containers"], int)


def test_negotiated_and_default_versions(daemon: Any) -> None:
    auto = docker.DockerClient(base_url=f"unix://{daemon.docker_sock}", version="auto")
    try:
        assert auto.api.api_version == auto.version()["ApiVersion"]
        assert auto.containers.run(BUSYBOX, "echo auto", remove=True) == b"auto\n"
    finally:
        auto.close()
    # docker-py 7's default (version=None) negotiates too: the server's version
    default = docker.DockerClient(base_url=f"unix://{daemon.docker_sock}")
    try:
        assert default.api.api_version == default.version()["ApiVersion"]
        assert default.ping() is True
        assert default.containers.run(BUSYBOX, "echo default", remove=True) == b"default\n"
    finally:
        default.close()
    pinned = docker.DockerClient(base_url=f"unix://{daemon.docker_sock}", version="1.24")
    try:
        assert pinned.containers.run(BUSYBOX, "echo old", remove=True) == b"old\n"
    finally:
        pinned.close()


# --- run ----------------------------------------------------------------------------

def test_run_returns_output_and_removes(client: Any) -> None:
    before = {c.id for c in client.containers.list(all=True)}
    assert client.containers.run(BUSYBOX, "echo hi", remove=True) == b"hi\n"
    assert {c.id for c in client.containers.list(all=True)} == before


def test_run_failing_command_raises_container_error(client: Any, cleanup: list[str]) -> None:
    cleanup.append("failing")
    with pytest.raises(docker.errors.ContainerError) as caught:
        client.containers.run(BUSYBOX, ["sh", "-c", "echo oops >&2; exit 3"],
                              name="failing")
    assert caught.value.exit_status == 3
    assert b"oops" in caught.value.stderr


def test_unknown_image(client: Any) -> None:
    with pytest.raises(docker.errors.ImageNotFound):
        client.containers.create("estiba-no-such-image:never", "true")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("estiba-no-such-image:never")
    # run pulls what create did not find, and there is no registry client yet: the
    # pull's 501 is what run raises (with a registry, an unknown image's 404 would be
    # ImageNotFound)
    with pytest.raises(docker.errors.APIError) as caught:
        client.containers.run("estiba-no-such-image:never", "true", remove=True)
    assert caught.value.status_code == 501
    assert "pull is not supported yet" in caught.value.explanation


def test_detached_logs_wait_reload(client: Any, cleanup: list[str]) -> None:
    c = client.containers.run(BUSYBOX, ["sh", "-c", "echo one; sleep 0.5; echo two >&2; "
                                        "sleep 0.5; exit 4"], detach=True)
    cleanup.append(c.id)
    assert c.status in ("created", "running")
    streamed = b"".join(c.logs(stream=True, follow=True))  # ends when the container does
    assert streamed == b"one\ntwo\n"
    assert c.wait(timeout=30)["StatusCode"] == 4
    assert c.logs() == b"one\ntwo\n"
    assert c.logs(stderr=False) == b"one\n"
    c.reload()
    assert c.status == "exited"
    state = c.attrs["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 4
    assert state["Running"] is False and state["FinishedAt"]


def test_wait_returns_status_code(client: Any, cleanup: list[str]) -> None:
    c = client.containers.run(BUSYBOX, ["sh", "-c", "exit 7"], detach=True)
    cleanup.append(c.id)
    result = c.wait(timeout=30)
    assert result["StatusCode"] == 7


# --- exec ---------------------------------------------------------------------------

def test_exec_run(client: Any, cleanup: list[str]) -> None:
    c = client.containers.run(BUSYBOX, "sleep 1000", detach=True, name="execs")
    cleanup.append("execs")
    poll(lambda: status_of(c) == "running", 10, "running")

    done = c.exec_run("echo hello")
    assert (done.exit_code, done.output) == (0, b"hello\n")
    failed = c.exec_run(["sh", "-c", "exit 5"])
    assert failed.exit_code == 5

    # docker-py reads the head through a buffer and the stream from the bare socket:
    # output sent with the head would be lost, so the daemon starts the process after it
    for _ in range(20):
        split = c.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
        assert split.exit_code == 0 and split.output == (b"out\n", b"err\n")

    streamed = c.exec_run(["sh", "-c", "echo a; sleep 0.2; echo b"], stream=True)
    assert streamed.exit_code is None
    assert b"".join(streamed.output) == b"a\nb\n"

    env = c.exec_run(["sh", "-c", "echo $GREETING"], environment={"GREETING": "hola"})
    assert env.output == b"hola\n"
    env_list = c.exec_run(["sh", "-c", "echo $A-$B"], environment=["A=1", "B=2"])
    assert env_list.output == b"1-2\n"
    assert c.exec_run("pwd", workdir="/tmp").output == b"/tmp\n"
    assert c.exec_run("id -u", user="nobody").output.strip() == b"65534"
    assert c.exec_run("id -u", user="1234:5678").output == b"1234\n"


# --- lifecycle ----------------------------------------------------------------------

def test_stop_start_restart_kill(client: Any, cleanup: list[str]) -> None:
    c = client.containers.run(BUSYBOX, "sleep 1000", detach=True, name="cycle")
    cleanup.append("cycle")
    poll(lambda: status_of(c) == "running", 10, "running")
    c.stop(timeout=1)
    assert status_of(c) == "exited"
    assert c.attrs["State"]["ExitCode"] == 137
    c.start()
    assert status_of(c) == "running"
    first_start = c.attrs["State"]["StartedAt"]
    c.restart(timeout=1)
    assert status_of(c) == "running"
    assert c.attrs["State"]["StartedAt"] != first_start
    c.kill(signal=9)
    poll(lambda: status_of(c) == "exited", 10, "killed")
    assert c.attrs["State"]["ExitCode"] == 137
    with pytest.raises(docker.errors.APIError) as caught:
        c.kill()
    assert caught.value.status_code == 409


def test_trap_kill_signal(client: Any, cleanup: list[str]) -> None:
    c = client.containers.run(
        BUSYBOX, ["sh", "-c", "trap 'echo got USR1; exit 0' USR1; echo ready; "
                  "while true; do sleep 0.1; done"], detach=True, name="trapper")
    cleanup.append("trapper")
    poll(lambda: b"ready" in c.logs(), 10, "trap installed")
    c.kill(signal="SIGUSR1")
    assert c.wait(timeout=10)["StatusCode"] == 0
    assert b"got USR1" in c.logs()


def test_pause_rename_top_stats(client: Any, cleanup: list[str]) -> None:
    c = client.containers.run(BUSYBOX, "sleep 1000", detach=True, name="states")
    cleanup.append(c.id)
    poll(lambda: status_of(c) == "running", 10, "running")
    c.pause()
    assert status_of(c) == "paused" and c.attrs["State"]["Paused"] is True
    c.unpause()
    assert status_of(c) == "running"

    c.rename("renamed")
    c.reload()
    assert c.name == "renamed"
    assert client.containers.get("renamed").id == c.id

    top = c.top()
    assert "PID" in top["Titles"] and "CMD" in top["Titles"]
    assert len(top["Processes"]) == 1 and top["Processes"][0][-1] == "sleep 1000"

    stats = c.stats(stream=False)
    assert stats["pids_stats"]["current"] == 1
    assert stats["memory_stats"]["usage"] > 0
    assert "cpu_usage" in stats["cpu_stats"]
    one = next(iter(c.stats(stream=True, decode=True)))
    assert one["pids_stats"]["current"] == 1 and "read" in one


# --- files --------------------------------------------------------------------------

def test_archive_diff_export(client: Any, cleanup: list[str]) -> None:
    c = client.containers.run(BUSYBOX, ["sh", "-c", "echo made > /made; sleep 1000"],
                              detach=True, name="files")
    cleanup.append("files")
    poll(lambda: status_of(c) == "running", 10, "running")
    assert c.put_archive("/tmp", tar_of({"hello.txt": b"hello from the host\n"})) is True
    assert c.exec_run("cat /tmp/hello.txt").output == b"hello from the host\n"

    chunks, stat = c.get_archive("/tmp/hello.txt")
    assert stat["name"] == "hello.txt" and stat["size"] == 20
    assert read_tar(chunks) == {"hello.txt": b"hello from the host\n"}

    poll(lambda: c.exec_run("cat /made").output == b"made\n", 10, "/made written")
    changes = {(ch["Path"], ch["Kind"]) for ch in c.diff()}
    assert ("/made", 1) in changes and ("/tmp/hello.txt", 1) in changes
    assert ("/tmp", 0) in changes

    exported = b"".join(c.export())
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        names = set(tar.getnames())
    assert {"made", "bin/busybox"} <= {n.removeprefix("./") for n in names}

    with pytest.raises(docker.errors.NotFound):
        c.get_archive("/no/such/path")


def test_commit_and_run_it(client: Any, cleanup: list[str]) -> None:
    c = client.containers.run(BUSYBOX, ["sh", "-c", "echo baked > /baked"], detach=True)
    cleanup.append(c.id)
    assert c.wait(timeout=30)["StatusCode"] == 0
    image = c.commit(repository="estiba-py-committed", tag="v1",
                     changes=["ENV BAKED=yes"])
    try:
        assert "estiba-py-committed:v1" in image.tags
        out = client.containers.run("estiba-py-committed:v1",
                                    ["sh", "-c", "cat /baked; echo $BAKED"], remove=True)
        assert out == b"baked\nyes\n"
    finally:
        client.images.remove("estiba-py-committed:v1")


# --- listing ------------------------------------------------------------------------

def test_list_get_prune(client: Any, cleanup: list[str]) -> None:
    up = client.containers.run(BUSYBOX, "sleep 1000", detach=True, name="listed-up",
                               labels={"tier": "front"})
    cleanup.append("listed-up")
    done = client.containers.run(BUSYBOX, "true", detach=True, name="listed-done",
                                 labels={"tier": "back"})
    cleanup.append("listed-done")
    assert done.wait(timeout=30)["StatusCode"] == 0
    poll(lambda: status_of(up) == "running", 10, "running")

    running = {c.name for c in client.containers.list()}
    assert "listed-up" in running and "listed-done" not in running
    exited = {c.name for c in client.containers.list(all=True,
                                                     filters={"status": "exited"})}
    assert "listed-done" in exited and "listed-up" not in exited
    front = client.containers.list(all=True, filters={"label": "tier=front"})
    assert [c.name for c in front] == ["listed-up"]
    by_name = client.containers.list(all=True, filters={"name": "listed-done"})
    assert [c.id for c in by_name] == [done.id]

    got = client.containers.get("listed-up")
    assert got.id == up.id and got.name == "listed-up"
    assert got.labels == {"tier": "front"}
    assert got.image.id == client.images.get(BUSYBOX).id

    pruned = client.containers.prune(filters={"label": "tier=back"})
    assert pruned["ContainersDeleted"] == [done.id]
    assert isinstance(pruned["SpaceReclaimed"], int)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("listed-done")
    assert client.containers.get("listed-up").status == "running"


# --- images -------------------------------------------------------------------------

def test_images_list_get_tag_history_remove(client: Any) -> None:
    busybox = client.images.get(BUSYBOX)
    assert "busybox:latest" in busybox.tags
    assert any(busybox.id == i.id for i in client.images.list())
    assert busybox.tag("estiba-py-tagged", "one") is True
    try:
        assert "estiba-py-tagged:one" in client.images.get(busybox.id).tags
        assert [i.id for i in client.images.list(name="estiba-py-tagged")] == [busybox.id]
        history = busybox.history()
        assert history and all("Created" in h and "CreatedBy" in h for h in history)
    finally:
        client.images.remove("estiba-py-tagged:one")
    assert "estiba-py-tagged:one" not in client.images.get(busybox.id).tags
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("estiba-py-tagged:one")


def test_image_save_load_and_import(client: Any) -> None:
    busybox = client.images.get(BUSYBOX)
    busybox.tag("estiba-py-saved", "v1")
    saved = b"".join(client.images.get("estiba-py-saved:v1").save(named="estiba-py-saved:v1"))
    client.images.remove("estiba-py-saved:v1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("estiba-py-saved:v1")

    loaded = client.images.load(saved)
    try:
        assert [i.id for i in loaded] == [busybox.id]
        assert "estiba-py-saved:v1" in client.images.get(busybox.id).tags
    finally:
        client.images.remove("estiba-py-saved:v1")

    rootfs = tar_of({"hello": b"imported\n"})
    result = client.api.import_image(src=rootfs, repository="estiba-py-imported", tag="v1")
    status = json.loads(result.strip().splitlines()[-1]) if isinstance(result, str | bytes) \
        else result
    assert str(status.get("status", "")).startswith("sha256:")
    try:
        imported = client.images.get("estiba-py-imported:v1")
        assert imported.id == status["status"]
        assert imported.attrs["RootFS"]["Layers"]
    finally:
        client.images.remove("estiba-py-imported:v1")


# --- events -------------------------------------------------------------------------

def test_events_since_until(client: Any) -> None:
    since = time.time()
    c = client.containers.run(BUSYBOX, "true", detach=True, name="evented")
    try:
        c.wait(timeout=30)
    finally:
        c.remove()
    until = time.time() + 0.5
    seen = [(e.get("Type"), e.get("Action")) for e in
            client.events(decode=True, since=int(since) - 1, until=int(until) + 1,
                          filters={"container": "evented"})]
    actions = [a for kind, a in seen if kind == "container"]
    for action in ("create", "start", "die", "destroy"):
        assert action in actions, seen
    assert actions.index("create") < actions.index("start") < actions.index("die")


# --- host config --------------------------------------------------------------------

def test_restart_policy_on_failure(client: Any, cleanup: list[str]) -> None:
    c = client.containers.run(BUSYBOX, ["sh", "-c", "exit 1"], detach=True,
                              name="retrying",
                              restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
    cleanup.append("retrying")

    def settled() -> bool:
        c.reload()
        return c.attrs["RestartCount"] == 2 and c.status == "exited"

    poll(settled, 30, "two restarts, then exited")
    assert c.attrs["HostConfig"]["RestartPolicy"] == {"Name": "on-failure",
                                                      "MaximumRetryCount": 2}
    assert c.attrs["State"]["ExitCode"] == 1


def test_limits_and_bind_mount(client: Any, cleanup: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="edp-bind-") as host:
        with open(os.path.join(host, "note"), "w") as f:
            f.write("from the host\n")
        c = client.containers.run(
            BUSYBOX, "sleep 1000", detach=True, name="limited", mem_limit="64m",
            pids_limit=20, volumes={host: {"bind": "/data", "mode": "ro"}})
        cleanup.append("limited")
        poll(lambda: status_of(c) == "running", 10, "running")
        assert c.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
        assert c.attrs["HostConfig"]["PidsLimit"] == 20
        assert c.exec_run("cat /data/note").output == b"from the host\n"
        write = c.exec_run(["sh", "-c", "echo x > /data/new"])
        assert write.exit_code != 0 and b"Read-only file system" in write.output
        stats = c.stats(stream=False)
        assert stats["memory_stats"]["limit"] == 64 * 1024 * 1024
        assert stats["pids_stats"]["limit"] == 20
        mounts = c.attrs["Mounts"]
        assert [(m["Source"], m["Destination"], m["RW"]) for m in mounts] == \
            [(host, "/data", False)]
        c.remove(force=True)


# --- attach -------------------------------------------------------------------------

def _recv_until(sock: socket.socket, wanted: bytes, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    got = b""
    while wanted not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {wanted!r}; got {got!r}")
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    return got


def _payload(frames: bytes) -> bytes:
    """The stdout of Docker's 8-byte framed stream."""
    out = b""
    while len(frames) >= 8:
        size = int.from_bytes(frames[4:8], "big")
        out += frames[8:8 + size]
        frames = frames[8 + size:]
    return out


def test_attach_socket_stdin(client: Any, cleanup: list[str]) -> None:
    c = client.containers.run(BUSYBOX, "cat", detach=True, stdin_open=True, name="catter")
    cleanup.append("catter")
    poll(lambda: status_of(c) == "running", 10, "running")
    wrapped = c.attach_socket(params={"stdin": 1, "stream": 1, "stdout": 1})
    sock: socket.socket = wrapped._sock
    try:
        sock.sendall(b"hello through stdin\n")
        got = _recv_until(sock, b"stdin\n", 10)
        assert _payload(got) == b"hello through stdin\n"
    finally:
        sock.close()
        wrapped.close()


def test_attach_socket_stdin_api(client: Any, cleanup: list[str]) -> None:
    made = client.api.create_container(BUSYBOX, "cat", stdin_open=True, name="catter2")
    cleanup.append("catter2")
    client.api.start(made["Id"])
    wrapped = client.api.attach_socket(made["Id"], params={"stdin": 1, "stream": 1,
                                                           "stdout": 1, "stderr": 1})
    sock: socket.socket = wrapped._sock
    try:
        sock.sendall(b"ping\n")
        assert _payload(_recv_until(sock, b"ping\n", 10)) == b"ping\n"
        sock.shutdown(socket.SHUT_WR)  # cat sees EOF and exits
        assert client.api.wait(made["Id"], timeout=10)["StatusCode"] == 0
    finally:
        sock.close()
        wrapped.close()


# --- errors -------------------------------------------------------------------------

def test_errors(client: Any, cleanup: list[str]) -> None:
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("estiba-no-such-container")
    with pytest.raises(docker.errors.NotFound):
        client.api.inspect_container("0123456789ab")
    with pytest.raises(docker.errors.NotFound):
        client.api.start("estiba-no-such-container")

    c = client.containers.run(BUSYBOX, "sleep 1000", detach=True, name="taken")
    cleanup.append("taken")
    with pytest.raises(docker.errors.APIError) as conflict:
        client.containers.create(BUSYBOX, "true", name="taken")
    assert conflict.value.status_code == 409
    assert "is already in use" in str(conflict.value.explanation)

    poll(lambda: status_of(c) == "running", 10, "running")
    with pytest.raises(docker.errors.APIError) as running:
        c.remove()
    assert running.value.status_code == 409
    assert "stop the container before removing" in str(running.value.explanation).lower() \
        or "force" in str(running.value.explanation)
    c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        c.reload()


def test_threads_share_a_client(client: Any) -> None:
    """Several threads through one client's connection pool, as scripts do."""
    results: list[bytes] = []

    def one(i: int) -> None:
        results.append(client.containers.run(BUSYBOX, f"echo {i}", remove=True))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [b"0\n", b"1\n", b"2\n"]
