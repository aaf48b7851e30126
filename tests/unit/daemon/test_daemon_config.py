"""estibad's configuration (flags over the TOML file), its sockets' checks, its log."""

from __future__ import annotations

import io
import json
import os
import socket
import time

import pytest

from estiba import errors
from estiba.daemon import config, sockets
from estiba.daemon.failpoints import Failpoints
from estiba.daemon.logs import Log
from estiba.daemon.pidfile import PidFile


def load(argv: list[str]) -> config.Config:
    return config.load(["--config", os.devnull, *argv]) if "--config" not in argv \
        else config.load(argv)


def test_defaults() -> None:
    c = load([])
    assert (c.root, c.exec_root, c.core_address) == (
        "/var/lib/estiba", "/run/estiba", "/run/estiba/core.sock")
    assert c.hosts == ("unix:///run/estiba/estiba.sock",)  # the Docker API
    assert c.default_runtime == "estiba" and "estiba" in c.runtime_paths()
    assert c.instance == "estiba" and c.live_restore and c.group == ""
    assert (c.log_level, c.log_format, c.debug_failpoints) == ("info", "json", ())


def test_flags() -> None:
    c = load(["--root", "/r", "--exec-root=/x", "--host", "unix:///x/d.sock",
              "--core-address", "/x/c.sock", "--runtime", "runc=/usr/bin/runc",
              "--runtime=crun=/usr/bin/crun", "--default-runtime", "runc",
              "--instance", "t1", "--group", "estiba", "--log-level", "debug",
              "--log-format", "text", "--live-restore=false", "--debug-failpoints", "a,b"])
    assert (c.root, c.exec_root, c.core_address, c.hosts) == (
        "/r", "/x", "/x/c.sock", ("unix:///x/d.sock",))
    assert c.runtime_paths()["runc"] == "/usr/bin/runc"
    assert c.runtime_paths()["crun"] == "/usr/bin/crun"
    assert (c.default_runtime, c.instance, c.group) == ("runc", "t1", "estiba")
    assert c.cgroup_parent == "estiba-t1" and load([]).cgroup_parent == "estiba"
    assert (c.log_level, c.log_format, c.live_restore) == ("debug", "text", False)
    assert c.debug_failpoints == ("a", "b")
    assert load(["--live-restore"]).live_restore is True


def test_file_then_flags(tmp_path) -> None:
    path = tmp_path / "estibad.toml"
    path.write_text('root = "/file"\nexec-root = "/fx"\nlive-restore = false\n'
                    'hosts = ["unix:///a.sock"]\n[runtimes]\nrunc = "/bin/runc"\n')
    c = config.load(["--config", str(path), "--root", "/flag", "-H", "unix:///b.sock"])
    assert (c.root, c.exec_root, c.live_restore) == ("/flag", "/fx", False)
    assert c.hosts == ("unix:///a.sock", "unix:///b.sock")
    assert c.runtime_paths()["runc"] == "/bin/runc" and c.config_file == str(path)


