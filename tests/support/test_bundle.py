"""The bundle helpers: default config, tweaks, writing."""

from __future__ import annotations

import json
from pathlib import Path

from support.bundle import (
    Bundle,
    add_hook,
    add_namespace,
    default_config,
    make_bundle,
    remove_namespace,
    set_capabilities,
    set_env,
    set_rlimit,
)


def test_default_config_is_fresh_each_time() -> None:
    a, b = default_config(["sh"]), default_config(["sh"])
    a["mounts"][0]["options"] = ["ro"]
    a["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    assert "options" not in b["mounts"][0]
    assert "CAP_SYS_ADMIN" not in b["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_ADMIN" not in a["process"]["capabilities"]["effective"]


def test_terminal() -> None:
    assert default_config(["sh"])["process"]["terminal"] is False
    config = default_config(["sh"], terminal=True)
    assert config["process"]["terminal"] is True
    assert "TERM=xterm" in config["process"]["env"]


def test_tweaks_replace_earlier_values() -> None:
    config = default_config(["sh"])
    set_env(set_env(config, "A", "1"), "A", "2")
    assert [e for e in config["process"]["env"] if e.startswith("A=")] == ["A=2"]
    set_rlimit(config, "RLIMIT_NOFILE", 10, 20)
    assert config["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 20, "soft": 10}]
    add_namespace(config, "network", "/proc/1/ns/net")
    nets = [n for n in config["linux"]["namespaces"] if n["type"] == "network"]
    assert nets == [{"type": "network", "path": "/proc/1/ns/net"}]
    remove_namespace(config, "network")
    assert "network" not in {n["type"] for n in config["linux"]["namespaces"]}
    set_capabilities(config, ["CAP_CHOWN"], sets=["bounding"])
    assert config["process"]["capabilities"]["bounding"] == ["CAP_CHOWN"]
    assert config["process"]["capabilities"]["effective"] != ["CAP_CHOWN"]
    add_hook(add_hook(config, "poststop", "/a"), "poststop", "/b", timeout=3)
    assert config["hooks"]["poststop"] == [{"path": "/a"}, {"path": "/b", "timeout": 3}]


def test_make_bundle_points_at_the_shared_rootfs(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    bundle = make_bundle(tmp_path / "b", rootfs, ["/probe"])
    written = json.loads(bundle.config_path.read_text())
    assert written["root"] == {"path": str(rootfs), "readonly": False}
    assert written["process"]["args"] == ["/probe"]
    bundle.config["hostname"] = "other"
    assert json.loads(bundle.config_path.read_text())["hostname"] == "estiba"
    bundle.write()
    assert json.loads(bundle.config_path.read_text())["hostname"] == "other"
    assert not (tmp_path / "b" / "config.json.tmp").exists()
    assert repr(Bundle(tmp_path, {})) == f"Bundle({str(tmp_path)!r})"
