"""The config's hooks (runtime-spec config.md, "POSIX-platform Hooks"): each of the six
kinds runs at its moment of the lifecycle, in the right namespaces, with the container's
state on stdin and the hook's own args and env; a failing hook fails ``create`` (and
leaves nothing behind) or, after the start, only warns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from support.bundle import Bundle, add_hook, add_mount, set_args
from support.leaks import CGROUP_ROOT

pytestmark = pytest.mark.root

Runtime = Callable[..., subprocess.CompletedProcess[str]]
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "data" / "oci-runtime-schema"
HOST_SH = "/bin/sh"

# Run by the host's python: what a hook in the runtime namespace (or, for
# createContainer, before pivot_root) sees, written to <out>/<kind>.json.
RECORDER = """\
import json, os, sys
kind, out = sys.argv[1], sys.argv[2]
raw = sys.stdin.read()
state = json.loads(raw)
environ = open("/proc/self/environ").read().split("\\0")[:-1]  # as exec'd
report = {"stdin": raw, "argv": sys.argv, "env": environ,
          "pidns": os.readlink("/proc/self/ns/pid"), "mntns": os.readlink("/proc/self/ns/mnt"),
          "hostname": os.uname().nodename, "init": None,
          "mounts": [line.split()[4] for line in open("/proc/self/mountinfo")]}
pid = state.get("pid") or 0
if pid and kind != "createContainer":
    try:
        report["init"] = {"mntns": os.readlink(f"/proc/{pid}/ns/mnt"),
                          "cmdline": open(f"/proc/{pid}/cmdline").read().split("\\0")[:-1],
                          "mounts": [line.split()[4] for line in open(f"/proc/{pid}/mountinfo")]}
    except OSError:
        pass
with open(f"{out}/{kind}.json", "w") as f:
    json.dump(report, f)
with open(f"{out}/order", "a") as f:
    f.write(kind + "\\n")
