"""``estiba ctr``: argv parsing, ctr's table formats, and the commands against the fake
core API server."""

from __future__ import annotations

import io

import pytest

from estiba.cli.args import Option, UsageError, parse
from estiba.cli.ctr import content, images, namespaces, snapshots, tasks
from estiba.cli.ctr.main import main
from estiba.cli.tables import (
    binary_size,
    epoch,
    human_duration,
    human_size,
    indent_json,
    tabwrite,
)

BUSYBOX = "docker.io/library/busybox:latest"


def ctr(api, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["-a", api.path, *argv], out, err, stdin_fd=None)
    return status, out.getvalue(), err.getvalue()


# --- argv -------------------------------------------------------------------------------

RUN = (Option("--rm"), Option("-t", "--tty"), Option("--runtime", value=True),
       Option("--env", value=True, repeat=True))


def test_options_stop_at_the_first_argument_when_a_command_follows() -> None:
    opts, rest = parse(["--rm", "-t", "--runtime=runc", "--env", "A=1", "img", "id", "sh",
                        "-c", "--rm"], RUN, interleave=False)
    assert opts == {"rm": True, "tty": True, "runtime": "runc", "env": ["A=1"]}
    assert rest == ["img", "id", "sh", "-c", "--rm"]


def test_options_may_follow_arguments_otherwise() -> None:
    opts, rest = parse(["file.tar", "--tag", "a:b"], (Option("--tag", value=True),))
    assert (opts, rest) == ({"tag": "a:b"}, ["file.tar"])
    assert parse(["--", "-x"], ())[1] == ["-x"]
    assert parse(["-"], ())[1] == ["-"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--nope"], "flag provided but not defined: --nope"),
    (["--runtime"], "flag needs an argument: --runtime"),
    (["--rm=1"], "flag --rm takes no value"),
])
def test_option_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse(argv, RUN)


# --- tables -----------------------------------------------------------------------------

def test_tabwrite_pads_like_go_tabwriter() -> None:
    rows = [["NAME", "LABELS"], ["default", ""], ["k8s", "a=b"]]
    assert tabwrite(rows) == "NAME    LABELS \ndefault        \nk8s     a=b    \n"
    assert tabwrite(rows, terminated=False) == "NAME    LABELS\ndefault \nk8s     a=b\n"
    assert tabwrite([["A", "B"], ["x", "y"]], minwidth=4, padding=4) == \
        "A    B    \nx    y    \n"


def test_sizes_and_durations() -> None:
    assert binary_size(500) == "500 B"
    assert binary_size(1536) == "1.5 KiB"
    assert binary_size(2 * 1024 * 1024) == "2.0 MiB"
    assert human_size(1234) == "1.234kB"
    assert human_size(12) == "12B"
    assert human_duration(0.5) == "Less than a second"
    assert human_duration(30) == "30 seconds"
    assert human_duration(90) == "About a minute"
    assert human_duration(3 * 3600) == "3 hours"
    assert human_duration(5 * 86400) == "5 days"
    assert epoch("1970-01-02T00:00:01Z") == 86401
    assert epoch("2017-07-14T02:40:00.5Z") == 1.5e9 + 0.5
    assert epoch("garbage") is None


def test_indent_json_is_go_marshal_indent() -> None:
    assert indent_json({"a": [1, "x, y"], "b": {}, "c": None}) == (
        '{\n    "a": [\n        1,\n        "x, y"\n    ],\n    "b": {},\n    "c": null\n}')


def test_images_table_has_ctr_columns() -> None:
    text = images.table([{"name": "a:1", "target": {"mediaType": "m", "digest": "d",
                                                    "size": 2048}, "labels": {}}])
    assert text.splitlines() == ["REF TYPE DIGEST SIZE    PLATFORMS LABELS ",
                                 "a:1 m    d      2.0 KiB -         -      "]


def test_other_tables_have_ctr_columns() -> None:
    assert namespaces.table([]).split() == ["NAME", "LABELS"]
    assert content.table([], 0).split() == ["DIGEST", "SIZE", "AGE", "LABELS"]
    assert snapshots.table([]).split() == ["KEY", "PARENT", "KIND"]
    assert snapshots.usage_table([]).split() == ["KEY", "SIZE", "INODES"]
    assert tasks.table([{"id": "t", "pid": 3, "status": "running"}]).splitlines() == [
        "TASK PID STATUS  ", "t    3   RUNNING "]
    assert tasks.ps_table([{"pid": 7}]) == "PID INFO\n7   -\n"


def test_snapshot_tree() -> None:
    snaps = [{"name": "base"}, {"name": "mid", "parent": "base"},
             {"name": "top", "parent": "mid"}, {"name": "other", "parent": "base"}]
    assert snapshots.tree(snaps) == " base\n  \\_ mid\n    \\_ top\n  \\_ other\n"


# --- commands against the fake core -------------------------------------------------------

def test_version(api) -> None:
    status, out, _ = ctr(api, "version")
    assert status == 0
    assert out.startswith("Client:\n  Version:  ") and "\nServer:\n  Version:  0.1.0" in out


def test_namespaces(api) -> None:
    assert ctr(api, "namespaces", "create", "k8s", "a=b")[0] == 0
    status, out, _ = ctr(api, "ns", "ls")
    assert out.splitlines() == ["NAME    LABELS ", "default        ", "k8s     a=b    "]
    assert ctr(api, "namespaces", "ls", "-q")[1] == "default\nk8s\n"
    assert ctr(api, "namespaces", "rm", "k8s")[1] == "k8s\n"


