"""The CRI log reader (``api/core/logs.py``) on crafted log files: partial lines joined
per stream, the tail found from the end, since/until, times, following to the exit."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest

from estiba import errors
from estiba.api.core import logs
from estiba.oci.state import timestamp

T0 = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z


def stamp(second: float) -> str:
    return timestamp(T0 + int(second * 1e9)).replace("Z", "+00:00")


def write(path: Path, lines: list[str]) -> None:
    with open(path, "a") as f:
        f.writelines(line + "\n" for line in lines)


def read(path: Path, **kw: object) -> list[dict]:
    return list(logs.entries(str(path), follow=False, exited=lambda t: None, **kw))


def texts(found: list[dict]) -> list[str]:
    return [e["log"] for e in found]


def test_times() -> None:
    assert logs.unix_nanos("") == 0
    assert logs.unix_nanos("1767225600") == T0
    assert logs.unix_nanos("1767225600.25") == T0 + 250_000_000
    assert logs.unix_nanos("1767225600.000000001") == T0 + 1
    for bad in ("10m", "1.2.3", "x", "1."):
        with pytest.raises(errors.InvalidArgument):
            logs.unix_nanos(bad)


def test_partial_lines_are_joined_per_stream(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    write(log, [f"{stamp(0)} stdout P hel", f"{stamp(1)} stderr F oops",
                f"{stamp(2)} stdout F lo", "not a log line", f"{stamp(3)} stdout P tail"])
    found = read(log)
    assert [(e["stream"], e["log"]) for e in found] == [
        ("stderr", "oops\n"), ("stdout", "hello\n"), ("stdout", "tail")]


def test_tail_counts_entries_of_both_streams(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    write(log, [f"{stamp(i)} stdout F line {i}" for i in range(10)])
    write(log, [f"{stamp(10)} stdout P a", f"{stamp(11)} stderr F err",
                f"{stamp(12)} stdout P b", f"{stamp(13)} stderr F err2",
                f"{stamp(14)} stdout F c"])
    assert texts(read(log, tail=1)) == ["abc\n"]
    assert texts(read(log, tail=2)) == ["err2\n", "abc\n"]
    assert texts(read(log, tail=3)) == ["err\n", "err2\n", "abc\n"]
    assert texts(read(log, tail=4)) == ["line 9\n", "err\n", "err2\n", "abc\n"]
    assert texts(read(log, tail=0)) == []
    assert len(read(log, tail=100)) == 13 == len(read(log))


def test_tail_ignores_a_line_being_written(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    write(log, [f"{stamp(0)} stdout F one", f"{stamp(1)} stdout F two"])
    with open(log, "a") as f:
        f.write(f"{stamp(2)} stdout F thr")  # no newline yet
    assert texts(read(log, tail=1)) == ["two\n"]


def test_tail_of_a_big_log_reads_only_its_end(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    line = f"{stamp(0)} stdout F " + "x" * 200 + "\n"
    log.write_text(line * 20000)  # 4 MB
    reads: list[int] = []

    class Counting(io.FileIO):
        def read(self, size: int = -1) -> bytes:
            data = super().read(size)
            reads.append(len(data))
            return data

    with Counting(str(log), "rb") as f:
        start = logs.tail_offset(f, 3, block=4096)
    assert start == log.stat().st_size - 3 * len(line)
    assert sum(reads) < 3 * 4096
    assert texts(read(log, tail=3)) == ["x" * 200 + "\n"] * 3


def test_tail_across_blocks(tmp_path: Path) -> None:
    log = tmp_path / "b.log"
    write(log, [f"{stamp(i)} stdout F {i:05d}" + "y" * (i % 37) for i in range(500)])
    every = texts(read(log))
    for count in (1, 7, 99, 499, 500):
        with open(log, "rb") as f:
            f.seek(logs.tail_offset(f, count, block=64))
            rest = f.read().decode()
        assert rest.count("\n") == count
        assert texts(read(log, tail=count)) == every[-count:]


def test_since_and_until(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    write(log, [f"{stamp(i)} {'stdout' if i % 2 else 'stderr'} F {i}" for i in range(6)])
    second = 1_000_000_000
    assert texts(read(log, since=T0 + 3 * second)) == ["3\n", "4\n", "5\n"]
    assert texts(read(log, until=T0 + 1 * second)) == ["0\n", "1\n"]
    assert texts(read(log, since=T0 + second, until=T0 + 2 * second)) == ["1\n", "2\n"]
    # the tail is taken first, then the span
    assert texts(read(log, tail=2, since=T0 + 5 * second)) == ["5\n"]


def test_missing_log(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFound):
        read(tmp_path / "none.log")
    with pytest.raises(errors.FailedPrecondition):
        list(logs.entries("", follow=False, exited=lambda t: None))


class Task:
    exit_status = 3


def test_follow_from_the_tail_to_the_exit(tmp_path: Path) -> None:
    log = tmp_path / "f.log"
    write(log, [f"{stamp(0)} stdout F old", f"{stamp(1)} stdout F last"])
    done = threading.Event()

    def exited(timeout: float) -> Task | None:
        return Task() if done.wait(timeout) else None

    def later() -> None:
        time.sleep(0.1)
        write(log, [f"{stamp(2)} stdout P ne"])
        time.sleep(0.1)
        write(log, [f"{stamp(3)} stdout F w", f"{stamp(4)} stderr P no newline"])
        done.set()

    writer = threading.Thread(target=later)
    writer.start()
    found = [e for e in logs.entries(str(log), follow=True, exited=exited, tail=1, poll=0.05)
             if e is not None]
    writer.join()
    assert found[-1] == {"exit_status": 3}
    assert texts(found[:-1]) == ["last\n", "new\n", "no newline"]


def test_follow_ends_when_until_passes(tmp_path: Path) -> None:
    log = tmp_path / "u.log"
    write(log, [f"{stamp(0)} stdout F one"])
    until = time.time_ns() + 200_000_000
    started = time.monotonic()
    found = [e for e in logs.entries(str(log), follow=True, exited=lambda t: time.sleep(t),
                                     until=until, poll=0.05) if e is not None]
    assert texts(found) == ["one\n"]
    assert 0.1 < time.monotonic() - started < 5
