"""The object layer of the client (``estiba.client.models``: ``Client`` and its
containers, images, networks and volumes) against a real estibad of the module's own
and, when it is up, the anchor Docker: each test runs on both, so that what the command
line, compose and the dashboard build on behaves alike on estibad and on Docker.

The anchor is never started here (``/work/shared/tools/anchor-docker start`` does);
without it its half skips, saying why. On it, everything made carries the label
``ECH_LABEL`` and a name starting ``ecH-`` and is removed after each test.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from estiba import errors
from estiba.client import Client, Conflict, ContainerError, NotFound
from estiba.client.docker import DockerError
from estiba.client.models import Container, ExecResult, Forbidden, Image, Network, Volume
from estiba.client.streams import Demux
from support.anchor import anchor_host
from support.docker_cli import engine_daemon

pytestmark = [pytest.mark.e2e, pytest.mark.root]

BUSYBOX = "busybox"
ECH_LABEL = "ecH-test"
MINE = {ECH_LABEL: "1"}
# one subnet per daemon: they share the host's routes
SUBNETS = {"estibad": "10.237.0.0/24", "docker": "10.237.1.0/24"}


def poll(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return value


def docker_host() -> str:
    """The anchor Docker's DOCKER_HOST when it is up and has busybox, else skip."""
    host = anchor_host()
    try:
        with Client(host, timeout=10) as probe:
            probe.images.get(f"{BUSYBOX}:latest")
    except NotFound:
        pytest.skip("the anchor Docker has no busybox:latest (and no registry to pull)")
    except Exception as err:  # noqa: BLE001 - any other failure means: not reachable
        pytest.skip(f"anchor Docker at {host} not reachable: {err}")
    return host


@pytest.fixture(scope="module")
def estibad() -> Iterator[object]:
    yield from engine_daemon("ecH-")


@pytest.fixture(scope="module", params=["estibad", "docker"])
def client(request: pytest.FixtureRequest) -> Iterator[Client]:
    if request.param == "estibad":
        d = request.getfixturevalue("estibad")
        host = f"unix://{d.docker_sock}"  # type: ignore[attr-defined]
    else:
        host = docker_host()
    with Client(host, timeout=60) as made:
        made.kind = request.param  # type: ignore[attr-defined]
        if request.param == "estibad":
            made.images.pull(BUSYBOX)  # estibad provides it without a registry
        yield made


@pytest.fixture(autouse=True)
def cleanup(client: Client) -> Iterator[None]:
    """Remove what a test made (labelled ``ECH_LABEL`` or named ``ecH-``), the anchor
    being shared."""
    yield
    api = client.api
    for c in api.containers(all=True, filters={"label": [ECH_LABEL]}):
        with contextlib.suppress(DockerError):
            api.remove_container(c["Id"], force=True, volumes=True)
    for n in api.networks(filters={"label": [ECH_LABEL]}):
        with contextlib.suppress(DockerError):
            api.remove_network(n["Id"])
    for v in api.volumes(filters={"label": [ECH_LABEL]})["Volumes"] or ():
        with contextlib.suppress(DockerError):
            api.remove_volume(v["Name"], force=True)
    for i in api.images(filters={"reference": ["ech-*"]}):
        for tag in i.get("RepoTags") or ():
            with contextlib.suppress(DockerError):
                api.remove_image(tag, force=True)


def sleeper(client: Client, name: str = "", **options: Any) -> Container:
    made = client.containers.run(BUSYBOX, ["sleep", "300"], detach=True, name=name,
                                 labels=MINE, **options)
    assert isinstance(made, Container)
    return made


def tar_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


# --- run -----------------------------------------------------------------------------


def test_run_returns_the_output_and_removes_the_container(client: Client) -> None:
    out = client.containers.run(BUSYBOX, ["sh", "-c", "echo out; echo err >&2"],
                                remove=True, labels=MINE)
    assert sorted(out.splitlines()) == [b"err", b"out"]  # type: ignore[union-attr]
    only_out = client.containers.run(BUSYBOX, "echo $GREETING; echo err >&2",
                                     stderr=False, remove=True, labels=MINE,
                                     environment={"GREETING": "hello there"})
    assert only_out == b"hello there\n"
    assert client.containers.list(all=True, label=ECH_LABEL) == []


