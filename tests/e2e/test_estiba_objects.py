"""``estiba network``, ``volume`` and ``system`` commands (and ``info``, ``events``)
beside the real docker CLI: the same arguments against the same estibad, the same
stdout, stderr and exit status. Commands that change the daemon run against the same
starting state for each CLI. Networks here use private subnets 10.213.x.0/24 and are
removed by the tests that make them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from support.docker_cli import DURATIONS, SRC, docker, engine_daemon, env_of, estiba

pytestmark = [pytest.mark.e2e, pytest.mark.root]



@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("ecE-")


@pytest.fixture(scope="module")
def scene(daemon: object) -> Iterator[object]:
    """Two networks (one internal), two volumes (one labelled), a running container on
    both networks using a volume, an exited one."""
    for argv in (("network", "create", "--subnet", "10.213.1.0/24", "--label", "tier=front",
                  "ecE-front"),
                 ("network", "create", "--subnet", "10.213.2.0/24", "--internal", "ecE-back"),
                 ("volume", "create", "--label", "keep=1", "ecE-data"),
                 ("volume", "create", "ecE-spare"),
                 ("run", "-d", "--name", "ecE-app", "--network", "ecE-front", "-v",
                  "ecE-data:/data", "busybox", "sleep", "600"),
                 ("network", "connect", "--alias", "api", "ecE-back", "ecE-app"),
                 ("run", "--name", "ecE-done", "busybox", "true")):
        result = docker(daemon, *argv)
        assert result.returncode == 0, (argv, result.stderr)
    yield daemon
    docker(daemon, "rm", "-f", "ecE-app", "ecE-done")
    docker(daemon, "network", "rm", "ecE-front", "ecE-back")
    docker(daemon, "volume", "rm", "ecE-data", "ecE-spare")


def normalised(text: str) -> str:
    """Durations replaced and the columns' padding squeezed: "5 seconds ago" may tick
    between the two runs."""
    return "\n".join(re.sub(r" {2,}", "  ", DURATIONS.sub("N", line)).rstrip()
                     for line in text.splitlines())


def outcome(result: subprocess.CompletedProcess) -> tuple[int, str, str]:
    return result.returncode, result.stdout, result.stderr.replace("estiba", "docker")


def same(d: object, *args: str, input: str | None = None, setup: Callable[[], None] | None
         = None) -> subprocess.CompletedProcess:
    """Run both (``setup`` before each); assert they agree; the docker CLI's result."""
    if setup:
        setup()
    ours = estiba(d, *args, input=input)
    if setup:
        setup()
    theirs = docker(d, *args, input=input or "")
    if outcome(ours) != outcome(theirs):
        assert (ours.returncode, normalised(ours.stdout), ours.stderr) \
            == (theirs.returncode, normalised(theirs.stdout), theirs.stderr), args
    return theirs


def until_now(args: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(int(time.time())) if a == "NOW" else a for a in args)


# --- listings ------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("network", "ls"), ("network", "ls", "-q"), ("network", "ls", "--no-trunc"),
    ("network", "ls", "--format", "json"), ("network", "list", "-f", "label=tier=front"),
    ("network", "ls", "--format", '{{.Name}} {{.Internal}} {{.Label "tier"}} {{.CreatedAt}}'),
    ("network", "ls", "--format", "table {{.Name}}\\t{{.Labels}}"),
    ("network", "inspect", "ecE-front", "ecE-back"),
    ("network", "inspect", "--format", "json", "ecE-back"),
    ("network", "inspect", "-f",
     "{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{len .Containers}}",
     "ecE-front", "ecE-back"),
    ("volume", "ls"), ("volume", "ls", "-q"), ("volume", "ls", "-f", "label=keep"),
    ("volume", "ls", "-f", "dangling=true", "--format", "json"),
    ("volume", "list", "--format", "{{.Name}}: {{.Mountpoint}}"),
    ("volume", "inspect", "ecE-data", "ecE-spare"),
    ("volume", "inspect", "-f", "{{.Name}} {{.Labels}}", "ecE-data"),
    ("system", "df"), ("system", "df", "--format", "json"),
    ("system", "df", "--format", "{{.Type}}: {{.TotalCount}} {{.Active}}"),
    ("system", "df", "-v"), ("system", "df", "-v", "--format", "{{len .Volumes}}"),
    ("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.Name}} {{.OSType}}"),
    ("system", "info", "-f", "{{json .Plugins}}"),
    ("events", "--since", "0", "--until", "NOW"),
    ("system", "events", "--since", "0", "--until", "NOW", "--format", "json"),
    ("events", "--since", "0", "--until", "NOW", "-f", "type=network", "-f", "event=connect"),
    ("events", "--since", "1h", "--until", "NOW", "--format",
     "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Status}}"),
])
def test_listings_as_docker(scene: object, args: tuple[str, ...]) -> None:
    out = same(scene, *until_now(args)).stdout
    assert out.strip()


