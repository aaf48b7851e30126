"""The local end of an attach: the relay's copying and its half-close (socket pairs, no
daemon); the terminal's raw mode and size are test_docker_terminal.py's."""

from __future__ import annotations

import os
import socket
import threading

from estiba.cli.ctr import stdio
from estiba.client.connection import Hijacked
from estiba.client.streams import frame


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
