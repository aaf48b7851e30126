"""``estiba``'s container commands beside the real docker CLI (version 28, the spec) on
the same estibad: stop, restart, kill, pause, unpause, wait, rename, update, port,
container prune, logs, top, stats, cp, diff, export and commit; the same stdout,
stderr and exit status. A command that changes a container runs, for each CLI, on a
container made afresh under the same name. ``stats`` values change from one sample to
the next: its columns and names are compared."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.docker_cli import ESTIBA, docker, engine_daemon, env_of, estiba, estiba_env

pytestmark = [pytest.mark.e2e, pytest.mark.root]

PORT = "18231"


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("ecC-")


@pytest.fixture(scope="module")
def scene(daemon: object) -> Iterator[object]:
    """A running web server publishing a port, a container that wrote to both
    streams and exited, a file changed in the server's filesystem."""
    for argv in (("run", "-d", "--name", "web", "-p", f"{PORT}:80", "busybox", "httpd",
                  "-f", "-p", "80"),
                 ("run", "--name", "talker", "busybox", "sh", "-c",
                  "for i in 1 2 3; do echo out$i; echo err$i >&2; done; exit 3"),
                 ("exec", "web", "sh", "-c", "echo changed > /tmp/new; mkdir /tmp/dir; "
                  "echo b > /tmp/dir/b; ln -s /etc/passwd /tmp/link")):
        result = docker(daemon, *argv)
        assert result.returncode in (0, 3), result.stderr
    yield daemon
    docker(daemon, "rm", "-f", "web", "talker")


def dockers(d: object, *args: str, input: str | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], env=env_of(d), input=input,
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def outcome(result: subprocess.CompletedProcess, root: Path | None = None
            ) -> tuple[int, str, str]:
    """(status, stdout, stderr), the CLI's name and ``root`` (a test's own directory)
    put aside. docker's cp sometimes logs that its tar writer found the pipe closed
    after the daemon refused: that noise is left out."""
    err = "".join(line for line in result.stderr.splitlines(keepends=True)
                  if not line.startswith('time="'))
    err = err.replace("estiba", "docker").replace("Estiba", "Docker")
    if root is not None:
        err = err.replace(str(root), "ROOT")
    return result.returncode, result.stdout, err


def same(d: object, *args: str, input: str | None = None) -> str:
    """Run both; assert they agree; docker's stdout."""
    ours = estiba(d, *args, input=input)
    theirs = dockers(d, *args, input=input)
    assert outcome(ours) == outcome(theirs), args
    return theirs.stdout


def fresh(d: object, name: str, *argv: str) -> None:
    docker(d, "rm", "-f", name)
    made = docker(d, "run", "-d", "--name", name, "busybox", *(argv or ("sleep", "600")))
    assert made.returncode == 0, made.stderr


def on_fresh(d: object, setup: Callable[[], None], *args: str,
             input: str | None = None) -> tuple[tuple, tuple]:
    """(ours, docker's) outcome of ``args``, each run after ``setup``."""
    setup()
    ours = outcome(estiba(d, *args, input=input))
    setup()
    theirs = outcome(dockers(d, *args, input=input))
    return ours, theirs


def in_terminal(argv: list[str], env: dict[str, str], cwd: Path,
                stdin: bytes | None = None) -> tuple[int, bytes, str]:
    """(status, stdout, stderr) of ``argv`` with its stdout on a new terminal."""
    main, tty = pty.openpty()
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=tty, stderr=subprocess.PIPE,
                                stdin=subprocess.PIPE if stdin is not None else None)
        os.close(tty)
        tty = -1
        _, err = proc.communicate(stdin, timeout=60)
        out = b""
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        return proc.returncode, out, err.decode()
    finally:
        if tty >= 0:
            os.close(tty)
        os.close(main)