def test_listings_show_the_scene(scene: object) -> None:
    assert "ecE-front   bridge    local" in same(scene, "network", "ls").stdout
    assert "local     ecE-data\n" in same(scene, "volume", "ls").stdout
    inspected = json.loads(estiba(scene, "network", "inspect", "ecE-back").stdout)
    assert [c["Name"] for c in inspected[0]["Containers"].values()] == ["ecE-app"]
    # docker's json.Indent: four spaces
    assert estiba(scene, "volume", "inspect", "ecE-data").stdout.startswith(
        '[\n    {\n        "CreatedAt": ')
    lines = same(scene, "events", "--since", "0", "--until", until_now(("NOW",))[0],
                 "-f", "container=ecE-app").stdout.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container create [0-9a-f]{64}"
                        r" \(image=busybox, name=ecE-app\)", lines[0]), lines


def test_info_as_docker(scene: object) -> None:
    ours, theirs = estiba(scene, "info"), docker(scene, "info")
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) == (0, "")
    client, _, server = ours.stdout.partition("\nServer:\n")
    assert client.splitlines()[2:] == [" Context:    default", " Debug Mode: false"]
    # the daemon's state between the two calls: only its clock may move
    volatile = re.compile(r" *(System Time|File Descriptors|Goroutines):")

    def stable(text: str) -> list[str]:
        # docker lists the runtimes in a Go map's order: any order
        return [" Runtimes: " + " ".join(sorted(line.split()[1:]))
                if line.startswith(" Runtimes:") else line
                for line in text.splitlines() if not volatile.match(line)]

    assert stable(server) == stable(theirs.stdout.partition("\nServer:\n")[2])
    assert " Swarm: inactive" in server and server.endswith("\n\n")


def test_info_json_as_docker(scene: object) -> None:
    volatile = ("SystemTime", "NFd", "NGoroutines", "NEventsListener", "ClientInfo")
    ours, theirs = (json.loads(run(scene, "info", "--format", "json").stdout)
                    for run in (estiba, docker))
    # system.Info as docker encodes it: its fields, in its order
    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k not in volatile} \
        == {k: v for k, v in theirs.items() if k not in volatile}
    assert ours["ClientInfo"]["Context"] == "default"


