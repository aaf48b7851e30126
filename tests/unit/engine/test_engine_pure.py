"""The engine's and the Docker API's pure parts: names, the version prefix, the status
phrases, Config + HostConfig to an OCI spec."""

from __future__ import annotations

import os

import pytest

from estiba import errors
from estiba.api.core.http import HTTPError
from estiba.api.docker.app import quote_image_name, status_for, strip_version
from estiba.engine import names
from estiba.engine.configs import build_spec
from estiba.engine.inspect import View, human_duration, parse_time, status_text

IMAGE = {"config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "WorkingDir": ""}}


def test_names() -> None:
    assert names.check_name("web") == "/web" and names.check_name("/web") == "/web"
    with pytest.raises(errors.InvalidArgument):
        names.check_name("-bad")
    made = names.random_name({"/x"})
    assert made.startswith("/") and "_" in made
    ids = {"a" * 64: "/web", "ab" + "c" * 62: "/db"}
    assert names.resolve("web", ids) == "a" * 64
    assert names.resolve("/db", ids) == "ab" + "c" * 62
    assert names.resolve("aa", ids) == "a" * 64
    with pytest.raises(errors.InvalidArgument, match="multiple IDs"):
        names.resolve("a", ids)
    with pytest.raises(errors.NotFound, match="No such container: zz"):
        names.resolve("zz", ids)


def test_version_prefix() -> None:
    assert strip_version("/v1.47/containers/json") == "/containers/json"
    assert strip_version("/v1.24/_ping") == "/_ping"
    assert strip_version("/_ping") == "/_ping"
    with pytest.raises(HTTPError, match="too old. Minimum supported API version is 1.24"):
        strip_version("/v1.23/info")
    with pytest.raises(HTTPError, match="too new"):
        strip_version("/v1.99/info")


def test_image_names_with_slashes() -> None:
    assert quote_image_name("/images/json") == "/images/json"
    assert quote_image_name("/images/busybox/json") == "/images/busybox/json"
    assert (quote_image_name("/images/docker.io/library/busybox:latest/json")
            == "/images/docker.io%2Flibrary%2Fbusybox%3Alatest/json")
    assert quote_image_name("/images/library/busybox") == "/images/library%2Fbusybox"


def test_statuses() -> None:
    assert status_for(errors.NotFound("x")) == 404
    assert status_for(errors.Conflict("x")) == 409
    assert status_for(errors.FailedPrecondition("x")) == 409
    assert status_for(errors.InvalidArgument("x")) == 400
    assert status_for(RuntimeError("x")) == 500


def test_status_phrases() -> None:
    assert human_duration(0.2) == "Less than a second"
    assert human_duration(3) == "3 seconds"
    assert human_duration(90) == "About a minute"
    assert human_duration(7200) == "2 hours"
    started = "2026-01-01T00:00:00.123456789Z"
    assert parse_time(started) == pytest.approx(1767225600.123456)
    view = View(id="a", name="/a", created=started, image="busybox", image_id="",
                args=("sh",), config={}, host_config={}, status="exited", exit_code=3,
                started_at=started, finished_at=started)
    assert status_text(view, parse_time(started) + 2) == "Exited (3) 2 seconds ago"


def test_build_spec() -> None:
    spec, shown = build_spec("docker", "f" * 64, IMAGE,
                             {"Cmd": ["echo", "hi"], "Env": ["A=1"], "Tty": True,
                              "User": "1000"}, {"NetworkMode": "host"}, "estiba-t")
    assert spec["process"]["args"] == ["echo", "hi"]
    assert spec["process"]["env"] == ["PATH=/bin", "A=1", "TERM=xterm"]
    assert spec["process"]["user"]["uid"] == 1000 and spec["process"]["terminal"]
    assert spec["hostname"] == os.uname().nodename  # the host's network, its name too
    assert "network" not in {n["type"] for n in spec["linux"]["namespaces"]}
    assert spec["linux"]["cgroupsPath"] == "/estiba-t/docker-" + "f" * 64
    assert shown["Cmd"] == ["echo", "hi"] and shown["Hostname"] == os.uname().nodename
    # an Entrypoint given drops the image's Cmd; the default network mode keeps the
    # container's own network namespace
    spec, _ = build_spec("docker", "e" * 64, IMAGE, {"Entrypoint": ["cat"]}, {}, "estiba")
    assert spec["process"]["args"] == ["cat"]
    assert "network" in {n["type"] for n in spec["linux"]["namespaces"]}
    with pytest.raises(errors.InvalidArgument, match="no command"):
        build_spec("docker", "d" * 64, {"config": {}}, {}, {}, "estiba")
    # the Config takes what the image sets and the request does not
    image = {"config": {**IMAGE["config"], "StopSignal": "SIGQUIT", "User": "nobody",
                        "Labels": {"a": "1", "b": "2"}}}
    spec, shown = build_spec("docker", "c" * 64, image, {"Labels": {"b": "3"}}, {}, "x")
    assert shown["StopSignal"] == "SIGQUIT" and shown["User"] == "nobody"
    assert shown["Labels"] == {"a": "1", "b": "3"}
    assert spec["process"]["user"]["uid"] == 0  # a name: looked up when the task is made
