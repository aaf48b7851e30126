"""Docker's HostConfig into the OCI spec (pure): what ``docker run``'s host options
(network mode, limits, mounts, capabilities, privileges ...) change in config.json."""

from __future__ import annotations

import copy


def apply(spec: dict, host_config: dict) -> dict:
    """``spec`` with ``host_config`` applied; the input is never changed.
    ``NetworkMode`` ``host`` drops the network namespace; any other mode keeps the
    container's own (loopback only until networks exist)."""
    spec = copy.deepcopy(spec)
    if host_config.get("NetworkMode") == "host":
        spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"]
                                       if n.get("type") != "network"]
    return spec