def test_run_failure_raises_container_error(client: Client) -> None:
    with pytest.raises(ContainerError) as raised:
        client.containers.run(BUSYBOX, "echo it broke >&2; exit 3", name="ecH-fails",
                              labels=MINE)
    err = raised.value
    assert err.exit_status == 3 and err.stderr == b"it broke\n"
    assert err.command == ["/bin/sh", "-c", "echo it broke >&2; exit 3"]
    assert isinstance(err, errors.EstibaError) and "exited with status 3" in str(err)
    assert err.container.reload().status == "exited"  # kept: no remove asked
    assert err.container.attrs["State"]["ExitCode"] == 3


def test_run_detached_with_remove_is_gone_once_it_exits(client: Client) -> None:
    made = client.containers.run(BUSYBOX, ["true"], detach=True, remove=True, labels=MINE)
    assert isinstance(made, Container)
    assert made.attrs["HostConfig"]["AutoRemove"] is True

    def gone() -> bool:
        try:
            made.reload()
        except NotFound:
            return True
        return False

    poll(gone, 30, "the auto-removed container to go")


# --- a container's verbs -------------------------------------------------------------


def test_container_lifecycle(client: Client) -> None:
    box = sleeper(client, "ecH-life", environment={"X": "from env"})
    assert box.name == "ecH-life" and box.status == "running"
    assert box.labels == MINE and len(box.short_id) == 12
    assert client.containers.get("ecH-life") == box
    assert box.image.id == client.images.get(BUSYBOX).id

    box.pause()
    assert box.reload().status == "paused"
    box.unpause()
    assert box.reload().status == "running"
    assert box.stop(timeout=1) is True
    assert box.reload().status == "exited"
    assert box.stop() is False  # stopped already
    assert box.start() is True
    box.restart(timeout=1)
    assert box.reload().status == "running"
    box.kill("KILL")
    assert box.wait()["StatusCode"] == 137
    box.rename("ecH-renamed")
    assert box.name == "ecH-renamed"
    box.remove()
    with pytest.raises(NotFound) as missing:
        client.containers.get("ecH-renamed")
    # one error, three ways to catch it
    assert missing.value.status == 404
    assert isinstance(missing.value, errors.NotFound)
    assert isinstance(missing.value, DockerError)


def test_a_taken_name_is_a_conflict(client: Client) -> None:
    sleeper(client, "ecH-taken")
    with pytest.raises(Conflict) as clash:
        client.containers.create(BUSYBOX, ["true"], name="ecH-taken", labels=MINE)
    assert clash.value.status == 409 and isinstance(clash.value, errors.Conflict)


def test_exec_run_exit_code_and_output(client: Client) -> None:
    box = sleeper(client, environment={"X": "from env"})
    assert box.exec_run("echo $X; exit 4") == ExecResult(4, b"from env\n")
    assert box.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True) == (
        0, (b"o\n", b"e\n"))
    assert box.exec_run("pwd; id -u", workdir="/tmp", user="65534") == (
        0, b"/tmp\n65534\n")
    assert box.exec_run(["sh", "-c", "exit 0"], tty=True).exit_code == 0
    detached = box.exec_run(["sleep", "1"], detach=True)
    assert detached.exit_code is None


def test_logs_whole_split_and_followed(client: Client) -> None:
    box = client.containers.run(
        BUSYBOX, "for i in 1 2 3; do echo line $i; echo warn $i >&2; done",
        detach=True, labels=MINE)
    assert isinstance(box, Container)
    assert box.wait()["StatusCode"] == 0
    out, err = box.logs(demux=True)  # type: ignore[misc]
    assert out == b"line 1\nline 2\nline 3\n" and err == b"warn 1\nwarn 2\nwarn 3\n"
    stamped = box.logs(stderr=False, timestamps=True)
    assert stamped.split(b" ", 1)[1].startswith(b"line 1")  # type: ignore[union-attr]

    ticker = client.containers.run(BUSYBOX, "for i in 1 2 3; do echo tick $i; "
                                   "sleep 0.2; done", detach=True, labels=MINE)
    assert isinstance(ticker, Container)
    followed = b"".join(ticker.logs(stream=True, follow=True))  # type: ignore[arg-type]
    assert followed == b"tick 1\ntick 2\ntick 3\n"  # all of it: ended with the container
    assert ticker.logs(tail=1) == b"tick 3\n"