def test_errors_are_ctr_messages_with_status_1(api) -> None:
    assert ctr(api, "namespaces", "rm", "nope") == (1, "", "ctr: namespace nope: not found\n")
    status, _, err = ctr(api, "images", "frob")
    assert status == 1 and err.startswith("ctr: no such images command 'frob'")
    assert ctr(api, "nouns")[0] == 1
    out, err = io.StringIO(), io.StringIO()
    assert main(["-a", "/tmp/nothing-here.sock", "version"], out, err) == 1
    assert err.getvalue().startswith("ctr: connect to /tmp/nothing-here.sock: ")


def test_images(api, tmp_path) -> None:
    status, out, _ = ctr(api, "images", "ls")
    assert out.split()[:6] == ["REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"]
    assert BUSYBOX in out
    archive = tmp_path / "a.tar"
    archive.write_bytes(b"TAR...")
    status, out, _ = ctr(api, "images", "import", str(archive), "--tag", "x/y:1")
    assert (status, out) == (0, f"unpacking x/y:1 (sha256:{'ab' * 32})...done\n")
    assert ctr(api, "images", "tag", "x/y:1", "x/y:2")[1] == "x/y:2\n"
    exported = tmp_path / "out.tar"
    assert ctr(api, "images", "export", str(exported), "x/y:2")[0] == 0
    assert exported.read_bytes().startswith(b"TAR x/y:2\n")
    assert ctr(api, "images", "rm", "x/y:1", "x/y:2")[1] == "x/y:1\nx/y:2\n"
    assert ctr(api, "images", "ls", "-q")[1] == BUSYBOX + "\n"


def test_content_and_snapshots(api) -> None:
    out = ctr(api, "content", "ls")[1]
    assert out.split()[:4] == ["DIGEST", "SIZE", "AGE", "LABELS"] and "1.234kB" in out
    key = "sha256:" + "cd" * 32
    assert ctr(api, "snapshots", "ls")[1].splitlines()[1].split() == [key, "committed"]
    assert '"kind": "committed"' in ctr(api, "snapshots", "info", key)[1]
    assert ctr(api, "snapshots", "usage")[1].splitlines()[1].split() == [key, "4.0", "KiB",
                                                                         "3"]
    assert ctr(api, "snapshots", "tree")[1] == f" {key}\n"


def test_containers_and_tasks(api) -> None:
    assert ctr(api, "containers", "create", "--runtime", "runc", BUSYBOX, "c1", "sh", "-c",
               "exit 3")[0] == 0
    made = api.core.containers.items["default", "c1"]
    assert made.runtime == "runc" and made.spec["process"]["args"] == ["sh", "-c", "exit 3"]
    assert ctr(api, "c", "ls")[1].splitlines() == [
        "CONTAINER    IMAGE                               RUNTIME    ",
        f"c1           {BUSYBOX}    runc       "]
    assert '"id": "c1"' in ctr(api, "containers", "info", "c1")[1]
    assert ctr(api, "tasks", "start", "c1")[0] == 0
    assert ctr(api, "tasks", "ls")[1].splitlines()[1].split() == ["c1", "4242", "RUNNING"]
    assert ctr(api, "tasks", "ps", "c1")[1] == "PID  INFO\n4242 -\n4243 -\n"
    assert "pids.current 2" in " ".join(ctr(api, "tasks", "metrics", "c1")[1].split())
    assert ctr(api, "tasks", "pause", "c1")[0] == 0
    assert ctr(api, "tasks", "resume", "c1")[0] == 0
    assert ctr(api, "tasks", "exec", "--exec-id", "e1", "c1", "false")[0] == 3
    assert ctr(api, "tasks", "kill", "-s", "SIGKILL", "-a", "c1")[0] == 0
    assert ("tasks", "kill", ("default", "c1", 9, True)) in api.core.calls
    assert ctr(api, "containers", "rm", "c1")[2].startswith("ctr: remove container c1: it has")
    assert ctr(api, "tasks", "rm", "c1")[0] == 0
    assert ctr(api, "containers", "rm", "c1")[0] == 0


def test_run_follows_the_log_and_exits_with_the_status(api, tmp_path, monkeypatch) -> None:
    # the fake task "exits" when started, having written two lines to its log
    log = tmp_path / "run.log"
    tasks_service = api.core.tasks
    real_start, real_create = tasks_service.start, tasks_service.create

    def create(container, mounts, **kw):
        kw["log_path"] = str(log)
        return real_create(container, mounts, **kw)

    def start(namespace, id):
        task = real_start(namespace, id)
        log.write_text("2026-01-01T00:00:00Z stdout F out line\n"
                       "2026-01-01T00:00:01Z stderr F err line\n")
        tasks_service.exit(namespace, id, 4)
        return task

    monkeypatch.setattr(tasks_service, "create", create)
    monkeypatch.setattr(tasks_service, "start", start)
    status, out, err = ctr(api, "run", "--rm", BUSYBOX, "r1", "echo")
    assert (status, out, err) == (4, "out line\n", "err line\n")
    assert ("default", "r1") not in api.core.containers.items  # --rm
    assert ("default", "r1") not in tasks_service.items
