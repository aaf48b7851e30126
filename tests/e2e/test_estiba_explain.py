"""``GET /containers/{id}/explain`` (estibad's own, behind ``estiba run --explain``):
a container run by the real docker CLI with a published port and a volume waits, while
the test compares what the journal names with what is there — the overlay upperdir it
writes to, its cgroup, its veth, the firewall's rule, its volume's bind, the namespaces
the container itself reports — then the journal of the removed (``--rm``) container
tells its teardown, and those objects are gone."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba.cli.docker.explain import report
from estiba.client.docker import APIClient, DockerError
from support.docker_cli import docker, engine_daemon, env_of

pytestmark = [pytest.mark.e2e, pytest.mark.root]

NAMESPACES = ("net", "mnt", "pid", "uts", "ipc")
CGROUP = Path("/sys/fs/cgroup")


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("ecG-")


@pytest.fixture
def client(daemon: object) -> Iterator[APIClient]:
    with APIClient(f"unix://{daemon.docker_sock}") as c:  # type: ignore[attr-defined]
        yield c


def poll(check, timeout: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s: {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def step(steps: list[dict], layer: str, action: str) -> dict:
    found = [s["details"] for s in steps if (s["layer"], s["action"]) == (layer, action)]
    assert found, f"no {layer} {action} step in {[(s['layer'], s['action']) for s in steps]}"
    return found[-1]


def cgroup_dirs(path: str) -> list[Path]:
    return [d for d in (CGROUP / path.lstrip("/"),
                        *(h / path.lstrip("/") for h in CGROUP.iterdir() if h.is_dir()))
            if d.is_dir()]


def test_the_journal_names_the_objects_the_container_had(daemon, client) -> None:
    port = free_port()
    volume = "ecGvol"
    say = "; ".join(f"readlink /proc/self/ns/{ns}" for ns in NAMESPACES)
    script = (f"{say}; echo written > /upper-marker; touch /data/ready; "
              "until [ -e /data/go ]; do sleep 0.05; done")
    run = subprocess.Popen(
        ["docker", "run", "--rm", "--name", "ecG-explained", "-p", f"{port}:80",
         "-v", f"{volume}:/data", "busybox", "sh", "-c", script],
        env=env_of(daemon), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def ready() -> str:
            found = docker(daemon, "volume", "inspect", "-f", "{{.Mountpoint}}", volume)
            data = found.stdout.strip()
            return data if found.returncode == 0 and Path(data, "ready").exists() else ""

        data = poll(ready, 30, "the container wrote /data/ready")
        steps = client.explain("ecG-explained")
        cid = steps[0]["details"]["id"]

        # the rootfs: the overlay the core mounted is the one the container writes to
        mount = step(steps, "kernel", "mount")
        assert mount["type"] == "overlay"
        assert Path(mount["upperdir"], "upper-marker").read_text() == "written\n"
        assert Path(mount["workdir"]).is_dir()
        assert mount["lowerdir"] == step(steps, "core", "snapshots.prepare")["lowerdir"]

        # its cgroup, with its init in it
        cgroup = step(steps, "kernel", "cgroup")
        assert cid in cgroup["cgroupsPath"]
        dirs = cgroup_dirs(cgroup["cgroupsPath"])
        assert dirs, cgroup
        pid = step(steps, "runtime", "create")["pid"]
        assert cgroup["cgroupsPath"] in Path(f"/proc/{pid}/cgroup").read_text()

        # its veth on the network's bridge, its address, and the port's DNAT rule
        veth = step(steps, "kernel", "veth pair")
        host_end = Path("/sys/class/net", veth["host end"])
        assert (host_end / "master").resolve().name == veth["bridge"]
        netns = step(steps, "kernel", "network namespace")
        assert os.stat(netns["path"]).st_ino == int(netns["inode"][5:-1])
        address = veth["address"].split("/")[0]
        rule = step(steps, "kernel", "nft rules")["rules"][0]
        assert rule.endswith(f"dport {port} dnat to {address}:80")
        table = step(steps, "kernel", "nft rules")["table"]
        listed = subprocess.run(["nft", "list", "table", *table.split()],
                                capture_output=True, text=True, check=True).stdout
        assert f"dport {port} dnat to {address}:80" in listed

        # the volume: made, and bound by the runtime at /data
        made = step(steps, "engine", "volume")
        assert (made["name"], made["source"], made["destination"]) == (volume, data, "/data")
        assert any(m.startswith(f"/data <- {data} (bind")
                   for m in step(steps, "runtime", "create")["mounts"])

        Path(data, "go").touch()
        out, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, err

    # the namespaces are those the container saw itself in
    seen = dict(line.split(":", 1) for line in out.split())
    spaces = step(steps, "kernel", "namespaces")
    for ns in NAMESPACES:
        assert spaces[ns] == f"{ns}:{seen[ns]}", (ns, spaces, out)
    assert spaces["net"] == netns["inode"]
    assert "net" not in spaces["shared with the daemon"]

    # removed (--rm): the journal is still there, and tells the teardown
    def removed() -> list[dict]:
        got = client.explain(cid)
        return got if got[-1]["action"] == "removed" else []

    steps = poll(removed, 10, "the journal's removed step")
    assert step(steps, "engine", "exit") == {"status": 0, "AutoRemove": True}
    assert step(steps, "runtime", "delete")["argv"][-1] == cid
    assert step(steps, "kernel", "umount")["target"] == mount["target"]
    assert step(steps, "core", "snapshots.remove")["key"] == cid
    assert step(steps, "kernel", "network namespace released")["path"] == netns["path"]
    assert not Path(mount["upperdir"]).exists()
    assert not cgroup_dirs(cgroup["cgroupsPath"])
    poll(lambda: not host_end.exists(), 10, "the veth gone with the namespace")
    assert f"dport {port} " not in subprocess.run(
        ["nft", "list", "table", *table.split()], capture_output=True, text=True).stdout

    # what ``estiba run --explain`` prints of it
    text = report(client, cid)
    assert text.startswith(f"What happened below the Docker API for container {cid[:12]} "
                           "(ecG-explained):\n")
    assert f"upperdir: {mount['upperdir'].replace(cid, '$ID')}" in text
    assert f"net: {spaces['net']}" in text
    docker(daemon, "volume", "rm", volume)


def test_stop_tells_the_signals_the_runtime_sent(daemon, client) -> None:
    # sleep as the namespace's init ignores SIGTERM: stop's SIGKILL follows
    started = docker(daemon, "run", "-d", "--name", "ecG-stopped", "busybox", "sleep", "60")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    try:
        assert docker(daemon, "stop", "-t", "1", "ecG-stopped").returncode == 0
        steps = client.explain(cid)
        assert step(steps, "engine", "stop")["signal"] == 15
        kills = [s["details"]["argv"][-2:] for s in steps
                 if (s["layer"], s["action"]) == ("runtime", "kill")]
        assert kills == [[cid, "15"], [cid, "9"]]
        assert step(steps, "shim", "exit")["status"] == 137
        # -d: no attach; the task is made by the start
        actions = [s["action"] for s in steps if s["layer"] == "engine"]
        assert "attach" not in actions and actions.index("start") < actions.index("stop")
    finally:
        docker(daemon, "rm", "-f", "ecG-stopped")


def test_an_unknown_container_has_no_journal(daemon, client) -> None:
    with pytest.raises(DockerError) as caught:
        client.explain("ecG-no-such-container")
    assert caught.value.status == 404
    assert "no journal of container ecG-no-such-container" in caught.value.message
