"""The anchor Docker (../shared/tools/anchor-docker): a real dockerd the client tests
also run against when it is up. They never start it: ``anchor_host`` skips, saying why,
when it is not there."""

from __future__ import annotations

import shutil
import subprocess

import pytest

ANCHOR_TOOL = "/work/shared/tools/anchor-docker"


def anchor_host() -> str:
    """The anchor Docker's DOCKER_HOST, or skip (with the reason) if it is not up."""
    from estiba.client.docker import APIClient

    if shutil.which(ANCHOR_TOOL) is None:
        pytest.skip(f"{ANCHOR_TOOL} not found")
    out = subprocess.run([ANCHOR_TOOL, "env"], capture_output=True, text=True, timeout=10)
    host = next((line.split("=", 1)[1].strip().strip("'\"")
                 for line in out.stdout.splitlines() if "DOCKER_HOST=" in line), "")
    if not host:
        pytest.skip(f"anchor Docker: no DOCKER_HOST from '{ANCHOR_TOOL} env'")
    try:
        with APIClient(host, timeout=10) as probe:
            probe.ping()
    except Exception as err:  # noqa: BLE001 - any failure means: not reachable
        pytest.skip(f"anchor Docker at {host} not reachable: {err}")
    return host
