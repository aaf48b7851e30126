"""The output of an attach connection without a terminal: Docker's multiplexed frames,
an 8-byte header ``[stream, 0, 0, 0, size as big-endian uint32]`` then ``size`` bytes
(stream 0 stdin, 1 stdout, 2 stderr), as the core API's and Docker's attach send it."""

from __future__ import annotations

STDOUT = 1
STDERR = 2


def frame(stream: int, data: bytes) -> bytes:
    return bytes((stream, 0, 0, 0)) + len(data).to_bytes(4, "big") + data


class Demux:
    """Frames out of bytes as they arrive (a frame may span reads)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The frames completed by ``data``: (stream, bytes) each."""
        buf = self._buf + data
        out = []
        while len(buf) >= 8:
            size = int.from_bytes(buf[4:8], "big")
            if len(buf) < 8 + size:
                break
            out.append((buf[0], buf[8:8 + size]))
            buf = buf[8 + size:]
        self._buf = buf
        return out

    @property
    def partial(self) -> bool:
        """Bytes of an incomplete frame are waiting (at the end: a cut-off stream)."""
        return bool(self._buf)
