"""``estiba create`` and the request ``run``/``create`` make, against the docker CLI.

First the request itself: the real docker CLI is pointed at a recording endpoint (a
unix-socket HTTP server in a thread that answers ``/_ping`` and
``POST /containers/create`` and keeps what it was sent) and ``parse_run`` must build
the same body and query for the same arguments, over a table that uses every flag.
The recorder stands in for no part of Estiba: it only captures what docker's client
sends. Then ``estiba create`` beside ``docker create`` against the same estibad: the
same status and errors, and containers whose inspected Config and HostConfig agree."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from estiba.cli.docker.create import platform_query
from estiba.cli.docker.flags import UsageError
from estiba.cli.docker.runopts import ConfigError, parse_run
from estiba.errors import InvalidArgument
from support.docker_cli import docker, engine_daemon, estiba

pytestmark = [pytest.mark.e2e]

FAKE_ID = "0123456789abcdef" * 4
CLIENT_ENV = {"ECA_FROM_ENV": "from the client"}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def address_string(self) -> str:
        return "unix"

    def _reply(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Api-Version", "1.47")
        self.send_header("OSType", "linux")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._reply(200)

    def do_GET(self) -> None:
        self._reply(200, b"OK")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        url = urlsplit(self.path)
        self.server.requests.append((url.path, parse_qs(url.query),
                                     json.loads(body) if body else None))
        if url.path.endswith("/containers/create"):
            self._reply(201, json.dumps({"Id": FAKE_ID, "Warnings": []}).encode())
        elif url.path.endswith("/start"):
            self._reply(204)
        else:
            self._reply(404, b'{"message": "not recorded"}')


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        super().__init__(path, _Handler)
        self.requests: list[tuple[str, dict, object]] = []


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI")
    path = tmp_path_factory.mktemp("ecA-recorder") / "docker.sock"
    server = _Server(str(path))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def recorded(server: _Server, verb: str, args: tuple[str, ...]
             ) -> tuple[subprocess.CompletedProcess, tuple[dict, dict] | None]:
    """The docker CLI's result and the (query, body) of its create request, if any."""
    server.requests.clear()
    env = {**os.environ, **CLIENT_ENV,
           "DOCKER_HOST": f"unix://{server.server_address}"}
    env.pop("DOCKER_CONTEXT", None)
    result = subprocess.run(["docker", verb, *args], env=env, capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    creates = [(q, b) for p, q, b in server.requests if p.endswith("/containers/create")]
    return result, (creates[0] if creates else None)  # type: ignore[return-value]


def comparable(body: dict) -> dict:
    """docker sends ``-e`` and ``-v`` binds in a Go map's order: any order."""
    body = json.loads(json.dumps(body))
    if body.get("Env"):
        body["Env"] = sorted(body["Env"])
    if body["HostConfig"].get("Binds"):
        body["HostConfig"]["Binds"] = sorted(body["HostConfig"]["Binds"])
    return body


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ecA-files")
    (root / "env").write_text("# comment\nA=1\n  B= two words \n\nECA_FROM_ENV\nECA_UNSET\n")
    (root / "bad-labels").write_text("ok=1\na b=c\n")
    (root / "labels").write_text("l1=x\nl2\n")
    (root / "seccomp.json").write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW"\n}\n')
    return root


CASES = [
    (), ("busybox", "ls", "-l"),
    ("-a", "stdin", "-a", "STDOUT", "-i"), ("-a", "stderr"), ("-it",), ("-t",),
    ("--add-host", "h1:10.0.0.1", "--add-host", "h2=::1", "--add-host", "h3:[fe80::1]",
     "--add-host", "gw:host-gateway"),
    ("--annotation", "a=b", "--annotation", "c"),
    ("--blkio-weight", "300", "--blkio-weight-device", "/dev/sda:200"),
    ("--cap-add", "NET_ADMIN", "--cap-add", "SYS_TIME", "--cap-drop", "ALL"),
    ("--cap-add", "all", "--cap-add", "chown", "--cap-drop", "chown", "--cap-drop",
     " cap_kill ", "--cap-drop", "kill", "--cap-drop", "mknod"),
    ("--cgroup-parent", "/mine", "--cgroupns", "private"), ("--cgroupns", "host"),
    ("--cpu-period", "100000", "--cpu-quota", "50000", "--cpu-rt-period", "1000",
     "--cpu-rt-runtime", "500", "-c", "512", "--cpus", "1.5", "--cpuset-cpus", "0-1",
     "--cpuset-mems", "0"),
    ("--cpus", "0.000000001",), ("--cpus", "3/2"), ("--cpu-shares", "0x10"),
    ("--device", "/dev/null", "--device", "/dev/zero:/dev/z", "--device", "/dev/full:r",
     "--device", "/dev/random:/dev/r:rw"),
    ("--device-cgroup-rule", "c 1:3 rwm", "--device-cgroup-rule", "b *:* r"),
    ("--device-read-bps", "/dev/sda:1mb", "--device-write-bps", "/dev/sda:10k",
     "--device-read-iops", "/dev/sda:100", "--device-write-iops", "/dev/sdb:5"),
    ("--dns", "8.8.8.8", "--dns", "2001:4860:4860:0:0:0:0:8888", "--dns-option",
     "ndots:2", "--dns-search", "example.com.", "--dns-search", "."),
    ("--dns-opt", "timeout:1", "--dns-option", "attempts:2"),
    ("--domainname", "example.org", "-h", "box"), ("--hostname", "a.b.c"),
    ("--entrypoint", ""), ("--entrypoint", "/bin/sh -c", "busybox", "echo", "hi"),
    ("-e", "A=1", "-e", "B", "-e", "ECA_FROM_ENV", "--env", "A=2", "-e", "C="),
    ("--expose", "80", "--expose", "9000-9002/udp", "-P"),
    ("--group-add", "10", "--group-add", "audio"),
    ("--health-cmd", "true", "--health-interval", "1m30s", "--health-retries", "3",
     "--health-start-period", "500ms", "--health-timeout", "2s",
     "--health-start-interval", "1s"),
    ("--health-retries", "2",), ("--no-healthcheck",),
    ("--init",), ("--init=false",), ("--ip", "172.30.0.5", "--network", "net1"),
    ("--ip6", "2001:db8::33", "--network", "net1", "--network-alias", "web",
     "--network-alias", "www", "--link", "other:alias", "--link-local-ip", "169.254.1.1"),
    ("--ipc", "shareable", "--isolation", "default", "--pid", "host", "--uts", "host",
     "--userns", "host"),
    ("--pid", "container:abc",), ("--ipc", "container:abc"),
    ("-l", "a=1", "--label", "b", "-l", "a=3"),
    ("--link", "db", "--link", "cache:c"),
    ("--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=3"),
    ("--mac-address", "92:d0:c6:0a:29:33",),
    ("--mac-address", "92:d0:c6:0a:29:33", "--network", "net1"),
    ("-m", "512m", "--memory-reservation", "256MiB", "--memory-swap", "1g",
     "--memory-swappiness", "10", "--kernel-memory", "64m", "--shm-size", "1.5k"),
    ("--memory-swap", "-1", "-m", "1073741824"), ("--memory", "10b"),
    ("-m", "1.5 GiB"), ("-m", "1KB"), ("--shm-size", "64 M"), ("-m", "2gb"),
    ("--network", "alias=x,name=y"), ("--link", "a", "--network", "host"),
    ("--mount", "type=bind,source=/tmp,target=/mnt,readonly,bind-propagation=rslave"),
    ("--mount", "type=volume,src=vol1,dst=/data,volume-nocopy,volume-label=a=b,"
     "volume-driver=local,volume-opt=type=tmpfs,volume-subpath=sub"),
    ("--mount", "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770"),
    ("--mount", "target=/anon", "--mount", "type=bind,src=/etc,dst=/e,ro=false"),
    ("--name", "mybox",), ("--network", "host"), ("--net", "none"),
    ("--network", "bridge"), ("--network", "container:abc"),
    ("--network", "name=net1,alias=a1,ip=172.30.0.9,driver-opt=com.x=y",
     "--network", "net2"),
    ("--network", "net1", "--network", "net2", "--network-alias", "x"),
    ("--network", "net1", "--net-alias", "y"), ("--net", "net1", "--network", "net2"),
    ("--oom-kill-disable", "-m", "10m", "--oom-score-adj", "-500"),
    ("--pids-limit", "100",), ("--pids-limit", "-1"),
    ("--platform", "linux/amd64",), ("--platform", "Linux/x86_64"), ("--platform", "i386"),
    ("--platform", "linux"), ("--platform", "linux/Nosuch/V9"), ("--platform", "armhf"),
    ("--privileged", "--read-only"),
    ("-p", "80", "-p", "8080:80", "-p", "127.0.0.1:8081:81/udp", "-p", "::1:9000:90",
     "-p", "[::1]:9001:91/tcp", "-p", "127.0.0.1::82", "-p", "7000-7001:7000-7001",
     "-p", "6000-6005:60", "-p", "5000-5001/sctp"),
    ("-p", "target=80,published=8088,protocol=udp"),
    ("--pull", "never",), ("--pull", "missing", "-q"),
    ("--restart", "always",), ("--restart", "on-failure:3"), ("--restart", "unless-stopped"),
    ("--restart", "no", "--rm"), ("--rm",),
    ("--runtime", "runc",),
    ("--security-opt", "no-new-privileges", "--security-opt", "label=disable",
     "--security-opt", "apparmor:unconfined", "--security-opt", "systempaths=unconfined"),
    ("--security-opt", "systempaths=unconfined",),
    ("--stop-signal", "SIGINT", "--stop-timeout", "30"), ("--stop-timeout", "0"),
    ("--storage-opt", "size=10G",),
    ("--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=1000",
     "--sysctl", "fs.mqueue.msg_max=20"),
    ("--tmpfs", "/run", "--tmpfs", "/tmp:rw,size=64m,mode=1777"),
    ("--ulimit", "nofile=1024:2048", "--ulimit", "core=-1", "--ulimit", "nproc=10",
     "--ulimit", "nofile=1:2"),
    ("-u", "1000:1000", "-w", "/tmp"), ("--user", "nobody", "--workdir", "/"),
    ("-v", "a::b", "-v", "a:b:c:d", "-v", "/a:ro", "-v", "c:", "-v", ":d", "-v", "ef"),
    ("-v", "/data", "-v", "/tmp:/host", "-v", "/etc:/e:ro,rslave", "-v", "named:/n",
     "-v", "named2:/n2:nocopy", "--volume-driver", "local"),
    ("--volumes-from", "other", "--volumes-from", "third:ro"),
    ("--disable-content-trust",),
    ("-t", "--", "busybox", "ls", "-t"), ("busybox", "sh", "--rm", "-c"),
]


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a)[:60] or "bare")
def test_create_request_is_dockers(recorder: _Server, files: Path,
                                   args: tuple[str, ...]) -> None:
    argv = args if "busybox" in args else (*args, "busybox")
    result, request = recorded(recorder, "create", argv)
    assert result.returncode == 0, result.stderr
    assert request is not None
    query, body = request
    opts = parse_run(list(argv), run=False, environ=CLIENT_ENV)
    assert comparable(opts.body()) == comparable(body)  # type: ignore[arg-type]
    platform = platform_query(opts.platform) if opts.platform else ""
    assert {"name": opts.name, "platform": platform} == {
        "name": query.get("name", [""])[0], "platform": query.get("platform", [""])[0]}