# --- reading commands ------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("port", "web"), ("port", "web", "80"), ("port", "web", "80/tcp"),
    ("port", "web", "81/tcp"), ("port", "web", "80/udp"), ("port", "web", "abc"),
    ("port", "talker"), ("port", "nosuch"), ("port",), ("port", "web", "80", "90"),
    ("logs", "talker"), ("logs", "-n", "2", "talker"), ("logs", "--tail", "x", "talker"),
    ("logs", "--since", "10m", "talker"), ("logs", "--since", "-10m", "talker"),
    ("logs", "--until", "2000-01-01T00:00:00Z", "talker"),
    ("logs", "--since", "2000-01-01", "-n", "1", "talker"),
    ("logs", "--since", "xyz", "talker"), ("logs", "--details", "talker"),
    ("logs", "nosuch"), ("logs",), ("logs", "-f", "talker"),
    ("top", "web"), ("top", "web", "-o", "pid,comm"), ("top", "talker"), ("top", "nosuch"),
    ("top",), ("diff", "web"), ("diff", "talker"), ("diff", "nosuch"), ("diff",),
    ("wait", "talker"), ("wait", "nosuch", "talker"),
    ("stats", "--no-stream", "nosuch"), ("stats", "--no-stream", "web", "nosuch"),
    ("export", "nosuch"), ("export",), ("commit",), ("commit", "nosuch"),
    ("commit", "web", "BAD:NAME"), ("commit", "web", "-bad"),
    ("commit", "web", "ok:tag:x"), ("commit", "web", "a@sha256:" + "a" * 64),
    ("commit", "-c", "FOO bar", "web"),
    ("cp", "a"), ("cp", "a", "b"), ("cp", "a:b", "c:d"), ("cp", "", "web:/tmp"),
    ("cp", "web:/tmp", ""), ("cp", "-", "web:/etc/passwd"), ("cp", "web:/nonexist", "/tmp"),
    ("cp", "nosuch:/etc", "/tmp"),
    ("rename", "web"), ("rename", "nosuch", "other"), ("rename", "web", "web"),
    ("update", "web"), ("update", "--cpus", "abc", "web"), ("update", "-m", "xyz", "web"),
    ("update", "--blkio-weight", "70000", "web"), ("update", "--blkio-weight", "5", "web"),
    ("update", "--restart", "on-failure:x", "web"), ("update", "-m", "64m", "nosuch"),
    ("stop", "-t", "x", "web"), ("stop",), ("kill", "-s", "FOO", "web"),
    ("kill", "talker"), ("pause", "nosuch"), ("unpause", "web"),
    ("container", "prune", "x"), ("container", "prune", "-f", "--filter", "bad"),
    ("container", "prune", "-f", "--filter", "foo=bar"),
])
def test_as_docker(scene: object, args: tuple[str, ...]) -> None:
    same(scene, *args)


def test_port_lines(scene: object) -> None:
    assert same(scene, "port", "web") == f"80/tcp -> 0.0.0.0:{PORT}\n"
    assert same(scene, "port", "web", "80") == f"0.0.0.0:{PORT}\n"


def test_logs_split_the_streams(scene: object) -> None:
    ours = estiba(scene, "logs", "talker")
    assert (ours.stdout, ours.stderr) == ("out1\nout2\nout3\n", "err1\nerr2\nerr3\n")
    stamped = estiba(scene, "logs", "-t", "-n", "1", "talker")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z err3\n", stamped.stderr)


def test_logs_follow_ends_with_the_container(scene: object) -> None:
    fresh(scene, "follow", "sh", "-c", "echo first; sleep 2; echo last")
    started = time.monotonic()
    ours = estiba(scene, "logs", "-f", "follow")
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == "first\nlast\n"
    assert time.monotonic() - started < 30
    assert outcome(ours) == outcome(dockers(scene, "logs", "-f", "follow"))
    docker(scene, "rm", "-f", "follow")


