"""core.runtimes: the runtime argv builders and the reading of its errors (pure)."""

from __future__ import annotations

import pytest

from estiba.core import runtimes as rt
from estiba.errors import AlreadyExists, FailedPrecondition, Internal, NotFound

P, ROOT = "/usr/bin/runc", "/run/estiba/runtime/runc/default"


def test_state_root_is_per_runtime_and_namespace():
    assert rt.state_root("/run/estiba", "runc", "docker") == "/run/estiba/runtime/runc/docker"


@pytest.mark.parametrize(("argv", "want"), [
    (rt.start_argv(P, ROOT, "c1"), [P, "--root", ROOT, "start", "c1"]),
    (rt.state_argv(P, ROOT, "c1"), [P, "--root", ROOT, "state", "c1"]),
    (rt.kill_argv(P, ROOT, "c1"), [P, "--root", ROOT, "kill", "c1", "15"]),
    (rt.kill_argv(P, ROOT, "c1", 9, all=True), [P, "--root", ROOT, "kill", "--all", "c1", "9"]),
    (rt.delete_argv(P, ROOT, "c1"), [P, "--root", ROOT, "delete", "c1"]),
    (rt.delete_argv(P, ROOT, "c1", force=True), [P, "--root", ROOT, "delete", "--force", "c1"]),
    (rt.pause_argv(P, ROOT, "c1"), [P, "--root", ROOT, "pause", "c1"]),
    (rt.resume_argv(P, ROOT, "c1"), [P, "--root", ROOT, "resume", "c1"]),
    (rt.ps_argv(P, ROOT, "c1"), [P, "--root", ROOT, "ps", "--format", "json", "c1"]),
    (rt.update_argv(P, ROOT, "c1"), [P, "--root", ROOT, "update", "--resources", "-", "c1"]),
    (rt.exec_argv(P, ROOT, "c1", "/b/p.json", "/b/p.pid"),
     [P, "--root", ROOT, "exec", "--process", "/b/p.json", "--detach", "--pid-file",
      "/b/p.pid", "c1"]),
    (rt.exec_argv(P, ROOT, "c1", "/b/p.json", "/b/p.pid", console_socket="/b/s"),
     [P, "--root", ROOT, "exec", "--process", "/b/p.json", "--detach", "--pid-file",
      "/b/p.pid", "--console-socket", "/b/s", "c1"]),
])
def test_argv(argv, want):
    assert argv == want


def test_log_flags_come_before_the_verb():
    assert rt.start_argv(P, ROOT, "c1", log="/b/log.json") == [
        P, "--root", ROOT, "--log", "/b/log.json", "--log-format", "json", "start", "c1"]


def test_kill_signal_is_a_number():
    assert rt.kill_argv(P, ROOT, "c1", signal=10)[-1] == "10"


@pytest.mark.parametrize(("stderr", "log", "want"), [
    ('time="2026-11-28T20:37:07Z" level=error msg="container does not exist"\n', "",
     "container does not exist"),
    ("estiba-runtime: container c5 does not exist\n", "", "container c5 does not exist"),
    ("", '{"level":"info","msg":"x"}\n{"level":"error","msg":"exec failed: boom"}\n',
     "exec failed: boom"),
    ('level=error msg="a \\"quoted\\" path"', "", 'a "quoted" path'),
    ("plain failure with: colon words\n", "", "plain failure with: colon words"),
    ("", "", ""),
])
def test_error_message(stderr, log, want):
    assert rt.error_message(stderr, log) == want


@pytest.mark.parametrize(("message", "kind"), [
    ("container c1 does not exist", NotFound),
    ('exec: "/x": stat /x: no such file or directory', NotFound),
    ('exec: "x": executable file not found in $PATH', NotFound),
    ("container with id exists: c1 already exists", AlreadyExists),
    ("cannot delete container c1 that is not stopped: running", FailedPrecondition),
    ("container not running", FailedPrecondition),
    ("write /sys/fs/cgroup/x: no space left on device", Internal),
])
def test_error_for(message, kind):
    err = rt.error_for("delete c1", message)
    assert type(err) is kind
    assert str(err) == f"delete c1: {message}"


def test_cli_raises_the_taxonomy_with_the_runtimes_words(tmp_path):
    fake = tmp_path / "fake-runtime"
    fake.write_text("#!/bin/sh\necho 'fake: container c9 does not exist' >&2\nexit 1\n")
    fake.chmod(0o755)
    cli = rt.RuntimeCLI(rt.Runtime(name="fake", path=str(fake)), str(tmp_path / "root"))
    with pytest.raises(NotFound, match="state of c9: fake: container c9 does not exist"):
        cli.state("c9")


def test_cli_parses_state_and_ps(tmp_path):
    fake = tmp_path / "fake-runtime"
    fake.write_text('#!/bin/sh\nfor a; do last=$a; prev2=$prev; prev=$a; done\n'
                    'case "$*" in *" ps "*) echo "[3, 1, 2]";; '
                    '*) echo \'{"id": "c1", "status": "running", "pid": 42}\';; esac\n')
    fake.chmod(0o755)
    cli = rt.RuntimeCLI(rt.Runtime(name="fake", path=str(fake)), "/nowhere")
    assert cli.state("c1")["pid"] == 42
    assert cli.ps("c1") == [1, 2, 3]


def test_cli_missing_binary_is_unavailable(tmp_path):
    from estiba.errors import Unavailable

    cli = rt.RuntimeCLI(rt.Runtime(name="gone", path=str(tmp_path / "none")), "/x")
    with pytest.raises(Unavailable, match="runtime gone"):
        cli.start("c1")
