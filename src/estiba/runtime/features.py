"""``features``: what this runtime implements, as the runtime spec's features document
(features-schema.json) describes it, so that an engine can ask before it configures.

Every list is read from the tables the runtime itself acts on — the mount options it
parses, the seccomp actions, operators, architectures and flags it compiles, the
namespaces it creates — so the document cannot claim what the code does not do.
"""

from __future__ import annotations

from estiba import __version__
from estiba.kernel import capabilities, seccomp
from estiba.kernel import consts as k
from estiba.oci.state import OCI_VERSION
from estiba.runtime import mounts

OCI_VERSION_MIN = "1.0.0"
HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
         "poststop")
# created or joined; "time" is refused by validate
NAMESPACES_UNSUPPORTED = frozenset(("time",))


def namespaces() -> list[str]:
    return sorted(t for t in k.NAMESPACE_FLAGS if t not in NAMESPACES_UNSUPPORTED)


def mount_options() -> list[str]:
    return sorted({*mounts.FLAG_OPTIONS, *mounts.PROPAGATION, *mounts.IGNORED_OPTIONS})


def features(last_cap: int, libseccomp: str | None) -> dict[str, object]:
    """The document for a kernel whose highest capability is ``last_cap`` and a
    libseccomp of version ``libseccomp`` (None: not there, so no seccomp)."""
    linux: dict[str, object] = {
        "namespaces": namespaces(),
        "capabilities": list(capabilities.NAMES[:last_cap + 1]),
        "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False,
                   "rdma": False},
        "seccomp": {
            "enabled": libseccomp is not None,
            "actions": sorted(seccomp.ACTION_NAMES),
            "operators": sorted(seccomp.OPERATOR_NAMES),
            "archs": sorted("SCMP_ARCH_" + a.upper() for a in seccomp.ARCH_NAMES),
            "knownFlags": sorted((*seccomp.FLAG_NAMES, *seccomp.LISTENER_FLAG_NAMES)),
            "supportedFlags": sorted(seccomp.FLAG_NAMES) if libseccomp else [],
        },
        "apparmor": {"enabled": False},
        "selinux": {"enabled": False},
        "intelRdt": {"enabled": False},
        "mountExtensions": {"idmap": {"enabled": False}},
        "netDevices": {"enabled": False},
    }
    annotations = {"dev.estiba.runtime.version": __version__}
    if libseccomp is not None:
        annotations["io.github.seccomp.libseccomp.version"] = libseccomp
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOKS),
        "mountOptions": mount_options(),
        "annotations": annotations,
        "linux": linux,
    }


def host_features() -> dict[str, object]:
    return features(capabilities.last_cap(), seccomp.library_version())
