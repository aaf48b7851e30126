"""Where estibad's answers once differed from dockerd's (pure parts and the exec
instances on a fake core): the exit code and words of an exec that cannot start, the
streams an attached exec sends, a network endpoint's settings checked as dockerd
checks them, ``logs --details``'s attributes."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from estiba import errors
from estiba.engine import logconfig, networking
from estiba.engine.execs import Execs, start_failure
from estiba.engine.labels import CONFIG
from estiba.metadata.networks import NetworkRecord

# --- an exec that cannot start --------------------------------------------------------

OCI = "OCI runtime exec failed: exec failed: unable to start container process: "


@pytest.mark.parametrize(("core", "code", "shown"), [
    ('exec in abc: exec: "nosuchcommand": executable file not found in $PATH', 127,
     'exec: "nosuchcommand": executable file not found in $PATH: unknown'),
    ('exec in abc: estiba-runtime: exec: "/no/such": stat /no/such: no such file or '
     "directory", 127, 'exec: "/no/such": stat /no/such: no such file or directory: '
     "unknown"),
    ('exec in abc: exec: "/etc/passwd": permission denied', 126,
     'exec: "/etc/passwd": permission denied: unknown'),
    # runc since Go 1.20: dockerd adds "permission denied" after the whole message
    ('runc: exec: "/tmp": is a directory', 126,
     'exec: "/tmp": is a directory: unknown: permission denied'),
    ("exec in abc: chdir to cwd (\"/x\") set in config.json failed: not a directory",
     127, 'chdir to cwd ("/x") set in config.json failed: not a directory: unknown: Are '
     "you trying to mount a directory onto a file (or vice-versa)? Check if the "
     "specified host path exists and is the expected type"),
    ("exec in abc: something else", 126, "something else: unknown"),
])
def test_start_failure_as_dockerd_classifies_it(core: str, code: int, shown: str) -> None:
    assert start_failure(core) == (code, OCI + shown)


class FakeCore:
    """One running container whose execs run, but for ``nosuch`` (no such command)."""

    def __init__(self) -> None:
        record = SimpleNamespace(id="run", spec={"process": {"env": ["PATH=/bin"]}},
                                 labels=((CONFIG, json.dumps({})),))
        self.containers = SimpleNamespace(get=lambda ns, cid: record)
        self.tasks = SimpleNamespace(
            get=lambda ns, cid: SimpleNamespace(status="running", exit_status=None),
            exec=self._exec, exec_attached=self._exec_attached)

    def _exec(self, ns: str, cid: str, exec_id: str, process: dict, **kw: Any) -> Any:
        if process["args"] == ["nosuch"]:
            raise errors.NotFound(f'exec in {cid}: exec: "nosuch": executable file not '
                                  "found in $PATH")
        return SimpleNamespace(pid=7)

    def _exec_attached(self, *args: Any, **kw: Any) -> tuple[Any, Any]:
        return self._exec(*args, **kw), object()


def _execs() -> Execs:
    core = FakeCore()
    containers = SimpleNamespace(resolve=lambda ref: ref, user_ids=lambda c, u: None)
    return Execs(core, "docker", containers)  # type: ignore[arg-type]


def test_a_missing_command_exits_127_with_dockerd_s_words() -> None:
    execs = _execs()
    attached = execs.create("run", {"Cmd": ["nosuch"]})["Id"]
    started = execs.start(attached, detach=False)
    assert started is not None and started.conn is None
    assert started.error == (OCI + 'exec: "nosuch": executable file not found in $PATH: '
                             "unknown")
    assert execs.inspect(attached)["ExitCode"] == 127
    detached = execs.create("run", {"Cmd": ["nosuch"]})["Id"]
    with pytest.raises(errors.InvalidArgument, match="executable file not found"):
        execs.start(detached, detach=True)
    assert execs.inspect(detached)["ExitCode"] == 127


def test_an_attached_exec_sends_the_streams_it_attached() -> None:
    execs = _execs()
    both = execs.create("run", {"Cmd": ["true"], "AttachStdout": True,
                                "AttachStderr": True})["Id"]
    only_out = execs.create("run", {"Cmd": ["true"], "AttachStdout": True})["Id"]
    started = execs.start(both, detach=False)
    assert started is not None and started.streams == {1, 2}
    started = execs.start(only_out, detach=False)
    assert started is not None and started.streams == {1}


# --- a network endpoint's settings -----------------------------------------------------

USER = NetworkRecord(namespace="docker", id="n1", name="mine", driver="bridge", config={
    "subnet": "10.213.7.0/24", "gateway": "10.213.7.1", "ip_range": "10.213.7.0/24",
    "ipam_given": True})
RANGED = NetworkRecord(namespace="docker", id="n2", name="ranged", driver="bridge", config={
    "subnet": "10.213.7.0/24", "gateway": "10.213.7.1", "ip_range": "10.213.7.128/25",
    "ipam_given": True})
DYNAMIC = NetworkRecord(namespace="docker", id="n3", name="auto", driver="bridge", config={
    "subnet": "10.213.9.0/24", "gateway": "10.213.9.1", "ip_range": "10.213.9.0/24",
    "ipam_given": False})
BRIDGE = NetworkRecord(namespace="docker", id="n4", name="bridge", driver="bridge", config={
    "builtin": True, "subnet": "10.213.8.0/24", "gateway": "10.213.8.1",
    "ip_range": "10.213.8.0/24"})


def _ip(v4: str = "", **more: Any) -> dict:
    return {"IPAMConfig": {"IPv4Address": v4, **more}}


@pytest.mark.parametrize(("network", "settings", "message"), [
    (USER, _ip("10.213.7.9"), None),
    (USER, {}, None),
    (RANGED, _ip("10.213.7.200"), None),
    (USER, _ip("bad"), "invalid endpoint settings:\n* invalid IPv4 address: bad\n"
     "* no configured subnet or ip-range contain the IP address bad"),
    (USER, _ip("0.0.0.0"), "invalid endpoint settings:\n* invalid IPv4 address: "
     "0.0.0.0\n* no configured subnet or ip-range contain the IP address 0.0.0.0"),
    (USER, _ip("10.213.8.5"), "invalid endpoint settings:\nno configured subnet or "
     "ip-range contain the IP address 10.213.8.5"),
    (RANGED, _ip("10.213.7.5"), "invalid endpoint settings:\nno configured subnet or "
     "ip-range contain the IP address 10.213.7.5"),
    (DYNAMIC, _ip("10.213.9.5"), "invalid endpoint settings:\nuser specified IP address "
     "is supported only when connecting to networks with user configured subnets"),
    (BRIDGE, _ip("10.213.8.5"), "invalid endpoint settings:\nuser specified IP address "
     "is supported on user defined networks only"),
    (BRIDGE, {"Aliases": ["a"]}, "invalid endpoint settings:\nnetwork-scoped alias is "
     "supported only for containers in user defined networks"),
    (USER, _ip(IPv6Address="zz"), "invalid endpoint settings:\n* invalid IPv6 address: "
     "zz\n* user specified IP address is supported only when connecting to networks "
     "with user configured subnets"),
    (USER, _ip(LinkLocalIPs=["169.254.1.1", "x"]), "invalid endpoint settings:\n"
     "invalid link-local IP address: x"),
])
def test_endpoint_settings_checked_as_dockerd_does(network: NetworkRecord, settings: dict,
                                                    message: str | None) -> None:
    if message is None:
        networking.check_endpoint(network, settings)
        return
    with pytest.raises(errors.InvalidArgument) as raised:
        networking.check_endpoint(network, settings)
    assert str(raised.value) == message


# --- logs --details --------------------------------------------------------------------


def test_log_attributes_of_the_log_options() -> None:
    labels = {"a": "1", "b.x": "2", "other": "3"}
    env = ["B=x y", "PATH=/bin", "EMPTY="]
    given = {"Type": "json-file", "Config": {"labels": "a,missing", "env": "B,EMPTY",
                                             "labels-regex": "^b\\."}}
    assert logconfig.attributes(given, labels, env) == {
        "a": "1", "b.x": "2", "B": "x y", "EMPTY": ""}
    assert logconfig.attributes({"Config": {"env-regex": "^PA"}}, labels, env) == {
        "PATH": "/bin"}
    assert logconfig.attributes(None, labels, env) == {}
    # the local driver keeps no attributes with its lines
    assert logconfig.attributes({"Type": "local", "Config": {"env": "B"}}, labels, env) == {}
    with pytest.raises(errors.InvalidArgument):
        logconfig.attributes({"Config": {"env-regex": "("}}, labels, env)


def test_details_prefix_as_dockerd_writes_it() -> None:
    assert logconfig.details(()) == b" "
    assert logconfig.details((("a", "1"), ("B", "x y"), ("c", "a,b=c"))) == (
        b"B=x+y,a=1,c=a%2Cb%3Dc ")