def test_option_files_as_docker(recorder: _Server, files: Path) -> None:
    argv = ("--env-file", str(files / "env"), "-e", "Z=9", "--label-file",
            str(files / "labels"), "-l", "l2=y", "--security-opt",
            f"seccomp={files / 'seccomp.json'}", "busybox")
    result, request = recorded(recorder, "create", argv)
    assert result.returncode == 0, result.stderr
    opts = parse_run(list(argv), run=False, environ=CLIENT_ENV)
    assert request is not None
    assert comparable(opts.body()) == comparable(request[1])  # type: ignore[arg-type]
    assert opts.config["Env"][-1] == "Z=9"


def test_cidfile_request_is_dockers(recorder: _Server, tmp_path: Path) -> None:
    argv = ("--cidfile", str(tmp_path / "cid"), "busybox")
    result, request = recorded(recorder, "create", argv)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cid").read_text() == FAKE_ID
    assert request is not None
    opts = parse_run(list(argv), run=False)
    assert opts.cidfile == str(tmp_path / "cid")
    assert comparable(opts.body()) == comparable(request[1])  # type: ignore[arg-type]


def test_relative_binds_as_docker(recorder: _Server, tmp_path: Path) -> None:
    argv = ("-v", "./here:/h", "-v", ".:/dot", "--mount", "type=bind,src=./x,dst=/x",
            "busybox")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result, request = recorded(recorder, "create", argv)
        opts = parse_run(list(argv), run=False)
    finally:
        os.chdir(cwd)
    assert result.returncode == 0, result.stderr
    assert request is not None
    assert comparable(opts.body()) == comparable(request[1])  # type: ignore[arg-type]


