"""``estiba``'s image commands beside the real docker CLI (version 28, the spec): the
same arguments against the same estibad give the same stdout, stderr and exit status,
for normal runs and for errors; where the two create or remove different objects
(ids, names), the outputs are compared with those put back. A save, remove, load and
run round trip; the progress bars on a terminal, through a pseudo-terminal."""

from __future__ import annotations

import os
import re
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.docker_cli import SRC, docker, engine_daemon, env_of, estiba, in_pty

pytestmark = [pytest.mark.e2e, pytest.mark.root]

_ID = re.compile(r"sha256:[0-9a-f]{64}")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("ecD-")


@pytest.fixture(scope="module")
def fs_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small filesystem tar to import."""
    root = tmp_path_factory.mktemp("fs")
    (root / "etc").mkdir()
    (root / "etc" / "hello").write_text("hi\n")
    tar = root.parent / "fs.tar"
    with tarfile.open(tar, "w") as t:
        t.add(root / "etc", arcname="etc")
    return tar


@pytest.fixture(scope="module")
def scene(daemon: object, fs_tar: Path) -> Iterator[object]:
    """busybox (the built-in image, made on first use), an imported image with a
    message and changes, and a second tag of busybox."""
    for argv in (("run", "--rm", "busybox", "true"),
                 ("import", "-m", "a msg", "-c", "ENV A=b", "-c", 'CMD ["/bin/sh"]',
                  str(fs_tar), "ecd/imp:1"),
                 ("tag", "busybox", "ecd/bb:v1")):
        result = docker(daemon, *argv)
        assert result.returncode == 0, (argv, result.stderr)
    yield daemon


def same(d: object, *args: str, input: str | None = None) -> str:
    """Run both; assert stdout, stderr and status agree; the docker CLI's stdout."""
    ours = estiba(d, *args, input=input)
    theirs = docker(d, *args, input=input)
    assert (ours.returncode, ours.stdout, ours.stderr) \
        == (theirs.returncode, theirs.stdout, theirs.stderr), args
    return theirs.stdout


def _ages(text: str) -> str:
    # an age printed by each client may tick between the two runs ("59 seconds ago",
    # then "About a minute ago"), and a table's columns are as wide as their widest cell
    aged = re.sub(r"(Less than a second|About an? \w+|\d+ \w+) ago", "N ago", text)
    return re.sub(r" {2,}", "  ", aged)


@pytest.mark.parametrize("args", [
    ("history", "busybox"), ("history", "ecd/imp:1"), ("history", "-H=false", "ecd/imp:1"),
    ("history", "--human=false", "busybox"), ("history", "--no-trunc", "ecd/imp:1"),
    ("history", "-q", "busybox"), ("history", "-q", "--no-trunc", "busybox"),
    ("history", "--format", "json", "ecd/imp:1"),
    ("history", "-q", "--format", "{{.ID}}|{{.Size}}|{{.Comment}}", "ecd/imp:1"),
    ("history", "--format", "table {{.ID}}\\t{{.CreatedBy}}", "busybox"),
    ("image", "history", "ecd/bb:v1"),
])
def test_history_as_docker(scene: object, args: tuple[str, ...]) -> None:
    ours, theirs = estiba(scene, *args), docker(scene, *args)
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) == (0, "")
    assert _ages(ours.stdout) == _ages(theirs.stdout)
    if args[-1] == "ecd/imp:1" and "-q" not in args:
        assert "a msg" in theirs.stdout


