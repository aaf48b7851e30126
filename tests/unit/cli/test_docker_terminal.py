"""The pure parts of ``estiba run``/``start``/``attach``/``exec``: the detach keys'
grammar and their recognition in the input, the frames of an output without a
terminal, the exit statuses docker's CLI gives; and the pump and the raw mode on real
sockets and a real pty."""

from __future__ import annotations

import os
import socket
import termios
import threading

import pytest

from estiba.cli.docker.attach import state_error, wait_status
from estiba.cli.docker.exec import exec_env
from estiba.cli.docker.flags import UsageError
from estiba.cli.docker.run import failure_status, failure_text
from estiba.cli.docker.streams import Output, pump
from estiba.cli.docker.terminal import (
    DEFAULT_DETACH_KEYS,
    Detached,
    EscapeProxy,
    RawMode,
    detach_keys_or_default,
    detach_sequence,
    terminal_size,
)
from estiba.client.connection import Hijacked
from estiba.client.streams import frame

# --- detach keys ---------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "keys"), [
    ("ctrl-p,ctrl-q", b"\x10\x11"),
    ("ctrl-@", b"\x00"),
    ("ctrl-a,x", b"\x01x"),
    ("ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", b"\x1b\x1c\x1d\x1e\x1f"),
    ("DEL", b"\x7f"),
    ("a,b,c", b"abc"),
])
def test_detach_sequence(spec: str, keys: bytes) -> None:
    assert detach_sequence(spec) == keys


