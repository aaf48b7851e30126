"""shim.conmon: its command line, sync pipe lines, exit and pid files, the link names,
and the exit watcher (pure parts, plus plain child processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from estiba.errors import Internal, InvalidArgument, NotFound
from estiba.shim import conmon


def launch(**changes):
    values = dict(conmon="/usr/bin/conmon", id="c1", runtime_path="/usr/bin/runc",
                  files=conmon.task_files("/run/e/tasks/ns/c1", "c1"),
                  log_path="/var/log/c1.log", socket_dir="/run/e/sockets",
                  runtime_args=("--root=/run/e/runtime/runc/ns",))
    values.update(changes)
    return conmon.Launch(**values)


def test_task_and_exec_files():
    files = conmon.task_files("/b", "c1")
    assert files == conmon.ShimFiles(dir="/b", pid_file="/b/init.pid",
                                     conmon_pid_file="/b/conmon.pid", exit_dir="/b/exit",
                                     exit_file="/b/exit/c1")
    ex = conmon.exec_files("/b", "c1", "e1")
    assert ex.dir == "/b/exec/e1" and ex.exit_file == "/b/exec/e1/exit/c1"


def test_create_argv():
    argv = conmon.argv(launch())
    link = conmon.socket_link_name("/run/e/tasks/ns/c1")
    assert argv == [
        "/usr/bin/conmon", "--api-version", "1", "-c", "c1", "-u", link, "-n", "c1",
        "-r", "/usr/bin/runc", "-b", "/run/e/tasks/ns/c1",
        "-p", "/run/e/tasks/ns/c1/init.pid", "-l", "k8s-file:/var/log/c1.log",
        "--exit-dir", "/run/e/tasks/ns/c1/exit", "--socket-dir-path", "/run/e/sockets",
        "--conmon-pidfile", "/run/e/tasks/ns/c1/conmon.pid",
        "--runtime-arg", "--root=/run/e/runtime/runc/ns",
        "--log-level", "error", "--syslog"]


def test_exec_terminal_stdin_argv():
    files = conmon.exec_files("/b", "c1", "e1")
    argv = conmon.argv(launch(files=files, terminal=True, stdin=True,
                              exec_process_file="/b/exec/e1/process.json", syslog=False))
    assert argv[argv.index("-b") + 1] == "/b/exec/e1"
    tail = argv[argv.index("--conmon-pidfile") + 2:]
    # a terminal's input outlives a client that goes
    assert tail == ["--runtime-arg", "--root=/run/e/runtime/runc/ns", "-t", "-i",
                    "--leave-stdin-open", "-e", "--exec-process-spec",
                    "/b/exec/e1/process.json", "--log-level", "error"]
    piped = conmon.argv(launch(files=files, stdin=True, syslog=False))
    assert "-i" in piped and "--leave-stdin-open" not in piped


def test_no_log_path_is_refused():
    with pytest.raises(InvalidArgument):
        conmon.argv(launch(log_path=""))


def test_link_names_are_short_and_distinct():
    a = conmon.socket_link_name("/run/e/tasks/ns/" + "a" * 64)
    b = conmon.socket_link_name("/run/e/tasks/ns/" + "a" * 64 + "/exec/e1")
    assert len(a) == 20 and a != b


def test_runtime_args():
    assert conmon.runtime_args("/r") == ("--root=/r",)
    assert conmon.runtime_args("/r", "/b/l.json") == (
        "--root=/r", "--log=/b/l.json", "--log-format=json")


def test_parse_sync():
    assert conmon.parse_sync(b'{"data": 27131}\n') == [conmon.SyncMessage(data=27131)]
    got = conmon.parse_sync('{"data": -1, "message": "runc create failed: x\\n"}\n'
                            '{"data": 4}\n')
    assert got == [conmon.SyncMessage(data=-1, message="runc create failed: x\n"),
                   conmon.SyncMessage(data=4)]
    assert conmon.parse_sync(b"") == []
    with pytest.raises(Internal):
        conmon.parse_sync(b"not json\n")


def test_exit_file(tmp_path):
    path = tmp_path / "c1"
    assert conmon.read_exit_file(str(path)) is None
    path.write_text("137")
    status, written = conmon.read_exit_file(str(path))
    assert status == 137 and written == pytest.approx(path.stat().st_mtime)
    path.write_text("")
    assert conmon.read_exit_file(str(path)) is None
    path.write_text("x1")
    with pytest.raises(Internal, match="not a number"):
        conmon.read_exit_file(str(path))
    assert conmon.parse_exit_status("3\n") == 3


def test_pid_file(tmp_path):
    path = tmp_path / "pid"
    with pytest.raises(NotFound):
        conmon.read_pid_file(str(path))
    path.write_text("4242\n")
    assert conmon.read_pid_file(str(path)) == 4242
    path.write_text("0")
    with pytest.raises(Internal):
        conmon.read_pid_file(str(path))


def test_is_conmon_of(tmp_path):
    proc = tmp_path / "proc"
    (proc / "7").mkdir(parents=True)
    (proc / "7" / "cmdline").write_bytes(b"conmon\0-c\0c1\0-b\0/b/c1\0-p\0/b/c1/pid\0")
    assert conmon.is_conmon_of(7, "/b/c1", proc=str(proc))
    assert not conmon.is_conmon_of(7, "/b/c2", proc=str(proc))
    assert not conmon.is_conmon_of(8, "/b/c1", proc=str(proc))


def test_remove_socket_link(tmp_path):
    link = tmp_path / conmon.socket_link_name("/b/c1")
    link.symlink_to("/b/c1")
    conmon.remove_socket_link(str(tmp_path), "/b/c1")
    assert not os.path.lexists(link)
    conmon.remove_socket_link(str(tmp_path), "/b/c1")  # gone already: fine


def test_exit_watcher_calls_once_per_exit():
    seen: list[str] = []
    done = threading.Event()

    def on_exit(key):
        seen.append(key)
        if len(seen) == 2:
            done.set()

    watcher = conmon.ExitWatcher(on_exit)
    try:
        fast = subprocess.Popen([sys.executable, "-c", "pass"])
        slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
        watcher.watch("fast", fast.pid)
        watcher.watch("slow", slow.pid)
        assert done.wait(10)
        fast.wait()
        slow.wait()
        assert sorted(seen) == ["fast", "slow"]
    finally:
        watcher.close()


def test_exit_watcher_gone_process_is_reported_at_once():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid no longer exists
    seen = []
    watcher = conmon.ExitWatcher(seen.append)
    try:
        if watcher.watch("k", proc.pid) is None:  # else the pid went to another process
            assert seen == ["k"]
    finally:
        watcher.close()


def test_exec_attach_argv_and_attach_path():
    files = conmon.exec_files("/b", "c1", "e1")
    argv = conmon.argv(launch(files=files, exec_process_file="/b/exec/e1/process.json",
                              exec_attach=True, syslog=False))
    assert argv[argv.index("-e"):] == ["-e", "--exec-process-spec",
                                       "/b/exec/e1/process.json", "--exec-attach",
                                       "--log-level", "error"]
    assert conmon.attach_path("/run/e/sockets", "/b/exec/e1") == (
        f"/run/e/sockets/{conmon.socket_link_name('/b/exec/e1')}/attach")


def test_resize_message():
    assert conmon.resize_message(33, 101) == b"1 33 101\n"
    assert conmon.resize_message(0, 1000) == b"1 0 1000\n"
    for bad in ((-1, 80), (24, 1001)):
        with pytest.raises(InvalidArgument):
            conmon.resize_message(*bad)


def test_write_ctl_without_a_reader(tmp_path):
    os.mkfifo(tmp_path / "ctl")
    with pytest.raises(NotFound):  # ENXIO: no conmon holds it open
        conmon.write_ctl(str(tmp_path), b"1 2 3\n")
    with pytest.raises(NotFound):
        conmon.write_ctl(str(tmp_path / "gone"), b"1 2 3\n")
    reader = os.open(tmp_path / "ctl", os.O_RDONLY | os.O_NONBLOCK)
    try:
        conmon.write_ctl(str(tmp_path), b"1 24 80\n")
        assert os.read(reader, 100) == b"1 24 80\n"
    finally:
        os.close(reader)