def test_top_lists_the_server(scene: object) -> None:
    out = same(scene, "top", "web")
    assert out.startswith("UID" + " " * 17 + "PID") and "httpd -f -p 80" in out


def test_diff_lists_the_changes(scene: object) -> None:
    lines = same(scene, "diff", "web").splitlines()
    assert {"C /tmp", "A /tmp/new", "A /tmp/dir"} <= set(lines)


# --- stats -----------------------------------------------------------------------------

def columns(line: str) -> list[str]:
    return re.split(r" {2,}", line.strip())


@pytest.mark.parametrize("args", [(), ("-a",), ("--no-trunc",), ("web", "talker")])
def test_stats_no_stream_has_dockers_shape(scene: object, args: tuple[str, ...]) -> None:
    ours = estiba(scene, "stats", "--no-stream", *args)
    theirs = dockers(scene, "stats", "--no-stream", *args)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    mine, its = ours.stdout.splitlines(), theirs.stdout.splitlines()
    assert mine[0] == its[0]  # the header, padded as docker pads it
    assert [columns(line)[:2] for line in mine[1:]] == [columns(line)[:2]
                                                       for line in its[1:]]
    for line in mine[1:]:
        cells = columns(line)
        assert len(cells) == 8
        assert re.fullmatch(r"\d+\.\d\d%", cells[2]) and re.fullmatch(r"\d+\.\d\d%",
                                                                      cells[4])
        assert " / " in cells[3] and " / " in cells[5] and " / " in cells[6]


def test_stats_formats(scene: object) -> None:
    same(scene, "stats", "--no-stream", "--format", "{{.Container}} {{.Name}} {{.PIDs}}",
         "web", "talker")
    ours = estiba(scene, "stats", "--no-stream", "--format", "json", "-a")
    theirs = dockers(scene, "stats", "--no-stream", "--format", "json", "-a")
    mine = [json.loads(line) for line in ours.stdout.splitlines()]
    its = [json.loads(line) for line in theirs.stdout.splitlines()]
    assert [list(row) for row in mine] == [list(row) for row in its]
    assert [(r["Name"], r["ID"], r["Container"]) for r in mine] == \
        [(r["Name"], r["ID"], r["Container"]) for r in its]


