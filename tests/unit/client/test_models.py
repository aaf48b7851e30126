"""The object layer of the client (``estiba.client.models``) without a daemon: the
translation of create/run keywords to Docker's body, of update keywords, of filters;
the error types by status; references and load reports; and, with a recording stand-in
for the low-level client, the one decision ``create`` takes alone (pull a missing
image, then create again). What the objects do against a daemon is in
tests/e2e/test_client_models.py."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from estiba import errors
from estiba.client.docker import DockerError
from estiba.client.models import (
    APIError,
    BadRequest,
    Client,
    Conflict,
    Container,
    ContainerError,
    Forbidden,
    NotFound,
)
from estiba.client.models.container_config import container_config, update_body
from estiba.client.models.containers import joined
from estiba.client.models.errors import api_error
from estiba.client.models.images import loaded_names, split_tag
from estiba.client.models.networks import endpoint_config, network_body
from estiba.client.models.resource import merge_filters, typed_calls

# --- create/run keywords -------------------------------------------------------------


def test_the_least_create_body() -> None:
    request = container_config("busybox")
    assert request.body == {"Image": "busybox", "Tty": False, "OpenStdin": False}
    assert (request.name, request.platform) == ("", "")


def test_command_list_is_argv_and_string_is_the_shell_form() -> None:
    assert container_config("i", ["echo", "a b"]).body["Cmd"] == ["echo", "a b"]
    shell = container_config("i", "echo 'a b' | wc -c", entrypoint="/init")
    assert shell.body["Cmd"] == ["/bin/sh", "-c", "echo 'a b' | wc -c"]
    assert shell.body["Entrypoint"] == ["/bin/sh", "-c", "/init"]
    assert container_config("i", []).body["Cmd"] == []  # an empty argv is sent


def test_environment_labels_and_plain_fields() -> None:
    body = container_config(
        "i", name="web", environment={"A": "1", "EMPTY": None, "B": 2},
        labels=["role", "tier"], working_dir="/srv", user="1000:1000",
        hostname="h", stop_signal="SIGINT", stop_timeout=3, tty=True,
        stdin_open=True, stdin_once=True).body
    assert body["Env"] == ["A=1", "EMPTY=", "B=2"]
    assert body["Labels"] == {"role": "", "tier": ""}
    assert (body["WorkingDir"], body["User"], body["Hostname"]) == ("/srv", "1000:1000",
                                                                     "h")
    assert (body["StopSignal"], body["StopTimeout"]) == ("SIGINT", 3)
    assert body["Tty"] and body["OpenStdin"] and body["StdinOnce"] and body["AttachStdin"]
    assert container_config("i", environment=["X=y"]).body["Env"] == ["X=y"]
    assert container_config("i", name="web").name == "web"


def test_ports_in_every_shape() -> None:
    body = container_config("i", ports={
        80: 8080, "53/udp": None, "443/tcp": ("127.0.0.1", 8443), 9000: ("::1",),
        "7000": [7000, ("10.0.0.1", "7001")]}).body
    assert body["ExposedPorts"] == dict.fromkeys(
        ["80/tcp", "53/udp", "443/tcp", "9000/tcp", "7000/tcp"], {})
    assert body["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "", "HostPort": ""}],
        "443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}],
        "9000/tcp": [{"HostIp": "::1", "HostPort": ""}],
        "7000/tcp": [{"HostIp": "", "HostPort": "7000"},
                     {"HostIp": "10.0.0.1", "HostPort": "7001"}],
    }


def test_volumes_as_dict_and_as_list() -> None:
    as_dict = container_config("i", volumes={
        "data": {"bind": "/data", "mode": "ro"}, "/host": {"bind": "/h"},
        "cache": "/cache"}).body
    assert as_dict["HostConfig"]["Binds"] == ["data:/data:ro", "/host:/h", "cache:/cache"]
    assert "Volumes" not in as_dict
    as_list = container_config("i", volumes=["data:/data:ro", "/scratch"]).body
    assert as_list["HostConfig"]["Binds"] == ["data:/data:ro"]
    assert as_list["Volumes"] == {"/scratch": {}}  # an anonymous volume
    only_anonymous = container_config("i", volumes=["/scratch"]).body
    assert "HostConfig" not in only_anonymous


def test_network_or_network_mode() -> None:
    body = container_config("i", network="front", network_aliases=["web", "www"]).body
    assert body["HostConfig"]["NetworkMode"] == "front"
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"front": {
        "Aliases": ["web", "www"]}}}
    assert container_config("i", network_mode="host").body["HostConfig"] == {
        "NetworkMode": "host"}
    with pytest.raises(errors.InvalidArgument, match="give one"):
        container_config("i", network="front", network_mode="host")
    with pytest.raises(errors.InvalidArgument, match="need a network"):
        container_config("i", network_aliases=["x"])


def test_host_config_options() -> None:
    host = container_config(
        "i", auto_remove=True, restart_policy="always", privileged=True, read_only=True,
        init=False, cap_add=["NET_ADMIN"], cap_drop=("ALL",), dns=["127.0.0.53"],
        extra_hosts={"db": "10.0.0.2"}, tmpfs=["/run:size=1m", "/tmp"],
        devices=["/dev/fuse", "/dev/a:/dev/b:r"], mem_limit="64m", memswap_limit=-1,
        shm_size=1024, cpu_shares=512, nano_cpus=500_000_000, pids_limit=64,
        sysctls={"net.ipv4.ip_forward": "1"}, log_config={"Type": "none"},
        mounts=[{"Type": "tmpfs", "Target": "/m"}], pid_mode="host",
        group_add=["audio"]).body["HostConfig"]
    assert host["AutoRemove"] is host["Privileged"] is host["ReadonlyRootfs"] is True
    assert host["Init"] is False
    assert host["RestartPolicy"] == {"Name": "always"}
    assert (host["CapAdd"], host["CapDrop"], host["Dns"]) == (
        ["NET_ADMIN"], ["ALL"], ["127.0.0.53"])
    assert host["ExtraHosts"] == ["db:10.0.0.2"]
    assert host["Tmpfs"] == {"/run": "size=1m", "/tmp": ""}
    assert host["Devices"] == [
        {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse",
         "CgroupPermissions": "rwm"},
        {"PathOnHost": "/dev/a", "PathInContainer": "/dev/b", "CgroupPermissions": "r"}]
    assert (host["Memory"], host["MemorySwap"], host["ShmSize"]) == (64 << 20, -1, 1024)
    assert (host["CpuShares"], host["NanoCpus"], host["PidsLimit"]) == (
        512, 500_000_000, 64)
    assert host["Sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert host["LogConfig"] == {"Type": "none"}
    assert host["Mounts"] == [{"Type": "tmpfs", "Target": "/m"}]
    assert (host["PidMode"], host["GroupAdd"]) == ("host", ["audio"])
    restart = container_config("i", restart_policy={"Name": "on-failure",
                                                    "MaximumRetryCount": 2})
    assert restart.body["HostConfig"]["RestartPolicy"]["MaximumRetryCount"] == 2


def test_bad_sizes_and_unknown_keywords_are_refused() -> None:
    with pytest.raises(errors.InvalidArgument, match="mem_limit '64 apples'"):
        container_config("i", mem_limit="64 apples")
    with pytest.raises(TypeError, match="memory"):
        container_config("i", memory="64m")  # type: ignore[call-arg]


def test_update_body() -> None:
    assert update_body(mem_limit="1g", memswap_limit=-1, cpu_shares=2,
                       restart_policy="unless-stopped", pids_limit=None) == {
        "Memory": 1 << 30, "MemorySwap": -1, "CpuShares": 2,
        "RestartPolicy": {"Name": "unless-stopped"}}
    with pytest.raises(TypeError, match="'image'"):
        update_body(image="x")


# --- filters, references, reports ----------------------------------------------------


def test_filters_from_a_dict_and_keywords() -> None:
    assert merge_filters(None, {}) == {}
    assert merge_filters({"label": ["a=b"], "is_raw": "x"},
                         {"label": "c", "is_task": True, "dangling": False,
                          "name": ("x", "y"), "before": None}) == {
        "label": ["a=b", "c"], "is_raw": ["x"], "is-task": ["true"],
        "dangling": ["false"], "name": ["x", "y"]}


@pytest.mark.parametrize(("reference", "split"), [
    ("busybox", ("busybox", "")),
    ("busybox:1.36", ("busybox", "1.36")),
    ("localhost:5000/team/app", ("localhost:5000/team/app", "")),
    ("localhost:5000/team/app:v2", ("localhost:5000/team/app", "v2")),
    ("busybox@sha256:" + "a" * 64, ("busybox@sha256:" + "a" * 64, "")),
])
def test_split_tag(reference: str, split: tuple[str, str]) -> None:
    assert split_tag(reference) == split


def test_loaded_names() -> None:
    assert loaded_names([{"stream": "Loaded image: busybox:latest\n"},
                         {"stream": "Loaded image ID: sha256:abc\n"},
                         {"status": "Loading layer"},
                         {"stream": "Loaded image: a:1\nLoaded image: b:2\n"}]) == [
        "busybox:latest", "sha256:abc", "a:1", "b:2"]


def test_network_body_and_endpoint_config() -> None:
    assert network_body("n") == {"Name": "n"}
    assert network_body("n", driver="bridge", internal=True, attachable=True,
                        enable_ipv6=False, labels={"a": "b"}, options={"o": "v"},
                        subnet="10.9.0.0/24", gateway="10.9.0.1") == {
        "Name": "n", "Driver": "bridge", "Internal": True, "Attachable": True,
        "EnableIPv6": False, "Labels": {"a": "b"}, "Options": {"o": "v"},
        "IPAM": {"Driver": "default",
                 "Config": [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}]}}
    whole = {"Driver": "default", "Config": [{"Subnet": "10.8.0.0/16"}]}
    assert network_body("n", ipam=whole)["IPAM"] == whole
    with pytest.raises(errors.InvalidArgument, match="one form"):
        network_body("n", ipam=whole, subnet="10.9.0.0/24")
    assert endpoint_config() is None
    assert endpoint_config(["web"], ipv4_address="10.9.0.5", links=["db:db"]) == {
        "Aliases": ["web"], "Links": ["db:db"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}}


def test_output_pieces_joined_in_order_or_apart() -> None:
    pieces = [(1, b"a"), (2, b"E"), (1, b"b")]
    assert joined(pieces) == b"aEb"
    assert joined(pieces, demux=True) == (b"ab", b"E")
    assert joined([], demux=True) == (b"", b"")


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "typed", "kind"), [
    (400, BadRequest, errors.InvalidArgument),
    (403, Forbidden, errors.PermissionDenied),
    (404, NotFound, errors.NotFound),
    (409, Conflict, errors.Conflict),
])
def test_api_errors_typed_by_status(status: int, typed: type[APIError],
                                    kind: type[errors.EstibaError]) -> None:
    raw = DockerError(status, "no such container: x")
    err = api_error(raw)
    assert type(err) is typed and isinstance(err, kind) and isinstance(err, DockerError)
    assert (err.status, err.message) == (status, "no such container: x")
    assert err.__cause__ is raw and api_error(err) is err


def test_other_statuses_are_plain_api_errors() -> None:
    for status in (500, 501, 503):
        err = api_error(DockerError(status, "boom"))
        assert type(err) is APIError and not isinstance(err, errors.EstibaError)


def test_container_error_says_what_failed() -> None:
    box = Container({"Id": "f" * 64}, None)  # type: ignore[arg-type]
    err = ContainerError(box, 3, ["sh", "-c", "exit 3"], "busybox", b"oops\n")
    assert str(err) == ("container ffffffffffff of image 'busybox': command "
                        "['sh', '-c', 'exit 3'] exited with status 3: oops")
    assert isinstance(err, errors.EstibaError)
    silent = ContainerError(box, 1, None, "busybox", b"")
    assert str(silent).endswith("exited with status 1")


class StubAPI:
    """The low-level client's methods that ``create`` calls, answering from a script
    and recording each call."""

    def __init__(self, missing: str = "") -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.missing = missing  # the first create's 404 message

    def create_container(self, body: dict[str, Any], name: str, platform: str
                         ) -> dict[str, str]:
        self.calls.append(("create_container", (body["Image"], name)))
        if self.missing:
            message, self.missing = self.missing, ""
            raise DockerError(404, message)
        return {"Id": "c" * 64}

    def pull(self, name: str, tag: str, platform: str) -> list[dict[str, str]]:
        self.calls.append(("pull", (name, tag)))
        return [{"status": "Downloaded newer image"}]

    def inspect_image(self, name: str) -> dict[str, Any]:
        self.calls.append(("inspect_image", (name,)))
        return {"Id": "sha256:" + "i" * 64}

    def inspect_container(self, id: str) -> dict[str, Any]:
        self.calls.append(("inspect_container", (id,)))
        return {"Id": id, "Name": "/web", "State": {"Status": "created"}}

    def remove_container(self, id: str, force: bool, volumes: bool) -> None:
        raise DockerError(409, f"container {id} is running")


def stub_client(api: StubAPI) -> Client:
    client = Client("unix:///nonexistent/docker.sock")
    client.calls = typed_calls(api)  # type: ignore[arg-type]
    return client


def test_create_pulls_a_missing_image_then_creates_again() -> None:
    api = StubAPI("No such image: busybox:latest")
    made = stub_client(api).containers.create("busybox", ["true"], name="web")
    assert made.name == "web" and made.status == "created"
    assert [name for name, _ in api.calls] == [
        "create_container", "pull", "inspect_image", "create_container",
        "inspect_container"]
    assert ("pull", ("busybox", "latest")) in api.calls


def test_create_without_pull_and_other_404s_raise() -> None:
    with pytest.raises(NotFound, match="No such image"):
        stub_client(StubAPI("No such image: busybox:latest")).containers.create(
            "busybox", pull=False)
    api = StubAPI("network front not found")
    with pytest.raises(NotFound, match="network front"):
        stub_client(api).containers.create("busybox", network="front")
    assert [name for name, _ in api.calls] == ["create_container"]


def test_typed_calls_raise_typed_errors() -> None:
    box = stub_client(StubAPI()).containers.get("x")
    with pytest.raises(Conflict, match="is running") as raised:
        box.remove()
    assert raised.value.status == 409


def test_importing_the_package_leaves_the_models_for_later() -> None:
    code = ("import sys, estiba.client.core; "
            "print('estiba.client.models' in sys.modules, "
            "'estiba.client.docker' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]
    from estiba import client

    assert client.Client is Client and client.NotFound is NotFound
    with pytest.raises(AttributeError):
        client.NoSuchThing  # noqa: B018