def test_files_in_and_out_diff_export_commit(client: Client) -> None:
    box = sleeper(client)
    box.put_archive("/tmp", tar_of("hello.txt", b"hello\n"))
    chunks, stat = box.get_archive("/tmp/hello.txt")
    assert stat["name"] == "hello.txt" and stat["size"] == 6
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        assert tar.extractfile("hello.txt").read() == b"hello\n"  # type: ignore[union-attr]
    assert {"Path": "/tmp/hello.txt", "Kind": 1} in box.diff()
    with tarfile.open(fileobj=io.BytesIO(b"".join(box.export()))) as tar:
        assert "tmp/hello.txt" in tar.getnames()
    with pytest.raises(NotFound):
        box.get_archive("/no/such")

    exported = b"".join(box.export())
    imported = client.images.create(exported, "ech-imported", "v1",
                                    changes=['CMD ["cat", "/tmp/hello.txt"]'])
    assert imported.tags == ["ech-imported:v1"]
    assert client.containers.run("ech-imported:v1", remove=True, labels=MINE) == b"hello\n"

    image = box.commit("ech-committed", "v1", changes=["ENV FROM_COMMIT=yes"])
    assert isinstance(image, Image) and image.tags == ["ech-committed:v1"]
    assert "FROM_COMMIT=yes" in image.attrs["Config"]["Env"]
    out = client.containers.run("ech-committed:v1", ["cat", "/tmp/hello.txt"],
                                remove=True, labels=MINE)
    assert out == b"hello\n"
    image.remove()
    with pytest.raises(NotFound):
        client.images.get("ech-committed:v1")


def test_attach_stdin_to_the_process(client: Client) -> None:
    box = client.containers.create(BUSYBOX, ["sh", "-c", "tr a-z A-Z; echo done >&2"],
                                   stdin_open=True, stdin_once=True, labels=MINE)
    with box.attach(stdin=True) as conn:
        box.start()
        conn.sendall(b"shout\n")
        conn.close_write()
        demux, frames = Demux(), []
        while data := conn.recv():
            frames.extend(demux.feed(data))
    assert b"".join(d for s, d in frames if s == 1) == b"SHOUT\n"
    assert b"".join(d for s, d in frames if s == 2) == b"done\n"
    assert box.wait()["StatusCode"] == 0


def test_client_ping_info_and_events(client: Client) -> None:
    assert client.ping()["OSType"] == "linux"
    assert "Containers" in client.info() and client.version()["ApiVersion"]
    since = time.time() - 1
    made = client.containers.create(BUSYBOX, ["true"], labels=MINE)
    made.remove()
    events = client.events(since=f"{since:.3f}", until=f"{time.time() + 1:.3f}",
                           type="container", label=ECH_LABEL)
    actions = [e["Action"] for e in events if e.get("id") == made.id]
    assert actions == ["create", "destroy"]


