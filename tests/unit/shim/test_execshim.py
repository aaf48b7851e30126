"""The exec shim's pure parts: the launch it is sent, its exit status, its log lines."""

from __future__ import annotations

import io
import re

import pytest

from estiba.errors import Internal
from estiba.shim import conmon, execshim


def launch(**changes: object) -> conmon.Launch:
    values: dict = dict(
        conmon="conmon", id="c1", runtime_path="/x/estiba-runtime",
        files=conmon.exec_files("/run/t/tasks/ns/c1", "c1", "e1"),
        log_path="/run/t/tasks/ns/c1/exec/e1/output.log", socket_dir="/run/t/sockets",
        runtime_args=("--root=/run/t/runtime/estiba/ns", "--log=/x/runtime.log"),
        terminal=True, stdin=True, exec_process_file="/run/t/p.json", exec_attach=True)
    values.update(changes)
    return conmon.Launch(**values)


def test_the_launch_sent_to_the_helper() -> None:
    sent = execshim._launch_json(launch())
    assert sent["state_root"] == "/run/t/runtime/estiba/ns"
    assert sent["dir"] == "/run/t/tasks/ns/c1/exec/e1"
    assert sent["exit_file"] == "/run/t/tasks/ns/c1/exec/e1/exit/c1"
    assert (sent["terminal"], sent["stdin"], sent["attach"]) == (True, True, True)
    with pytest.raises(Internal):
        execshim._launch_json(launch(runtime_args=()))


@pytest.mark.parametrize(("wait_status", "status"), [
    (0, 0), (3 << 8, 3), (9, 137), (15, 143)])
def test_exit_status_as_conmon_writes_it(wait_status: int, status: int) -> None:
    assert execshim._status(wait_status) == status


def test_log_lines_full_and_partial() -> None:
    out = io.BytesIO()
    execshim._log(out, "stderr", b"one\ntwo\nthr")
    lines = out.getvalue().decode().splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z"
    assert [re.sub(stamp, "T", line) for line in lines] == [
        "T stderr F one", "T stderr F two", "T stderr P thr"]