# --- errors --------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("network", "inspect", "nosuch"),
    ("network", "inspect", "-f", "{{.Name}}", "nosuch", "ecE-front"),
    ("network", "inspect", "-f", "{{.Name", "ecE-front"),
    ("network", "rm", "nosuch", "other"), ("network", "rm", "ecE-front"),
    ("network", "rm", "bridge"), ("network", "rm", "-f", "nosuch"),
    ("network", "create", "ecE-front"), ("network", "create", "--ipv6", "ecE-six"),
    ("network", "create", "-d", "overlay", "ecE-ov"),
    ("network", "create", "--gateway", "10.213.9.1", "ecE-x"),
    ("network", "create", "--subnet", "10.213.9.0/24", "--subnet", "10.213.9.0/25", "ecE-x"),
    ("network", "create", "--subnet", "10.213.9.0/24", "--gateway", "10.213.8.1", "ecE-x"),
    ("network", "create", "--subnet", "10.213.9.0/24", "--aux-address", "a=10.9.9.9",
     "ecE-x"),
    ("network", "create", "--subnet", "bad", "ecE-x"),
    ("network", "create", "--subnet", "10.213.5.0/24,10.213.15.0/24", "ecE-x"),
    ("network", "connect", "nosuch", "ecE-app"), ("network", "connect", "ecE-front", "nosuch"),
    ("network", "connect", "ecE-back", "ecE-app"),
    ("network", "connect", "--driver-opt", "novalue", "ecE-back", "ecE-app"),
    ("network", "disconnect", "ecE-front", "nosuch"),
    ("volume", "inspect", "nosuch", "ecE-data"), ("volume", "rm", "nosuch", "other"),
    ("volume", "rm", "ecE-data"), ("volume", "rm", "-f", "ecE-data"),
    ("volume", "create", "--name", "a", "b"), ("volume", "create", "-d", "nosuch", "ecE-v"),
    ("volume", "prune", "-a", "--filter", "all=1"),
    ("volume", "inspect", "-f", "{{.Bad", "ecE-data"),
    ("events", "--since", "xyz", "--until", "1"), ("events", "--since", "5", "--until", "1"),
    ("events", "--format", "{{.Nope}}"), ("events", "--format", "{{.Type"),
    ("system", "prune", "--volumes", "--filter", "until=1h"),
])
def test_errors_as_docker(scene: object, args: tuple[str, ...]) -> None:
    ours, theirs = estiba(scene, *args), docker(scene, *args)
    assert outcome(ours) == outcome(theirs)
    # docker's rm -f says nothing of a network that does not exist
    assert theirs.returncode != 0 or args[:3] == ("network", "rm", "-f")


@pytest.mark.parametrize("args", [
    ("network", "create"), ("network", "create", "a", "b"), ("network", "connect", "a"),
    ("network", "disconnect", "a", "b", "c"), ("network", "rm"), ("network", "ls", "x"),
    ("network", "ls", "--bogus"), ("network", "inspect"), ("network", "prune", "x"),
    ("volume", "ls", "x"), ("volume", "rm"), ("volume", "inspect"), ("volume", "prune", "x"),
    ("volume", "create", "-l", "a=b"), ("info", "x"), ("system", "df", "x"),
    ("system", "prune", "x"), ("events", "x"), ("events", "-f", "bad"),
    ("network", "prune", "--filter", "nokey"),
])
def test_usage_errors_as_docker(scene: object, args: tuple[str, ...]) -> None:
    ours, theirs = estiba(scene, *args), docker(scene, *args)
    assert outcome(ours) == outcome(theirs)
    assert theirs.returncode in (1, 125)


# --- what changes the daemon ----------------------------------------------------------

def without_identity(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("Id", "Created", "CreatedAt")}


FULL = ("--internal", "--attachable", "--label", "a=b", "-o",
        "com.docker.network.bridge.enable_icc=true", "--subnet", "10.213.5.0/24",
        "--gateway", "10.213.5.1", "--ip-range", "10.213.5.128/25", "--aux-address",
        "spare=10.213.5.5")


