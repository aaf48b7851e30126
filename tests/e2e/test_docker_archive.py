"""Image archives between estiba and Docker, both ways, against the session's dockerd.

- estiba -> Docker: busybox built by ``images.base`` and written by ``save_archive`` is
  what ``docker load`` takes; a container of it runs and Docker reports the diff_ids of
  estiba's config.
- Docker -> estiba -> Docker: an image ``docker build`` (legacy builder, no network,
  ``FROM`` the fixture's busybox) makes with a whiteout, an opaque directory, a symlink
  and a hard link is ``docker save``d, read by ``load_archive``, unpacked into an
  overlay snapshotter and looked at through a read-only view; then estiba saves it
  again, Docker loads that and a container of it shows the same files.

The containers run with dockerd's default runtime (runc): what is tested here is the
archive and the layers, not estiba-runtime (the other e2e modules cover that).
Every image made is removed from dockerd afterwards; views are unmounted.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from estiba.content.store import ContentStore
from estiba.images.archive import load_archive, save_archive
from estiba.images.base import PASSWD, build_busybox
from estiba.images.unpack import unpack
from estiba.metadata.db import Database
from estiba.oci.image import parse_image_config, parse_manifest
from estiba.snapshots import Mount
from estiba.snapshots.overlay import OverlaySnapshotter
from support.dockerd import DOCKER, Dockerd
from support.mounting import MountPoints

pytestmark = [pytest.mark.e2e, pytest.mark.root]

NAMESPACE = "e2e-archive"
# two RUN layers over busybox: the first lays out files, the second deletes one (a
# whiteout), replaces a directory (opaque), adds a symlink and a hard link pair
DOCKERFILE = """\
FROM busybox:latest
RUN mkdir -p /data/keep /data/opq \\
 && echo gone > /data/gone \\
 && echo kept > /data/keep/k \\
 && echo old > /data/opq/old && echo old2 > /data/opq/old2
RUN rm /data/gone \\
 && rm -rf /data/opq && mkdir /data/opq && echo new > /data/opq/new \\
 && ln -s keep/k /data/link \\
 && echo linked > /data/hl1 && ln /data/hl1 /data/hl2
"""
# what a container of the built image shows of /data (the `find` output, sorted)
DATA_LISTING = [
    "/data", "/data/hl1", "/data/hl2", "/data/keep", "/data/keep/k", "/data/link",
    "/data/opq", "/data/opq/new",
]
# prints /data's listing, the link target, and whether hl1 and hl2 are one inode
SHOW_DATA = (
    "find /data | sort; echo link=$(readlink /data/link); cat /data/link; "
    "[ $(stat -c %i /data/hl1) = $(stat -c %i /data/hl2) ] && echo same-inode; "
    "cat /data/opq/new"
)
SHOWN_DATA = "\n".join([*DATA_LISTING, "link=keep/k", "kept", "same-inode", "new"]) + "\n"


@pytest.fixture
def images(dockerd: Dockerd) -> Iterator[Callable[[str], str]]:
    """``images(repo)``: a fresh ``repo:<random>`` name; every name made, and the
    images behind them, are removed from dockerd afterwards."""
    made: list[str] = []

    def name(repo: str) -> str:
        made.append(f"{repo}:{secrets.token_hex(4)}")
        return made[-1]

    yield name
    present = [n for n in made if dockerd.docker("image", "inspect", n).returncode == 0]
    if present:
        result = dockerd.docker("rmi", "-f", *present)
        assert result.returncode == 0, f"docker rmi -f {present}: {result.stderr}"


class Estiba:
    """A content store, metadata database and overlay snapshotter under one temp root;
    views mounted with mount(8) and unmounted at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = ContentStore(str(root / "content"))
        self.db = Database(str(root / "metadata.db"))
        self.snapshotter = OverlaySnapshotter(str(root / "snapshots"), self.db, NAMESPACE)
        self.points = MountPoints(self.root)

    def mount(self, mounts: list[Mount], name: str) -> Path:
        return self.points.mount(mounts, name)

    def close(self) -> None:
        self.points.unmount_all()
        self.db.close()


@pytest.fixture
def estiba(tmp_path: Path) -> Iterator[Estiba]:
    made = Estiba(tmp_path / "es")
    try:
        yield made
    finally:
        made.close()


def _ok(result: subprocess.CompletedProcess[str], what: str) -> str:
    assert result.returncode == 0, f"{what}: {result.stderr.strip()}"
    return result.stdout


def _docker_layers(dockerd: Dockerd, image: str) -> list[str]:
    out = _ok(dockerd.docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", image),
              f"docker image inspect {image}")
    return json.loads(out)


