"""Fixtures of the end-to-end tests: Debian's real dockerd driving estiba-runtime.

- ``dockerd`` (session): a dockerd of the session's own (support.dockerd.Dockerd) with
  ``estiba`` registered as a runtime and ``busybox:latest`` imported from the busybox
  rootfs; at the end of the session every container is removed, dockerd and its
  containerd are stopped by pid, and its mounts, directories and bridge are removed
  (its log is kept as ``e2e-dockerd*/dockerd.log`` under pytest's temporary root).
- ``docker``: ``dockerd.docker`` (the docker CLI against it, output as text).
- ``run``: ``docker run --runtime estiba --rm ARGS...``.
- ``container``: starts a detached ``--runtime estiba`` container and returns its id;
  the test's containers are removed (``rm -f``) after it.

Every test module here marks its tests ``e2e`` and ``root``; without dockerd they
skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator

import pytest

from support.dockerd import Dockerd, DockerdError, busybox_tar, dockerd_missing
from support.paths import runtime_binary
from support.rootfs import RootfsError, build_rootfs

RUNTIME = "estiba"
IMAGE = "busybox:latest"

Docker = Callable[..., subprocess.CompletedProcess[str]]


def _runtime_path() -> str:
    """dockerd wants an absolute path ($ESTIBA_RUNTIME may name a command: runc)."""
    path = runtime_binary()
    return path if os.path.isabs(path) else shutil.which(path) or path


@pytest.fixture(scope="session")
def dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    if os.geteuid() != 0:
        pytest.skip("needs root: starts a dockerd")
    missing = dockerd_missing()
    if missing:
        pytest.skip(f"no dockerd: {missing}")
    work = tmp_path_factory.mktemp("e2e-dockerd")
    try:
        rootfs = build_rootfs(work / "rootfs")
    except RootfsError as err:
        pytest.skip(f"no busybox rootfs: {err}")
    try:
        daemon = Dockerd({RUNTIME: _runtime_path()})
    except DockerdError as err:
        pytest.fail(f"cannot set up the test dockerd: {err}", pytrace=False)
    try:
        daemon.start()
        tar = busybox_tar(rootfs, work / "busybox.tar")
        imported = daemon.docker("import", "-c", 'CMD ["sh"]', str(tar), IMAGE)
        if imported.returncode != 0:
            raise DockerdError(f"docker import: {imported.stderr.strip()}")
    except BaseException as err:
        problems = daemon.stop(keep_log=work / "dockerd.log")
        if isinstance(err, DockerdError):
            pytest.fail(f"starting the test dockerd failed: {err}\n" + "\n".join(problems),
                        pytrace=False)
        raise
    yield daemon
    problems = daemon.stop(keep_log=work / "dockerd.log")
    assert not problems, "stopping the test dockerd left:\n" + "\n".join(problems)


@pytest.fixture
def docker(dockerd: Dockerd) -> Docker:
    return dockerd.docker


@pytest.fixture
def run(dockerd: Dockerd) -> Docker:
    """``docker run --runtime estiba --rm ARGS...`` (input= goes to its stdin)."""

    def run(*args: str, input: str | None = None, timeout: float = 60.0
            ) -> subprocess.CompletedProcess[str]:
        return dockerd.docker("run", "--runtime", RUNTIME, "--rm", *args, input=input,
                              timeout=timeout)

    return run


@pytest.fixture
def container(dockerd: Dockerd) -> Iterator[Callable[..., str]]:
    """``container(*run_args)``: ``docker run -d --runtime estiba RUN_ARGS...``; returns
    the container's id. The test's containers are removed afterwards."""
    started: list[str] = []

    def start(*args: str) -> str:
        result = dockerd.docker("run", "-d", "--runtime", RUNTIME, *args)
        assert result.returncode == 0, f"docker run -d {' '.join(args)}: {result.stderr}"
        cid = result.stdout.strip().splitlines()[-1]
        started.append(cid)
        return cid

    yield start
    if started:
        result = dockerd.docker("rm", "-f", *started)
        assert result.returncode == 0, f"docker rm -f: {result.stderr}"

