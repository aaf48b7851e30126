"""A container's files through the real docker CLI against estibad: ``docker cp`` both
ways (a file, a directory, to stdout), on created, running and exited containers,
``docker diff``, ``docker export``, ``docker commit`` then running the image, and hostile
archives PUT through the raw API, which must leave the host untouched."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.docker_cli import docker, engine_daemon

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "daemon"))
from harness import Daemon  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.root]

DEADLINE = 20.0


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    yield from engine_daemon("edf-")  # type: ignore[misc]



def ok(d: Daemon, *args: str, **kw: object) -> str:
    done = docker(d, *args, **kw)  # type: ignore[arg-type]
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def wait_exited(d: Daemon, name: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while ok(d, "inspect", "-f", "{{.State.Status}}", name).strip() != "exited":
        assert time.monotonic() < deadline, f"{name} did not exit"
        time.sleep(0.05)


def wait_logs(d: Daemon, name: str, text: str) -> str:
    deadline = time.monotonic() + DEADLINE
    while True:
        out = docker(d, "logs", name).stdout
        if text in out:
            return out
        assert time.monotonic() < deadline, f"{name}: {text!r} not in {out!r}"
        time.sleep(0.05)


def request(d: Daemon, method: str, path: str, body: bytes | None = None,
            ) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request over the Docker socket."""
    conn = http.client.HTTPConnection("localhost", timeout=30)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(d.docker_sock)
    conn.sock = sock
    try:
        headers = {"Content-Type": "application/x-tar"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def tar_of(*entries: tuple[str, str, bytes | str]) -> bytes:
    """A tar of (name, kind "file" | "dir" | "symlink" | "hardlink" | "chr", data or
    link target)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = int(time.time())
            if kind == "file":
                raw = data if isinstance(data, bytes) else data.encode()
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
                continue
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, str(data)
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            tar.addfile(info)
    return out.getvalue()


# --- docker cp --------------------------------------------------------------------------


def test_cp_file_and_directory_both_ways(daemon: Daemon, tmp_path: Path) -> None:
    name = "files-cp"
    ok(daemon, "create", "--name", name, "busybox", "sh", "-c",
       "cat /tmp/in.txt /tmp/tree/sub/deep.txt")
    (tmp_path / "in.txt").write_text("hello from the host\n")
    tree = tmp_path / "tree" / "sub"
    tree.mkdir(parents=True)
    (tree / "deep.txt").write_text("deep\n")
    ok(daemon, "cp", str(tmp_path / "in.txt"), f"{name}:/tmp/in.txt")
    ok(daemon, "cp", str(tmp_path / "tree"), f"{name}:/tmp/")
    assert ok(daemon, "start", "-a", name) == "hello from the host\ndeep\n"

    out = tmp_path / "out"
    out.mkdir()
    ok(daemon, "cp", f"{name}:/tmp/in.txt", str(out / "copy.txt"))
    assert (out / "copy.txt").read_text() == "hello from the host\n"
    ok(daemon, "cp", f"{name}:/tmp/tree", str(out))
    assert (out / "tree" / "sub" / "deep.txt").read_text() == "deep\n"
    ok(daemon, "cp", f"{name}:/etc/.", str(out / "etc"))
    assert (out / "etc" / "passwd").read_text().startswith("root:")


def test_cp_to_stdout_and_the_path_stat(daemon: Daemon) -> None:
    name = "files-hostname"
    ok(daemon, "run", "--name", name, "busybox", "sh", "-c", "hostname > /etc/hostname")
    cid = ok(daemon, "inspect", "-f", "{{.Id}}", name).strip()
    data = docker(daemon, "cp", f"{name}:/etc/hostname", "-", text=False)
    assert data.returncode == 0, data.stderr
    with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
        assert tar.getnames() == ["hostname"]
        member = tar.extractfile("hostname")
        assert member is not None and member.read() == (cid[:12] + "\n").encode()

    status, headers, body = request(daemon, "HEAD",
                                    f"/containers/{name}/archive?path=/bin/sh")
    assert status == 200 and body == b""
    stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert stat["name"] == "sh" and stat["linkTarget"] == "/bin/busybox"
    assert stat["mode"] & (1 << 27)  # Go's ModeSymlink
    status, headers, _ = request(daemon, "HEAD", f"/containers/{name}/archive?path=/etc")
    stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert stat["name"] == "etc" and stat["mode"] == (1 << 31) | 0o755

    missing = docker(daemon, "cp", f"{name}:/no/such", "-")
    assert missing.returncode != 0
    assert f"Could not find the file /no/such in container {name}" in missing.stderr


def test_cp_into_a_running_container_is_seen_at_once(daemon: Daemon, tmp_path: Path
                                                    ) -> None:
    name = "files-running"
    ok(daemon, "run", "-d", "--name", name, "busybox", "sh", "-c",
       "while [ ! -f /tmp/flag ]; do sleep 0.05; done; cat /tmp/flag; sleep 60")
    (tmp_path / "flag").write_text("seen inside\n")
    ok(daemon, "cp", str(tmp_path / "flag"), f"{name}:/tmp/flag")
    wait_logs(daemon, name, "seen inside")
    ok(daemon, "rm", "-f", name)


def test_cp_refuses_a_file_as_destination_directory(daemon: Daemon) -> None:
    name = "files-notdir"
    ok(daemon, "create", "--name", name, "busybox")
    status, _, body = request(daemon, "PUT",
                              f"/containers/{name}/archive?path=/etc/passwd",
                              tar_of(("x", "file", "x")))
    assert status == 400, body
    assert json.loads(body)["message"] == "extraction point is not a directory"
    status, _, body = request(daemon, "PUT", f"/containers/{name}/archive?path=/nope",
                              tar_of(("x", "file", "x")))
    assert status == 404
    assert json.loads(body)["message"] == f"Could not find the file /nope in container {name}"


def test_cp_archive_options(daemon: Daemon, tmp_path: Path) -> None:
    name = "files-options"
    ok(daemon, "create", "--name", name, "--user", "1234:5678", "busybox")
    (tmp_path / "owned").write_text("x")
    ok(daemon, "cp", "-a", str(tmp_path / "owned"), f"{name}:/tmp/")
    ok(daemon, "cp", str(tmp_path / "owned"), f"{name}:/tmp/kept")
    data = docker(daemon, "cp", f"{name}:/tmp", "-", text=False)
    with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
        assert (tar.getmember("tmp/owned").uid, tar.getmember("tmp/owned").gid) == \
            (1234, 5678)
        assert tar.getmember("tmp/kept").uid == os.getuid()

    # a directory never replaced by a file (the CLI always asks), nor the reverse
    status, _, body = request(
        daemon, "PUT", f"/containers/{name}/archive?path=/&noOverwriteDirNonDir=true",
        tar_of(("etc", "file", "not a directory")))
    assert status == 400
    assert "cannot overwrite directory" in json.loads(body)["message"]
    assert "root:" in ok(daemon, "cp", f"{name}:/etc/passwd", "-")

    # a name longer than a tar header holds (a pax header) lands below the destination
    long = "d" * 120 + "/" + "f" * 120
    status, _, body = request(daemon, "PUT", f"/containers/{name}/archive?path=/tmp",
                              tar_of((long, "file", "long")))
    assert status == 200, body
    data = docker(daemon, "cp", f"{name}:/tmp/{long}", "-", text=False)
    assert data.returncode == 0, data.stderr


# --- hostile archives -------------------------------------------------------------------


def test_hostile_archives_never_touch_the_host(daemon: Daemon, tmp_path: Path) -> None:
    name = "files-hostile"
    ok(daemon, "create", "--name", name, "busybox")
    token = secrets.token_hex(4)
    host = tmp_path / "host"
    host.mkdir()
    victim = host / "victim"
    victim.write_text("untouched\n")
    climbing = "../" * 30 + str(host).lstrip("/") + f"/climb-{token}"
    refused = [
        tar_of((climbing, "file", "climbed")),
        tar_of(("null", "chr", b"")),
        tar_of(("escape", "hardlink", "../../../../" + str(victim).lstrip("/"))),
    ]
    for archive in refused:
        status, _, body = request(daemon, "PUT", f"/containers/{name}/archive?path=/tmp",
                                  archive)
        assert status == 400, body
        assert "copy to container" in json.loads(body)["message"]
    contained = tar_of(
        (f"{host}/absolute-{token}", "file", "absolute"),
        ("link", "symlink", str(host)),
        ("link/through-link", "file", "through"),
        ("link2", "symlink", "../../../../../../" + str(host).lstrip("/")),
        ("link2/through-relative", "file", "relative"),
    )
    status, _, body = request(daemon, "PUT", f"/containers/{name}/archive?path=/tmp",
                              contained)
    assert status == 200, body
    assert sorted(os.listdir(host)) == ["victim"]
    assert victim.read_text() == "untouched\n"
    assert not list(Path("/").glob(f"climb-{token}"))
    # what they wrote is inside the container, where its root stands for /
    for path, text in ((f"{host}/through-relative", b"relative"),
                       (f"{host}/through-link", b"through"),
                       (f"/tmp{host}/absolute-{token}", b"absolute")):
        data = docker(daemon, "cp", f"{name}:{path}", "-", text=False)
        assert data.returncode == 0, data.stderr
        with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
            member = tar.extractfile(os.path.basename(path))
            assert member is not None and member.read() == text


# --- diff, export, commit ---------------------------------------------------------------


def test_diff_export_and_commit(daemon: Daemon) -> None:
    name = "files-changed"
    ok(daemon, "run", "--name", name, "busybox", "sh", "-c",
       "echo made > /tmp/made.txt; rm /etc/group; echo extra >> /etc/passwd")
    lines = set(ok(daemon, "diff", name).splitlines())
    assert {"C /etc", "D /etc/group", "C /etc/passwd", "C /tmp", "A /tmp/made.txt"} <= lines
    status, _, body = request(daemon, "GET", f"/containers/{name}/changes")
    assert status == 200
    assert {"Path": "/etc/group", "Kind": 2} in json.loads(body)
    assert {"Path": "/tmp/made.txt", "Kind": 1} in json.loads(body)

    env = {**os.environ, "DOCKER_HOST": f"unix://{daemon.docker_sock}"}
    listing = subprocess.run(f"docker export {name} | tar t", shell=True, env=env,
                             capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    names = set(listing.stdout.split())
    assert {"bin/busybox", "etc/passwd", "tmp/made.txt"} <= names
    assert "etc/group" not in names

    ok(daemon, "commit", "--change", "ENV COMMITTED=yes", name, "files-commit:v1")
    assert "files-commit" in ok(daemon, "images")
    assert ok(daemon, "run", "--rm", "files-commit:v1", "cat", "/tmp/made.txt") == "made\n"
    assert ok(daemon, "run", "--rm", "files-commit:v1", "sh", "-c",
              "echo $COMMITTED; test -e /etc/group || echo gone") == "yes\ngone\n"

    running = "files-committed-running"
    ok(daemon, "run", "-d", "--name", running, "busybox", "sh", "-c",
       "echo live > /live; sleep 60")
    deadline = time.monotonic() + DEADLINE
    while docker(daemon, "cp", f"{running}:/live", "-").returncode != 0:
        assert time.monotonic() < deadline, "/live never appeared"
        time.sleep(0.05)
    ok(daemon, "commit", running, "files-commit:live")
    assert ok(daemon, "inspect", "-f", "{{.State.Status}}", running).strip() == "running"
    assert ok(daemon, "run", "--rm", "files-commit:live", "cat", "/live") == "live\n"
    ok(daemon, "rm", "-f", running)

    image_id = ok(daemon, "commit", name).strip()
    assert image_id.startswith("sha256:")
    assert ok(daemon, "image", "inspect", "-f", "{{.Id}}", image_id).strip() == image_id


def test_diff_of_a_missing_container(daemon: Daemon) -> None:
    done = docker(daemon, "diff", "files-nope")
    assert done.returncode != 0 and "No such container: files-nope" in done.stderr
    done = docker(daemon, "commit", "files-nope", "x:y")
    assert done.returncode != 0 and "No such container: files-nope" in done.stderr


def test_hostname_and_hosts_are_bound_and_kept_out_of_diff(daemon: Daemon) -> None:
    shown = ok(daemon, "run", "--name", "etc", "-h", "web", "--add-host", "db:10.1.2.3",
               "busybox", "sh", "-c", "cat /etc/hostname /etc/hosts; hostname")
    lines = shown.splitlines()
    assert lines[0] == "web" and lines[-1] == "web"
    assert "127.0.0.1\tlocalhost" in lines and "10.1.2.3\tdb" in lines
    assert ok(daemon, "diff", "etc") == ""  # the mount points are not changes
    ok(daemon, "rm", "etc")
    refused = docker(daemon, "run", "--rm", "--read-only", "busybox", "sh", "-c",
                     "echo x >> /etc/hosts")
    assert refused.returncode == 1 and "Read-only file system" in refused.stderr


def test_cp_through_the_binds_and_tmpfs_of_a_running_container(daemon: Daemon,
                                                               tmp_path: Path) -> None:
    host = tmp_path / "data"
    host.mkdir()
    (host / "a.txt").write_text("from the host\n")
    ok(daemon, "run", "-d", "--name", "mounted", "-v", f"{host}:/data", "--tmpfs",
       "/scratch", "busybox", "sh", "-c", "echo in tmpfs > /scratch/t.txt; sleep 100")
    written = docker(daemon, "exec", "mounted", "cat", "/scratch/t.txt")
    assert written.stdout == "in tmpfs\n", written.stderr
    for path, text in (("/data/a.txt", b"from the host\n"), ("/scratch/t.txt", b"in tmpfs\n")):
        out = docker(daemon, "cp", f"mounted:{path}", "-", text=False)
        with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
            member = tar.extractfile(os.path.basename(path))
            assert member is not None and member.read() == text
    new = tmp_path / "new.txt"
    new.write_text("copied in\n")
    ok(daemon, "cp", str(new), "mounted:/data/")
    ok(daemon, "cp", str(new), "mounted:/scratch/")
    assert (host / "new.txt").read_text() == "copied in\n"  # through the bind
    seen = ok(daemon, "exec", "mounted", "cat", "/scratch/new.txt")
    assert seen == "copied in\n"
    ok(daemon, "rm", "-f", "mounted")
