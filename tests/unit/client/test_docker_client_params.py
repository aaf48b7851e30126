"""What the client and ``estiba exec``/``estiba logs`` send as docker's CLI does: the
logs' ``details``, an exec's ConsoleSize (a terminal's [rows, columns]) and
DetachKeys."""

from __future__ import annotations

import io
import json
import os
import pty

import pytest
from test_docker_client import FakeDaemon, client_of, fake, reply  # noqa: F401

from estiba.cli.docker import exec as exec_cmd
from estiba.cli.docker import logs as logs_cmd
from estiba.cli.docker.context import Context


def test_logs_details_and_exec_fields(fake: FakeDaemon) -> None:  # noqa: F811
    fake.on("GET", "/v1.43/containers/m/logs", reply(200, b"", {
        "Content-Type": "application/vnd.docker.multiplexed-stream"}))
    fake.on("POST", "/v1.43/containers/c/exec", reply(201, {"Id": "e1"}))
    with client_of(fake) as client:
        assert list(client.logs("m", details=True)) == []
        assert list(client.logs("m")) == []
        assert client.exec_create("c", ["sh"], tty=True, console_size=(24, 80),
                                  detach_keys="ctrl-a") == "e1"
        body = json.loads(fake.bodies[-1])
        assert (body["ConsoleSize"], body["DetachKeys"]) == ([24, 80], "ctrl-a")
        client.exec_create("c", ["sh"])
        assert "ConsoleSize" not in json.loads(fake.bodies[-1])
        assert "DetachKeys" not in json.loads(fake.bodies[-1])
    logs = [t for m, t in fake.seen if "/logs" in t]
    assert logs[0].endswith("&timestamps=0&details=1")
    assert "details" not in logs[1]  # only when asked, as docker's client


class Recording:
    api_version = "1.47"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def inspect_container(self, name: str) -> dict:
        return {"Id": "abc", "Config": {"Tty": False}}

    def logs(self, id: str, **kw: object) -> list:
        self.calls.append(("logs", kw))
        return []

    def exec_create(self, name: str, cmd: list[str], **kw: object) -> str:
        self.calls.append(("exec_create", kw))
        return "e1"

    def exec_start(self, exec_id: str, **kw: object) -> None:
        return None


def _context(out: object) -> tuple[Context, Recording]:
    ctx = Context("unix:///x.sock", out, io.StringIO())  # type: ignore[arg-type]
    recording = Recording()
    ctx._client = recording  # type: ignore[assignment]
    return ctx, recording


def test_estiba_logs_sends_details() -> None:
    ctx, recording = _context(io.StringIO())
    assert logs_cmd.logs(ctx, ["--details", "web"]) == 0
    assert recording.calls[0][1]["details"] is True
    ctx, recording = _context(io.StringIO())
    assert logs_cmd.logs(ctx, ["web"]) == 0
    assert recording.calls[0][1]["details"] is False


@pytest.mark.parametrize("tty", [True, False])
def test_estiba_exec_sends_console_size_and_detach_keys(tty: bool) -> None:
    main, other = pty.openpty()
    try:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(other, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        with os.fdopen(os.dup(other), "w") as terminal:
            ctx, recording = _context(terminal)
            argv = ["-d", "--detach-keys", "ctrl-x", *(["-t"] if tty else []), "web", "sh"]
            assert exec_cmd.exec_(ctx, argv) == 0
    finally:
        os.close(main)
        os.close(other)
    sent = recording.calls[0][1]
    assert sent["detach_keys"] == "ctrl-x"
    assert sent["console_size"] == ((33, 101) if tty else None)
    ctx, recording = _context(io.StringIO())  # not a terminal: none, whatever -t says
    assert exec_cmd.exec_(ctx, ["-d", "-t", "web", "sh"]) == 0
    assert recording.calls[0][1]["console_size"] is None
    assert recording.calls[0][1]["detach_keys"] == ""