def test_top_stats_update(client: Client) -> None:
    box = sleeper(client)
    top = box.top()
    assert "PID" in top["Titles"] and "sleep 300" in str(top["Processes"])
    sample = box.stats()
    assert isinstance(sample, dict) and "memory_stats" in sample
    box.update(mem_limit="64m", memswap_limit="128m", restart_policy="on-failure")
    box.reload()
    assert box.attrs["HostConfig"]["Memory"] == 64 << 20
    assert box.attrs["HostConfig"]["MemorySwap"] == 128 << 20
    assert box.attrs["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"


def test_ports_published(client: Client) -> None:
    box = sleeper(client, ports={"80/tcp": ("127.0.0.1", None), 81: None})
    assert set(box.attrs["Config"]["ExposedPorts"]) == {"80/tcp", "81/tcp"}
    bound = box.ports["80/tcp"]
    assert bound and bound[0]["HostIp"] == "127.0.0.1" and int(bound[0]["HostPort"]) > 0


def test_list_filters_and_prune(client: Client) -> None:
    running = sleeper(client, "ecH-running")
    done = client.containers.run(BUSYBOX, ["true"], detach=True, name="ecH-done",
                                 labels={**MINE, "which": "done"})
    assert isinstance(done, Container)
    done.wait()
    assert client.containers.list(label=ECH_LABEL) == [running]
    everyone = client.containers.list(all=True, label=ECH_LABEL)
    assert set(everyone) == {running, done}
    assert all("State" in c.attrs for c in everyone)  # inspected, not the short form
    exited = client.containers.list(all=True, filters={"label": [ECH_LABEL]},
                                    status="exited")
    assert [c.name for c in exited] == ["ecH-done"]
    sparse = client.containers.list(sparse=True, label=ECH_LABEL)
    assert [c.attrs["Names"] for c in sparse] == [["/ecH-running"]]
    pruned = client.containers.prune(label="which=done")
    assert pruned["ContainersDeleted"] == [done.id]
    assert client.containers.list(all=True, label=ECH_LABEL) == [running]


# --- images --------------------------------------------------------------------------


def test_image_tags_history_save_load(client: Client) -> None:
    image = client.images.get(BUSYBOX)
    assert "busybox:latest" in image.tags and image.id.startswith("sha256:")
    assert image.short_id == image.id[7:19]
    assert image.history()
    image.tag("ech-copy", "v2")
    assert "ech-copy:v2" in image.tags
    assert [i.id for i in client.images.list("ech-copy")] == [image.id]
    copy = client.images.get("ech-copy:v2")
    saved = b"".join(copy.save())
    client.images.remove("ech-copy:v2")
    assert "ech-copy:v2" not in image.reload().tags
    loaded = client.images.load(saved)
    assert [i.id for i in loaded] == [image.id] and "ech-copy:v2" in loaded[0].tags
    with pytest.raises(NotFound):
        client.images.get("ech-no-such:v0")


# --- networks ------------------------------------------------------------------------


def test_network_create_connect_disconnect_remove(client: Client) -> None:
    subnet = SUBNETS[client.kind]  # type: ignore[attr-defined]
    net = client.networks.create("ecH-net", labels=MINE, subnet=subnet)
    assert isinstance(net, Network) and net.name == "ecH-net" and net.labels == MINE
    assert net.attrs["IPAM"]["Config"][0]["Subnet"] == subnet
    assert client.networks.list(names=["ecH-net"]) == [net]
    assert client.networks.list(label=ECH_LABEL) == [net]

    joined = sleeper(client, network="ecH-net", network_aliases=["web"])
    box = sleeper(client)
    net.connect(box, aliases=["other"])
    assert set(net.reload().containers) == {joined, box}
    endpoint = box.reload().attrs["NetworkSettings"]["Networks"]["ecH-net"]
    assert "other" in endpoint["Aliases"]
    assert joined.exec_run(["ping", "-c", "1", "-W", "2", "other"]).exit_code == 0
    net.disconnect(box)
    assert net.reload().containers == [joined]
    with pytest.raises(Forbidden, match="active endpoints"):
        net.remove()  # in use
    joined.remove(force=True)
    net.remove()
    with pytest.raises(NotFound):
        client.networks.get("ecH-net")


# --- volumes -------------------------------------------------------------------------


def test_volume_create_mount_remove_prune(client: Client) -> None:
    vol = client.volumes.create("ecH-vol", labels=MINE)
    assert isinstance(vol, Volume) and vol.id == vol.name == "ecH-vol"
    assert client.volumes.get("ecH-vol").labels == MINE
    assert client.volumes.list(label=ECH_LABEL) == [vol]
    client.containers.run(BUSYBOX, "echo kept > /data/file", remove=True, labels=MINE,
                          volumes={"ecH-vol": {"bind": "/data", "mode": "rw"}})
    out = client.containers.run(BUSYBOX, ["cat", "/data/file"], remove=True,
                                labels=MINE, volumes=["ecH-vol:/data:ro"])
    assert out == b"kept\n"
    vol.remove()
    with pytest.raises(NotFound):
        vol.reload()

    client.volumes.create("ecH-unused", labels={**MINE, "prune": "me"})
    # before API 1.42 a prune takes named volumes too, and knows no "all" filter
    old = tuple(map(int, client.api.api_version.split("."))) < (1, 42)
    named_too = {} if old else {"all": True}
    pruned = client.volumes.prune(filters={"label": ["prune=me"]}, **named_too)
    assert pruned["VolumesDeleted"] == ["ecH-unused"]
