"""The local end of an attach: raw mode restored whatever happens, the window size
sent, the relay's copying and its half-close (a pty and socket pairs, no daemon)."""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios
import threading

import pytest

from estiba.cli.ctr import stdio
from estiba.client.connection import Hijacked
from estiba.client.streams import frame


def test_raw_mode_is_restored_on_errors() -> None:
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        with pytest.raises(RuntimeError), stdio.RawMode(slave):
            assert not termios.tcgetattr(slave)[3] & termios.ECHO
            raise RuntimeError("boom")
        assert termios.tcgetattr(slave) == before
        r, w = os.pipe()
        with stdio.RawMode(r):  # not a terminal: nothing done
            pass
        os.close(r)
        os.close(w)
    finally:
        os.close(master)
        os.close(slave)


def test_resizer_sends_the_size_at_once() -> None:
    master, slave = os.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        sent = []
        with stdio.Resizer(slave, lambda h, w: sent.append((h, w))) as resizer:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            resizer.update()  # what SIGWINCH calls
        assert sent == [(33, 101), (40, 120)]
        assert stdio.terminal_size(None) is None
    finally:
        os.close(master)
        os.close(slave)


def test_relay_demultiplexes_and_half_closes() -> None:
    ours, daemon = socket.socketpair()
    stdin_r, stdin_w = os.pipe()
    conn = Hijacked(ours, frame(1, b"early "))  # read past the response head already
    out, err = [], []
    relaying = threading.Thread(target=stdio.relay, args=(conn,), kwargs=dict(
        tty=False, stdin_fd=stdin_r, out=out.append, err=err.append))
    try:
        relaying.start()
        os.write(stdin_w, b"typed")
        os.close(stdin_w)
        daemon.sendall(frame(1, b"out") + frame(2, b"err"))
        daemon.settimeout(5)
        got = b""
        while chunk := daemon.recv(100):  # EOF: our stdin ended, half-closed
            got += chunk
        assert got == b"typed"
        daemon.close()
        relaying.join(5)
        assert not relaying.is_alive()
    finally:
        conn.close()
        os.close(stdin_r)
    assert (b"".join(out), b"".join(err)) == (b"early out", b"err")
