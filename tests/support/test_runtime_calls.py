"""run_runtime and the runtime-root cleanup, against a fake runtime that reports its
argv and stdin (no root needed)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support.runtime import RuntimeCallFailed, delete_all, run_runtime

FAKE = r"""#!/bin/sh
# a stand-in runtime: prints its argv and stdin as JSON lines; FAKE_EXIT sets its status
printf '%s\n' "$@" > "$FAKE_LOG.argv.$$"
case "$3" in
  fail) echo "something broke" >&2; exit 3;;
  slow) sleep 30;;
  list) echo '[{"id": "listed"}]'; exit 0;;
  delete) echo "$@" >> "$FAKE_LOG"; [ "$5" = bad ] && { echo "cannot delete" >&2; exit 1; };;
esac
echo "args: $*"
[ -t 0 ] || cat
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "fake-runtime"
    path.write_text(FAKE)
    path.chmod(0o755)
    monkeypatch.setenv("ESTIBA_RUNTIME", str(path))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "log"))
    return path


def test_root_comes_first(fake: Path, tmp_path: Path) -> None:
    out = run_runtime("state", "c1", root=tmp_path / "root")
    assert out.args[:3] == [str(fake), "--root", str(tmp_path / "root")]
    assert out.stdout == f"args: --root {tmp_path / 'root'} state c1\n"


def test_input_goes_to_stdin(fake: Path, tmp_path: Path) -> None:
    resources = json.dumps({"pids": {"limit": 10}})
    out = run_runtime("update", "--resources", "-", "c1", root=tmp_path, input=resources)
    assert out.stdout.splitlines()[1] == resources


def test_failure_names_the_call(fake: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeCallFailed) as info:
        run_runtime("fail", root=tmp_path)
    assert info.value.returncode == 3
    assert "something broke" in str(info.value)
    assert "fail" in str(info.value)
    out = run_runtime("fail", root=tmp_path, check=False)
    assert out.returncode == 3


def test_timeout(fake: Path, tmp_path: Path) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        run_runtime("slow", root=tmp_path, timeout=0.5)


def test_output_dir(fake: Path, tmp_path: Path) -> None:
    io = tmp_path / "io"
    out = run_runtime("create", "c1", root=tmp_path, output_dir=io)
    assert out.stdout == (io / "stdout").read_text()
    assert "create c1" in out.stdout
    run_runtime("fail", root=tmp_path, output_dir=io, check=False)
    assert (io / "stderr").read_text() == "something broke\n"


def test_delete_all(fake: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    for cid in ("c1", "bad"):
        (root / cid).mkdir(parents=True)
    failures = delete_all(root)
    deleted = sorted(line.split()[-1] for line in (tmp_path / "log").read_text().splitlines())
    assert deleted == ["bad", "c1", "listed"]
    assert failures == ["delete --force bad: cannot delete"]


def test_delete_all_without_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESTIBA_RUNTIME", str(tmp_path / "missing"))
    (tmp_path / "root" / "c1").mkdir(parents=True)
    (failure,) = delete_all(tmp_path / "root")
    assert failure.startswith("delete --force c1: ")
    assert os.path.isdir(tmp_path / "root" / "c1")
