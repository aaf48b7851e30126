"""A container's files, the pure parts: archive paths as Docker reads them, the path
stat header (Go's FileMode bits and time format), the change list's JSON, the members an
archive copied in may hold, a commit's config, name and image config, the snapshot's
upper and lower directories, and a Config's User as ids."""

from __future__ import annotations

import base64
import json
import os
import stat
import tarfile

import pytest

from estiba import errors
from estiba.engine.archives import check_member, parse_user
from estiba.engine.commits import commit_image_config, commit_name, merge_config
from estiba.engine.filesystem import (
    GO_CHAR_DEVICE,
    GO_DEVICE,
    GO_DIR,
    GO_SETUID,
    GO_STICKY,
    GO_SYMLINK,
    encode_path_stat,
    go_file_mode,
    go_time,
    path_stat,
)
from estiba.engine.rootpaths import Source, clean_parts, source_of
from estiba.engine.writablelayer import (
    changes_json,
    mount_points,
    upper_and_lowers,
    without_mount_points,
)
from estiba.images.diff import Change
from estiba.snapshots import Mount


@pytest.mark.parametrize(("path", "want"), [
    ("/etc", Source(parts=("etc",), follow_last=False, name="etc")),
    ("etc/passwd", Source(parts=("etc", "passwd"), follow_last=False, name="passwd")),
    ("/etc/", Source(parts=("etc",), follow_last=True, name="etc")),
    ("/etc/.", Source(parts=("etc",), follow_last=True, name=".")),
    ("/", Source(parts=(), follow_last=True, name="/")),
    (".", Source(parts=(), follow_last=True, name=".")),
    ("/a/../../b", Source(parts=("b",), follow_last=False, name="b")),
    ("//x//y", Source(parts=("x", "y"), follow_last=False, name="y")),
])
def test_source_of_reads_paths_as_docker(path: str, want: Source) -> None:
    assert source_of(path) == want


def test_clean_parts_never_climbs_above_the_root() -> None:
    assert clean_parts("../../../etc/./passwd") == ("etc", "passwd")
    assert clean_parts("/") == ()


def test_go_file_mode_matches_docker() -> None:
    # what Docker answers for busybox's /etc and /bin/ls
    assert go_file_mode(stat.S_IFDIR | 0o755) == 2147484141
    assert go_file_mode(stat.S_IFLNK | 0o777) == 134218239
    assert go_file_mode(stat.S_IFREG | 0o644) == 420
    assert go_file_mode(stat.S_IFCHR | 0o666) == GO_DEVICE | GO_CHAR_DEVICE | 0o666
    assert go_file_mode(stat.S_IFREG | stat.S_ISUID | 0o755) == GO_SETUID | 0o755
    assert go_file_mode(stat.S_IFDIR | stat.S_ISVTX | 0o777) == GO_DIR | GO_STICKY | 0o777
    assert GO_SYMLINK == 1 << 27


def test_go_time_trims_the_fraction() -> None:
    assert go_time(1_796_405_904_000_000_000) == "2026-12-04T17:38:24Z"
    assert go_time(1_796_405_904_610_057_872) == "2026-12-04T17:38:24.610057872Z"
    assert go_time(1_796_405_904_500_000_000) == "2026-12-04T17:38:24.5Z"


def test_path_stat_and_its_header() -> None:
    st = os.stat_result((stat.S_IFLNK | 0o777, 1, 1, 1, 0, 0, 12, 0, 0, 0,
                         0.0, 1_796_405_904.0, 0.0, 0, 1_796_405_904_000_000_000, 0))
    found = path_stat("mtab", st, "/proc/mounts")
    assert found == {"name": "mtab", "size": 12, "mode": 134218239,
                     "mtime": "2026-12-04T17:38:24Z", "linkTarget": "/proc/mounts"}
    header = encode_path_stat(found)
    assert base64.b64decode(header) == (
        b'{"name":"mtab","size":12,"mode":134218239,"mtime":"2026-12-04T17:38:24Z",'
        b'"linkTarget":"/proc/mounts"}')