RUN_CASES = [
    ("-d",), ("-dit",), ("-d", "--rm"), ("-d", "--detach-keys", "ctrl-a,a"),
    ("-d", "--sig-proxy=false", "-i"), ("--detach", "--name", "x", "-p", "80"),
]


@pytest.mark.parametrize("args", RUN_CASES, ids=" ".join)
def test_run_request_is_dockers(recorder: _Server, args: tuple[str, ...]) -> None:
    argv = (*args, "busybox", "sleep", "1")
    result, request = recorded(recorder, "run", argv)
    assert result.returncode == 0, result.stderr
    assert result.stdout == FAKE_ID + "\n"
    assert request is not None
    opts = parse_run(list(argv), run=True, environ=CLIENT_ENV)
    assert opts.detach
    assert comparable(opts.body()) == comparable(request[1])  # type: ignore[arg-type]


ERROR_CASES = [
    ("-m", "x"), ("--memory", "1z"), ("--cpus", "x"), ("--cpus", "0.0000000001"),
    ("--blkio-weight", "70000"), ("--pids-limit", "ten"), ("--oom-score-adj", "1.5"),
    ("--health-interval", "5"), ("--health-timeout", "x"), ("--stop-timeout", "x"),
    ("-a", "stdweird"), ("--add-host", "nohost"), ("--add-host", "h:notanip"),
    ("--dns", "8.8.8"), ("--dns-search", "-bad-"), ("--link", "a:b:c"),
    ("--sysctl", "kernel.hostname=x"), ("--sysctl", "vm.swappiness=1"),
    ("--ulimit", "nofile"), ("--ulimit", "bogus=1"), ("--ulimit", "nofile=20:10"),
    ("--blkio-weight-device", "/dev/sda"), ("--blkio-weight-device", "/dev/sda:5"),
    ("--device-read-bps", "sda:1"), ("--device-write-iops", "/dev/sda:x"),
    ("--device-cgroup-rule", "x 1:3 rwm"), ("--mount", "type=bind"),
    ("--mount", "target=/x,bogus=1"), ("--mount", "type=tmpfs,target=/x,bind-propagation=rshared"),
    ("--mount", "target=/x,tmpfs-size=x"), ("--network", "alias=x"),
    ("-e", "=x"), ("-l", "=x"), ("-l", "a b=c"),
    ("--bogus",), ("-Z",), ("-v", "a:::b"), ("-v", "/x:/y:"), ("--label-file", "LABELS"),
    ("-p", "1:2/xyz"), ("-p", "notaport"), ("-p", "1.2.3:80:80"),
    ("-p", "8000-8001:90-92"), ("--expose", "1:2"), ("--expose", "x"),
    ("--pull", "sometimes"), ("--mac-address", "zz"), ("--memory-swappiness", "101"),
    ("--pid", "bogus"), ("--uts", "private"), ("--userns", "private"),
    ("--cgroupns", "x"), ("--restart", ":3"), ("--restart", "on-failure:x"),
    ("--restart", "always", "--rm"), ("--log-driver", "none", "--log-opt", "a=b"),
    ("--security-opt", "bogus"), ("--security-opt", "seccomp=/nonexistent"),
    ("--storage-opt", "size"), ("--no-healthcheck", "--health-cmd", "x"),
    ("--health-interval", "-1s"), ("--health-retries", "-1"),
    ("-v", "/a::ro"), ("-v", "/a:/b:ro:x"), ("--device", "/dev/null:rr:x"),
    ("--device", "/dev/null:relative"), ("--env-file", "/nonexistent"),
    ("--network-alias", "x"),
    ("--network", "host", "--network", "net1"),
    ("--network", "net1", "--network", "net1"),
    ("--network", "name=n1,alias=x", "--network-alias", "y"), ("-m", "1.5.5"),
    ("-m", "-1"), ("--shm-size", "1kbb"), ("--shm-size", "1 x"), ("--memory", "k"),
]