@pytest.mark.parametrize("args", [
    ("history", "nosuch"), ("rmi", "nosuch"), ("rmi", "nosuch", "other"),
    ("rmi", "-f", "nosuch"), ("rmi", "--no-prune", "nosuch"),
    ("tag", "nosuch", "x"), ("tag", "busybox", "Bad:x"), ("tag", "busybox", "a:b:c"),
    ("tag", "busybox", "x:a b"), ("tag", "", "x"), ("tag", "Bad", "x"),
    ("tag", "busybox", "x@sha256:" + "0" * 64), ("tag", "busybox", "0" * 64),
    ("import", "/nonexistent.tar"), ("import", "http://127.0.0.1:1/x.tar"),
    ("save", "nosuch", "-o", "/tmp/ecD-never.tar"),
    ("save", "-o", "/nonexistent/dir/x.tar", "busybox"), ("save", "-o", "/tmp", "busybox"),
    ("load", "-i", "/nonexistent.tar"),
    ("pull", "alpine"), ("pull", "-q", "alpine:3"), ("pull", "-a", "alpine:3"),
    ("pull", "-a", "alpine"), ("pull", "--platform", "linux/arm64", "alpine"),
    ("pull", "Bad"), ("pull", "alpine@sha256:abc"), ("pull", "localhost:5000/x/y:z"),
    ("pull", "alpine@sha256:" + "0" * 64),
])
def test_errors_as_docker(scene: object, args: tuple[str, ...]) -> None:
    same(scene, *args)
    assert not os.path.exists("/tmp/ecD-never.tar")


@pytest.mark.parametrize("args", [
    ("rmi",), ("rmi", "-x", "a"), ("tag", "x"), ("tag", "a", "b", "c"), ("history",),
    ("history", "a", "b"), ("load", "x"), ("save",),
    ("pull",), ("import",), ("import", "a", "b", "c"), ("image", "prune", "x"),
    ("image", "prune", "--filter", "bogus"), ("save", "-o"),
])
def test_usage_errors_as_docker(scene: object, args: tuple[str, ...]) -> None:
    ours, theirs = estiba(scene, *args), docker(scene, *args)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), args
    assert ours.stderr.replace("estiba", "docker") == theirs.stderr


def test_ambiguous_short_ids_as_docker(scene: object, fs_tar: Path) -> None:
    """Imports with different messages until two image ids share a first digit."""
    def ids() -> list[str]:
        return docker(scene, "images", "-q", "--no-trunc").stdout.split()

    n = 0
    while True:
        firsts = [i.partition(":")[2][0] for i in set(ids())]
        shared = [c for c in set(firsts) if firsts.count(c) > 1]
        if shared:
            break
        assert n < 17, firsts  # 16 hex digits: the 17th import must share one
        assert docker(scene, "import", "-m", f"m{n}", str(fs_tar),
                      f"ecd/amb:{n}").returncode == 0
        n += 1
    prefix = shared[0]
    for args in (("rmi", prefix), ("tag", prefix, "ecd/x:1"), ("history", prefix),
                 ("save", "-o", "/tmp/ecD-never.tar", prefix)):
        assert "ambiguous" in same(scene, *args) + docker(scene, *args).stderr
    for i in range(n):
        docker(scene, "rmi", f"ecd/amb:{i}")


def test_image_used_by_a_container_as_docker(scene: object) -> None:
    assert docker(scene, "create", "--name", "ecd-user", "ecd/imp:1", "true").returncode == 0
    try:
        image_id = docker(scene, "inspect", "-f", "{{.Id}}", "ecd/imp:1").stdout.strip()
        for args in (("rmi", "ecd/imp:1"), ("rmi", image_id[7:19]),
                     ("rmi", "ecd/imp:1", "nosuch"), ("image", "rm", "ecd/imp:1")):
            same(scene, *args)
            assert docker(scene, *args).stderr.startswith(
                "Error response from daemon: conflict: unable to ")
    finally:
        docker(scene, "rm", "ecd-user")


