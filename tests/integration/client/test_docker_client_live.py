"""The Docker API client (``client/docker.py``) against a real estibad of the module's
own (``harness.Daemon``, its ``docker_sock``): the lifecycle the ``estiba`` command line
will drive (version negotiation, run and logs, exec, attach with stdin, archives,
networks, volumes, images, events). Then, if the anchor Docker is up (never started
here), the same small run against it, so that the client is held to real Docker too."""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
import time
from collections.abc import Iterator

import pytest
from harness import REAL_CORE, Daemon, poll

from estiba.client.connection import Hijacked
from estiba.client.docker import APIClient, DockerError
from estiba.client.streams import Demux
from support.anchor import anchor_host
from support.docker_cli import reap_shims

pytestmark = REAL_CORE

BUSYBOX = "busybox"
ECHO = ["sh", "-c", "echo out; echo err >&2"]


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    d = Daemon(prefix="edc-")
    try:
        d.start()
        yield d
        if d.proc is not None and d.proc.poll() is None:
            with APIClient(f"unix://{d.docker_sock}", timeout=30) as client:
                for c in client.containers(all=True):
                    with contextlib.suppress(DockerError):
                        client.remove_container(c["Id"], force=True)
            d.stop()
        d.assert_nothing_left()
    finally:
        d.remove()
        reap_shims()


@pytest.fixture(scope="module")
def client(daemon: Daemon) -> Iterator[APIClient]:
    with APIClient(f"unix://{daemon.docker_sock}", timeout=60) as made:
        yield made


@pytest.fixture
def made(client: APIClient) -> Iterator[list[str]]:
    """Containers a test makes: removed (forced) after it."""
    ids: list[str] = []
    yield ids
    for id in ids:
        with contextlib.suppress(DockerError):
            client.remove_container(id, force=True)


def read_all(conn: Hijacked) -> list[tuple[int, bytes]]:
    """The frames of a hijacked connection until its EOF."""
    demux, frames = Demux(), []
    while data := conn.recv():
        frames.extend(demux.feed(data))
    assert not demux.partial
    return frames


def joined(frames: list[tuple[int, bytes]] | Iterator[tuple[int, bytes]], stream: int
           ) -> bytes:
    return b"".join(data for s, data in frames if s == stream)


def tar_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def run_echo(client: APIClient, made: list[str]) -> str:
    """create + start + wait of ``ECHO``: its id, once it exited 0."""
    id = client.create_container({"Image": BUSYBOX, "Cmd": ECHO})["Id"]
    made.append(id)
    assert client.start(id) is True
    assert client.wait(id)["StatusCode"] == 0
    return id


def check_echo_logs(client: APIClient, id: str) -> None:
    frames = list(client.logs(id, tty=False))
    assert joined(frames, 1) == b"out\n" and joined(frames, 2) == b"err\n"
    # without the tty given: the reply's Content-Type (or the container) tells
    assert sorted(client.logs(id)) == sorted(frames)
    assert joined(client.logs(id, stderr=False), 2) == b""


# --- estibad -------------------------------------------------------------------------


def test_ping_and_version_negotiated(client: APIClient) -> None:
    ping = client.ping()
    assert ping["OSType"] == "linux"
    assert client.api_version == min(ping["Api-Version"], "1.47",
                                     key=lambda v: tuple(map(int, v.split("."))))
    assert client.version()["ApiVersion"] == ping["Api-Version"]
    assert "Containers" in client.info()


def test_without_a_ping_the_version_comes_with_the_first_answer(daemon: Daemon) -> None:
    with APIClient(f"unix://{daemon.docker_sock}", timeout=30, ping_first=False) as lazy:
        assert isinstance(lazy.containers(all=True), list)
        # learnt from the list's answer, not asked: no ping was sent
        assert lazy._version == "1.47"
        assert "Containers" in lazy.info()


def test_run_wait_logs(client: APIClient, made: list[str]) -> None:
    with contextlib.suppress(DockerError):  # estibad provides busybox without a registry
        for _ in client.pull(BUSYBOX, tag="latest"):
            pass
    id = run_echo(client, made)
    check_echo_logs(client, id)
    assert client.inspect_container(id)["State"]["ExitCode"] == 0
    assert client.stop(id) is False  # 304: stopped already
    assert id in {c["Id"] for c in client.containers(all=True,
                                                     filters={"status": ["exited"]})}
    client.remove_container(id)
    made.remove(id)
    with pytest.raises(DockerError) as err:
        client.inspect_container(id)
    assert err.value.status == 404


def test_exec_output_and_exit_code(client: APIClient, made: list[str]) -> None:
    id = client.create_container({"Image": BUSYBOX, "Cmd": ["sleep", "300"]})["Id"]
    made.append(id)
    client.start(id)
    assert client.start(id) is False  # 304: running already
    exec_id = client.exec_create(id, ["sh", "-c", "echo hi; echo oops >&2; exit 3"],
                                 env=["X=1"])
    with client.exec_start(exec_id) as conn:
        frames = read_all(conn)
    assert joined(frames, 1) == b"hi\n" and joined(frames, 2) == b"oops\n"
    done = poll(lambda: (i := client.exec_inspect(exec_id)) and not i["Running"] and i,
                10, "exec finished")
    assert done["ExitCode"] == 3
    assert "sleep" in str(client.top(id)["Processes"])
    client.kill(id)
    assert client.wait(id)["StatusCode"] != 0


