"""``update`` with linux.resources.memory.checkBeforeUpdate: a memory limit below what the
container uses already is refused, and the limit in force stays."""

from __future__ import annotations

import json

import pytest

from support.bundle import set_args

pytestmark = pytest.mark.root


@pytest.fixture
def running(runtime, bundle, tmp_path):
    set_args(bundle.config, "sleep", "60")
    bundle.config["linux"]["resources"]["memory"] = {"limit": 256 << 20}
    bundle.write()
    runtime("create", "--bundle", bundle.path, "c1", output_dir=tmp_path / "out")
    runtime("start", "c1")
    return json.loads(runtime("state", "c1").stdout)


def memory_limit(runtime) -> int:
    stats = json.loads(runtime("events", "--stats", "c1").stdout)
    return stats["data"]["memory"]["usage"]["limit"]


def test_check_before_update_refuses_a_limit_below_the_usage(runtime, running):
    before = memory_limit(runtime)
    refused = runtime("update", "--resources", "-", "c1", check=False,
                      input=json.dumps({"memory": {"limit": 4096, "checkBeforeUpdate": True}}))
    assert refused.returncode == 1
    assert "resources.memory.limit 4096: below the container's memory usage" in refused.stderr
    assert "checkBeforeUpdate" in refused.stderr
    assert memory_limit(runtime) == before

    runtime("update", "--resources", "-", "c1",
            input=json.dumps({"memory": {"limit": 128 << 20, "checkBeforeUpdate": True}}))
    assert memory_limit(runtime) == 128 << 20