def test_stats_stream_redraws_the_table(scene: object) -> None:
    """Two frames of the live table, drawn as docker draws them; then stopped."""
    def frames(argv: list[str], env: dict[str, str]) -> bytes:
        proc = subprocess.Popen([*argv, "stats", "web"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        out = b""
        deadline = time.monotonic() + 30
        try:
            assert proc.stdout is not None
            while out.count(b"\033[J") < 2 and time.monotonic() < deadline:
                data = os.read(proc.stdout.fileno(), 65536)
                if not data:
                    break
                out += data
        finally:
            proc.send_signal(signal.SIGINT)  # how a person ends it; docker ignores it here
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate(timeout=30)
        return out

    ours = frames(list(ESTIBA), estiba_env(scene))
    theirs = frames(["docker"], env_of(scene))
    for out in (ours, theirs):
        assert out.count(b"\033[J") >= 2, out
    first = ours.split(b"\033[J")[0]
    its = theirs.split(b"\033[J")[0]
    shape = [columns(line.decode())[:2] for line in first.split(b"\n")]
    assert shape == [columns(line.decode())[:2] for line in its.split(b"\n")]
    assert first.startswith(b"\033[HCONTAINER ID   NAME") and b" \033[K\n" in first


# --- commands that change a container --------------------------------------------------

@pytest.mark.parametrize("args", [
    ("stop", "-t", "1", "one", "nosuch"), ("stop", "--time", "1", "one"),
    ("stop", "-s", "KILL", "one"), ("restart", "-t", "1", "one"), ("kill", "one"),
    ("kill", "-s", "TERM", "nosuch", "one"), ("pause", "one", "nosuch"),
    ("rename", "one", "two"), ("update", "-m", "64m", "--cpus", "0.5", "--pids-limit", "50",
                               "one", "nosuch"),
    ("update", "--restart", "always", "one"), ("update", "--restart", "bogus", "one"),
])
def test_changes_as_docker(scene: object, args: tuple[str, ...]) -> None:
    def setup() -> None:
        docker(scene, "rm", "-f", "two")
        fresh(scene, "one")

    ours, theirs = on_fresh(scene, setup, *args)
    assert ours == theirs
    docker(scene, "rm", "-f", "one", "two")


def test_unpause_and_wait(scene: object) -> None:
    def paused() -> None:
        fresh(scene, "one")
        docker(scene, "pause", "one")

    ours, theirs = on_fresh(scene, paused, "unpause", "one", "nosuch")
    assert ours == theirs and ours[1] == "one\n"

    def exiting() -> None:
        fresh(scene, "one", "sh", "-c", "sleep 1; exit 7")

    ours, theirs = on_fresh(scene, exiting, "wait", "one")
    assert ours == theirs == (0, "7\n", "")
    docker(scene, "rm", "-f", "one")


def test_update_reaches_the_container(scene: object) -> None:
    fresh(scene, "one")
    assert estiba(scene, "update", "-m", "64m", "--pids-limit", "50", "one").stdout == "one\n"
    found = json.loads(docker(scene, "inspect", "one").stdout)[0]["HostConfig"]
    assert (found["Memory"], found["PidsLimit"]) == (64 << 20, 50)
    docker(scene, "rm", "-f", "one")


# the scene's exited container stays: what is pruned is chosen by a label (or not
# confirmed)
@pytest.mark.parametrize(("args", "answer"), [
    (("container", "prune"), "n\n"), (("container", "prune"), ""),
    (("container", "prune"), "yes\n"),
    (("container", "prune", "--filter", "label=ecc-prune"), "y\n"),
    (("container", "prune", "-f", "--filter", "label=ecc-prune"), None),
    (("container", "prune", "-f", "--filter", "label=nothing"), None),
])
def test_prune_as_docker(scene: object, args: tuple[str, ...], answer: str | None) -> None:
    def stopped() -> None:
        docker(scene, "rm", "-f", "gone")
        made = docker(scene, "run", "--name", "gone", "--label", "ecc-prune", "busybox",
                      "true")
        assert made.returncode == 0, made.stderr

    ours, theirs = on_fresh(scene, stopped, *args, input=answer if answer is not None
                            else "")
    # the ids of the removed containers differ: compare with them replaced
    def plain(result: tuple) -> tuple:
        return (result[0], re.sub(r"\b[0-9a-f]{64}\b", "ID", result[1]), result[2])

    assert plain(ours) == plain(theirs)
    assert "talker" in docker(scene, "ps", "-a", "--format", "{{.Names}}").stdout
    docker(scene, "rm", "-f", "gone")


# --- files -----------------------------------------------------------------------------

def tree(root: Path) -> list[tuple[str, str, int]]:
    """What a directory holds: (path, kind, content or link target)."""
    found = []
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found.append((rel, "link", os.readlink(path)))
        elif path.is_dir():
            found.append((rel, "dir", ""))
        else:
            found.append((rel, "file", path.read_text()))
    return found


def container_tree(d: object, path: str) -> str:
    return docker(d, "exec", "web", "sh", "-c", f"cd {path} && find . | sort; "
                  "cat $(find . -type f | sort) 2>/dev/null").stdout


def local_scene(root: Path) -> None:
    (root / "d1" / "sub").mkdir(parents=True)
    (root / "d1" / "a").write_text("a\n")
    (root / "d1" / "sub" / "b").write_text("b\n")
    os.symlink("a", root / "d1" / "link")
    (root / "f").write_text("x\n")


@pytest.mark.parametrize(("source", "target"), [
    ("web:/etc/passwd", "."), ("web:/etc/passwd", "p"), ("web:/etc/passwd", "f"),
    ("web:/tmp/dir", "."), ("web:/tmp/dir", "new"), ("web:/tmp/dir/.", "new"),
    ("web:/tmp/dir/.", "d1"), ("web:/tmp/dir/", "n2"), ("web:/tmp/link", "."),
    ("web:/tmp/dir", "f"), ("web:/etc/passwd", "nodir/"), ("web:/etc/passwd", "nodir/x"),
])
def test_cp_out_as_docker(scene: object, tmp_path: Path, source: str, target: str) -> None:
    results = []
    for name, argv, env in (("ours", list(ESTIBA), estiba_env(scene)),
                            ("theirs", ["docker"], env_of(scene))):
        root = tmp_path / name
        root.mkdir()
        local_scene(root)
        ran = subprocess.run([*argv, "cp", source, target], env=env, cwd=root,
                             capture_output=True, text=True, timeout=60)
        results.append((outcome(ran, root), tree(root)))
    assert results[0] == results[1]


@pytest.mark.parametrize("flags", [(), ("-L",)])
def test_cp_follows_links_when_asked(scene: object, tmp_path: Path,
                                     flags: tuple[str, ...]) -> None:
    results = []
    for name, argv, env in (("ours", list(ESTIBA), estiba_env(scene)),
                            ("theirs", ["docker"], env_of(scene))):
        root = tmp_path / name
        root.mkdir()
        ran = subprocess.run([*argv, "cp", *flags, "web:/tmp/link", "copy"], env=env,
                             cwd=root, capture_output=True, text=True, timeout=60)
        results.append((outcome(ran), tree(root)))
    assert results[0] == results[1]
    assert results[0][1][0][1] == ("file" if flags else "link")


@pytest.mark.parametrize(("source", "target"), [
    ("f", "/tmp/t/x"), ("f", "/tmp/t/"), ("f", "/tmp/t/f"), ("f", "/tmp/t/dd"),
    ("d1", "/tmp/t/"), ("d1", "/tmp/t/new"), ("d1/.", "/tmp/t/new"), ("d1/.", "/tmp/t/dd"),
    ("d1", "/tmp/t/f"), ("f", "/tmp/t/nodir/"), ("f", "/tmp/t/nodir/x"),
    ("nofile", "/tmp/t"), ("d1/link", "/tmp/t/"),
])
def test_cp_in_as_docker(scene: object, tmp_path: Path, source: str, target: str) -> None:
    local_scene(tmp_path)
    results = []
    for argv, env in ((list(ESTIBA), estiba_env(scene)), (["docker"], env_of(scene))):
        docker(scene, "exec", "web", "sh", "-c", "rm -rf /tmp/t; mkdir -p /tmp/t/dd; "
               "echo y > /tmp/t/f")
        ran = subprocess.run([*argv, "cp", source, f"web:{target}"], env=env,
                             cwd=tmp_path, capture_output=True, text=True, timeout=60)
        results.append((outcome(ran), container_tree(scene, "/tmp/t")))
    assert results[0] == results[1]


def test_cp_tar_streams(scene: object, tmp_path: Path) -> None:
    ours = subprocess.run([*list(ESTIBA), "cp", "web:/tmp/dir", "-"], env=estiba_env(scene),
                          capture_output=True, timeout=60)
    theirs = subprocess.run(["docker", "cp", "web:/tmp/dir", "-"], env=env_of(scene),
                            capture_output=True, timeout=60)
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout
    with tarfile.open(fileobj=io.BytesIO(ours.stdout)) as tar:
        assert sorted(tar.getnames()) == ["dir", "dir/b"]
    local_scene(tmp_path)
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        tar.add(tmp_path / "d1", "in")
    docker(scene, "exec", "web", "rm", "-rf", "/tmp/in")
    put = subprocess.run([*list(ESTIBA), "cp", "-", "web:/tmp"], env=estiba_env(scene),
                         input=data.getvalue(), capture_output=True, timeout=60)
    assert (put.returncode, put.stdout, put.stderr) == (0, b"", b"")
    assert docker(scene, "exec", "web", "cat", "/tmp/in/sub/b").stdout == "b\n"


@pytest.mark.parametrize(("source", "target"), [
    ("web:/etc/passwd", "p"), ("web:/etc/passwd", "."), ("web:/tmp/dir", "new"),
    ("web:/tmp/dir", "f"), ("f", "web:/tmp/f2"), ("d1", "web:/tmp/d2"),
    ("f", "web:/tmp/none/x"),
])
def test_cp_sums_up_on_a_terminal(scene: object, tmp_path: Path, source: str,
                                  target: str) -> None:
    """docker says what it copied, in its own sizes, when its stdout is a terminal
    (not with -q)."""
    results = []
    for name, argv, env in (("ours", list(ESTIBA), estiba_env(scene)),
                            ("theirs", ["docker"], env_of(scene))):
        root = tmp_path / name
        root.mkdir()
        local_scene(root)
        status, _, err = in_terminal([*argv, "cp", source, target], env, root)
        quiet = in_terminal([*argv, "cp", "-q", source, target], env, root)
        results.append((status, err.replace(str(root), "ROOT"), quiet[0], quiet[2]))
    assert results[0] == results[1]
    assert "Successfully copied " in results[0][1] and results[0][3] in ("", results[0][1]
                                                                          .split("\n", 1)[1])


def test_export_as_docker(scene: object, tmp_path: Path) -> None:
    ours = subprocess.run([*list(ESTIBA), "export", "talker"], env=estiba_env(scene),
                          capture_output=True, timeout=60)
    theirs = subprocess.run(["docker", "export", "talker"], env=env_of(scene),
                            capture_output=True, timeout=60)
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout and len(ours.stdout) > 100_000
    out = tmp_path / "t.tar"
    assert estiba(scene, "export", "-o", str(out), "talker").returncode == 0
    assert out.read_bytes() == theirs.stdout
    for path in (str(tmp_path), str(tmp_path / "none" / "x"), str(out / "x")):
        assert outcome(estiba(scene, "export", "-o", path, "web")) == \
            outcome(dockers(scene, "export", "-o", path, "web"))
    refusals = [in_terminal([*argv, "export", "talker"], env, tmp_path)
                for argv, env in ((list(ESTIBA), estiba_env(scene)),
                                  (["docker"], env_of(scene)))]
    assert refusals[0] == refusals[1]
    assert refusals[0][0] == 1 and "cowardly refusing" in refusals[0][2]


def test_commit_as_docker(scene: object) -> None:
    changes = ["EXPOSE 8080", "ENV A=1", 'CMD ["sh"]', "WORKDIR /w", "LABEL x=y",
               "USER nobody", 'ENTRYPOINT ["/bin/sh", "-c"]', "VOLUME /data",
               "STOPSIGNAL SIGTERM"]
    flags = [arg for c in changes for arg in ("-c", c)]
    made = []
    for name, run in (("ecc-ours:v1", estiba), ("ecc-theirs:v1", dockers)):
        result = run(scene, "commit", "-a", "me", "-m", "msg", "--pause=false", *flags,
                     "web", name)
        assert result.returncode == 0, result.stderr
        assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", result.stdout)
        made.append(json.loads(docker(scene, "image", "inspect", name).stdout)[0])
    assert made[0]["Config"] == made[1]["Config"]
    assert (made[0]["Author"], made[0]["Comment"]) == ("me", "msg")
    untagged = estiba(scene, "commit", "talker")
    assert untagged.returncode == 0
    docker(scene, "rmi", "ecc-ours:v1", "ecc-theirs:v1", untagged.stdout.strip())