@pytest.mark.parametrize("flags", [
    FULL, ("--config-only", "--subnet", "10.213.5.0/24"),
    ("--config-from", "ecE-front", "--scope", "local", "--ipam-opt", "k=v", "--subnet",
     "10.213.5.0/24"),
    ("--ipv4=true", "--ipam-driver", "default", "--subnet", "10.213.5.0/24"),
])
def test_network_create_and_rm_as_docker(scene: object, flags: tuple[str, ...]) -> None:
    argv = ("network", "create", *flags, "ecE-made")
    inspected = []
    for run in (estiba, docker):
        made = run(scene, *argv)
        assert made.returncode == 0, made.stderr
        assert re.fullmatch(r"[0-9a-f]{64}\n", made.stdout)
        inspected.append(without_identity(
            json.loads(docker(scene, "network", "inspect", "ecE-made").stdout)[0]))
        removed = run(scene, "network", "rm", "ecE-made")
        assert (removed.returncode, removed.stdout) == (0, "ecE-made\n")
    assert inspected[0] == inspected[1]
    if flags == FULL:
        config = inspected[0]["IPAM"]["Config"][0]
        assert (config["Subnet"], config["IPRange"]) == ("10.213.5.0/24", "10.213.5.128/25")
        assert (inspected[0]["Internal"], inspected[0]["Labels"]) == (True, {"a": "b"})


def test_connect_and_disconnect_as_docker(scene: object) -> None:
    assert docker(scene, "network", "create", "--subnet", "10.213.3.0/24",
                  "ecE-side").returncode == 0
    try:
        endpoints = []
        for run in (estiba, docker):
            connected = run(scene, "network", "connect", "--alias", "a1", "--alias", "a2",
                            "--ip", "10.213.3.40", "--link-local-ip", "169.254.7.7",
                            "ecE-side", "ecE-app")
            assert (connected.returncode, connected.stdout, connected.stderr) == (0, "", "")
            shown = docker(scene, "inspect", "-f", "{{json .NetworkSettings.Networks}}",
                           "ecE-app")
            ep = json.loads(shown.stdout)["ecE-side"]
            endpoints.append({k: ep[k] for k in ("IPAMConfig", "Aliases", "IPAddress")})
            gone = run(scene, "network", "disconnect", "ecE-side", "ecE-app")
            assert (gone.returncode, gone.stdout, gone.stderr) == (0, "", "")
        assert endpoints[0] == endpoints[1]
        assert endpoints[0]["IPAddress"] == "10.213.3.40"
        again = same(scene, "network", "disconnect", "-f", "ecE-side", "ecE-app")
        assert again.returncode == 1
    finally:
        docker(scene, "network", "rm", "ecE-side")


def test_volume_create_and_rm_as_docker(scene: object) -> None:
    inspected = []
    for run in (estiba, docker):
        made = run(scene, "volume", "create", "--label", "a=b", "-o", "type=tmpfs",
                   "-o", "device=tmpfs", "--name", "ecE-made")
        assert (made.returncode, made.stdout) == (0, "ecE-made\n"), made.stderr
        inspected.append(without_identity(
            json.loads(docker(scene, "volume", "inspect", "ecE-made").stdout)[0]))
        docker(scene, "volume", "rm", "ecE-made")
    assert inspected[0] == inspected[1]
    assert inspected[0]["Options"] == {"device": "tmpfs", "type": "tmpfs"}
    removed = same(scene, "volume", "rm", "ecE-made", "ecE-made",
                   setup=lambda: docker(scene, "volume", "create", "ecE-made") and None)
    assert (removed.returncode, removed.stdout) == (1, "ecE-made\n")
    anonymous = estiba(scene, "volume", "create")
    assert re.fullmatch(r"[0-9a-f]{64}\n", anonymous.stdout)
    assert estiba(scene, "volume", "rm", anonymous.stdout.strip()).stdout == anonymous.stdout


@pytest.mark.parametrize("answer", ["n\n", "y\n", "", "yes\n"])
def test_network_prune_asks_as_docker(scene: object, answer: str) -> None:
    def setup() -> None:
        docker(scene, "network", "create", "--subnet", "10.213.6.0/24", "ecE-unused")

    result = same(scene, "network", "prune", input=answer, setup=setup)
    assert result.stdout.startswith("WARNING! This will remove all custom networks not used "
                                    "by at least one container.\nAre you sure you want to "
                                    "continue? [y/N] ")
    if answer == "y\n":
        assert result.stdout.endswith("[y/N] Deleted Networks:\necE-unused\n\n")
    docker(scene, "network", "rm", "ecE-unused")
    assert "ecE-front" in docker(scene, "network", "ls").stdout


