"""Bad input to estiba-runtime: each call fails with a clear message on stderr and exit
status 1, and changes nothing — no state directory, no cgroup, no process is left by a
failed ``create``, and a container that was there before is unharmed."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support.bundle import Bundle, add_mount, make_bundle, set_args, set_cgroups_path
from support.leaks import CGROUP_ROOT, mounts_under
from support.runtime import run_runtime

pytestmark = pytest.mark.root

Runtime = Callable[..., subprocess.CompletedProcess[str]]


# --- what a failed call must leave as it was -----------------------------------------


def _adopted_pids() -> set[int]:
    """The children of this session, zombies included: what the runtime leaves running
    (an init, a hook) is reparented to the session, the subreaper. (Processes in other
    pid namespaces would also name the containers of other sessions on the machine.)"""
    me = os.getpid()
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == me:
            found.add(int(name))
    return found


def _cgroup_dirs(cgroups_path: str) -> list[Path]:
    rel = cgroups_path.strip("/")
    return [p for p in (CGROUP_ROOT / rel, *CGROUP_ROOT.glob(f"*/{rel}")) if p.exists()]


def _fail_create(
    runtime_root: Path, bundle: Bundle, cid: str, *flags: str, before: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run a ``create`` that must fail; check that it changed nothing and return it."""
    pids = _adopted_pids()
    entries = set(os.listdir(runtime_root))
    result = run_runtime(*before, "create", "--bundle", bundle.path, *flags, cid,
                         root=runtime_root, check=False, timeout=30)
    assert result.returncode == 1, result
    assert result.stderr.strip(), "no message on stderr"
    assert result.stdout == ""
    assert set(os.listdir(runtime_root)) == entries, "a state directory was left"
    cgroups_path = (bundle.config.get("linux") or {}).get("cgroupsPath")
    if isinstance(cgroups_path, str):
        assert _cgroup_dirs(cgroups_path) == []
    root_path = (bundle.config.get("root") or {}).get("path")
    if isinstance(root_path, str):
        assert mounts_under(root_path) == []
    assert _adopted_pids() <= pids, "a process was left"
    return result


def _status(runtime: Runtime, cid: str) -> str:
    return json.loads(runtime("state", cid).stdout)["status"]


