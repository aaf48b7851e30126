"""core.spec: the default OCI config of a container and the image config applied to
it (pure), checked against the runtime spec's JSON schema."""

from __future__ import annotations

import copy

import pytest

from estiba.core import spec as s
from estiba.errors import InvalidArgument, Unimplemented
from support.schemas import runtime_validator

IMAGE = {
    "architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": ["/entry.sh"], "Cmd": ["serve", "--port=80"],
               "Env": ["PATH=/opt/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
               "WorkingDir": "/srv", "User": "1000:1000"},
}


@pytest.fixture(scope="module")
def validator():
    return runtime_validator("config-schema.json")


def test_default_spec_is_valid_and_has_the_defaults(validator):
    spec = s.default_spec("docker", "abc")
    validator.validate(spec)
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    assert {n["type"] for n in spec["linux"]["namespaces"]} == {
        "pid", "ipc", "uts", "mount", "network"}
    assert all("path" not in n for n in spec["linux"]["namespaces"])  # its own netns
    caps = spec["process"]["capabilities"]
    assert len(caps["bounding"]) == 14 and "CAP_NET_RAW" in caps["bounding"]
    assert "CAP_SYS_ADMIN" not in caps["bounding"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"]
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    assert "/proc/sys" in spec["linux"]["readonlyPaths"]
    assert spec["linux"]["cgroupsPath"] == "/estiba/docker-abc"
    assert spec["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]


def test_cgroup_parent_comes_from_the_instance():
    assert s.default_spec("k8s", "x", cgroup_parent="estiba-t1")["linux"]["cgroupsPath"] \
        == "/estiba-t1/k8s-x"
    assert s.cgroups_path("n", "i", "/a/b/") == "/a/b/n-i"
    with pytest.raises(InvalidArgument):
        s.cgroups_path("n", "i", "/")


def test_default_specs_share_nothing():
    a, b = s.default_spec("n", "a"), s.default_spec("n", "b")
    a["mounts"][0]["options"].append("ro")
    a["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    assert "ro" not in b["mounts"][0]["options"]
    assert "CAP_SYS_ADMIN" not in b["process"]["capabilities"]["effective"]


def test_image_config_applies(validator):
    base = s.default_spec("n", "c")
    before = copy.deepcopy(base)
    spec = s.with_image_config(base, IMAGE)
    validator.validate(spec)
    assert base == before  # the input is not changed
    p = spec["process"]
    assert p["args"] == ["/entry.sh", "serve", "--port=80"]
    assert p["env"] == ["PATH=/opt/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
    assert p["cwd"] == "/srv"
    assert p["user"] == {"uid": 1000, "gid": 1000}
    assert p["terminal"] is False


def test_arguments_replace_cmd_not_entrypoint():
    spec = s.with_image_config(s.default_spec("n", "c"), IMAGE, args=["debug"])
    assert spec["process"]["args"] == ["/entry.sh", "debug"]


def test_caller_options_win():
    spec = s.with_image_config(s.default_spec("n", "c"), IMAGE, env=["LANG=fr", "X=1"],
                               cwd="/tmp", terminal=True, user="root")
    p = spec["process"]
    assert p["env"] == ["PATH=/opt/bin:/usr/bin:/bin", "LANG=fr", "X=1", "TERM=xterm"]
    assert p["cwd"] == "/tmp" and p["terminal"] is True
    assert p["user"] == {"uid": 0, "gid": 0}


def test_inner_config_object_and_empty_image():
    spec = s.with_image_config(s.default_spec("n", "c"), IMAGE["config"])
    assert spec["process"]["args"][0] == "/entry.sh"
    spec = s.with_image_config(s.default_spec("n", "c"), {}, args=["sh"])
    assert spec["process"]["args"] == ["sh"]
    assert spec["process"]["env"] == [s.DEFAULT_PATH]
    assert spec["process"]["cwd"] == "/"


def test_no_command_is_refused():
    with pytest.raises(InvalidArgument, match="no command"):
        s.with_image_config(s.default_spec("n", "c"), {"config": {"Env": ["A=1"]}})


@pytest.mark.parametrize(("user", "want"), [
    ("", (0, 0)), ("root", (0, 0)), ("0", (0, 0)), ("1000", (1000, 0)),
    ("1000:50", (1000, 50)), ("root:5", (0, 5)),
])
def test_parse_user(user, want):
    assert s.parse_user(user) == want


def test_user_names_need_the_rootfs():
    with pytest.raises(Unimplemented, match="nobody"):
        s.parse_user("nobody")
    with pytest.raises(InvalidArgument):
        s.parse_user("-1")


def test_merge_env_replaces_appends_and_removes():
    assert s.merge_env(["A=1", "B=2"], ["B=3", "C=4", "A"]) == ["B=3", "C=4"]
