"""``_ping``, ``version`` and ``info``: what the docker CLI asks first, and prints."""

from __future__ import annotations

import os
import platform

from estiba import __version__
from estiba.api.core.http import Reply

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

API_VERSION = "1.47"
MIN_API_VERSION = "1.24"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


# what every answer says of the API, as dockerd's do: a client may send its first request
# without a version and learn it from the answer
VERSION_HEADERS = (("Api-Version", API_VERSION), ("Docker-Experimental", "false"),
                   ("Ostype", "linux"))


def ping(engine: Any, call: Any) -> Reply:
    return Reply(200, b"OK", "text/plain; charset=utf-8", headers=(
        *VERSION_HEADERS, ("Builder-Version", "1"),
        ("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache")))


def arch() -> str:
    machine = platform.machine()
    return _ARCH.get(machine, machine)


def version(engine: Any, call: Any) -> dict:
    uname = os.uname()
    python = f"python{platform.python_version()}"
    return {
        "Platform": {"Name": "Estiba Engine"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": {
            "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux",
            "Arch": arch(), "KernelVersion": uname.release, "GoVersion": python,
            "GitCommit": "", "BuildTime": "", "Experimental": "false"}}],
        "Version": __version__, "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION, "GitCommit": "", "GoVersion": python,
        "Os": "linux", "Arch": arch(), "KernelVersion": uname.release,
        "Experimental": False, "BuildTime": "",
    }


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.partition("=")[2].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def info(engine: Any, call: Any) -> dict:
    containers = engine.containers.list(all=True)
    states = [c["State"] for c in containers]
    cgroup_v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    uname = os.uname()
    core = engine.core
    runtimes = {}
    tasks = getattr(core, "tasks", None)
    for name, path in sorted(getattr(tasks, "runtimes", {}).items()):
        runtimes[name] = {"path": path}
    default_runtime = getattr(tasks, "default_runtime", "estiba")
    return {
        "ID": "", "Containers": len(containers),
        "ContainersRunning": states.count("running"),
        "ContainersPaused": states.count("paused"),
        "ContainersStopped": len(states) - states.count("running") - states.count("paused"),
        "Images": len(engine.images.list()),
        "Driver": "overlayfs", "DriverStatus": [],
        "Plugins": {"Volume": [], "Network": [], "Authorization": None, "Log": []},
        "MemoryLimit": True, "SwapLimit": True, "KernelMemoryTCP": False,
        "CpuCfsPeriod": True, "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True,
        "PidsLimit": True, "IPv4Forwarding": False, "Debug": False,
        "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": False,
        "NGoroutines": 0, "SystemTime": _now(), "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs", "CgroupVersion": "2" if cgroup_v2 else "1",
        "NEventsListener": engine.events.listeners, "KernelVersion": uname.release,
        "OperatingSystem": _os_name(), "OSVersion": "", "OSType": "linux",
        "Architecture": platform.machine(), "IndexServerAddress":
            "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": [],
                           "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(),
        "DockerRootDir": getattr(core, "root", ""), "HttpProxy": "", "HttpsProxy": "",
        "NoProxy": "", "Name": uname.nodename, "Labels": [], "ExperimentalBuild": False,
        "ServerVersion": __version__, "Runtimes": runtimes,
        "DefaultRuntime": default_runtime, "Swarm": {"LocalNodeState": "inactive",
                                                     "ControlAvailable": False,
                                                     "NodeID": "", "NodeAddr": ""},
        # containers outlive a restart of the daemon (their shims keep them)
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "docker-init",
        "SecurityOptions": ["name=cgroupns"],
        "Warnings": [],
    }


def disk_usage(engine: Any, call: Any) -> dict:
    """``GET /system/df``: images (with how many containers use each), containers
    (with the size of their writable layer), volumes (their sizes and users); no build
    cache yet."""
    containers = engine.containers.list(all=True, size=True)
    images = engine.images.list()
    using: dict[str, int] = {}
    for container in containers:
        using[container["ImageID"]] = using.get(container["ImageID"], 0) + 1
    for image in images:
        image["Containers"] = using.get(image["Id"], 0)
        image["SharedSize"] = 0
    return {"LayersSize": sum(image["Size"] for image in images), "Images": images,
            "Containers": containers,
            "Volumes": engine.volumes.usage() if engine.volumes is not None else [],
            "BuildCache": []}


def build_prune(engine: Any, call: Any) -> dict:
    """``POST /build/prune`` (``docker system prune``): there is no build cache yet,
    so nothing to delete."""
    return {"CachesDeleted": None, "SpaceReclaimed": 0}


def _now() -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
