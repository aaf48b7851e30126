"""estibad as a process: start (the real core when it can be built, else the fake core
of tests/unit/api), serve ``estiba ctr``, refuse a second daemon on its socket, remove a
stale socket, stop on SIGTERM with status 0 and its socket gone."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import purge_network

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "src"
FAKE = REPO / "tests" / "unit" / "api"
PYTHON = sys.executable

# estibad's main with the fake core: the daemon is the real one, only build_core differs
WITH_FAKE = (
    "import os, sys\n"
    f"sys.path[:0] = [{str(SRC)!r}, {str(FAKE)!r}]\n"
    "from estiba.daemon.main import main\n"
    "from fake_core import build_fake_core\n"
    "status = main(sys.argv[1:], build_core=build_fake_core)\n"
    "sys.stderr.flush()\n"
    "os._exit(status)\n"
)

pytestmark = pytest.mark.root


@pytest.fixture
def roots() -> Iterator[dict[str, str]]:
    d = tempfile.mkdtemp(prefix="esd-", dir="/tmp")
    yield {"dir": d, "root": f"{d}/root", "exec_root": f"{d}/run", "sock": f"{d}/c.sock"}
    purge_network(f"{d}/root", f"{d}/run", "esdtest")
    shutil.rmtree(d, ignore_errors=True)


def start(roots: dict[str, str], fake: bool) -> subprocess.Popen:
    flags = ["--config", os.devnull, "--root", roots["root"], "--exec-root",
             roots["exec_root"], "--core-address", roots["sock"],
             "--host", f"unix://{roots['sock']}.docker", "--instance", "esdtest",
             "--log-format", "json"]
    argv = [PYTHON, "-c", WITH_FAKE, *flags] if fake else [PYTHON, "-m", "estiba.daemon",
                                                           *flags]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_serving(proc: subprocess.Popen, sock: str, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            return True
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    raise AssertionError("estibad did not start serving")


def start_daemon(roots: dict[str, str]) -> tuple[subprocess.Popen, bool]:
    """The real core first; the fake when the real one cannot be built."""
    import importlib.util

    if importlib.util.find_spec("estiba.core.services") is not None:
        proc = start(roots, fake=False)
        if wait_serving(proc, roots["sock"]):
            return proc, False
        _, err = proc.communicate(timeout=10)
        assert "cannot build the core" in err, err
    proc = start(roots, fake=True)
    assert wait_serving(proc, roots["sock"]), proc.communicate(timeout=10)
    return proc, True


def ctr(sock: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "estiba.cli", "ctr", "-a", sock, *argv],
                          env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True,
                          text=True, timeout=30)


def test_serve_refuse_a_second_and_stop(roots: dict[str, str]) -> None:
    # a stale socket, as a killed daemon leaves it: removed at start
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(roots["sock"])
    stale.close()
    proc, fake = start_daemon(roots)
    try:
        version = ctr(roots["sock"], "version")
        assert version.returncode == 0, version.stderr
        assert "Server:\n  Version:  0.1.0" in version.stdout
        listed = ctr(roots["sock"], "namespaces", "ls")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split()[:2] == ["NAME", "LABELS"]
        assert os.stat(roots["sock"]).st_mode & 0o777 == 0o600

        # another daemon on the same socket, and another on the same exec root
        second = start({**roots, "exec_root": roots["exec_root"] + "2"}, fake=True)
        _, err = second.communicate(timeout=15)
        assert second.returncode == 1
        assert "another daemon is answering" in err
        third = start({**roots, "sock": roots["sock"] + "3"}, fake=True)
        _, err = third.communicate(timeout=15)
        assert third.returncode == 1
        assert f"another estibad (pid {proc.pid}) uses this exec root" in err
        assert ctr(roots["sock"], "version").returncode == 0  # the first still serves
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert not os.path.exists(roots["sock"])
    assert '"msg": "stopped"' in err
    gone = ctr(roots["sock"], "version")
    assert gone.returncode == 1 and gone.stderr.startswith(f"ctr: connect to {roots['sock']}")