def test_tag_and_rmi_as_docker(scene: object, fs_tar: Path) -> None:
    for tool, n in ((estiba, 1), (docker, 2)):
        assert tool(scene, "tag", "busybox", f"ecd/t:{n}").returncode == 0
        assert tool(scene, "tag", "ecd/bb:v1", f"localhost:5000/ecd/t{n}").returncode == 0
    listed = docker(scene, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    busybox_id = docker(scene, "images", "-q", "busybox").stdout.strip()
    for name in ("ecd/t:1", "ecd/t:2", "localhost:5000/ecd/t1:latest"):
        assert f"{name} {busybox_id}" in listed
    ours = estiba(scene, "rmi", "ecd/t:1", "localhost:5000/ecd/t1")
    theirs = docker(scene, "rmi", "ecd/t:2", "localhost:5000/ecd/t2")
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout.replace("t:2", "t:1").replace("t2:", "t1:") \
        == "Untagged: ecd/t:1\nUntagged: localhost:5000/ecd/t1:latest\n"
    # an image's last name: untagged and deleted
    for n in (1, 2):
        assert docker(scene, "import", "-m", f"del{n}", str(fs_tar),
                      f"ecd/del:{n}").returncode == 0
    ours, theirs = estiba(scene, "rmi", "ecd/del:1"), docker(scene, "rmi", "ecd/del:2")
    assert ours.returncode == theirs.returncode == 0
    assert _ID.sub("ID", ours.stdout) == _ID.sub("ID", theirs.stdout).replace(":2", ":1") \
        == "Untagged: ecd/del:1\nDeleted: ID\n"


def test_import_as_docker(scene: object, fs_tar: Path) -> None:
    changes = ("-m", "the msg", "-c", "ENV A=b", "-c", 'CMD ["/bin/sh"]', "-c",
               "WORKDIR /etc", "--platform", "linux/amd64")
    ours = estiba(scene, "import", *changes, str(fs_tar), "ecd/i:1")
    theirs = docker(scene, "import", *changes, str(fs_tar), "ecd/i:2")
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert _ID.fullmatch(ours.stdout.strip()) and _ID.fullmatch(theirs.stdout.strip())
    fmt = "{{json .Config}}|{{.Comment}}|{{.Os}}|{{.Size}}"
    assert docker(scene, "inspect", "-f", fmt, "ecd/i:1").stdout \
        == docker(scene, "inspect", "-f", fmt, "ecd/i:2").stdout
    # from stdin, untagged
    piped = estiba(scene, "import", "-", input=fs_tar.read_bytes(), text=False)
    assert piped.returncode == 0 and _ID.fullmatch(piped.stdout.decode().strip())
    same(scene, "import", "-c", "BOGUS x", str(fs_tar))
    same(scene, "import", str(fs_tar), "Bad")
    for name in ("ecd/i:1", "ecd/i:2", piped.stdout.decode().strip()):
        docker(scene, "rmi", name)


def test_prune_as_docker(scene: object, fs_tar: Path) -> None:
    # refused, or no answer: nothing removed, status 0
    for answer in ("n\n", "", "yes\n"):
        same(scene, "image", "prune", input=answer)
        same(scene, "image", "prune", "-a", input=answer)
    outputs = []
    for tool, n in ((estiba, 1), (docker, 2)):
        made = docker(scene, "import", "-m", f"dangling{n}", str(fs_tar))
        assert made.returncode == 0
        pruned = tool(scene, "image", "prune", input="y\n")
        assert pruned.returncode == 0, pruned.stderr
        assert made.stdout.strip() in pruned.stdout
        outputs.append(_ID.sub("ID", pruned.stdout))
    assert outputs[0] == outputs[1]
    assert outputs[0].endswith("Deleted Images:\ndeleted: ID\n\nTotal reclaimed space: "
                               + outputs[0].rpartition(": ")[2])
    same(scene, "image", "prune", "-f")
    same(scene, "image", "prune", "-f", "--filter", "until=1h")
    assert "busybox" in docker(scene, "images").stdout


def test_save_remove_load_run(scene: object, tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.tar", tmp_path / "theirs.tar"
    assert estiba(scene, "save", "-o", str(ours), "busybox").returncode == 0
    assert docker(scene, "save", "-o", str(theirs), "busybox").returncode == 0
    assert ours.read_bytes() == theirs.read_bytes()
    assert ours.stat().st_mode & 0o777 == theirs.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == ["ours.tar", "theirs.tar"]  # no temp file left
    piped = estiba(scene, "save", "busybox", "ecd/imp:1", text=False)
    assert piped.returncode == 0
    assert piped.stdout == docker(scene, "save", "busybox", "ecd/imp:1", text=False).stdout
    # the round trip: busybox gone, loaded back, run
    assert docker(scene, "rmi", "ecd/bb:v1").returncode == 0
    removed = estiba(scene, "rmi", "busybox")
    assert removed.returncode == 0, removed.stderr
    assert _ID.sub("ID", removed.stdout) == "Untagged: busybox:latest\nDeleted: ID\n"
    assert "busybox" not in docker(scene, "images").stdout
    assert same(scene, "load", "-i", str(ours)) == "Loaded image: busybox:latest\n"
    loaded = estiba(scene, "load", input=ours.read_bytes(), text=False)
    assert loaded.stdout == docker(scene, "load", input=ours.read_bytes()).stdout
    assert estiba(scene, "load", "-q", "-i", str(ours)).stdout \
        == "Loaded image: busybox:latest\n"
    same(scene, "load", "-i", str(SRC.parent / "pyproject.toml"))
    ran = docker(scene, "run", "--rm", "busybox", "echo", "round trip")
    assert (ran.returncode, ran.stdout) == (0, "round trip\n"), ran.stderr
    assert docker(scene, "tag", "busybox", "ecd/bb:v1").returncode == 0


# --- on a terminal ---------------------------------------------------------------------

def estiba_in_pty(d: object, argv: list[str], timeout: float = 30) -> tuple[int, str]:
    """(status, what it wrote, control sequences removed) of ``estiba`` run on a new
    pty (24x100), as ``estiba`` runs: Python without ``site`` (-S)."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    env = {**env_of(d), "PYTHONPATH": str(SRC), "TERM": "xterm"}
    env.pop("ESTIBA_HOST", None)
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        os.execve(sys.executable, [sys.executable, "-S", "-m", "estiba.cli", *argv], env)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child's side closed: EIO
                break
            if not data:
                break
            out += data
    finally:
        done, status = os.waitpid(pid, os.WNOHANG)
        while not done and time.monotonic() < deadline:
            time.sleep(0.05)
            done, status = os.waitpid(pid, os.WNOHANG)
        if not done:
            os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert done, f"estiba {' '.join(argv)} still running: {out!r}"
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def _lines(screen: str) -> list[str]:
    # what stays on the screen: each line as its last redraw left it
    plain = _ANSI.sub("", screen).replace("\r\n", "\n")
    return [line.rpartition("\r")[2].rstrip() for line in plain.split("\n") if line.strip()]


def test_load_on_a_terminal_shows_a_bar(scene: object, tmp_path: Path) -> None:
    archive = tmp_path / "bb.tar"
    assert docker(scene, "save", "-o", str(archive), "busybox").returncode == 0
    status, screen = estiba_in_pty(scene, ["load", "-i", str(archive)])
    assert status == 0, screen
    lines = _lines(screen)
    assert lines[-1] == "Loaded image: busybox:latest"
    size = archive.stat().st_size / 1e6
    assert "━" in lines[-2] and f"{size:.1f}/{size:.1f} MB" in lines[-2], lines
    # quiet: no bar
    status, screen = estiba_in_pty(scene, ["load", "-q", "-i", str(archive)])
    assert (status, _lines(screen)) == (0, ["Loaded image: busybox:latest"])


def test_save_on_a_terminal(scene: object, tmp_path: Path) -> None:
    target = tmp_path / "bb.tar"
    status, screen = estiba_in_pty(scene, ["save", "-o", str(target), "busybox"])
    assert status == 0, screen
    size = target.stat().st_size / 1e6
    assert f"{size:.1f}/{size:.1f} MB" in _lines(screen)[-1]
    # no -o: refused, as docker refuses
    status, screen = estiba_in_pty(scene, ["save", "busybox"])
    theirs = in_pty(scene, ["save", "busybox"])
    assert (status, screen) == (theirs[0], theirs[1].decode()) \
        == (1, "cowardly refusing to save to a terminal. Use the -o flag or redirect\r\n")


def test_load_from_a_terminal_is_refused(scene: object) -> None:
    status, screen = estiba_in_pty(scene, ["load"])
    theirs = in_pty(scene, ["load"])
    assert (status, screen) == (theirs[0], theirs[1].decode()) \
        == (1, "requested load from stdin, but stdin is empty\r\n")
