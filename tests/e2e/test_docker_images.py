"""The real docker CLI's image commands against estibad (``engine/images.py`` through
``api/docker/images.py``): ``images`` with its filters, ``history``, ``tag`` then
``run``, ``rmi`` (untag, a container's conflict, ``-f``), ``save``/``load`` both through
a pipe and through files, ``import`` with ``--change`` then ``run``, ``image prune``,
and what a user sees of a corrupt archive and of a pull from a registry. One estibad of
the module's own on temporary roots; the tests run in file order on its one state."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.docker_cli import docker, engine_daemon

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "daemon"))
from harness import Daemon  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.root]

BUSYBOX_BINARY = "/bin/busybox"


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    yield from engine_daemon("edi-")  # type: ignore[misc]



def docker_bytes(d: Daemon, *args: str) -> bytes:
    found = docker(d, *args, input=b"")
    assert found.returncode == 0, found.stderr
    return found.stdout


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def repo_tags(d: Daemon, *args: str) -> list[str]:
    """The tags ``docker images`` lists, sorted (the CLI's order of the tags of one
    image varies)."""
    return sorted(ok(docker(d, "images", "--format", "{{.Repository}}:{{.Tag}}",
                            *args)).split())


def rootfs_tar() -> bytes:
    """A busybox root filesystem, as ``docker import`` takes it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in ("bin", "etc", "tmp"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(BUSYBOX_BINARY, "bin/busybox")
        for applet in ("sh", "echo", "cat"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return out.getvalue()


def test_images_and_history(daemon: Daemon) -> None:
    ok(docker(daemon, "image", "inspect", "busybox"))  # the built-in image, provided
    assert repo_tags(daemon) == ["busybox:latest"]
    image_id = ok(docker(daemon, "images", "-q")).strip()
    assert len(image_id) == 12
    full = ok(docker(daemon, "image", "inspect", "-f", "{{.Id}}", "busybox")).strip()
    assert full == f"sha256:{full[7:]}" and full[7:19] == image_id
    assert ok(docker(daemon, "images", "-q", "--filter", "dangling=true")) == ""
    history = ok(docker(daemon, "history", "--format", "{{.ID}}|{{.Size}}", "busybox"))
    top = history.splitlines()[0]
    assert top.startswith(image_id + "|") and top.endswith("MB")
    assert ok(docker(daemon, "history", "-q", "busybox")).split()[0] == image_id


def test_tag_then_run_and_reference_filter(daemon: Daemon) -> None:
    ok(docker(daemon, "tag", "busybox", "mybox:1"))
    assert repo_tags(daemon) == ["busybox:latest", "mybox:1"]
    assert repo_tags(daemon, "--filter", "reference=my*") == ["mybox:1"]
    assert repo_tags(daemon, "--filter", "reference=nothing*") == []
    assert ok(docker(daemon, "run", "--rm", "mybox:1", "echo", "hi")) == "hi\n"
    missing = docker(daemon, "tag", "nosuch", "x:1")
    assert missing.returncode != 0 and "No such image: nosuch:latest" in missing.stderr


def test_rmi_untags_and_refuses_an_image_a_container_uses(daemon: Daemon) -> None:
    assert ok(docker(daemon, "rmi", "mybox:1")) == "Untagged: mybox:1\n"
    assert repo_tags(daemon) == ["busybox:latest"]
    image_id = ok(docker(daemon, "images", "-q")).strip()
    cid = ok(docker(daemon, "create", "busybox", "true")).strip()
    try:
        refused = docker(daemon, "rmi", "busybox")
        assert refused.returncode == 1
        assert (f'conflict: unable to remove repository reference "busybox:latest" (must force) '
                f"- container {cid[:12]} is using its referenced image {image_id}"
                in refused.stderr)
        ok(docker(daemon, "tag", "busybox", "other:1"))
        by_id = docker(daemon, "rmi", image_id)
        assert by_id.returncode == 1
        assert (f"conflict: unable to delete {image_id} (must be forced) - image is "
                "referenced in multiple repositories") in by_id.stderr
        assert ok(docker(daemon, "rmi", "other:1")) == "Untagged: other:1\n"
        forced = ok(docker(daemon, "rmi", "-f", "busybox"))
        assert forced.splitlines()[0] == "Untagged: busybox:latest"
        assert forced.splitlines()[1].startswith(f"Deleted: sha256:{image_id}")
        assert repo_tags(daemon) == []
    finally:
        ok(docker(daemon, "rm", cid))
    gone = docker(daemon, "rmi", "nosuch")
    assert gone.returncode == 1 and "No such image: nosuch:latest" in gone.stderr


def test_save_load_round_trip(daemon: Daemon, tmp_path: Path) -> None:
    archive = docker_bytes(daemon, "save", "busybox")  # provided again
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert tar.getmember("manifest.json")
    ok(docker(daemon, "rmi", "busybox"))
    assert repo_tags(daemon) == []
    loaded = docker(daemon, "load", input=archive)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.decode() == "Loaded image: busybox:latest\n"
    assert ok(docker(daemon, "run", "--rm", "busybox", "echo", "back")) == "back\n"
    path = tmp_path / "busybox.tar"
    ok(docker(daemon, "save", "-o", str(path), "busybox"))
    ok(docker(daemon, "rmi", "busybox"))
    assert ok(docker(daemon, "load", "-i", str(path))) == "Loaded image: busybox:latest\n"
    assert repo_tags(daemon) == ["busybox:latest"]


def test_corrupt_archive_is_refused_and_stores_nothing(daemon: Daemon) -> None:
    before = ok(docker(daemon, "images", "-a", "--no-trunc", "-q"))
    corrupt = docker(daemon, "load", input=b"this is not a tar archive" * 100)
    assert corrupt.returncode == 1
    assert b"load archive" in corrupt.stderr
    assert ok(docker(daemon, "images", "-a", "--no-trunc", "-q")) == before


def test_import_with_change_then_run(daemon: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "rootfs.tar"
    path.write_bytes(rootfs_tar())
    made = ok(docker(daemon, "import", "--change", 'CMD ["sh"]', "-m", "from a test",
                     str(path), "imp:1")).strip()
    assert made.startswith("sha256:")
    cmd = ok(docker(daemon, "image", "inspect", "-f", "{{json .Config.Cmd}}", "imp:1"))
    assert cmd.strip() == '["sh"]'
    ran = docker(daemon, "run", "--rm", "-i", "imp:1", input="echo imported\n")
    assert ran.returncode == 0 and ran.stdout == "imported\n", ran.stderr
    history = ok(docker(daemon, "history", "--format", "{{.Comment}}", "imp:1"))
    assert history == "from a test\n"
    # through a pipe, without a name: a dangling image
    piped = docker(daemon, "import", "-", input=rootfs_tar())
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.decode().startswith("sha256:")


def test_a_moved_tag_leaves_a_dangling_image_and_prune_takes_it(daemon: Daemon,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "rootfs.tar"
    path.write_bytes(rootfs_tar())
    old = ok(docker(daemon, "image", "inspect", "-f", "{{.Id}}", "imp:1")).strip()
    ok(docker(daemon, "import", "--change", "ENV V=2", str(path), "imp:1"))
    dangling = ok(docker(daemon, "images", "-q", "--no-trunc", "--filter",
                         "dangling=true")).split()
    assert old in dangling and len(dangling) == 2  # with the unnamed import
    shown = ok(docker(daemon, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}",
                      "--filter", "dangling=true"))
    assert f"<none>:<none> {old[7:19]}" in shown
    pruned = ok(docker(daemon, "image", "prune", "-f"))
    assert pruned.startswith("Deleted Images:\n")
    for image_id in dangling:
        assert f"deleted: {image_id}" in pruned
    assert "Total reclaimed space:" in pruned
    assert ok(docker(daemon, "images", "-q", "--filter", "dangling=true")) == ""
    assert repo_tags(daemon) == ["busybox:latest", "imp:1"]
    assert ok(docker(daemon, "run", "--rm", "imp:1", "echo", "still")) == "still\n"


def test_pull_from_a_registry_is_not_available_yet(daemon: Daemon) -> None:
    pulled = docker(daemon, "pull", "alpine:3")
    assert pulled.returncode == 1
    assert "pull is not supported yet: there is no registry client" in pulled.stderr
    assert ok(docker(daemon, "pull", "busybox")).strip().endswith("busybox:latest")