@pytest.mark.parametrize("args", ERROR_CASES, ids=" ".join)
def test_errors_are_dockers(recorder: _Server, files: Path,
                            args: tuple[str, ...]) -> None:
    argv = (*(str(files / "bad-labels") if a == "LABELS" else a for a in args), "busybox")
    result, request = recorded(recorder, "create", argv)
    assert result.returncode == 125, (result.stderr, request)
    assert request is None
    with pytest.raises((UsageError, ConfigError)) as raised:
        parse_run(list(argv), run=False, environ=CLIENT_ENV)
    err = raised.value
    assert err.status == 125
    if isinstance(err, ConfigError):
        ours = err.text("create")
    else:
        from estiba.cli.docker.context import usage_text

        ours = usage_text("create", "create [OPTIONS] IMAGE [COMMAND] [ARG...]", str(err))
    assert ours.replace("estiba", "docker") == result.stderr


def test_run_only_errors_are_dockers(recorder: _Server) -> None:
    argv = ("-d", "-a", "stdout", "busybox")
    result, _ = recorded(recorder, "run", argv)
    with pytest.raises(InvalidArgument) as raised:
        parse_run(list(argv), run=True)
    assert result.returncode == 1
    assert f"{raised.value}\n" == result.stderr
    for flag in ("-d", "--sig-proxy=false", "--detach-keys=x"):
        result, _ = recorded(recorder, "create", (flag, "busybox"))
        with pytest.raises(UsageError) as usage:
            parse_run([flag, "busybox"], run=False)
        assert result.returncode == 125
        assert str(usage.value) in result.stderr.replace("docker", "estiba")