def test_changes_json_uses_docker_kinds() -> None:
    changes = [Change(kind="C", path="/etc"), Change(kind="D", path="/etc/group"),
               Change(kind="A", path="/tmp/x")]
    assert changes_json(changes) == [{"Path": "/etc", "Kind": 0},
                                     {"Path": "/etc/group", "Kind": 2},
                                     {"Path": "/tmp/x", "Kind": 1}]


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize("member", [
    _member("a/b"), _member("/abs/olute"), _member("./x/../y"), _member("dir/", tarfile.DIRTYPE),
    _member("l", tarfile.SYMTYPE, "/../../etc/passwd"),  # resolved inside the root
    _member("h", tarfile.LNKTYPE, "a/b"), _member("p", tarfile.FIFOTYPE),
])
def test_check_member_accepts(member: tarfile.TarInfo) -> None:
    check_member(member)


@pytest.mark.parametrize(("member", "words"), [
    (_member("../x"), "leads outside"),
    (_member("a/../../x"), "leads outside"),
    (_member("h", tarfile.LNKTYPE, "../../etc/shadow"), "leads outside"),
    (_member("null", tarfile.CHRTYPE), "device node"),
    (_member("sda", tarfile.BLKTYPE), "device node"),
    (_member("d/.wh.passwd"), "reserved"),
    (_member(".wh..wh..opq"), "reserved"),
])
def test_check_member_refuses(member: tarfile.TarInfo, words: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=words):
        check_member(member)


def test_merge_config_completes_the_request_from_the_container() -> None:
    container = {"User": "nobody", "WorkingDir": "/w", "Cmd": ["sleep", "1"],
                 "Env": ["PATH=/bin", "A=container"], "Labels": {"a": "1", "b": "2"},
                 "ExposedPorts": {"80/tcp": {}}, "Hostname": "abc", "Tty": True}
    merged = merge_config({"Env": ["A=request"], "Labels": {"b": "x"}}, container)
    assert merged == {"User": "nobody", "WorkingDir": "/w", "Cmd": ["sleep", "1"],
                      "Env": ["A=request", "PATH=/bin"], "Labels": {"b": "x", "a": "1"},
                      "ExposedPorts": {"80/tcp": {}}}


def test_merge_config_keeps_what_the_request_sets() -> None:
    container = {"Cmd": ["sh"], "Entrypoint": ["/init"]}
    assert merge_config({"Cmd": ["top"]}, container) == {
        "Cmd": ["top"], "Entrypoint": ["/init"], "Labels": {}}
    assert merge_config({"Entrypoint": ["/x"]}, container) == {
        "Entrypoint": ["/x"], "Labels": {}}


def test_commit_image_config_appends_layer_and_history() -> None:
    base = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:aa"]},
            "history": [{"created": "2020-01-01T00:00:00Z", "created_by": "base"}]}
    made = commit_image_config(base, {"Cmd": ["top"]}, diff_id="sha256:bb",
                               created="2026-12-04T00:00:00Z", author="me",
                               comment="hello", created_by="sleep 100",
                               container_id="c" * 64)
    assert made["rootfs"] == {"type": "layers", "diff_ids": ["sha256:aa", "sha256:bb"]}
    assert made["history"][-1] == {"created": "2026-12-04T00:00:00Z", "author": "me",
                                   "created_by": "sleep 100", "comment": "hello"}
    assert made["config"] == {"Cmd": ["top"]}
    assert (made["author"], made["comment"], made["container"]) == ("me", "hello", "c" * 64)
    assert (made["architecture"], made["os"]) == ("amd64", "linux")
    assert base["rootfs"]["diff_ids"] == ["sha256:aa"]  # not changed