@pytest.mark.parametrize(("args", "deleted"), [
    (("volume", "prune", "-a"), ["ecE-spare", "ecE-unused"]),
    (("volume", "prune", "-af"), ["ecE-spare", "ecE-unused"]),
    (("volume", "prune", "-f", "-a", "--filter", "label=gone"), ["ecE-unused"]),
    (("volume", "prune"), []),
])
def test_volume_prune_as_docker(scene: object, args: tuple[str, ...],
                                deleted: list[str]) -> None:
    def setup() -> None:
        docker(scene, "volume", "create", "--label", "gone=1", "ecE-unused")
        docker(scene, "volume", "create", "ecE-spare")

    result = same(scene, *args, input="y\n", setup=setup)
    if deleted:
        shown = result.stdout.partition("Deleted Volumes:\n")[2].partition("\n\n")[0]
        assert sorted(shown.split()) == deleted
    else:
        assert "Deleted Volumes" not in result.stdout
    assert result.stdout.endswith("Total reclaimed space: 0B\n")
    assert "ecE-data" in docker(scene, "volume", "ls", "-q").stdout.split()
    docker(scene, "volume", "rm", "ecE-unused")
    setup()
    docker(scene, "volume", "rm", "ecE-unused")


@pytest.mark.parametrize("args", [
    ("system", "prune"), ("system", "prune", "-a", "--volumes"),
    ("system", "prune", "--filter", "until=1h", "--filter", "label=b", "--filter", "label=a"),
])
def test_system_prune_asks_as_docker(scene: object, args: tuple[str, ...]) -> None:
    result = same(scene, *args, input="n\n")
    assert result.stdout.startswith("WARNING! This will remove:\n  - all stopped containers\n")
    assert "ecE-done" in docker(scene, "ps", "-a", "--format", "{{.Names}}").stdout


def test_system_prune_removes_as_docker(scene: object) -> None:
    outputs = []
    for run in (estiba, docker):
        made = docker(scene, "create", "--label", "ecE-prune", "--name", "ecE-stopped",
                      "busybox", "true")
        docker(scene, "network", "create", "--label", "ecE-prune", "--subnet",
               "10.213.7.0/24", "ecE-idle")
        result = run(scene, "system", "prune", "-f", "--filter", "label=ecE-prune")
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout.replace(made.stdout.strip(), "ID"))
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("Deleted Containers:\n")
    assert "\nID\n" in outputs[0] and "Deleted Networks:\necE-idle\n\n" in outputs[0]
    assert outputs[0].splitlines()[-1].startswith("Total reclaimed space: ")
    assert "ecE-done" in docker(scene, "ps", "-a", "--format", "{{.Names}}").stdout


def test_events_stream_until_interrupted(scene: object) -> None:
    import queue
    import threading

    env = {**env_of(scene), "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-m", "estiba.cli", "events",
                             "-f", "type=network", "--format",
                             "{{.Action}} {{.Actor.Attributes.name}}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],  # type: ignore[union-attr]
                     daemon=True).start()
    try:
        seen: list[str] = []

        def both() -> bool:
            live = [line for line in seen if "ecE-live" in line]
            return live[-2:] == ["create ecE-live\n", "destroy ecE-live\n"]

        deadline = time.monotonic() + 30
        # until the subscription is live, a round of events may come too early: another
        # round then; each event is written as it comes, while the stream lasts
        while not both():
            docker(scene, "network", "create", "--subnet", "10.213.4.0/24", "ecE-live")
            docker(scene, "network", "rm", "ecE-live")
            round_end = time.monotonic() + 2
            while not both() and time.monotonic() < round_end:
                assert time.monotonic() < deadline, seen
                try:
                    seen.append(lines.get(timeout=0.2))
                except queue.Empty:
                    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 130
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