def _wait_status(runtime: Runtime, cid: str, wanted: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    status = _status(runtime, cid)
    while status != wanted:
        assert time.monotonic() < deadline, f"{cid} is {status}, not {wanted}"
        time.sleep(0.02)
        status = _status(runtime, cid)


def _create(runtime: Runtime, bundle: Bundle, cid: str, io: Path) -> None:
    runtime("create", "--bundle", bundle.path, cid, output_dir=io, timeout=30)


def _sleeper(bundle: Bundle) -> Bundle:
    set_args(bundle.config, "/bin/sleep", "600")
    bundle.write()
    return bundle


# --- config.json ---------------------------------------------------------------------


def test_malformed_config(bundle: Bundle, runtime_root: Path) -> None:
    bundle.config_path.write_text('{"ociVersion": "1.2.0", "process": {')
    result = _fail_create(runtime_root, bundle, "bad-json")
    assert str(bundle.config_path) in result.stderr
    assert "json" in result.stderr.lower()


@pytest.mark.parametrize(("edit", "json_path"), [
    (lambda c: c["process"].__setitem__("args", "/probe"), "process.args"),
    (lambda c: c.pop("ociVersion"), "ociVersion"),
    (lambda c: c["root"].__setitem__("path", 7), "root.path"),
    (lambda c: c["mounts"][1].__setitem__("options", "ro"), "mounts[1].options"),
    (lambda c: c["linux"]["namespaces"].__setitem__(1, "ipc"), "linux.namespaces[1]"),
    (lambda c: c.__setitem__("hooks", {"prestart": [{"args": ["x"]}]}),
     "hooks.prestart[0].path"),
    (lambda c: c.pop("root"), "root"),
], ids=["args-string", "no-ociVersion", "root-path-number", "options-string",
        "namespace-string", "hook-without-path", "no-root"])
def test_schema_invalid_config_names_the_json_path(
    bundle: Bundle, runtime_root: Path, edit: Callable[[dict], object], json_path: str,
) -> None:
    edit(bundle.config)
    bundle.write()
    result = _fail_create(runtime_root, bundle, "bad-schema")
    assert json_path in result.stderr


def test_missing_config(tmp_path: Path, runtime_root: Path) -> None:
    empty = Bundle(tmp_path / "empty", {})
    empty.path.mkdir()
    result = _fail_create(runtime_root, empty, "no-config")
    assert "config.json" in result.stderr
    assert "no such file" in result.stderr


def test_missing_rootfs(bundle: Bundle, runtime_root: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-rootfs"
    bundle.config["root"]["path"] = str(missing)
    bundle.write()
    result = _fail_create(runtime_root, bundle, "no-rootfs")
    assert str(missing) in result.stderr
    assert "no such" in result.stderr


def test_missing_bind_source(bundle: Bundle, runtime_root: Path, tmp_path: Path) -> None:
    """Fails in the container's init, after the cgroup and the init were made."""
    missing = tmp_path / "no-source"
    add_mount(bundle.config, "/data", str(missing))
    bundle.write()
    result = _fail_create(runtime_root, bundle, "no-source")
    assert f"mount {missing} on /data" in result.stderr
    assert "no such file or directory" in result.stderr


def test_pid_file_in_a_missing_directory(bundle: Bundle, runtime_root: Path,
                                         tmp_path: Path) -> None:
    """Fails at the very end of create, once the container exists."""
    pid_file = tmp_path / "missing" / "pid"
    result = _fail_create(runtime_root, bundle, "pid-file", "--pid-file", str(pid_file))
    assert str(pid_file) in result.stderr
    assert "no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


# --- ids and states ------------------------------------------------------------------


def test_duplicate_id_leaves_the_first_container_alone(
    bundle: Bundle, runtime: Runtime, runtime_root: Path, busybox_rootfs: Path,
    cgroup_parent: str, tmp_path: Path,
) -> None:
    _create(runtime, _sleeper(bundle), "twin", tmp_path / "io")
    first = json.loads(runtime("state", "twin").stdout)
    other = make_bundle(tmp_path / "other", busybox_rootfs, ["/probe"])
    set_cgroups_path(other.config, f"{cgroup_parent}/{secrets.token_hex(4)}")
    other.write()

    result = _fail_create(runtime_root, other, "twin")
    assert "already exists" in result.stderr
    # the same bundle again: its cgroup is the first container's, and must stay
    again = runtime("create", "--bundle", bundle.path, "twin", check=False,
                    output_dir=tmp_path / "io-again")
    assert again.returncode == 1
    assert "already exists" in again.stderr

    assert json.loads(runtime("state", "twin").stdout) == first
    assert first["status"] == "created"
    assert _cgroup_dirs(bundle.config["linux"]["cgroupsPath"])
    runtime("start", "twin")
    assert _status(runtime, "twin") == "running"
    runtime("delete", "--force", "twin")


@pytest.mark.parametrize("cid", ["../escape", "a/b", "..", "white space", ""])
def test_invalid_id(bundle: Bundle, runtime_root: Path, cid: str) -> None:
    result = _fail_create(runtime_root, bundle, cid)
    assert "container id" in result.stderr
    assert not (runtime_root.parent / "escape").exists()


@pytest.mark.parametrize("argv", [
    ("start",), ("state",), ("kill",), ("kill", "KILL"), ("delete",), ("pause",),
    ("resume",), ("ps",), ("exec", "/bin/true"),
])
def test_unknown_id(runtime: Runtime, argv: tuple[str, ...]) -> None:
    result = runtime(argv[0], "ghost", *argv[1:], check=False)
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert "ghost" in result.stderr
    assert result.stdout == ""


def test_delete_force_of_an_unknown_id_is_quiet(runtime: Runtime) -> None:
    result = runtime("delete", "--force", "ghost")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_invalid_signal(bundle: Bundle, runtime: Runtime, tmp_path: Path) -> None:
    _create(runtime, _sleeper(bundle), "signalled", tmp_path / "io")
    for signal in ("SIGNOPE", "999"):
        result = runtime("kill", "signalled", signal, check=False)
        assert result.returncode == 1
        assert signal in result.stderr
    assert _status(runtime, "signalled") == "created"
    runtime("delete", "signalled")


def test_start_twice(bundle: Bundle, runtime: Runtime, tmp_path: Path) -> None:
    _create(runtime, _sleeper(bundle), "twice", tmp_path / "io")
    runtime("start", "twice")
    pid = json.loads(runtime("state", "twice").stdout)["pid"]
    result = runtime("start", "twice", check=False)
    assert result.returncode == 1
    assert "cannot start" in result.stderr and "running" in result.stderr
    state = json.loads(runtime("state", "twice").stdout)
    assert (state["status"], state["pid"]) == ("running", pid)
    runtime("delete", "--force", "twice")


def test_start_or_kill_a_stopped_container(
    bundle: Bundle, runtime: Runtime, tmp_path: Path,
) -> None:
    _create(runtime, bundle, "done", tmp_path / "io")
    runtime("start", "done")
    _wait_status(runtime, "done", "stopped")
    result = runtime("start", "done", check=False)
    assert result.returncode == 1
    assert "cannot start" in result.stderr and "stopped" in result.stderr
    result = runtime("kill", "done", "KILL", check=False)
    assert result.returncode == 1
    assert "not running" in result.stderr
    runtime("delete", "done")


def test_pause_a_created_container(bundle: Bundle, runtime: Runtime, tmp_path: Path) -> None:
    _create(runtime, _sleeper(bundle), "early", tmp_path / "io")
    result = runtime("pause", "early", check=False)
    assert result.returncode == 1
    assert "cannot pause" in result.stderr and "created" in result.stderr
    assert _status(runtime, "early") == "created"
    runtime("start", "early")
    assert _status(runtime, "early") == "running"
    runtime("delete", "--force", "early")


def test_resume_a_running_container(bundle: Bundle, runtime: Runtime, tmp_path: Path) -> None:
    _create(runtime, _sleeper(bundle), "awake", tmp_path / "io")
    runtime("start", "awake")
    result = runtime("resume", "awake", check=False)
    assert result.returncode == 1
    assert "cannot resume" in result.stderr and "running" in result.stderr
    assert _status(runtime, "awake") == "running"
    runtime("delete", "--force", "awake")


def test_delete_a_running_container_needs_force(
    bundle: Bundle, runtime: Runtime, tmp_path: Path,
) -> None:
    _create(runtime, _sleeper(bundle), "busy", tmp_path / "io")
    runtime("start", "busy")
    pid = json.loads(runtime("state", "busy").stdout)["pid"]
    result = runtime("delete", "busy", check=False)
    assert result.returncode == 1
    assert "running" in result.stderr
    state = json.loads(runtime("state", "busy").stdout)
    assert (state["status"], state["pid"]) == ("running", pid)
    assert _cgroup_dirs(bundle.config["linux"]["cgroupsPath"])
    runtime("delete", "--force", "busy")
    assert "does not exist" in runtime("state", "busy", check=False).stderr
    assert _cgroup_dirs(bundle.config["linux"]["cgroupsPath"]) == []


# --- the process ---------------------------------------------------------------------


def test_missing_executable(bundle: Bundle, runtime_root: Path) -> None:
    set_args(bundle.config, "nope")
    bundle.write()
    result = _fail_create(runtime_root, bundle, "nope")
    assert 'exec: "nope": executable file not found in $PATH' in result.stderr


def test_missing_executable_by_path(bundle: Bundle, runtime_root: Path) -> None:
    set_args(bundle.config, "/bin/nope")
    bundle.write()
    result = _fail_create(runtime_root, bundle, "nope-path")
    assert 'exec: "/bin/nope": stat /bin/nope: no such file or directory' in result.stderr


def test_directory_as_executable(bundle: Bundle, runtime_root: Path) -> None:
    set_args(bundle.config, "/etc")
    bundle.write()
    result = _fail_create(runtime_root, bundle, "dir-exec")
    assert 'exec: "/etc": permission denied' in result.stderr


def test_relative_cwd(bundle: Bundle, runtime_root: Path) -> None:
    bundle.config["process"]["cwd"] = "tmp"
    bundle.write()
    result = _fail_create(runtime_root, bundle, "rel-cwd")
    assert "process.cwd" in result.stderr


# --- flags and other verbs -----------------------------------------------------------


def test_systemd_cgroup_is_refused(bundle: Bundle, runtime_root: Path) -> None:
    result = _fail_create(runtime_root, bundle, "systemd", before=("--systemd-cgroup",))
    assert "systemd" in result.stderr


def test_unknown_flag(bundle: Bundle, runtime_root: Path) -> None:
    result = _fail_create(runtime_root, bundle, "flag", "--no-such-flag")
    assert "--no-such-flag" in result.stderr


def test_spec_into_a_missing_directory(runtime: Runtime, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = runtime("spec", "--bundle", missing, check=False)
    assert result.returncode == 1
    assert str(missing) in result.stderr
    assert "no such file or directory" in result.stderr
    assert not missing.exists()


def test_spec_refuses_to_overwrite(runtime: Runtime, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}\n")
    result = runtime("spec", "--bundle", tmp_path, check=False)
    assert result.returncode == 1
    assert "config.json" in result.stderr
    assert (tmp_path / "config.json").read_text() == "{}\n"


def test_json_log_ends_with_the_error(bundle: Bundle, runtime_root: Path,
                                      tmp_path: Path) -> None:
    log = tmp_path / "runtime.log"
    set_args(bundle.config, "nope")
    bundle.write()
    result = _fail_create(runtime_root, bundle, "logged",
                          before=("--log", str(log), "--log-format", "json"))
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error"
    assert 'exec: "nope": executable file not found in $PATH' in last["msg"]
    assert last["msg"] in result.stderr
    assert isinstance(last["time"], str) and last["time"]


def test_json_log_of_an_unknown_id(runtime: Runtime, tmp_path: Path) -> None:
    log = tmp_path / "runtime.log"
    result = runtime("--log", log, "--log-format", "json", "state", "ghost", check=False)
    assert result.returncode == 1
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error"
    assert "does not exist" in last["msg"]