# --- against estibad -------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("ecA-")


_VARYING = ("ContainerIDFile",)


@pytest.mark.parametrize("args", [
    ("busybox", "echo", "hi"),
    ("-e", "A=1", "-l", "x=y", "-w", "/tmp", "-u", "1:1", "--hostname", "box", "busybox"),
    ("-m", "64m", "--cpus", "0.5", "--pids-limit", "50", "--restart", "on-failure:2",
     "busybox"),
    ("-p", "127.0.0.1:18301:80/udp", "--expose", "81", "--init", "--read-only",
     "--tmpfs", "/run", "-v", "/data", "busybox"),
    ("--entrypoint", "", "--stop-signal", "SIGUSR1", "--stop-timeout", "3",
     "--health-cmd", "true", "--health-interval", "5s", "busybox"),
    ("--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "--network", "none",
     "--add-host", "h:10.1.1.1", "--dns", "10.0.0.2", "--ulimit", "nofile=100:200",
     "busybox"),
    ("--mount", "type=bind,src=/tmp,dst=/mnt,readonly", "--mount",
     "type=tmpfs,dst=/t,tmpfs-size=1m", "-v", "/etc:/e:ro", "--shm-size", "8m",
     "--security-opt", "no-new-privileges", "--sysctl", "net.ipv4.ip_forward=1",
     "--device", "/dev/null:/dev/n:r", "--group-add", "10", "--log-opt", "max-size=1m",
     "--oom-score-adj", "100", "--pid", "host", "--ipc", "private", "busybox"),
    ("-p", "18302-18303:80-81", "-P", "--expose", "90-91", "--rm", "--annotation", "a=b",
     "--label", "l", "--stop-timeout", "7", "-a", "stdout", "-i", "busybox", "sh"),
    ("--pull", "always", "busybox"), ("--pull", "always", "-q", "busybox"),
    ("--pull", "never", "-i", "-t", "busybox", "sh"),
])
def test_create_as_docker(daemon: object, args: tuple[str, ...]) -> None:
    ours = estiba(daemon, "create", *args)
    theirs = docker(daemon, "create", *args)
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)
    assert ours.returncode == 0, ours.stderr
    ids = ours.stdout.strip(), theirs.stdout.strip()
    assert len(ids[0]) == 64 and len(ids[1]) == 64
    try:
        mine, docker_s = json.loads(docker(daemon, "inspect", *ids).stdout)
        for key in ("Config", "HostConfig"):
            a, b = dict(mine[key]), dict(docker_s[key])
            if key == "Config":
                a.pop("Hostname"), b.pop("Hostname")  # the id's prefix, unless -h
                assert mine["Config"]["Hostname"] == ids[0][:12] or "--hostname" in args
            assert a == b, key
    finally:
        docker(daemon, "rm", *ids)


