"""The content store across processes: a writer killed mid-ingest is resumed by another
process, and the ingest lock (flock) keeps a second process out while one writes.
Needs no root: real processes and a real filesystem under a temporary root."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap

import pytest

from estiba.content import ContentStore
from estiba.errors import Conflict

# writes `first` bytes of the ingest, reports, then waits to be killed
WRITER = textwrap.dedent(
    """
    import sys, time
    from estiba.content import ContentStore
    root, ref, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
    w = ContentStore(root).writer(ref, total=first * 2)
    w.write(b"x" * first)
    print(w.offset, flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def writer_process(tmp_path):
    procs = []

    def start(ref: str, first: int) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path / "c"), ref, str(first)],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == str(first)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def test_killed_writer_is_resumed_by_another_process(tmp_path, writer_process):
    store = ContentStore(str(tmp_path / "c"))
    proc = writer_process("layer-sha256:abc", 70000)
    with pytest.raises(Conflict, match="ref layer-sha256:abc is locked"):
        store.writer("layer-sha256:abc")
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    [status] = store.ingests()
    assert status.offset == 70000 and status.total == 140000
    w = store.writer("layer-sha256:abc")
    assert w.offset == 70000
    w.write(b"x" * 70000)
    digest = w.commit()
    assert digest == "sha256:" + hashlib.sha256(b"x" * 140000).hexdigest()
    assert store.info(digest).size == 140000
    assert store.ingests() == []
