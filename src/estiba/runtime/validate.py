"""Rules between the fields of a config, checked before anything is made (runc's
``configs/validate``). Each failure names the field. A feature this runtime does not
offer is refused here rather than silently ignored."""

from __future__ import annotations

import os

from estiba.errors import InvalidArgument, Unimplemented
from estiba.kernel import capabilities
from estiba.kernel.consts import NAMESPACE_FLAGS
from estiba.kernel.linux import RLIMITS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.oci.runtime_config import Linux, Process, Spec


def validate(spec: Spec, bundle: str) -> None:
    if spec.root is None:
        raise InvalidArgument("root: required")
    if spec.process is None:
        raise InvalidArgument("process: required")
    validate_process(spec.process)
    linux = spec.linux
    if linux is None:
        raise InvalidArgument("linux: required on this platform")
    seen: set[str] = set()
    for ns in linux.namespaces:
        if ns.type not in NAMESPACE_FLAGS or ns.type == "time":
            raise InvalidArgument(f"linux.namespaces: unknown namespace type {ns.type!r}")
        if ns.type in seen:
            raise InvalidArgument(f"linux.namespaces: duplicate namespace {ns.type!r}")
        seen.add(ns.type)
        if ns.path and not ns.path.startswith("/"):
            raise InvalidArgument(f"linux.namespaces: path of {ns.type} must be absolute")
    _validate_user_namespace(linux, seen)
    if "mount" not in seen:
        raise Unimplemented("a container without a mount namespace is not supported")
    if spec.hostname and "uts" not in seen:
        raise InvalidArgument("hostname: needs a private uts namespace")
    if spec.domainname and "uts" not in seen:
        raise InvalidArgument("domainname: needs a private uts namespace")
    for key, _ in linux.sysctl:
        if key.startswith("net.") and "network" not in seen:
            raise InvalidArgument(f"linux.sysctl: {key} needs a private network namespace")
        if "/" in key or ".." in key:
            raise InvalidArgument(f"linux.sysctl: invalid key {key!r}")
    for i, mount in enumerate(spec.mounts):
        if not mount.destination.startswith("/"):
            raise InvalidArgument(f"mounts[{i}].destination: must be absolute, "
                                  f"got {mount.destination!r}")
    if linux.personality:
        raise Unimplemented("linux.personality is not supported")
    if linux.intel_rdt:
        raise Unimplemented("linux.intelRdt is not supported")
    if linux.cgroups_path and ":" in linux.cgroups_path:
        raise Unimplemented(f"systemd cgroup paths are not supported: {linux.cgroups_path}")
    hooks = spec.hooks
    for kind in hooks.__fields__:
        for hook in getattr(hooks, kind):
            if not hook.path.startswith("/"):
                raise InvalidArgument(f"hooks.{kind}: path must be absolute: {hook.path!r}")


def _validate_user_namespace(linux: Linux, seen: set[str]) -> None:
    """runc's rules: mappings need a new user namespace, a new one needs both."""
    namespaces = {ns.type: ns.path for ns in linux.namespaces}
    uids, gids = linux.uid_mappings, linux.gid_mappings
    if "user" not in seen:
        if uids or gids:
            raise InvalidArgument("linux.uidMappings: user namespaces are not enabled "
                                  "in linux.namespaces")
        return
    if namespaces["user"]:
        if uids or gids:
            raise InvalidArgument("linux.uidMappings: a joined user namespace has its "
                                  "own mappings")
        return
    if not uids or not gids:
        raise InvalidArgument("linux.uidMappings: user namespaces are enabled, but "
                              f"no {'uid' if not uids else 'gid'} mappings found")
    for name, mappings in (("uidMappings", uids), ("gidMappings", gids)):
        # the kernel takes 340 lines of a map (5 before linux 4.15) that must not overlap
        if len(mappings) > 340:
            raise InvalidArgument(f"linux.{name}: more than 340 mappings")
        inside = sorted((m.container_id, m.container_id + m.size) for m in mappings)
        outside = sorted((m.host_id, m.host_id + m.size) for m in mappings)
        for m in mappings:
            if m.size <= 0 or m.container_id < 0 or m.host_id < 0 \
                    or max(m.container_id, m.host_id) + m.size > 1 << 32:
                raise InvalidArgument(f"linux.{name}: invalid mapping {m.container_id} "
                                      f"{m.host_id} {m.size}")
        for ranges in (inside, outside):
            for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
                if start < end:
                    raise InvalidArgument(f"linux.{name}: mappings overlap")


def validate_process(process: Process, where: str = "process") -> None:
    if not process.args:
        raise InvalidArgument(f"{where}.args: must not be empty")
    if not process.cwd.startswith("/"):
        raise InvalidArgument(f"{where}.cwd: must be an absolute path, got {process.cwd!r}")
    if process.capabilities is not None:
        c = process.capabilities
        for name in (*c.bounding, *c.effective, *c.inheritable, *c.permitted, *c.ambient):
            capabilities.number(name)
    seen: set[str] = set()
    for r in process.rlimits:
        if r.type not in RLIMITS:
            raise InvalidArgument(f"{where}.rlimits: unknown limit {r.type!r}")
        if r.type in seen:
            raise InvalidArgument(f"{where}.rlimits: duplicate limit {r.type!r}")
        if r.soft > r.hard:
            raise InvalidArgument(f"{where}.rlimits: soft {r.type} is above the hard one")
        seen.add(r.type)
    for entry in process.env:
        if "=" not in entry:
            raise InvalidArgument(f"{where}.env: {entry!r} is not NAME=value")
    if process.apparmor_profile and os.path.isdir("/sys/kernel/security/apparmor"):
        raise Unimplemented("apparmor profiles are not supported")
    if process.selinux_label and os.path.isdir("/sys/fs/selinux"):
        raise Unimplemented("selinux labels are not supported")