@pytest.mark.parametrize(("argv", "message"), [
    (["--frob"], "unknown flag '--frob'"),
    (["--root"], "flag --root needs a value"),
    (["--root", "rel"], "root: must be an absolute path"),
    (["--default-runtime", "kata"], "default runtime 'kata' is not configured"),
    (["--runtime", "runc"], "expected name=path"),
    (["--log-level", "loud"], "log level 'loud'"),
    (["--log-format", "xml"], "log format 'xml'"),
    (["--live-restore", "maybe"], "expected true or false"),
    (["--host", "tcp://127.0.0.1:99999"], "invalid port '99999'"),
    (["--host", "tcp://127.0.0.1:x"], "invalid port 'x'"),
    (["--host", "tcp://::1:2375"], "IPv6 address goes in brackets"),
    (["--host", "tcp://127.0.0.1:2375/api"], "a path"),
    (["--host", "https://127.0.0.1:2376"], "TLS is not supported"),
    (["--host", "http://127.0.0.1:2375"], "unsupported scheme 'http'"),
    (["--host", "ssh://me@host"], "unsupported scheme 'ssh'"),
    (["--core-address", "/" + "x" * 120], "longer than a unix socket path"),
    (["--host", "unix:///" + "x" * 120], "longer than a unix socket path"),
    (["--host", "unix://relative.sock"], "must be absolute"),
    (["--instance", "a/b"], "instance 'a/b'"),
])
def test_bad_flags(argv: list[str], message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        load(argv)


def test_tcp_hosts_beside_unix_sockets(tmp_path) -> None:
    c = load(["-H", "unix:///x/d.sock", "-H", "tcp://127.0.0.1:2375", "--host",
              "tcp://[::1]", "-H", "tcp://:2400", "-H", "0.0.0.0:2401"])
    assert c.listeners == (
        config.Listener(path="/x/d.sock"),
        config.Listener(host="127.0.0.1", port=2375),
        config.Listener(host="::1", port=2375),  # dockerd's port without TLS
        config.Listener(host="localhost", port=2400),  # and its host
        config.Listener(host="0.0.0.0", port=2401))  # no scheme: TCP, as dockerd reads it
    assert [listener.address for listener in c.listeners] == [
        "unix:///x/d.sock", "tcp://127.0.0.1:2375", "tcp://[::1]:2375",
        "tcp://localhost:2400", "tcp://0.0.0.0:2401"]
    path = tmp_path / "c.toml"
    path.write_text('hosts = ["unix:///a.sock", "tcp://127.0.0.1:2375"]\n')
    assert config.load(["--config", str(path), "-H", "tcp://127.0.0.1:2376"]).hosts == (
        "unix:///a.sock", "tcp://127.0.0.1:2375", "tcp://127.0.0.1:2376")
    path.write_text('host = "tcp://127.0.0.1:0"\n')
    with pytest.raises(config.ConfigError, match="invalid port '0'"):
        config.load(["--config", str(path)])


def test_bad_file(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("root = \n")
    with pytest.raises(config.ConfigError, match="bad.toml"):
        config.load(["--config", str(path)])
    path.write_text('colour = "blue"\n')
    with pytest.raises(config.ConfigError, match="unknown key 'colour'"):
        config.load(["--config", str(path)])
    with pytest.raises(config.ConfigError, match="no such file"):
        config.load(["--config", str(tmp_path / "missing.toml")])


def test_socket_checks(tmp_path) -> None:
    d = str(tmp_path)
    path = f"{d}/sub/core.sock"
    sockets.prepare(path)  # makes the directory, 0711
    assert os.stat(f"{d}/sub").st_mode & 0o777 == 0o711
    live = socket.socket(socket.AF_UNIX)
    live.bind(path)
    live.listen()
    assert sockets.answers(path)
    with pytest.raises(errors.Conflict, match="another daemon is answering"):
        sockets.prepare(path)
    live.close()  # the file stays: a stale socket
    assert os.path.exists(path) and not sockets.answers(path)
    sockets.prepare(path)
    assert not os.path.exists(path)
    open(path, "w").close()
    sockets.secure(path, -1)
    assert os.stat(path).st_mode & 0o777 == 0o600
    sockets.secure(path, os.getgid())
    assert os.stat(path).st_mode & 0o777 == 0o660
    sockets.remove(path)
    sockets.remove(path)
    assert sockets.group_id("") == -1 and sockets.group_id("0") == 0
    with pytest.raises(errors.NotFound, match="no such group"):
        sockets.group_id("no-such-group-here")


def test_socket_removed_only_if_still_ours(tmp_path) -> None:
    path = f"{tmp_path}/c.sock"
    open(path, "w").close()
    ours = sockets.identity(path)
    os.unlink(path)
    time.sleep(0.01)
    open(path, "w").close()  # another daemon's, bound meanwhile (maybe the same inode)
    sockets.remove(path, ours)
    assert os.path.exists(path)
    sockets.remove(path, sockets.identity(path))
    assert not os.path.exists(path)


def test_pid_file_lets_one_daemon_have_an_exec_root(tmp_path) -> None:
    first, second = PidFile(str(tmp_path)), PidFile(str(tmp_path))
    first.acquire()
    assert (tmp_path / "estibad.pid").read_text() == f"{os.getpid()}\n"
    with pytest.raises(errors.Conflict, match=f"another estibad \\(pid {os.getpid()}\\)"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()


def test_log_lines() -> None:
    out = io.StringIO()
    log = Log("info", "json", out)
    log("debug", "hidden")
    log("info", "serving", path="/x", n=1)
    [line] = out.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "info" and entry["msg"] == "serving" and entry["n"] == 1
    assert entry["time"].endswith("Z")
    out = io.StringIO()
    Log("debug", "text", out)("error", "bad thing", error="a b")
    assert out.getvalue().split(" ", 1)[1] == 'error bad thing error="a b"\n'


def test_failpoints_are_named() -> None:
    assert not Failpoints().active
    with pytest.raises(ValueError, match="unknown failpoints x"):
        Failpoints(("x",))
    Failpoints().hit("task-after-bundle")  # off: nothing happens
    Failpoints(("task-after-bundle",)).hit("task-before-start")  # another one: nothing


def test_failpoints_from_the_environment() -> None:
    from estiba.daemon.failpoints import KNOWN, from_env

    assert from_env({}) == ()
    assert from_env({"ESTIBA_FAILPOINTS": " task-after-mount,,import-after-blobs "}) == (
        "task-after-mount", "import-after-blobs")
    assert {"container-after-snapshot", "unpack-after-layer"} <= KNOWN
    for name in KNOWN:  # every name is documented in the daemon's help
        assert name in config.USAGE


def test_a_failpoint_on_kills_the_process() -> None:
    import signal
    import subprocess
    import sys

    code = ("from estiba.daemon.failpoints import Failpoints\n"
            "f = Failpoints(('task-after-mount',))\n"
            "f.hit('task-after-bundle')\n"
            "print('passed the other', flush=True)\n"
            "f.hit('task-after-mount')\n"
            "print('not reached')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == "passed the other\n"


def test_idle_timeout() -> None:
    assert load(["--idle-timeout", "2.5"]).idle_timeout == 2.5
    assert load([]).idle_timeout == 120.0
    with pytest.raises(config.ConfigError, match="idle-timeout"):
        load(["--idle-timeout", "-1"])


def test_installed_runtimes_are_offered_unless_configured() -> None:
    from estiba.daemon.config import build

    config = build({"runtimes": ["runc=/opt/runc"]}, "/x/estiba-runtime",
                   {"runc": "/usr/bin/runc", "crun": "/usr/bin/crun"})
    assert config.runtime_paths() == {"estiba": "/x/estiba-runtime", "runc": "/opt/runc",
                                      "crun": "/usr/bin/crun"}