@pytest.mark.parametrize(("spec", "message"), [
    ("ctrl-1", "Unknown character: 'ctrl-1'"),
    ("ctrl-P", "Unknown character: 'ctrl-P'"),
    ("ab", "Unknown character: 'ab'"),
    ("", "Unknown character: ''"),
])
def test_detach_sequence_refuses(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        detach_sequence(spec)


def test_detach_keys_default_when_none_or_invalid() -> None:
    assert detach_keys_or_default("") == DEFAULT_DETACH_KEYS == b"\x10\x11"
    assert detach_keys_or_default("bogus-key") == DEFAULT_DETACH_KEYS
    assert detach_keys_or_default("ctrl-x") == b"\x18"


def test_escape_detaches_on_the_keys_typed_one_by_one() -> None:
    proxy = EscapeProxy(b"\x10\x11")
    assert proxy.feed(b"ls\r") == b"ls\r"
    assert proxy.feed(b"\x10") == b""  # held back: it may start the sequence
    with pytest.raises(Detached, match="read escape sequence"):
        proxy.feed(b"\x11")


def test_escape_sends_a_broken_sequence_on() -> None:
    proxy = EscapeProxy(b"\x10\x11")
    assert proxy.feed(b"\x10") == b""
    assert proxy.feed(b"a") == b"\x10a"
    assert proxy.feed(b"\x10") == b""
    assert proxy.feed(b"\x10") == b"\x10\x10"  # docker does not start over
    assert proxy.feed(b"\x11") == b"\x11"


def test_escape_sees_keys_only_in_reads_of_one_byte() -> None:
    # a read of several bytes is data (a paste), as moby/term's proxy takes it
    proxy = EscapeProxy(b"\x10\x11")
    assert proxy.feed(b"\x10\x11") == b"\x10\x11"
    assert proxy.feed(b"\x10") == b""
    assert proxy.feed(b"\x11\x11") == b"\x10\x11\x11"


def test_escape_of_one_key() -> None:
    proxy = EscapeProxy(b"\x18")
    assert proxy.feed(b"x") == b"x"
    with pytest.raises(Detached):
        proxy.feed(b"\x18")


# --- output --------------------------------------------------------------------------


def collect() -> tuple[list[bytes], list[bytes], Output, Output]:
    out: list[bytes] = []
    err: list[bytes] = []
    return out, err, Output(False, out.append, err.append), Output(True, out.append,
                                                                   err.append)


def test_output_demultiplexes_frames_cut_anywhere() -> None:
    out, err, muxed, _ = collect()
    data = frame(1, b"out\n") + frame(2, b"err\n") + frame(1, b"") + frame(1, b"more")
    for i in range(len(data)):  # one byte at a time: every cut
        muxed.feed(data[i:i + 1])
    assert b"".join(out) == b"out\nmore"
    assert err == [b"err\n"]


def test_output_with_a_terminal_is_raw() -> None:
    out, err, _, raw = collect()
    raw.feed(b"\x01\x00\x00\x00")
    assert out == [b"\x01\x00\x00\x00"]
    assert err == []


# --- the pump, on a real socket pair -------------------------------------------------


def test_pump_sends_stdin_half_closes_and_relays_until_the_output_ends() -> None:
    ours, theirs = socket.socketpair()
    read_end, write_end = os.pipe()
    os.write(write_end, b"typed\n")
    os.close(write_end)
    out: list[bytes] = []
    err: list[bytes] = []
    theirs.sendall(frame(1, b"hello ") + frame(2, b"oops"))
    received = b""

    # the far end: answers once our stdin has ended (read EOF), then closes
    def far() -> None:
        nonlocal received
        while chunk := theirs.recv(100):
            received += chunk
        theirs.sendall(frame(1, b"bye"))
        theirs.close()

    t = threading.Thread(target=far)
    t.start()
    pump(Hijacked(ours, b""), Output(False, out.append, err.append), read_end)
    t.join(5)
    os.close(read_end)
    ours.close()
    assert received == b"typed\n"
    assert b"".join(out) == b"hello bye"
    assert err == [b"oops"]


def test_pump_hands_out_bytes_read_with_the_head_first() -> None:
    ours, theirs = socket.socketpair()
    theirs.close()
    out: list[bytes] = []
    pump(Hijacked(ours, b"early"), Output(True, out.append, out.append), None)
    ours.close()
    assert out == [b"early"]


def test_pump_stops_at_the_detach_keys() -> None:
    ours, theirs = socket.socketpair()
    read_end, write_end = os.pipe()

    class Typist(EscapeProxy):
        """Types the second key once the first has been read on its own."""

        def feed(self, data: bytes) -> bytes:
            sent = super().feed(data)
            if data == b"\x10":
                os.write(write_end, b"\x11")
            return sent

    os.write(write_end, b"\x10")
    shown: list[bytes] = []
    with pytest.raises(Detached):
        pump(Hijacked(ours, b""), Output(True, shown.append, shown.append), read_end,
             Typist(b"\x10\x11"))
    for fd in (read_end, write_end):
        os.close(fd)
    theirs.setblocking(False)
    with pytest.raises(BlockingIOError):
        theirs.recv(10)  # neither key reached the container
    ours.close()
    theirs.close()


# --- the terminal --------------------------------------------------------------------


def test_raw_mode_is_restored_even_on_error() -> None:
    main, side = os.openpty()
    try:
        before = termios.tcgetattr(side)
        with pytest.raises(RuntimeError), RawMode(side):
            assert not termios.tcgetattr(side)[3] & termios.ICANON
            raise RuntimeError("boom")
        assert termios.tcgetattr(side) == before
    finally:
        os.close(main)
        os.close(side)


def test_raw_mode_is_restored_when_terminated() -> None:
    import signal

    main, side = os.openpty()
    try:
        before = termios.tcgetattr(side)
        with pytest.raises(SystemExit) as ended, RawMode(side):
            os.kill(os.getpid(), signal.SIGTERM)
        assert ended.value.code == 128 + signal.SIGTERM
        assert termios.tcgetattr(side) == before
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        os.close(main)
        os.close(side)


def test_raw_mode_leaves_what_is_not_a_terminal() -> None:
    read_end, write_end = os.pipe()
    with RawMode(read_end), RawMode(None):
        pass
    os.close(read_end)
    os.close(write_end)


def test_terminal_size() -> None:
    import fcntl
    import struct

    main, side = os.openpty()
    try:
        fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
        assert terminal_size(side) == (31, 97)
        assert terminal_size(None) is None
    finally:
        os.close(main)
        os.close(side)


def test_window_size_sent_at_once_and_on_change() -> None:
    import fcntl
    import struct

    from estiba.cli.docker.terminal import WindowSize

    main, side = os.openpty()
    try:
        fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        sent: list[tuple[int, int]] = []
        with WindowSize(side, lambda h, w: sent.append((h, w))) as size:
            fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            size.update()  # what SIGWINCH calls
        assert sent == [(33, 101), (40, 120)]
    finally:
        os.close(main)
        os.close(side)


# --- exit statuses and messages ------------------------------------------------------


@pytest.mark.parametrize(("message", "status"), [
    ('Error response from daemon: create x: exec: "nosuch": executable file not found '
     "in $PATH", 127),
    ("Error response from daemon: exec: /bin/x: no such file or directory", 127),
    ('Error response from daemon: create x: exec: "/etc": permission denied', 126),
    ("Error response from daemon: exec: /etc: is a directory", 126),
    ("Error response from daemon: No such image: nosuch:latest", 125),
    ("Error response from daemon: Conflict. The container name is in use", 125),
])
def test_failure_status(message: str, status: int) -> None:
    assert failure_status(message) == status


def test_failure_text() -> None:
    assert failure_text("Error response from daemon: no") == (
        "estiba: Error response from daemon: no\n\n"
        "Run 'estiba run --help' for more information\n")


def test_wait_status() -> None:
    assert wait_status({"StatusCode": 3, "Error": None}) == 3
    assert wait_status({"StatusCode": 0}) == 0
    assert wait_status({"StatusCode": 0, "Error": {"Message": "lost"}}) == 125


def test_state_error() -> None:
    assert state_error({"Running": False}) == (
        "You cannot attach to a stopped container, start it first")
    assert state_error({"Running": True, "Paused": True}) == (
        "You cannot attach to a paused container, unpause it first")
    assert state_error({"Running": True, "Restarting": True}).startswith(
        "You cannot attach to a restarting container")
    assert state_error({"Running": True}) is None


def test_exec_env(tmp_path: object) -> None:
    path = f"{tmp_path}/env"
    with open(path, "w") as f:
        f.write("# comment\nA=1\nFROMHOST\n")
    assert exec_env(["B=2", "HOME"], [path], {"HOME": "/root", "FROMHOST": "h"}) == [
        "A=1", "FROMHOST=h", "B=2", "HOME=/root"]
    assert exec_env(["UNSET"], [], {}) == ["UNSET"]
    with pytest.raises(UsageError, match='invalid argument "=x" for "-e, --env" flag'):
        exec_env(["=x"], [], {})
