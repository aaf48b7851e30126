"""Fixtures and rules shared by every test tier.

- Tests marked ``root`` are skipped, with the reason, when not run as root.
- Root runs check for leaks: kernel objects (mounts, cgroups, links, netns, nft tables,
  processes in other PID namespaces) that are new at the end of the session fail it.
- ``busybox_rootfs`` (session): a busybox root filesystem with the probe at /probe.
- ``bundle`` (per test): a bundle whose config.json is ``default_config(["/probe"])``
  with ``root.path`` the shared rootfs (readonly false) and ``linux.cgroupsPath``
  ``/estiba-test/<random>``; edit ``bundle.config`` with the helpers of support.bundle,
  then ``bundle.write()``.
- ``cgroup_parent`` (session): "/estiba-test"; it and "/estiba", when the session made
  them, are removed at its end once empty.
- ``runtime_root`` (per test): a short runtime ``--root`` under /run/estiba-test, whose
  containers are force-deleted and whose files are removed afterwards.
- ``runtime`` (per test): ``run_runtime`` bound to that root.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# test modules import the helpers as ``support.*``: pytest's default import mode puts
# tests/ on sys.path, --import-mode=importlib does not
_TESTS = str(Path(__file__).resolve().parent)
# and the real daemon's harness as ``harness`` (integration and e2e tests drive it)
for _path in (_TESTS, str(Path(_TESTS) / "integration" / "daemon")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from support import leaks  # noqa: E402
from support.bundle import Bundle, make_bundle, set_cgroups_path  # noqa: E402
from support.paths import BUILD_DIR, RUNTIME_ROOT_PARENT  # noqa: E402
from support.probe import ProbeError, build_probe  # noqa: E402
from support.reaper import become_subreaper, reap_containers  # noqa: E402
from support.rootfs import RootfsError, build_rootfs  # noqa: E402
from support.runtime import discard_runtime_root, new_runtime_root, run_runtime  # noqa: E402

IS_ROOT = os.geteuid() == 0
CGROUP_PARENT = "estiba-test"
DEFAULT_CGROUP_PARENT = "estiba"  # where estiba-runtime puts a config without cgroupsPath
_LEAKS = pytest.StashKey[list[str]]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") and not IS_ROOT:
        pytest.skip("needs root: runs containers on the real kernel")


# --- leak check ----------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _no_kernel_leaks(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """Snapshot the kernel objects at the start of a root session; what is new at its
    end fails the session (see pytest_sessionfinish)."""
    if not IS_ROOT:
        yield
        return
    _refuse_mounts_in_old_temp_dirs(request.config)
    roots = (str(tmp_path_factory.getbasetemp()), str(RUNTIME_ROOT_PARENT))
    before = leaks.snapshot(roots)
    yield
    _remove_new_cgroup_parents(before)
    found = leaks.check(before, roots)
    if found:
        request.config.stash[_LEAKS] = found


def _remove_new_cgroup_parents(before: leaks.Snapshot) -> None:
    """Runtimes leave the parents of a cgroupsPath in place, as runc does (estiba-runtime
    puts a container without one under /estiba): remove those the session made, when
    empty. A container's cgroup left inside one keeps it, and the leak check names both."""
    for name in (CGROUP_PARENT, DEFAULT_CGROUP_PARENT):
        for parent in (leaks.CGROUP_ROOT / name, *leaks.CGROUP_ROOT.glob(f"*/{name}")):
            if f"cgroup {parent}" not in before["cgroups"]:
                with contextlib.suppress(OSError):
                    parent.rmdir()


def _refuse_mounts_in_old_temp_dirs(config: pytest.Config) -> None:
    """pytest removes old temporary roots with rmtree, which follows a bind mount left
    there by an earlier session into whatever it shows: stop before that happens."""
    given = config.option.basetemp
    if given:
        parent = Path(given).resolve()
    else:
        temproot = os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir()
        parent = Path(temproot).resolve() / f"pytest-of-{getpass.getuser()}"
    stale = leaks.mounts_under(str(parent))
    if stale:
        pytest.exit(
            "mounts left under pytest's temporary roots by an earlier session; unmount "
            "them before running the tests again (umount -R):\n" + "\n".join(stale),
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.stash.get(_LEAKS, None):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config,
) -> None:
    found = config.stash.get(_LEAKS, None)
    if found:
        terminalreporter.section("LEAKS: kernel objects left behind by the tests",
                                 sep="!", red=True, bold=True)
        for line in found:
            terminalreporter.line(line, red=True)
        terminalreporter.line("the session fails: clean them up and find the test that "
                              "left them", red=True)


# --- reaping -------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _subreaper() -> None:
    """The session adopts the containers it starts, as containerd's shim does."""
    if IS_ROOT:
        become_subreaper()


@pytest.fixture(autouse=True)
def _reap(_subreaper: None) -> Iterator[None]:
    """Set up before, so torn down after, the test's own fixtures (runtime_root deletes
    its containers): then their inits are zombies of the session, reaped here."""
    yield
    if IS_ROOT:
        reap_containers()


# --- rootfs, bundles, runtime roots --------------------------------------------------


@pytest.fixture(scope="session")
def probe_binary() -> Path:
    """The probe, built static from tests/probe/probe.c (cached under build/tests)."""
    try:
        return build_probe(BUILD_DIR)
    except ProbeError as err:
        pytest.skip(f"no probe: {err}")


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory, probe_binary: Path) -> Path:
    """A busybox root filesystem with the probe at /probe, shared by the session's
    containers (point root.path at it; do not write into it)."""
    try:
        return build_rootfs(tmp_path_factory.mktemp("rootfs"), probe_binary)
    except RootfsError as err:
        pytest.skip(f"no busybox rootfs: {err}")


@pytest.fixture(scope="session")
def cgroup_parent() -> str:
    """The cgroup under which the tests' containers go, ``/estiba-test``: named for the
    leak check, and removed at the end of the session once empty."""
    return "/" + CGROUP_PARENT


@pytest.fixture
def bundle(tmp_path: Path, busybox_rootfs: Path, cgroup_parent: str) -> Bundle:
    """A bundle running /probe without a terminal, its root.path the shared rootfs and its
    cgroupsPath /estiba-test/<random>."""
    made = make_bundle(tmp_path / "bundle", busybox_rootfs, ["/probe"])
    set_cgroups_path(made.config, f"{cgroup_parent}/{secrets.token_hex(4)}")
    made.write()
    return made


@pytest.fixture
def runtime_root() -> Iterator[Path]:
    """A runtime --root of the test's own, /run/estiba-test/<random>; afterwards its
    containers are force-deleted and the directory removed."""
    root = new_runtime_root()
    yield root
    failures = discard_runtime_root(root)
    assert not failures, "cleaning the runtime root failed:\n" + "\n".join(failures)


@pytest.fixture
def runtime(runtime_root: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_runtime`` with root=runtime_root: ``runtime("state", cid).stdout``."""
    return functools.partial(run_runtime, root=runtime_root)