@pytest.mark.parametrize("args", [
    ("busybox:nosuch",), ("--pull", "never", "busybox:nosuch"), ("-q", "busybox:nosuch"),
    ("--pull", "always", "busybox:nosuch"), ("Busybox",), ("busybox@sha256:abc",),
    ("--name", "bad name!", "busybox"), ("-m", "x", "busybox"),
    ("-p", "1:2/xyz", "busybox"), (), ("--platform", "nosuch", "busybox"),
    ("--platform", "linux/a b", "busybox"), ("--platform", "a/b/c/d", "busybox"),
    ("--cpu-count", "2", "--io-maxiops", "3", "busybox"),
    ("-e", "A=1", "--", "Busybox"),
])
def test_create_errors_as_docker(daemon: object, args: tuple[str, ...]) -> None:
    ours = estiba(daemon, "create", *args)
    theirs = docker(daemon, "create", *args)
    assert ours.returncode == theirs.returncode, (ours.stderr, theirs.stderr)
    assert ours.stderr.replace("estiba", "docker") == theirs.stderr
    assert ours.stdout == theirs.stdout == ""


def test_cidfile(daemon: object, tmp_path: Path) -> None:
    cidfile = tmp_path / "cid"
    ours = estiba(daemon, "create", "--cidfile", str(cidfile), "busybox")
    assert ours.returncode == 0, ours.stderr
    cid = ours.stdout.strip()
    try:
        assert cidfile.read_text() == cid
        again = estiba(daemon, "create", "--cidfile", str(cidfile), "busybox")
        theirs = docker(daemon, "create", "--cidfile", str(cidfile), "busybox")
        assert (again.returncode, again.stderr) == (theirs.returncode, theirs.stderr)
        assert again.returncode != 0
    finally:
        docker(daemon, "rm", cid)


def test_warnings_as_docker(daemon: object) -> None:
    args = ("--oom-kill-disable", "--dns", "8.8.8.8", "--dns", "127.0.0.1", "--dns",
            "::1", "busybox")
    ours, theirs = estiba(daemon, "create", *args), docker(daemon, "create", *args)
    try:
        assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)
        assert "WARNING: Localhost DNS (127.0.0.1) may fail" in ours.stderr
    finally:
        docker(daemon, "rm", ours.stdout.strip(), theirs.stdout.strip())