"""

# Run by the container's /bin/sh (busybox): the startContainer hook, at a path that
# exists only inside the rootfs.
START_HOOK = """\
#!/bin/sh
cat > /out/startContainer.state
hostname > /out/startContainer.hostname
readlink /proc/self/ns/pid > /out/startContainer.pidns
echo "$1 $2 $GREETING" > /out/startContainer.args
echo startContainer >> /out/order
"""


@pytest.fixture(scope="module")
def state_validator() -> jsonschema.protocols.Validator:
    resources = [
        (f"file://{SCHEMA_DIR}/{path.name}",
         Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT4))
        for path in SCHEMA_DIR.glob("*.json")
    ]
    schema = dict(json.loads((SCHEMA_DIR / "state-schema.json").read_text()))
    schema["id"] = f"file://{SCHEMA_DIR}/state-schema.json"
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=Registry().with_resources(resources))


@pytest.fixture
def rootfs(tmp_path: Path, busybox_rootfs: Path) -> Path:
    """A private copy of the busybox rootfs, which a test may write into."""
    dest = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, dest, symlinks=True)
    return dest


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def recorder(tmp_path: Path) -> Path:
    path = tmp_path / "recorder.py"
    path.write_text(RECORDER)
    return path


def _record_hook(bundle: Bundle, kind: str, recorder: Path, out: Path, **kw: Any) -> None:
    add_hook(bundle.config, kind, sys.executable,
             args=[sys.executable, "-I", str(recorder), kind, str(out)], **kw)


def _failing_hook(bundle: Bundle, kind: str, code: int = 3, text: str = "hook says no",
                  timeout: int | None = None) -> None:
    add_hook(bundle.config, kind, HOST_SH,
             args=["sh", "-c", f"echo '{text}' >&2; exit {code}"], timeout=timeout)


def _order(out: Path) -> list[str]:
    path = out / "order"
    return path.read_text().split() if path.exists() else []


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _state(runtime: Runtime, cid: str) -> dict[str, Any]:
    return json.loads(runtime("state", cid).stdout)


def _cgroup_dirs(cgroups_path: str) -> list[Path]:
    rel = cgroups_path.strip("/")
    return [p for p in (CGROUP_ROOT / rel, *CGROUP_ROOT.glob(f"*/{rel}")) if p.exists()]


def _checked_state(validator: jsonschema.protocols.Validator, raw: str) -> dict[str, Any]:
    state = json.loads(raw)
    errors = [e.message for e in validator.iter_errors(state)]
    assert not errors, f"state {state} breaks the schema: {errors}"
    return state


# --- every hook at its moment --------------------------------------------------------


def test_lifecycle_hooks(
    bundle: Bundle, runtime: Runtime, rootfs: Path, out: Path, recorder: Path,
    tmp_path: Path, state_validator: jsonschema.protocols.Validator,
) -> None:
    bundle.config["root"]["path"] = str(rootfs)
    add_mount(bundle.config, "/out", str(out))
    set_args(bundle.config, "/bin/sh", "-c", "echo program >> /out/order; exec sleep 600")
    for kind in ("prestart", "createRuntime", "createContainer"):
        _record_hook(bundle, kind, recorder, out)
    (rootfs / "hooks").mkdir()
    (rootfs / "hooks" / "start").write_text(START_HOOK)
    (rootfs / "hooks" / "start").chmod(0o755)
    add_hook(bundle.config, "startContainer", "/hooks/start",
             args=["start", "one", "two"], env=["GREETING=hello"])
    for kind in ("poststart", "poststop"):
        _record_hook(bundle, kind, recorder, out)
    bundle.write()
    host_pidns = os.readlink("/proc/self/ns/pid")
    host_mntns = os.readlink("/proc/self/ns/mnt")

    runtime("create", "--bundle", bundle.path, "hooked", output_dir=tmp_path / "io")
    assert _order(out) == ["prestart", "createRuntime", "createContainer"]
    created = _state(runtime, "hooked")
    pid = created["pid"]
    init_pidns = os.readlink(f"/proc/{pid}/ns/pid")
    init_mntns = os.readlink(f"/proc/{pid}/ns/mnt")

    for kind in ("prestart", "createRuntime"):
        report = json.loads((out / f"{kind}.json").read_text())
        state = _checked_state(state_validator, report["stdin"])
        assert state["id"] == "hooked"
        assert state["status"] == "creating"
        assert state["pid"] == pid
        assert state["bundle"] == str(bundle.path)
        # in the runtime's namespaces, while the init waits in the container's own
        assert (report["pidns"], report["mntns"]) == (host_pidns, host_mntns)
        assert report["init"]["mntns"] == init_mntns != host_mntns
        # the container's mounts are made, and its root is not switched yet
        assert str(rootfs / "proc") in report["init"]["mounts"]
        assert str(rootfs / "out") in report["init"]["mounts"]
        assert report["env"] == []  # a hook gets its own env only

    report = json.loads((out / "createContainer.json").read_text())
    state = _checked_state(state_validator, report["stdin"])
    assert (state["id"], state["status"], state["pid"]) == ("hooked", "creating", 1)
    assert (report["pidns"], report["mntns"]) == (init_pidns, init_mntns)
    assert str(rootfs / "proc") in report["mounts"]  # before pivot_root

    runtime("start", "hooked")
    order = _order(out)
    assert order.index("startContainer") < order.index("poststart")
    state = _checked_state(state_validator, (out / "startContainer.state").read_text())
    assert (state["id"], state["pid"], state["bundle"]) == ("hooked", 1, str(bundle.path))
    assert state["status"] == "created"
    assert (out / "startContainer.hostname").read_text().strip() == "estiba"
    assert (out / "startContainer.pidns").read_text().strip() == init_pidns
    assert (out / "startContainer.args").read_text().split() == ["one", "two", "hello"]

    report = json.loads((out / "poststart.json").read_text())
    state = _checked_state(state_validator, report["stdin"])
    assert (state["id"], state["status"], state["pid"]) == ("hooked", "running", pid)
    assert report["pidns"] == host_pidns
    # the user program runs (the init has exec'd it) when poststart is called
    assert report["init"]["cmdline"][0] in ("/bin/sh", "sleep")

    _wait_for(lambda: "program" in _order(out), "the program")
    order = _order(out)
    assert order.index("startContainer") < order.index("program")
    assert "poststop" not in order

    runtime("delete", "--force", "hooked")
    assert _order(out)[-1] == "poststop"
    report = json.loads((out / "poststop.json").read_text())
    state = _checked_state(state_validator, report["stdin"])
    assert (state["id"], state["status"]) == ("hooked", "stopped")
    assert report["pidns"] == host_pidns
    assert report["init"] is None  # the container is gone by then
    assert not os.path.exists(f"/proc/{pid}") or \
        Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
    assert _cgroup_dirs(bundle.config["linux"]["cgroupsPath"]) == []


def test_hook_args_and_env(bundle: Bundle, runtime: Runtime, out: Path,
                           tmp_path: Path) -> None:
    script = 'echo "$0|$1|$FOO|$BAR" > "$1/seen"; tr "\\0" " " < /proc/$$/cmdline > "$1/argv"'
    add_hook(bundle.config, "createRuntime", HOST_SH,
             args=["hook-name", "-c", script, "zeroth", str(out)],
             env=["FOO=foo value", "BAR=bar", "PATH=/usr/bin:/bin"])
    bundle.write()
    runtime("create", "--bundle", bundle.path, "args", output_dir=tmp_path / "io")
    assert (out / "seen").read_text() == f"zeroth|{out}|foo value|bar\n"
    assert (out / "argv").read_text().split()[0] == "hook-name"
    runtime("delete", "--force", "args")


def test_annotations_reach_the_hooks(
    bundle: Bundle, runtime: Runtime, out: Path, recorder: Path, tmp_path: Path,
    state_validator: jsonschema.protocols.Validator,
) -> None:
    bundle.config["annotations"] = {"org.example.key": "value"}
    _record_hook(bundle, "prestart", recorder, out)
    bundle.write()
    runtime("create", "--bundle", bundle.path, "noted", output_dir=tmp_path / "io")
    report = json.loads((out / "prestart.json").read_text())
    state = _checked_state(state_validator, report["stdin"])
    assert state["annotations"] == {"org.example.key": "value"}
    runtime("delete", "--force", "noted")


# --- failures ------------------------------------------------------------------------


def _assert_nothing_left(runtime_root: Path, bundle: Bundle) -> None:
    assert os.listdir(runtime_root) == []
    assert _cgroup_dirs(bundle.config["linux"]["cgroupsPath"]) == []


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hook_fails_create(
    bundle: Bundle, runtime: Runtime, runtime_root: Path, out: Path, recorder: Path,
    tmp_path: Path, kind: str,
) -> None:
    _failing_hook(bundle, kind)
    _record_hook(bundle, kind, recorder, out)  # after the failing one: never runs
    _record_hook(bundle, "poststop", recorder, out)
    bundle.write()
    result = runtime("create", "--bundle", bundle.path, "refused", check=False,
                     output_dir=tmp_path / "io")
    assert result.returncode == 1
    assert kind in result.stderr
    assert "hook says no" in result.stderr
    assert "exit status 3" in result.stderr
    assert _order(out) == []
    _assert_nothing_left(runtime_root, bundle)
    assert "does not exist" in runtime("state", "refused", check=False).stderr


def test_missing_hook_fails_create(bundle: Bundle, runtime: Runtime, runtime_root: Path,
                                   tmp_path: Path) -> None:
    add_hook(bundle.config, "createRuntime", str(tmp_path / "no-such-hook"))
    bundle.write()
    result = runtime("create", "--bundle", bundle.path, "nohook", check=False,
                     output_dir=tmp_path / "io")
    assert result.returncode == 1
    assert "createRuntime" in result.stderr
    assert str(tmp_path / "no-such-hook") in result.stderr
    _assert_nothing_left(runtime_root, bundle)


def test_hook_timeout(bundle: Bundle, runtime: Runtime, runtime_root: Path,
                      tmp_path: Path) -> None:
    marker = tmp_path / "slow-hook-pid"
    add_hook(bundle.config, "prestart", HOST_SH,
             args=["sh", "-c", f'echo $$ > {marker}; exec sleep 60'], timeout=1)
    bundle.write()
    began = time.monotonic()
    result = runtime("create", "--bundle", bundle.path, "slow", check=False,
                     output_dir=tmp_path / "io", timeout=30)
    took = time.monotonic() - began
    assert result.returncode == 1
    assert "prestart" in result.stderr and "timed out" in result.stderr
    assert 1 <= took < 10
    hook_pid = int(marker.read_text())
    assert not os.path.exists(f"/proc/{hook_pid}"), "the hook was not killed"
    _assert_nothing_left(runtime_root, bundle)


def test_hook_timeout_while_it_writes(bundle: Bundle, runtime: Runtime, runtime_root: Path,
                                     tmp_path: Path) -> None:
    """A hook that never stops talking is killed at its deadline all the same."""
    add_hook(bundle.config, "createRuntime", "/usr/bin/yes", args=["yes", "chatty"], timeout=1)
    bundle.write()
    began = time.monotonic()
    result = runtime("create", "--bundle", bundle.path, "chatty", check=False,
                     output_dir=tmp_path / "io", timeout=30)
    assert result.returncode == 1
    assert "createRuntime" in result.stderr and "timed out" in result.stderr
    assert time.monotonic() - began < 10
    _assert_nothing_left(runtime_root, bundle)


def test_failing_poststart_hook_only_warns(
    bundle: Bundle, runtime: Runtime, out: Path, recorder: Path, tmp_path: Path,
) -> None:
    set_args(bundle.config, "/bin/sleep", "600")
    _failing_hook(bundle, "poststart")
    _record_hook(bundle, "poststart", recorder, out)  # the rest still run (the spec)
    bundle.write()
    runtime("create", "--bundle", bundle.path, "warned", output_dir=tmp_path / "io")
    result = runtime("start", "warned")
    assert "warning" in result.stderr
    assert "poststart" in result.stderr and "hook says no" in result.stderr
    assert _state(runtime, "warned")["status"] == "running"
    assert _order(out) == ["poststart"]
    runtime("delete", "--force", "warned")


def test_failing_poststop_hook_only_warns(
    bundle: Bundle, runtime: Runtime, runtime_root: Path, out: Path, recorder: Path,
    tmp_path: Path,
) -> None:
    _failing_hook(bundle, "poststop")
    _record_hook(bundle, "poststop", recorder, out)
    bundle.write()
    runtime("create", "--bundle", bundle.path, "stopping", output_dir=tmp_path / "io")
    runtime("start", "stopping")
    _wait_for(lambda: _state(runtime, "stopping")["status"] == "stopped", "the exit")
    result = runtime("delete", "stopping")
    assert "warning" in result.stderr
    assert "poststop" in result.stderr and "hook says no" in result.stderr
    assert _order(out) == ["poststop"]
    _assert_nothing_left(runtime_root, bundle)
