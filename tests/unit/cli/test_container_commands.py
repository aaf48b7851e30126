"""The pure parts of the container commands (``port``'s lines, ``stats``' rows and
percentages, ``cp``'s paths and copy plan, ``update``'s request,
``prune``'s report, ``commit``'s name) and the commands against a recording client."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from estiba.cli.docker import files, lifecycle, stats
from estiba.cli.docker.context import Context, run_in
from estiba.cli.docker.flags import UsageError
from estiba.cli.docker.reference import BadReference
from estiba.client.docker import DockerError

# --- port ------------------------------------------------------------------------------

PORTS = {
    "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18200"},
               {"HostIp": "::", "HostPort": "18200"}],
    "443/tcp": None,
    "9/udp": [{"HostIp": "127.0.0.1", "HostPort": "9000"}],
    "10/tcp": [{"HostIp": "0.0.0.0", "HostPort": "10"}],
}


def test_port_lists_every_mapping_in_natural_order() -> None:
    assert lifecycle.port_lines(PORTS, "web") == [
        "9/udp -> 127.0.0.1:9000", "10/tcp -> 0.0.0.0:10", "80/tcp -> 0.0.0.0:18200",
        "80/tcp -> [::]:18200"]


def test_port_of_one_private_port() -> None:
    assert lifecycle.port_lines(PORTS, "web", "80") == ["0.0.0.0:18200", "[::]:18200"]
    assert lifecycle.port_lines(PORTS, "web", "9/udp") == ["127.0.0.1:9000"]
    assert lifecycle.port_lines(None, "web") == []


@pytest.mark.parametrize(("wanted", "message"), [
    ("81/tcp", "Error: No public port '81/tcp' published for web"),
    ("443", "Error: No public port '443' published for web"),
    ("9", "Error: No public port '9' published for web"),  # tcp unless said
    ("abc", 'Error: invalid port (abc): strconv.ParseUint: parsing "abc": invalid syntax'),
    ("70000", 'Error: invalid port (70000): strconv.ParseUint: parsing "70000": value '
              "out of range"),
])
def test_port_errors_in_dockers_words(wanted: str, message: str) -> None:
    with pytest.raises(lifecycle.CommandError) as err:
        lifecycle.port_lines(PORTS, "web", wanted)
    assert str(err.value) == message


# --- stats -----------------------------------------------------------------------------

WEB_ID = "3968bf0e6b2b1762eddfb2f7a6740c8531c806a125926bf09a8b380e14fb05e0"
SAMPLE_V1 = {
    "id": WEB_ID,
    "name": "/web",
    "cpu_stats": {"cpu_usage": {"total_usage": 400_000_000}, "system_cpu_usage": 20_000_000_000,
                  "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 300_000_000},
                     "system_cpu_usage": 18_000_000_000},
    "memory_stats": {"usage": 10 * 1024 * 1024, "limit": 64 * 1024 * 1024,
                     "stats": {"total_inactive_file": 2 * 1024 * 1024,
                               "inactive_file": 1024}},
    "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 700},
                 "eth1": {"rx_bytes": 500, "tx_bytes": 300}},
    "blkio_stats": {"io_service_bytes_recursive": [
        {"op": "Read", "value": 4096}, {"op": "write", "value": 1_000_000},
        {"op": "Total", "value": 9}, {"op": "", "value": 5}]},
    "pids_stats": {"current": 3},
}


def test_stats_row_as_docker_computes_it() -> None:
    row = stats.StatsRow("web", SAMPLE_V1)
    # (100ms of the container / 2s of the system) x 2 CPUs
    assert row.CPUPerc == "10.00%"
    # cgroup v1: the inactive file cache of the whole hierarchy left out
    assert row.MemUsage == "8MiB / 64MiB"
    assert row.MemPerc == "12.50%"
    assert row.NetIO == "2kB / 1kB"
    assert row.BlockIO == "4.1kB / 1MB"
    assert row.PIDs == "3"
    assert (row.Container, row.ID, row.Name) == ("web", "3968bf0e6b2b", "web")
    assert stats.StatsRow("3968", SAMPLE_V1, trunc=False).ID == WEB_ID


def test_stats_row_without_a_recent_sample_shows_dashes() -> None:
    row = stats.StatsRow("web", SAMPLE_V1, valid=False)
    assert (row.ID, row.Name, row.CPUPerc, row.MemUsage, row.MemPerc, row.NetIO,
            row.BlockIO, row.PIDs) == ("3968bf0e6b2b", "web", "--", "-- / --", "--", "--",
                                       "--", "--")
    never = stats.StatsRow("web", {}, valid=False)
    assert (never.Container, never.ID, never.Name) == ("web", "", "--")


def test_stats_memory_cgroup_v2_and_edges() -> None:
    v2 = {"usage": 5000, "stats": {"inactive_file": 1000}}
    assert stats.memory_usage(v2) == 4000
    # a cache larger than the usage is not subtracted
    assert stats.memory_usage({"usage": 500, "stats": {"total_inactive_file": 900}}) == 500
    assert stats.memory_usage({"usage": 500, "stats": {"inactive_file": 900}}) == 500
    assert stats.memory_usage({}) == 0


def test_stats_of_a_stopped_container() -> None:
    row = stats.StatsRow("c8e8c9d11476", {"id": "c8e8c9d11476aa", "name": "/a2",
                                          "cpu_stats": {}, "precpu_stats": {},
                                          "memory_stats": {}})
    assert (row.CPUPerc, row.MemUsage, row.MemPerc, row.NetIO, row.BlockIO, row.PIDs) == (
        "0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0")


def test_stats_cpu_without_online_cpus_counts_per_cpu_usage() -> None:
    sample = {"cpu_stats": {"cpu_usage": {"total_usage": 200, "percpu_usage": [1, 1, 1, 1]},
                            "system_cpu_usage": 1000},
              "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 0}}
    assert stats.cpu_percent(sample) == pytest.approx(40.0)
    sample["cpu_stats"]["system_cpu_usage"] = 0  # no system time passed: 0
    assert stats.cpu_percent(sample) == 0.0


def test_stats_table_json_and_template() -> None:
    rows = [stats.StatsRow("web", SAMPLE_V1)]
    assert stats.render("", rows).splitlines() == [
        "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O     "
        "BLOCK I/O     PIDS",
        "3968bf0e6b2b   web       10.00%    8MiB / 64MiB        12.50%    2kB / 1kB   "
        "4.1kB / 1MB   3"]
    assert stats.render("json", rows) == (
        '{"BlockIO":"4.1kB / 1MB","CPUPerc":"10.00%","Container":"web",'
        '"ID":"3968bf0e6b2b","MemPerc":"12.50%","MemUsage":"8MiB / 64MiB",'
        '"Name":"web","NetIO":"2kB / 1kB","PIDs":"3"}\n')
    assert stats.render("{{.Name}}:{{.PIDs}}", rows) == "web:3\n"


def test_stats_live_frame_as_docker_draws_it() -> None:
    assert stats.frame("H\nr\n") == ("\033[HH\nr\n"
                                     "\033[HH \033[K\nr \033[K\n \033[K\n\033[J")


def test_top_table_pads_to_twenty() -> None:
    text = stats.tabulate([["UID", "PID", "CMD"], ["root", "12345678901234567890", "sh -c x"]])
    assert text.splitlines() == [
        "UID" + " " * 17 + "PID" + " " * 20 + "CMD",
        "root" + " " * 16 + "12345678901234567890   sh -c x"]


# --- cp's paths ------------------------------------------------------------------------

@pytest.mark.parametrize(("arg", "split"), [
    ("web:/etc/passwd", ("web", "/etc/passwd")),
    ("web:", ("web", "")),
    ("web:tmp/x:y", ("web", "tmp/x:y")),
    ("/abs/a:b", ("", "/abs/a:b")),
    ("./a:b", ("", "./a:b")),
    ("../a:b", ("", "../a:b")),
    ("plain", ("", "plain")),
    ("-", ("", "-")),
])
def test_cp_argument_splitting(arg: str, split: tuple[str, str]) -> None:
    assert files.split_cp_arg(arg) == split


def test_cp_path_entries() -> None:
    assert files.split_dir_entry("/a/b/") == ("/a", "b")
    assert files.split_dir_entry("/a/b/.") == ("/a/b", ".")
    assert files.split_dir_entry("b") == (".", "b")
    assert files.preserve_trailing("/x/d", "d/") == "/x/d/"
    assert files.preserve_trailing("/x/d", "d/.") == "/x/d/."
    assert files.rebase_name("/tmp/lnk", "/etc/passwd") == ("/etc/passwd", "lnk")
    assert files.rebase_name("/tmp/lnk/", "/etc") == ("/etc/", "lnk")
    assert files.rebase_name("/tmp/passwd", "/etc/passwd") == ("/etc/passwd", "")


@pytest.mark.parametrize(("src", "src_dir", "dst", "exists", "dst_dir", "plan"), [
    ("/etc/passwd", False, "/out", True, True, ("/out", None)),
    ("/etc/passwd", False, "/out/p", True, False, ("/out", ("passwd", "p"))),
    ("/etc/passwd", False, "/out/new", False, False, ("/out", ("passwd", "new"))),
    ("/etc", True, "/out/new", False, False, ("/out", ("etc", "new"))),
    ("/etc/.", True, "/out/new", False, False, ("/out", (".", "new"))),
])
def test_cp_plan(src: str, src_dir: bool, dst: str, exists: bool, dst_dir: bool,
                 plan: tuple) -> None:
    assert files.copy_plan(src, src_dir, "", dst, exists, dst_dir) == plan


@pytest.mark.parametrize(("src_dir", "dst", "exists", "message"), [
    (True, "/out/file", True, "cannot copy directory"),
    (False, "/out/nodir/", False, "no such directory"),
])
def test_cp_plan_refusals(src_dir: bool, dst: str, exists: bool, message: str) -> None:
    with pytest.raises(files.CopyError, match=message):
        files.copy_plan("/etc/x", src_dir, "", dst, exists, False)


def test_cp_tar_is_laid_out_as_dockers(tmp_path: Path) -> None:
    tree = tmp_path / "d1"
    (tree / "sub").mkdir(parents=True)
    (tree / "a").write_text("a\n")
    (tree / "sub" / "b").write_text("b\n")
    os.symlink("a", tree / "link")
    out = io.BytesIO()
    # five headers, two data blocks, two zero blocks: no record padding
    assert files.write_tar(out, str(tree), "new") == 4608 == len(out.getvalue())
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        assert tar.getnames() == ["new", "new/a", "new/link", "new/sub", "new/sub/b"]
        assert all(m.uname == "" and isinstance(m.mtime, int) for m in tar.getmembers())
    one = io.BytesIO()
    assert files.write_tar(one, str(tree / "a"), "a") == 2048


def test_cp_extracts_without_leaving_the_directory(tmp_path: Path) -> None:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("../escape")
        tar.addfile(info, io.BytesIO(b""))
    reader = files._Chunks(iter([data.getvalue()]))
    with pytest.raises(files.CopyError, match="outside of"):
        files._untar(reader, str(tmp_path), None)
    assert not (tmp_path.parent / "escape").exists()


# --- update, prune, commit, diff ---------------------------------------------------------

def test_update_body_has_only_the_flags_given() -> None:
    from estiba.cli.docker.flags import parse

    opts, _ = parse(["-m", "64m", "--cpus", "1.5", "--pids-limit", "-1", "-c", "0x200",
                     "--memory-swap", "-1", "--restart", "on-failure:3",
                     "--cpuset-cpus", "0-1", "--blkio-weight", "300", "web"],
                    lifecycle.UPDATE_FLAGS)
    assert lifecycle.update_body(opts) == {
        "BlkioWeight": 300, "CpuShares": 512, "NanoCpus": 1_500_000_000,
        "CpusetCpus": "0-1", "Memory": 64 << 20, "MemorySwap": -1, "PidsLimit": -1,
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}
    opts, _ = parse(["web"], lifecycle.UPDATE_FLAGS)
    assert lifecycle.update_body(opts) == {}


@pytest.mark.parametrize(("argv", "message"), [
    (["--cpus", "abc"], 'invalid argument "abc" for "--cpus" flag: failed to parse abc as '
                        "a rational number"),
    (["--cpus", "0.0000000001"], 'invalid argument "0.0000000001" for "--cpus" flag: '
                                 "value is too precise"),
    (["-m", "xyz"], "invalid argument \"xyz\" for \"-m, --memory\" flag: invalid size: 'xyz'"),
    (["--blkio-weight", "70000"], 'invalid argument "70000" for "--blkio-weight" flag: '
                                  'strconv.ParseUint: parsing "70000": value out of range'),
    (["--blkio-weight", "-1"], 'invalid argument "-1" for "--blkio-weight" flag: '
                               'strconv.ParseUint: parsing "-1": invalid syntax'),
    (["-c", "x"], 'invalid argument "x" for "-c, --cpu-shares" flag: strconv.ParseInt: '
                  'parsing "x": invalid syntax'),
])
def test_update_flag_values_in_pflags_words(argv: list[str], message: str) -> None:
    from estiba.cli.docker.flags import parse

    opts, _ = parse(argv, lifecycle.UPDATE_FLAGS)
    with pytest.raises(UsageError) as err:
        lifecycle.update_body(opts)
    assert str(err.value) == message


def test_prune_report() -> None:
    assert lifecycle.prune_report({"ContainersDeleted": None, "SpaceReclaimed": 0}) == \
        "Total reclaimed space: 0B\n"
    assert lifecycle.prune_report({"ContainersDeleted": ["a1", "b2"],
                                   "SpaceReclaimed": 32768}) == \
        "Deleted Containers:\na1\nb2\n\nTotal reclaimed space: 32.77kB\n"


@pytest.mark.parametrize(("text", "target"), [
    ("", ("", "")), ("myimg", ("myimg", "")), ("myimg:v1", ("myimg", "v1")),
    ("docker.io/library/zz:t", ("zz", "t")), ("me/xx", ("me/xx", "")),
    ("localhost:5000/yy:2", ("localhost:5000/yy", "2")),
])
def test_commit_target(text: str, target: tuple[str, str]) -> None:
    assert files.commit_target(text) == target


@pytest.mark.parametrize(("text", "message"), [
    ("BAD:NAME", "invalid reference format: repository name (library/BAD) must be "
                 "lowercase"),
    ("ok:tag:x", "invalid reference format"),
    ("a@sha256:" + "a" * 64, "refusing to create a tag with a digest reference"),
])
def test_commit_target_refused(text: str, message: str) -> None:
    with pytest.raises(BadReference) as err:
        files.commit_target(text)
    assert str(err.value) == message


def test_diff_lines() -> None:
    assert files.diff_lines([{"Kind": 0, "Path": "/tmp"}, {"Kind": 1, "Path": "/tmp/p"},
                             {"Kind": 2, "Path": "/x"}]) == "C /tmp\nA /tmp/p\nD /x\n"




# --- the commands against a recording client ---------------------------------------------

class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def _known(self, name: str) -> None:
        if name == "nosuch":
            raise DockerError(404, "No such container: nosuch")

    def stop(self, name: str, timeout: int | None = None, signal: str = "") -> bool:
        self.calls.append(("stop", name, timeout, signal))
        self._known(name)
        return True

    def kill(self, name: str, signal: str = "") -> None:
        self.calls.append(("kill", name, signal))
        self._known(name)

    def wait(self, name: str) -> dict:
        self._known(name)
        return {"StatusCode": 3}

    def rename(self, old: str, new: str) -> None:
        self.calls.append(("rename", old, new))
        raise DockerError(409, f'Conflict. The container name "/{new}" is already in use')

    def update_container(self, name: str, body: dict) -> dict:
        self.calls.append(("update", name, body))
        self._known(name)
        return {"Warnings": ["a warning"]}

    def inspect_container(self, name: str) -> dict:
        self._known(name)
        return {"Id": "abc", "Config": {"Tty": False},
                "NetworkSettings": {"Ports": PORTS}}

    def stats(self, name: str, stream: bool = False) -> dict:
        self._known(name)
        return SAMPLE_V1

    def prune_containers(self, filters: dict) -> dict:
        self.calls.append(("prune", filters))
        return {"ContainersDeleted": ["abc"], "SpaceReclaimed": 1000}


def context() -> tuple[Context, FakeClient]:
    ctx = Context("unix:///x.sock", io.StringIO(), io.StringIO())
    fake = FakeClient()
    ctx._client = fake  # type: ignore[assignment]
    return ctx, fake


def test_stop_prints_names_as_given_then_errors() -> None:
    ctx, fake = context()
    assert lifecycle.stop(ctx, ["-t", "3", "-s", "HUP", "web", "nosuch", "3968"]) == 1
    assert ctx.out.getvalue() == "web\n3968\n"
    assert ctx.err.getvalue() == "Error response from daemon: No such container: nosuch\n"
    assert fake.calls[0] == ("stop", "web", 3, "HUP")


def test_stop_with_the_old_flag_name_warns() -> None:
    ctx, fake = context()
    assert lifecycle.stop(ctx, ["--time", "1", "web"]) == 0
    assert ctx.out.getvalue() == ("Flag --time has been deprecated, use --timeout instead\n"
                                  "web\n")
    assert fake.calls == [("stop", "web", 1, "")]


def test_wait_prints_status_codes() -> None:
    ctx, _ = context()
    assert lifecycle.wait(ctx, ["web", "nosuch", "other"]) == 1
    assert ctx.out.getvalue() == "3\n3\n"


def test_rename_refused() -> None:
    ctx, _ = context()
    assert lifecycle.rename(ctx, ["a1", "a2"]) == 1
    assert ctx.err.getvalue().endswith("\nError: failed to rename container named a1\n")
    ctx, _ = context()
    assert lifecycle.rename(ctx, [" ", "a2"]) == 1
    assert ctx.err.getvalue() == "Error: Neither old nor new names may be empty\n"


def test_update_needs_a_flag_and_prints_warnings() -> None:
    ctx, fake = context()
    assert lifecycle.update(ctx, ["web"]) == 1
    assert ctx.err.getvalue() == "you must provide one or more flags when using this command\n"
    ctx, fake = context()
    assert lifecycle.update(ctx, ["-m", "1g", "web", "nosuch"]) == 1
    assert ctx.out.getvalue() == "web\na warning\n"
    assert fake.calls[0] == ("update", "web", {"Memory": 1 << 30})


def test_port_command() -> None:
    ctx, _ = context()
    # a refusal is written by run_in, which every command's errors go through
    assert run_in(ctx, "port", "port CONTAINER", lifecycle.port, ["web", "81/tcp"]) == 1
    assert ctx.err.getvalue() == "Error: No public port '81/tcp' published for web\n"
    ctx, _ = context()
    assert lifecycle.port(ctx, ["web", "80"]) == 0
    assert ctx.out.getvalue() == "0.0.0.0:18200\n[::]:18200\n"


def test_prune_asks_first(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, fake = context()
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert lifecycle.prune(ctx, []) == 0
    assert ctx.out.getvalue() == lifecycle.PRUNE_WARNING + " [y/N] " and fake.calls == []
    ctx, fake = context()
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert lifecycle.prune(ctx, ["--filter", "until=1h"]) == 0
    assert ctx.out.getvalue().endswith("Deleted Containers:\nabc\n\nTotal reclaimed space: "
                                       "1kB\n")
    assert fake.calls == [("prune", {"until": ["1h"]})]


def test_stats_no_stream_with_a_missing_container_prints_only_errors() -> None:
    ctx, _ = context()
    assert stats.stats(ctx, ["--no-stream", "web", "nosuch"]) == 1
    assert ctx.out.getvalue() == ""
    assert ctx.err.getvalue() == "Error response from daemon: No such container: nosuch\n"
    ctx, _ = context()
    assert stats.stats(ctx, ["--no-stream", "--format", "{{.Container}} {{.CPUPerc}}",
                             "web"]) == 0
    assert ctx.out.getvalue() == "web 10.00%\n"
