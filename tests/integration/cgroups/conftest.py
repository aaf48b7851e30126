"""Fixtures of the cgroup tests: ``spawn`` (probe children, killed by pid afterwards)
and the session check that no test cgroup of this session is left behind."""

from __future__ import annotations

import os

import pytest
from cgroup_support import SESSION_PREFIX, Probe, is_root, mounts


@pytest.fixture(scope="session", autouse=True)
def no_cgroup_left_behind():
    yield
    if not is_root():
        return
    v1, v2 = mounts()
    left = []
    for mount in sorted({*v1.values(), *([v2] if v2 else [])}):
        try:
            names = os.listdir(mount)
        except OSError:
            continue
        left += [f"{mount}/{n}" for n in names if n.startswith(SESSION_PREFIX)]
    assert not left, f"test cgroups left behind: {left}"


@pytest.fixture
def spawn():
    """Start probe children; each is killed (by its pid) and reaped after the test."""
    started: list[Probe] = []

    def start() -> Probe:
        p = Probe()
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
