"""The real docker CLI on volumes, as Docker behaves: create, ls (with its filters),
inspect, rm and prune; named, anonymous and bind mounts given by -v and --mount (read
only too, volume-nocopy); the copy-up of an image's content into an empty volume; the
writable layer lost on rm while a volume keeps its data; --volumes-from; the Mounts of
docker inspect; the local driver's options (a tmpfs, a bind of a host directory); what
a restart of the daemon keeps; docker system df -v and the volume events. Host paths
the tests bind live under pytest's tmp_path."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from harness import poll

from support.docker_cli import docker, engine_daemon

pytestmark = [pytest.mark.e2e, pytest.mark.root]

HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("edv-")


def running(d: object) -> bool:
    proc = d.proc  # type: ignore[attr-defined]
    return proc is not None and proc.poll() is None


@pytest.fixture(autouse=True)
def clean(daemon: object) -> Iterator[None]:
    """After each test, even a failed one: its containers (with their anonymous
    volumes) and its volumes are removed; a daemon a test left stopped starts again."""
    yield
    if not running(daemon):
        daemon.start()  # type: ignore[attr-defined]
    left = docker(daemon, "ps", "-aq").stdout.split()
    if left:
        docker(daemon, "rm", "-f", "-v", *left)
    volumes = docker(daemon, "volume", "ls", "-q").stdout.split()
    if volumes:
        docker(daemon, "volume", "rm", "-f", *volumes)


def ok(d: object, *args: str) -> str:
    done = docker(d, *args)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout.strip()


def sh(d: object, *options: str, script: str) -> str:
    """What ``script`` prints in a new busybox container (removed after) run with
    ``options``."""
    return ok(d, "run", "--rm", *options, "busybox", "sh", "-c", script)


def volumes(d: object, *filters: str) -> set[str]:
    args = [a for f in filters for a in ("--filter", f)]
    return set(ok(d, "volume", "ls", "-q", *args).split())


def volume_json(d: object, name: str) -> dict:
    return json.loads(ok(d, "volume", "inspect", name))[0]


def mountpoint(d: object, name: str) -> str:
    return ok(d, "volume", "inspect", "-f", "{{.Mountpoint}}", name)


def mounts(d: object, container: str) -> list[dict]:
    return json.loads(ok(d, "inspect", "-f", "{{json .Mounts}}", container))


def read_only_refused(done: object) -> bool:
    return (done.returncode != 0  # type: ignore[attr-defined]
            and "Read-only file system" in done.stderr)  # type: ignore[attr-defined]


# --- create, ls, inspect ---------------------------------------------------------


def test_create_list_and_inspect(daemon: object) -> None:
    assert ok(daemon, "volume", "create", "data1") == "data1"
    assert ok(daemon, "volume", "create", "data1") == "data1"  # again: the same volume
    assert ok(daemon, "volume", "create", "--label", "k=v", "--label", "course=vol",
              "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m",
              "labelled") == "labelled"

    table = ok(daemon, "volume", "ls").splitlines()
    assert table[0].split() == ["DRIVER", "VOLUME", "NAME"]
    rows = {tuple(line.split()) for line in table[1:]}
    assert {("local", "data1"), ("local", "labelled")} <= rows
    assert volumes(daemon) == {"data1", "labelled"}
    assert volumes(daemon, "name=data") == {"data1"}
    assert volumes(daemon, "name=abel") == {"labelled"}  # a part of the name matches
    assert volumes(daemon, "label=k=v") == {"labelled"}
    assert volumes(daemon, "label=k") == {"labelled"}
    assert volumes(daemon, "label=k=w") == set()
    assert volumes(daemon, "driver=local") == {"data1", "labelled"}
    assert volumes(daemon, "dangling=true") == {"data1", "labelled"}
    # a created (never started) container uses the volume it names: not dangling
    ok(daemon, "create", "--name", "holder", "-v", "used1:/d", "busybox", "true")
    assert volumes(daemon, "dangling=true") == {"data1", "labelled"}
    assert volumes(daemon, "dangling=false") == {"used1"}

    info = volume_json(daemon, "data1")
    assert info["Name"] == "data1" and info["Driver"] == "local"
    assert info["Scope"] == "local"
    assert not info["Labels"] and not info["Options"]  # null, as Docker shows them
    path = info["Mountpoint"]
    assert os.path.isabs(path) and path.endswith("/data1/_data"), path
    assert path.startswith(daemon.root + "/")  # type: ignore[attr-defined]
    assert os.path.isdir(path)
    created = datetime.fromisoformat(info["CreatedAt"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - created).total_seconds()) < 600, created

    labelled = volume_json(daemon, "labelled")
    assert labelled["Labels"] == {"k": "v", "course": "vol"}
    assert labelled["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    assert ok(daemon, "volume", "inspect", "-f", "{{.Driver}} {{.Scope}}",
              "labelled") == "local local"

    anonymous = ok(daemon, "volume", "create")
    assert HEX64.fullmatch(anonymous), anonymous
    assert anonymous in volumes(daemon)
    assert volume_json(daemon, anonymous)["Mountpoint"].endswith(f"/{anonymous}/_data")

    missing = docker(daemon, "volume", "inspect", "nosuch")
    assert missing.returncode == 1 and "no such volume" in missing.stderr
    bad_option = docker(daemon, "volume", "create", "-o", "foo=bar", "x1")
    assert bad_option.returncode == 1 and "invalid option" in bad_option.stderr
    assert "foo" in bad_option.stderr
    assert "x1" not in volumes(daemon)


# --- data that outlives its container -------------------------------------------


def test_a_volume_keeps_data_for_the_next_container(daemon: object) -> None:
    assert "data2" not in volumes(daemon)
    sh(daemon, "-v", "data2:/data", script="echo kept > /data/f")
    assert "data2" in volumes(daemon)  # run -v made the volume it named
    assert sh(daemon, "-v", "data2:/data", script="cat /data/f") == "kept"
    assert (Path(mountpoint(daemon, "data2")) / "f").read_text() == "kept\n"


def test_the_writable_layer_goes_with_the_container_the_volume_stays(
        daemon: object) -> None:
    ok(daemon, "run", "--name", "writer", "-v", "layered:/data", "busybox", "sh", "-c",
       "echo in-volume > /data/f && echo in-layer > /other")
    ok(daemon, "rm", "writer")
    seen = sh(daemon, "-v", "layered:/data",
              script="cat /data/f; test -e /other && echo other-kept || echo other-gone")
    assert seen.splitlines() == ["in-volume", "other-gone"]


def test_read_only_mounts(daemon: object) -> None:
    sh(daemon, "--mount", "type=volume,source=data3,target=/data",
       script="echo rw > /data/f")
    assert "data3" in volumes(daemon)
    for options in (("--mount", "type=volume,source=data3,target=/data,readonly"),
                    ("--mount", "type=volume,source=data3,target=/data,ro"),
                    ("-v", "data3:/data:ro")):
        touched = docker(daemon, "run", "--rm", *options, "busybox", "touch", "/data/new")
        assert read_only_refused(touched), (options, touched.returncode, touched.stderr)
        # reading still works
        assert ok(daemon, "run", "--rm", *options, "busybox", "cat", "/data/f") == "rw"
    assert sorted(os.listdir(mountpoint(daemon, "data3"))) == ["f"]
    # read only in this container only: another one writes
    sh(daemon, "-v", "data3:/data:rw", script="touch /data/new")
    assert sorted(os.listdir(mountpoint(daemon, "data3"))) == ["f", "new"]


# --- what the image puts in a volume ----------------------------------------------


def test_an_empty_volume_is_filled_with_the_image_content(daemon: object,
                                                          tmp_path: Path) -> None:
    sh(daemon, "-v", "fresh:/etc", script="true")
    listed = sh(daemon, "-v", "fresh:/x", script="ls /x").split()
    assert "passwd" in listed and "group" in listed, listed
    assert sh(daemon, "-v", "fresh:/x", script="head -1 /x/passwd").startswith("root:")

    # volume-nocopy: the image's files are not copied
    sh(daemon, "--mount", "type=volume,source=nocp,target=/etc,volume-nocopy",
       script="true")
    bare = sh(daemon, "-v", "nocp:/x", script="ls -A /x").split()
    assert "passwd" not in bare and "group" not in bare, bare

    # a volume with content of its own is not filled
    sh(daemon, "-v", "prefilled:/data", script="touch /data/mine")
    sh(daemon, "-v", "prefilled:/etc", script="true")
    own = sh(daemon, "-v", "prefilled:/x", script="ls -A /x").split()
    assert "mine" in own and "passwd" not in own, own

    # a bind mount hides what the image has at its target
    empty = tmp_path / "empty"
    empty.mkdir()
    hidden = sh(daemon, "-v", f"{empty}:/etc", script="ls -A /etc").split()
    assert "passwd" not in hidden and "group" not in hidden, hidden
    assert not (empty / "passwd").exists()


# --- anonymous volumes -------------------------------------------------------------


def test_anonymous_volumes_and_rm_v(daemon: object) -> None:
    ok(daemon, "run", "--name", "anon1", "-v", "/data", "busybox", "sh", "-c",
       "echo a > /data/a")
    [mount] = mounts(daemon, "anon1")
    name = mount["Name"]
    assert HEX64.fullmatch(name), mount
    assert (mount["Type"], mount["Destination"], mount["Driver"], mount["RW"]) == (
        "volume", "/data", "local", True)
    assert mount["Source"] == mountpoint(daemon, name)
    assert (Path(mount["Source"]) / "a").read_text() == "a\n"
    assert name in volumes(daemon)
    ok(daemon, "rm", "-v", "anon1")
    assert name not in volumes(daemon)

    ok(daemon, "run", "--name", "anon2", "--mount", "type=volume,target=/data", "busybox",
       "true")
    [mount] = mounts(daemon, "anon2")
    kept = mount["Name"]
    assert HEX64.fullmatch(kept) and mount["Type"] == "volume"
    ok(daemon, "rm", "anon2")
    assert kept in volumes(daemon)  # plain rm keeps it
    assert kept in volumes(daemon, "dangling=true")
    assert ok(daemon, "volume", "rm", kept) == kept
    assert kept not in volumes(daemon)

    # run --rm removes the anonymous volumes of its container
    before = volumes(daemon)
    sh(daemon, "-v", "/data", script="echo gone > /data/f")
    assert volumes(daemon) == before


def test_prune_removes_unused_anonymous_volumes_and_with_all_named_ones(
        daemon: object) -> None:
    ok(daemon, "run", "--name", "p1", "-v", "/data", "busybox", "true")
    unused = mounts(daemon, "p1")[0]["Name"]
    ok(daemon, "rm", "p1")
    ok(daemon, "volume", "create", "keepme")
    ok(daemon, "create", "--name", "holder", "-v", "/inuse", "-v", "held:/held", "busybox",
       "true")
    in_use = next(m["Name"] for m in mounts(daemon, "holder") if m["Destination"] == "/inuse")

    pruned = ok(daemon, "volume", "prune", "-f")
    assert "Deleted Volumes:" in pruned and unused in pruned.split()
    assert "Total reclaimed space" in pruned
    assert "keepme" not in pruned and in_use not in pruned and "held" not in pruned.split()
    assert volumes(daemon) == {"keepme", in_use, "held"}

    all_pruned = ok(daemon, "volume", "prune", "-af")
    assert "keepme" in all_pruned.split()
    assert volumes(daemon) == {in_use, "held"}  # a container still uses these


# --- rm of a volume in use, names ---------------------------------------------------


def test_a_volume_in_use_is_not_removed(daemon: object) -> None:
    ok(daemon, "run", "--name", "user1", "-v", "busy:/data", "busybox", "sh", "-c",
       "echo still > /data/f")  # a stopped container uses it as well
    refused = docker(daemon, "volume", "rm", "busy")
    assert refused.returncode == 1 and "volume is in use" in refused.stderr, refused.stderr
    forced = docker(daemon, "volume", "rm", "-f", "busy")
    assert forced.returncode == 1 and "volume is in use" in forced.stderr, forced.stderr
    cid = ok(daemon, "inspect", "-f", "{{.Id}}", "user1")
    assert cid in refused.stderr  # Docker names the containers using it
    assert "busy" in volumes(daemon)

    # removing a container, even with -v, never removes a named volume
    ok(daemon, "rm", "-v", "user1")
    sh(daemon, "-v", "busy:/data", script="true")
    assert "busy" in volumes(daemon)
    assert sh(daemon, "-v", "busy:/data", script="cat /data/f") == "still"
    assert ok(daemon, "volume", "rm", "busy") == "busy"
    assert "busy" not in volumes(daemon)

    missing = docker(daemon, "volume", "rm", "nosuch")
    assert missing.returncode == 1 and "no such volume" in missing.stderr


def test_volume_names_are_validated(daemon: object) -> None:
    bad = docker(daemon, "volume", "create", "bad/name")
    assert bad.returncode == 1
    assert "includes invalid characters" in bad.stderr, bad.stderr
    assert "[a-zA-Z0-9][a-zA-Z0-9_.-]" in bad.stderr
    for name in ("_under", ".dot", "sp ace", "a"):
        refused = docker(daemon, "volume", "create", name)
        assert refused.returncode == 1, (name, refused.stdout)
    short = docker(daemon, "volume", "create", "a")
    assert "volume name is too short" in short.stderr, short.stderr
    assert volumes(daemon) == set()
    assert ok(daemon, "volume", "create", "Ok_name-1.x") == "Ok_name-1.x"


# --- --volumes-from -------------------------------------------------------------------


def test_volumes_from(daemon: object) -> None:
    ok(daemon, "run", "--name", "va", "-v", "shared:/data", "-v", "/anon", "busybox",
       "sh", "-c", "echo from-a > /data/f && echo anon-a > /anon/g")
    assert sh(daemon, "--volumes-from", "va", script="cat /data/f /anon/g").splitlines() \
        == ["from-a", "anon-a"]
    sh(daemon, "--volumes-from", "va", script="echo from-b >> /data/f")
    assert sh(daemon, "-v", "shared:/x", script="cat /x/f").splitlines() == [
        "from-a", "from-b"]

    ok(daemon, "create", "--name", "vb", "--volumes-from", "va", "busybox", "true")
    names = {m["Destination"]: m["Name"] for m in mounts(daemon, "vb")}
    assert names["/data"] == "shared"
    assert names["/anon"] == next(m["Name"] for m in mounts(daemon, "va")
                                  if m["Destination"] == "/anon")

    touched = docker(daemon, "run", "--rm", "--volumes-from", "va:ro", "busybox", "touch",
                     "/data/new")
    assert read_only_refused(touched), (touched.returncode, touched.stderr)
    assert ok(daemon, "run", "--rm", "--volumes-from", "va:ro", "busybox", "cat",
              "/data/f").splitlines() == ["from-a", "from-b"]
    ok(daemon, "create", "--name", "vc", "--volumes-from", "va:ro", "busybox", "true")
    assert {m["Destination"]: m["RW"] for m in mounts(daemon, "vc")} == {
        "/data": False, "/anon": False}


# --- inspect's Mounts ------------------------------------------------------------


def test_mounts_in_inspect(daemon: object, tmp_path: Path) -> None:
    host = tmp_path / "bound"
    host.mkdir()
    ok(daemon, "run", "--name", "insp", "-v", "named:/data:ro", "-v", f"{host}:/b",
       "busybox", "true")
    by_target = {m["Destination"]: m for m in mounts(daemon, "insp")}
    assert set(by_target) == {"/data", "/b"}
    named = by_target["/data"]
    wanted = {"Type": "volume", "Name": "named", "Source": mountpoint(daemon, "named"),
              "Destination": "/data", "Driver": "local", "Mode": "ro", "RW": False,
              "Propagation": ""}
    for field, value in wanted.items():
        assert named.get(field) == value, (field, named)
    bind = by_target["/b"]
    assert (bind["Type"], bind["Source"], bind["Destination"], bind["RW"]) == (
        "bind", str(host), "/b", True), bind
    assert bind["Propagation"] == "rprivate" and "Name" not in bind, bind
    # a running container shows the same
    ok(daemon, "run", "-d", "--name", "insp-up", "-v", "named:/data:ro", "busybox",
       "sleep", "1000")
    assert mounts(daemon, "insp-up") == [named]


# --- the local driver's options -------------------------------------------------------


def test_a_tmpfs_volume(daemon: object) -> None:
    ok(daemon, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o",
       "o=size=1m", "tmpvol")
    ok(daemon, "run", "-d", "--name", "t1", "-v", "tmpvol:/data", "busybox", "sleep",
       "1000")
    line = ok(daemon, "exec", "t1", "grep", " /data ", "/proc/mounts")
    fields = line.split()
    assert fields[:3] == ["tmpfs", "/data", "tmpfs"], line
    assert "size=1024k" in fields[3], line
    ok(daemon, "exec", "t1", "sh", "-c", "echo in-ram > /data/f")
    # another container, while the volume is mounted, sees the same tmpfs
    assert sh(daemon, "-v", "tmpvol:/data", script="cat /data/f") == "in-ram"
    ok(daemon, "rm", "-f", "t1")
    # unmounted with its last user: its content goes with it, the volume stays
    assert "tmpvol" in volumes(daemon)
    assert sh(daemon, "-v", "tmpvol:/data",
              script="test -e /data/f && echo there || echo gone") == "gone"


def test_a_volume_binding_a_host_directory(daemon: object, tmp_path: Path) -> None:
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "h").write_text("hostfile\n")
    ok(daemon, "volume", "create", "-o", "type=none", "-o", "o=bind", "-o",
       f"device={host}", "bindvol")
    assert volume_json(daemon, "bindvol")["Options"] == {
        "type": "none", "o": "bind", "device": str(host)}
    assert sh(daemon, "-v", "bindvol:/data", script="cat /data/h") == "hostfile"
    sh(daemon, "-v", "bindvol:/data", script="echo back > /data/back")
    assert (host / "back").read_text() == "back\n"
    ok(daemon, "volume", "rm", "bindvol")
    assert (host / "h").read_text() == "hostfile\n"  # removing the volume keeps them


# --- a restart of the daemon ---------------------------------------------------------


def test_a_restart_keeps_volumes_and_their_data(daemon: object) -> None:
    ok(daemon, "volume", "create", "--label", "keep=yes", "kept1")
    sh(daemon, "-v", "kept1:/data", script="echo survived > /data/f")
    ok(daemon, "create", "--name", "keeper", "-v", "kept2:/d", "busybox", "true")
    path = mountpoint(daemon, "kept1")
    created = volume_json(daemon, "kept1")["CreatedAt"]
    try:
        daemon.stop()  # type: ignore[attr-defined]
    finally:
        daemon.start()  # type: ignore[attr-defined]
    assert volumes(daemon) == {"kept1", "kept2"}
    info = volume_json(daemon, "kept1")
    assert (info["Labels"], info["Mountpoint"], info["CreatedAt"]) == (
        {"keep": "yes"}, path, created)
    assert sh(daemon, "-v", "kept1:/data", script="cat /data/f") == "survived"
    refused = docker(daemon, "volume", "rm", "kept2")  # still in use by keeper
    assert refused.returncode == 1 and "volume is in use" in refused.stderr
    # a daemon killed (SIGKILL) with a container running on a volume keeps them too
    ok(daemon, "run", "-d", "--name", "writer", "-v", "kept1:/data", "busybox", "sh",
       "-c", "echo again > /data/g && sleep 1000")
    poll(lambda: os.path.exists(os.path.join(path, "g")), 10, "the writer's file")
    try:
        daemon.kill()  # type: ignore[attr-defined]
    finally:
        daemon.start()  # type: ignore[attr-defined]
    assert volumes(daemon) == {"kept1", "kept2"}
    assert sh(daemon, "-v", "kept1:/data", script="cat /data/f /data/g") == \
        "survived\nagain"
    assert docker(daemon, "volume", "rm", "kept1").returncode == 1  # writer runs on it


# --- docker system df -v, events ---------------------------------------------------------


_UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def _bytes(size: str) -> float:
    match = re.fullmatch(r"([\d.]+)\s*([kKMGT]?B)", size)
    assert match, size
    return float(match[1]) * _UNITS[match[2]]


def test_system_df_lists_volumes_with_their_size(daemon: object) -> None:
    ok(daemon, "run", "--name", "filler", "-v", "big:/data", "busybox", "dd",
       "if=/dev/zero", "of=/data/f", "bs=1024", "count=1024")
    ok(daemon, "volume", "create", "small")
    shown = ok(daemon, "system", "df", "-v")
    assert "Local Volumes space usage:" in shown, shown
    section = shown.split("Local Volumes space usage:", 1)[1].split("Build cache", 1)[0]
    lines = [line.split() for line in section.splitlines() if line.strip()]
    assert lines[0] == ["VOLUME", "NAME", "LINKS", "SIZE"], section
    rows = {row[0]: row for row in lines[1:]}
    assert set(rows) == {"big", "small"}, section
    assert rows["big"][1] == "1"  # filler, stopped, still links it
    assert _bytes(rows["big"][2]) >= 1_000_000, rows["big"]
    assert rows["small"][1:] == ["0", "0B"], rows["small"]
    summary = ok(daemon, "system", "df", "--format", "{{.Type}} {{.TotalCount}}")
    assert "Local Volumes 2" in summary.splitlines(), summary


def test_volume_events(daemon: object) -> None:
    since = f"{time.time():.9f}"
    ok(daemon, "volume", "create", "evvol")
    cid = ok(daemon, "run", "-d", "-v", "evvol:/data:ro", "busybox", "true")
    ok(daemon, "wait", cid)
    ok(daemon, "rm", cid)
    ok(daemon, "volume", "rm", "evvol")
    until = f"{time.time() + 0.5:.9f}"
    shown = docker(daemon, "events", "--since", since, "--until", until, "--filter",
                   "type=volume", "--format", "{{.Action}} {{.Actor.ID}}")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert all(line.split()[1:] == ["evvol"] for line in lines), lines
    wanted = ["create evvol", "mount evvol", "unmount evvol", "destroy evvol"]
    seen = iter(lines)
    assert all(step in seen for step in wanted), lines  # in this order

    raw = docker(daemon, "events", "--since", since, "--until", until, "--filter",
                 "type=volume", "--filter", "event=mount", "--format", "{{json .}}")
    assert raw.returncode == 0, raw.stderr
    [mount] = [json.loads(line) for line in raw.stdout.splitlines()]
    assert (mount["Type"], mount["Action"], mount["Actor"]["ID"]) == (
        "volume", "mount", "evvol")
    attributes = mount["Actor"]["Attributes"]
    assert attributes["container"] == cid and attributes["destination"] == "/data"
    assert attributes["driver"] == "local" and attributes["read/write"] == "false"
    assert mount["scope"] == "local"
    destroyed = docker(daemon, "events", "--since", since, "--until", until, "--filter",
                       "volume=evvol", "--filter", "event=destroy", "--format",
                       "{{.Type}} {{.Actor.Attributes.driver}}")
    assert destroyed.stdout.splitlines() == ["volume local"], destroyed


def test_system_prune_with_volumes(daemon: object) -> None:
    ok(daemon, "network", "create", "spare-net")
    ok(daemon, "run", "--name", "gone", "-v", "/anon", "busybox", "true")
    anonymous = [m["Name"] for m in json.loads(ok(daemon, "inspect", "-f",
                                                  "{{json .Mounts}}", "gone"))]
    ok(daemon, "volume", "create", "named-kept")
    pruned = ok(daemon, "system", "prune", "-f", "--volumes")
    assert "spare-net" in pruned and anonymous[0] in pruned
    assert docker(daemon, "inspect", "gone").returncode == 1
    assert volumes(daemon) == {"named-kept"}  # named volumes stay without --all