def test_attach_stdin_echoed(client: APIClient, made: list[str]) -> None:
    id = client.create_container({
        "Image": BUSYBOX, "Cmd": ["cat"], "OpenStdin": True, "StdinOnce": True,
        "AttachStdin": True, "AttachStdout": True, "AttachStderr": True})["Id"]
    made.append(id)
    with client.attach(id, stdin=True) as conn:
        client.start(id)
        conn.sendall(b"ping\n")
        conn.close_write()
        frames = read_all(conn)
    assert joined(frames, 1) == b"ping\n"
    assert client.wait(id)["StatusCode"] == 0


def test_archives(client: APIClient, made: list[str]) -> None:
    id = client.create_container({"Image": BUSYBOX, "Cmd": ["sleep", "300"]})["Id"]
    made.append(id)
    client.start(id)
    client.put_archive(id, "/tmp", tar_of("hello.txt", b"hello\n"))
    stat, chunks = client.get_archive(id, "/tmp/hello.txt")
    assert stat["name"] == "hello.txt" and stat["size"] == 6
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        assert tar.extractfile("hello.txt").read() == b"hello\n"  # type: ignore[union-attr]
    assert client.stat_archive(id, "/tmp")["name"] == "tmp"
    assert any(c["Path"] == "/tmp/hello.txt" for c in client.changes(id))
    with pytest.raises(DockerError) as err:
        client.get_archive(id, "/no/such")
    assert err.value.status == 404
    client.remove_container(id, force=True)
    made.remove(id)


def test_networks_and_volumes(client: APIClient) -> None:
    name = "edc-" + secrets.token_hex(3)
    net = client.create_network({"Name": name, "IPAM": {
        "Config": [{"Subnet": "10.214.0.0/24"}]}})
    try:
        info = client.inspect_network(net["Id"])
        assert info["Name"] == name
        assert info["IPAM"]["Config"][0]["Subnet"] == "10.214.0.0/24"
        assert [n["Name"] for n in client.networks(filters={"name": [name]})] == [name]
    finally:
        client.remove_network(net["Id"])
    with pytest.raises(DockerError) as err:
        client.inspect_network(net["Id"])
    assert err.value.status == 404

    vol = client.create_volume({"Name": name, "Labels": {"by": "test"}})
    try:
        assert vol["Name"] == name
        assert client.inspect_volume(name)["Labels"] == {"by": "test"}
        listed = client.volumes(filters={"name": [name]})["Volumes"]
        assert [v["Name"] for v in listed] == [name]
    finally:
        client.remove_volume(name)
    with pytest.raises(DockerError) as err:
        client.inspect_volume(name)
    assert err.value.status == 404


def test_images(client: APIClient) -> None:
    listed = client.images()
    busybox = next(i for i in listed if "busybox:latest" in (i.get("RepoTags") or ()))
    inspected = client.inspect_image("docker.io/library/busybox:latest")
    assert inspected["Id"] == busybox["Id"]
    assert client.history(BUSYBOX)
    client.tag(BUSYBOX, "edc/copy", "v1")
    try:
        assert client.inspect_image("edc/copy:v1")["Id"] == busybox["Id"]
    finally:
        removed = client.remove_image("edc/copy:v1")
    assert removed == [{"Untagged": "edc/copy:v1"}]
    with pytest.raises(DockerError) as err:
        client.inspect_image("edc/copy:v1")
    assert err.value.status == 404


def test_events_since_until(client: APIClient, made: list[str]) -> None:
    since = time.time() - 1
    id = client.create_container({"Image": BUSYBOX, "Cmd": ["true"]})["Id"]
    made.append(id)
    client.remove_container(id)
    made.remove(id)
    until = time.time() + 1
    time.sleep(1.2)  # until is in the past: the stream ends by itself
    events = list(client.events(since=f"{since:.3f}", until=f"{until:.3f}",
                                filters={"type": ["container"]}))
    actions = [e["Action"] for e in events if e.get("id") == id]
    assert actions[0] == "create" and actions[-1] == "destroy", events
    assert {e["Type"] for e in events} == {"container"}


# --- the anchor Docker ---------------------------------------------------------------


def test_same_run_against_the_anchor_docker() -> None:
    host = anchor_host()
    made: list[str] = []
    with APIClient(host, timeout=60) as client:
        try:
            ping = client.ping()
            assert client.api_version == min(ping["Api-Version"], "1.47",
                                             key=lambda v: tuple(map(int, v.split("."))))
            assert client.version()["ApiVersion"]
            assert isinstance(client.containers(all=True), list)
            if not any("busybox:latest" in (i.get("RepoTags") or ())
                       for i in client.images()):
                pytest.skip("the anchor Docker has no busybox:latest (no pull here)")
            id = run_echo(client, made)
            check_echo_logs(client, id)
            client.remove_container(id)
            made.remove(id)
        finally:
            for id in made:
                with contextlib.suppress(DockerError):
                    client.remove_container(id, force=True)