def _diff_ids(store: ContentStore, manifest_digest: str) -> list[str]:
    manifest = parse_manifest(store.read(manifest_digest))
    config = parse_image_config(store.read(str(manifest.config.digest)))
    return [str(d) for d in config.rootfs.diff_ids]


def test_an_image_estiba_saves_loads_and_runs_in_docker(dockerd, images, estiba, tmp_path):
    built = build_busybox(estiba.store)
    name = images("estiba-e2e-saved")
    archive = tmp_path / "saved.tar"
    save_archive(estiba.store, [([name], built.manifest_digest)], archive)

    loaded = _ok(dockerd.docker("load", "-i", str(archive)), "docker load")
    assert f"Loaded image: {name}" in loaded
    assert _docker_layers(dockerd, name) == [built.diff_id]

    ran = _ok(dockerd.docker("run", "--rm", "--network", "none", name,
                             "sh", "-c", "echo ok; cat /etc/passwd"), "docker run")
    assert ran == "ok\n" + PASSWD.decode()


def _top_layer_names(store: ContentStore, manifest_digest: str) -> set[str]:
    manifest = parse_manifest(store.read(manifest_digest))
    with store.reader(str(manifest.layers[-1].digest)) as blob, \
            tarfile.open(fileobj=blob, mode="r|*") as tar:
        return {member.name for member in tar}


def _docker_build(dockerd: Dockerd, name: str) -> None:
    """``docker build`` of DOCKERFILE with the legacy builder, without context or
    network; intermediate containers removed whatever happens."""
    env = {**dockerd.env, "DOCKER_BUILDKIT": "0"}
    result = subprocess.run(
        [DOCKER, "build", "--network", "none", "--force-rm", "-t", name, "-"],
        input=DOCKERFILE, capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, f"docker build: {result.stderr}\n{result.stdout}"


def _data_tree(root: Path) -> list[str]:
    data = root / "data"
    found = ["/data"]
    for dirpath, dirnames, filenames in os.walk(data):
        for entry in dirnames + filenames:
            found.append("/" + str((Path(dirpath) / entry).relative_to(root)))
    return sorted(found)


def test_a_docker_built_image_round_trips_through_estiba(dockerd, images, estiba, tmp_path):
    built = images("estiba-e2e-built")
    _docker_build(dockerd, built)
    docker_layers = _docker_layers(dockerd, built)
    assert len(docker_layers) == 3  # busybox and the two RUN layers
    saved = tmp_path / "docker-saved.tar"
    _ok(dockerd.docker("save", "-o", str(saved), built), "docker save")

    # Docker -> estiba: the layers are Docker's, unpacked into overlay snapshots
    (image,) = load_archive(estiba.store, saved, tmp_dir=str(tmp_path))
    assert image.names == (f"docker.io/library/{built}",)
    assert _diff_ids(estiba.store, image.manifest_digest) == docker_layers
    # the top layer says it with Docker's names: a whiteout file and an opaque marker
    assert {"data/.wh.gone", "data/opq/.wh..wh..opq"} <= _top_layer_names(
        estiba.store, image.manifest_digest)
    top = unpack(estiba.store, estiba.snapshotter, image.manifest_digest)
    rootfs = estiba.mount(estiba.snapshotter.view("view-1", parent=top), "view")

    assert _data_tree(rootfs) == DATA_LISTING
    assert not (rootfs / "data" / "gone").exists()  # the whiteout hides the lower file
    assert sorted(os.listdir(rootfs / "data" / "opq")) == ["new"]  # opaque: no old files
    assert (rootfs / "data" / "opq" / "new").read_text() == "new\n"
    assert os.readlink(rootfs / "data" / "link") == "keep/k"
    assert (rootfs / "data" / "link").read_text() == "kept\n"
    hl1, hl2 = os.lstat(rootfs / "data" / "hl1"), os.lstat(rootfs / "data" / "hl2")
    assert (hl1.st_ino, hl1.st_nlink) == (hl2.st_ino, 2)
    assert (rootfs / "data" / "hl2").read_text() == "linked\n"
    assert (rootfs / "bin" / "busybox").is_file()  # the base layer is there below

    # estiba -> Docker: estiba's archive of the loaded image, in place of Docker's own
    again = images("estiba-e2e-resaved")
    archive = tmp_path / "estiba-saved.tar"
    save_archive(estiba.store, [([again], image.manifest_digest)], archive)
    _ok(dockerd.docker("rmi", built), f"docker rmi {built}")
    loaded = _ok(dockerd.docker("load", "-i", str(archive)), "docker load")
    assert f"Loaded image: {again}" in loaded
    assert _docker_layers(dockerd, again) == docker_layers

    ran = _ok(dockerd.docker("run", "--rm", "--network", "none", again, "sh", "-c",
                             SHOW_DATA), "docker run")
    assert ran == SHOWN_DATA