def test_commit_name() -> None:
    assert commit_name("foo", "v1") == "docker.io/library/foo:v1"
    assert commit_name("foo", "") == "docker.io/library/foo:latest"
    assert commit_name("", "") == ""
    with pytest.raises(errors.InvalidArgument):
        commit_name("", "v1")
    with pytest.raises(errors.InvalidArgument, match="invalid reference format"):
        commit_name("BAD", "")


def test_upper_and_lowers_of_overlay_and_bind() -> None:
    overlay = Mount(type="overlay", source="overlay", options=(
        "workdir=/s/3/work", "upperdir=/s/3/fs", "lowerdir=/s/2/fs:/s/1/fs"))
    assert upper_and_lowers([overlay]) == ("/s/3/fs", ["/s/2/fs", "/s/1/fs"])
    short = Mount(type="overlay", source="overlay", cwd="/s", options=(
        "workdir=3/work", "upperdir=3/fs", "lowerdir=l/2:l/1"))
    assert upper_and_lowers([short]) == ("/s/3/fs", ["/s/l/2", "/s/l/1"])
    bind = Mount(type="bind", source="/s/1/fs", options=("rw", "rbind"))
    assert upper_and_lowers([bind]) == ("/s/1/fs", [])
    view = Mount(type="overlay", source="overlay", options=("lowerdir=/a:/b",))
    with pytest.raises(errors.FailedPrecondition):
        upper_and_lowers([view])


PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65533:nobody:/:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65533:\nstaff:x:50:\n"


@pytest.mark.parametrize(("user", "want"), [
    ("", (0, 0)), ("nobody", (65534, 65533)), ("1000", (1000, 0)),
    ("65534", (65534, 65533)), ("nobody:staff", (65534, 50)), ("7:8", (7, 8)),
])
def test_parse_user(user: str, want: tuple[int, int]) -> None:
    assert parse_user(user, PASSWD, GROUP) == want


def test_parse_user_unknown() -> None:
    with pytest.raises(errors.InvalidArgument, match="unable to find user ghost"):
        parse_user("ghost", PASSWD, GROUP)
    with pytest.raises(errors.InvalidArgument, match="unable to find group ghosts"):
        parse_user("root:ghosts", PASSWD, GROUP)


def test_headers_round_trip_as_json() -> None:
    value = {"name": "é", "size": 1, "mode": 0, "mtime": "x", "linkTarget": ""}
    assert json.loads(base64.b64decode(encode_path_stat(value))) == value


def test_the_bound_files_mount_points_are_no_changes(tmp_path) -> None:
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    (upper / "etc").mkdir(parents=True)
    (lower / "etc").mkdir(parents=True)
    (upper / "etc" / "hostname").write_text("")  # a mount point
    (upper / "etc" / "hosts").write_text("written\n")  # written: a change
    (lower / "etc" / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    (upper / "etc" / "resolv.conf").write_text("")  # emptied: a change
    points = mount_points(str(upper), [str(lower)])
    assert points == frozenset({"etc/hostname"})
    found = [Change(kind="C", path="/etc"), Change(kind="A", path="/etc/hostname")]
    assert without_mount_points(found, points) == []
    found.append(Change(kind="A", path="/etc/new"))
    assert [c.path for c in without_mount_points(found, points)] == ["/etc", "/etc/new"]


def test_user_mounted_paths() -> None:
    from estiba.engine.filesystem import user_mounted

    spec = {"mounts": [
        {"destination": "/proc", "type": "proc"},
        {"destination": "/dev/shm", "type": "tmpfs"},
        {"destination": "/etc/hosts", "type": "bind"},
        {"destination": "/data", "type": "bind"},
        {"destination": "/scratch/", "type": "tmpfs"},
    ]}
    assert user_mounted(spec, "/data") and user_mounted(spec, "/data/a/b")
    assert user_mounted(spec, "/scratch/t.txt")
    assert not user_mounted(spec, "/database") and not user_mounted(spec, "/dev/shm/x")
    assert not user_mounted(spec, "/etc/hosts") and not user_mounted(spec, "/")
