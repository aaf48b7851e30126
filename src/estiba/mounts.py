"""Mounting ``Mount`` records (``snapshots.Mount``: type, source, options, cwd, target)
without touching the process's working directory or any mount table it need not.

The new mount API (Linux 5.2, ``fsopen(2)``, ``fsconfig(2)``, ``fsmount(2)``,
``move_mount(2)``, ``open_tree(2)``) configures a filesystem one parameter per call, so
the one-page (4096-byte) limit of mount(2)'s option string does not apply, and
``fsmount`` gives a *detached* mount: reachable only through its descriptor, listed in no
``/proc/*/mountinfo``, unmounted when the descriptor is closed.

For overlay, ``lowerdir=a:b:c`` is passed as one ``lowerdir+`` per layer (``datadir+``
for data-only layers after ``::``; both Linux 6.8), and every directory (lower, upper,
work) as an ``O_PATH`` descriptor with ``FSCONFIG_SET_FD`` (Linux 6.13): a name relative
to the record's ``cwd`` (the snapshotter's short ``l/<id>`` links) is opened as
``<cwd>/<name>``, so no ``chdir`` is ever needed. On 6.8 to 6.12, which take layers only
as strings (of at most 255 bytes), the absolute path is passed, or ``/proc/self/fd/N``
of the descriptor when the path is longer.

Fallback: when ``fsopen`` is missing (ENOSYS) or overlay does not know ``lowerdir+``
(before 6.8), the record is mounted with classic mount(2) and its options string; a
record with ``cwd`` is then mounted by a forked single-threaded child that chdirs first
(``Linux.mount_in``), never by a ``chdir`` of this (threaded) process.

``detached`` and ``mount_at`` are the two verbs; ``plan`` is the pure part (what to pass
to the kernel), unit-tested with the recording kernel.
"""

from __future__ import annotations

import contextlib
import errno
import os

from estiba.errors import EstibaError, InvalidArgument
from estiba.kernel import consts as k
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Protocol

    from estiba.kernel.linux import Linux

    class MountRecord(Protocol):
        """What is read of a record: ``snapshots.Mount`` has these fields."""

        @property
        def type(self) -> str: ...
        @property
        def source(self) -> str: ...
        @property
        def target(self) -> str: ...
        @property
        def options(self) -> tuple[str, ...]: ...
        @property
        def cwd(self) -> str: ...

# option -> (mount attribute of the new API, mount(2) flag); "rw" clears read-only
_ATTRS = {
    "ro": (k.MOUNT_ATTR_RDONLY, k.MS_RDONLY),
    "rw": (0, 0),
    "nosuid": (k.MOUNT_ATTR_NOSUID, k.MS_NOSUID),
    "nodev": (k.MOUNT_ATTR_NODEV, k.MS_NODEV),
    "noexec": (k.MOUNT_ATTR_NOEXEC, k.MS_NOEXEC),
    "noatime": (k.MOUNT_ATTR_NOATIME, k.MS_NOATIME),
    "nodiratime": (k.MOUNT_ATTR_NODIRATIME, k.MS_NODIRATIME),
    "strictatime": (k.MOUNT_ATTR_STRICTATIME, k.MS_STRICTATIME),
    "relatime": (0, k.MS_RELATIME),
    "nosymfollow": (k.MOUNT_ATTR_NOSYMFOLLOW, k.MS_NOSYMFOLLOW),
}
_BIND = ("bind", "rbind")
_OVERLAY_PATHS = ("upperdir", "workdir")
MAX_STRING = 255  # fsconfig copies a string value of at most 256 bytes with its NUL


class Param(Record):
    """One fsconfig call: ``kind`` "flag" (key only), "string" (key=value) or "path"
    (key names a directory, ``value`` absolute: passed as a descriptor)."""

    kind: str
    key: str
    value: str = ""


class Plan(Record):
    """How to mount one record, both ways: the new API (``params``, then ``fsmount``
    with ``attrs``) and mount(2) (``flags``, ``data`` relative to ``cwd`` when set)."""

    fstype: str
    source: str
    params: tuple[Param, ...] = ()
    attrs: int = 0
    flags: int = 0
    data: str = ""
    cwd: str = ""
    bind: bool = False
    recursive: bool = False


def plan(record: MountRecord) -> Plan:
    """The plan of ``record`` (pure). Paths in overlay's lowerdir/upperdir/workdir that
    are relative are made absolute against ``record.cwd``."""
    attrs = flags = 0
    data: list[str] = []
    params: list[Param] = []
    bind = record.type == "bind" or any(o in _BIND for o in record.options)
    recursive = "rbind" in record.options
    for option in record.options:
        if option in _ATTRS:
            attr, flag = _ATTRS[option]
            attrs |= attr
            flags |= flag
            continue
        if option in _BIND:
            continue
        data.append(option)
        key, eq, value = option.partition("=")
        if record.type == "overlay" and key == "lowerdir" and eq:
            params += _lower_params(value, record.cwd)
        elif record.type == "overlay" and key in _OVERLAY_PATHS and eq:
            params.append(Param(kind="path", key=key, value=_absolute(value, record.cwd)))
        elif eq:
            params.append(Param(kind="string", key=key, value=value))
        else:
            params.append(Param(kind="flag", key=key))
    if bind:
        flags |= k.MS_BIND | (k.MS_REC if recursive else 0)
    return Plan(fstype="" if bind else record.type, source=record.source,
                params=tuple(params), attrs=attrs, flags=flags, data=",".join(data),
                cwd=record.cwd, bind=bind, recursive=recursive)


def _lower_params(value: str, cwd: str) -> list[Param]:
    """``a:b::c`` -> lowerdir+ a, lowerdir+ b, datadir+ c (``\\:`` is a literal colon)."""
    layers, data_layers = _split_layers(value)
    return ([Param(kind="path", key="lowerdir+", value=_absolute(p, cwd)) for p in layers]
            + [Param(kind="path", key="datadir+", value=_absolute(p, cwd))
               for p in data_layers])


def _split_layers(value: str) -> tuple[list[str], list[str]]:
    parts: list[str] = []
    current = ""
    escaped = False
    for ch in value:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ":":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    layers: list[str] = []
    data: list[str] = []
    seen_gap = False
    for part in parts:
        if part == "":
            if seen_gap or not layers:
                raise InvalidArgument(f"overlay lowerdir {value!r}: an empty layer name")
            seen_gap = True  # "::": what follows are data-only layers
            continue
        (data if seen_gap else layers).append(part)
    if not layers:
        raise InvalidArgument(f"overlay lowerdir {value!r}: no layer")
    return layers, data


def _absolute(path: str, cwd: str) -> str:
    if os.path.isabs(path):
        return path
    if not cwd:
        raise InvalidArgument(f"mount option path {path!r} is relative and no cwd is set")
    return os.path.join(cwd, path)


# --- acting ------------------------------------------------------------------------------


class _OldKernel(Exception):
    """The new mount API, or overlay's lowerdir+, is missing: use mount(2)."""


@contextlib.contextmanager
def detached(records: Sequence[MountRecord], kernel: Linux) -> Iterator[str]:
    """A directory path showing the filesystem of ``records`` (exactly one) while in the
    block. A bind record yields its source (nothing is mounted; its options are not
    enforced). Any other record becomes a detached mount, yielded as
    ``/proc/self/fd/<N>`` (a path to its root for this process, openat-based code
    included) and unmounted at the end by closing the descriptor: it never shows in a
    mount table. On kernels without the new API it is mounted with mount(2) on a
    private temporary directory instead, and unmounted at the end."""
    if len(records) != 1:
        raise InvalidArgument(f"mount: expected one mount record, got {len(records)}")
    record = records[0]
    if record.type == "bind":
        yield record.source
        return
    p = plan(record)
    try:
        fd = _fsmount(p, kernel)
    except _OldKernel:
        with _classic_temporary(p, kernel) as target:
            yield target
        return
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        kernel.close(fd)


def mount_at(records: Sequence[MountRecord], target: str, kernel: Linux) -> None:
    """Mount ``records``, in order, at ``target`` (each at its own ``target`` below it,
    "" for ``target`` itself), attached: what a container's root filesystem needs."""
    for record in records:
        dest = os.path.join(target, record.target.lstrip("/")) if record.target else target
        p = plan(record)
        try:
            fd = _bind_tree(p, kernel) if p.bind else _fsmount(p, kernel)
        except _OldKernel:
            _classic(p, dest, kernel)
            continue
        try:
            kernel.move_mount(fd, dest, label=_label(p))
        finally:
            kernel.close(fd)


def _label(p: Plan) -> str:
    return f"{p.fstype or 'bind'} {p.source}"


def _fsmount(p: Plan, kernel: Linux) -> int:
    """The descriptor of a detached mount made as ``p`` says, by the new API."""
    try:
        fs = kernel.fsopen(p.fstype)
    except EstibaError as err:
        if _errno(err) == errno.ENOSYS:
            raise _OldKernel from err
        raise
    try:
        kernel.fsconfig(fs, k.FSCONFIG_SET_STRING, "source", p.source,
                        label=f"{p.fstype} source={p.source}")
        as_fd = True
        layers = 0
        for param in p.params:
            if param.kind == "flag":
                kernel.fsconfig(fs, k.FSCONFIG_SET_FLAG, param.key,
                                label=f"{p.fstype} {param.key}")
            elif param.kind == "string":
                kernel.fsconfig(fs, k.FSCONFIG_SET_STRING, param.key, param.value,
                                label=f"{p.fstype} {param.key}={param.value}")
            else:
                layer = param.key.endswith("+")
                as_fd = _set_path(kernel, fs, p.fstype, param, as_fd,
                                  first_layer=layer and not layers)
                layers += layer
        kernel.fsconfig(fs, k.FSCONFIG_CMD_CREATE, label=f"create {_label(p)}")
        return kernel.fsmount(fs, p.attrs, label=_label(p))
    finally:
        kernel.close(fs)


def _set_path(kernel: Linux, fs: int, fstype: str, param: Param, as_fd: bool,
              first_layer: bool) -> bool:
    """Pass directory ``param`` by descriptor while the kernel takes them (6.13), else
    by name; return whether the next one goes by descriptor. The first ``lowerdir+``
    failing with EINVAL both ways means a kernel without it (before 6.8)."""
    label = f"{fstype} {param.key}={param.value}"
    fd = kernel.open_path(param.value)
    try:
        if as_fd:
            try:
                kernel.fsconfig(fs, k.FSCONFIG_SET_FD, param.key, None, fd, label=label)
                return True
            except EstibaError as err:
                if _errno(err) != errno.EINVAL:
                    raise
        name = param.value
        if len(name.encode()) > MAX_STRING:
            name = f"/proc/self/fd/{fd}"
        try:
            kernel.fsconfig(fs, k.FSCONFIG_SET_STRING, param.key, name, label=label)
        except EstibaError as err:
            if first_layer and _errno(err) == errno.EINVAL:
                raise _OldKernel from err
            raise
        return False
    finally:
        kernel.close(fd)


def _bind_tree(p: Plan, kernel: Linux) -> int:
    """A detached copy of ``p.source`` (recursive for rbind), its attributes set."""
    try:
        fd = kernel.open_tree(p.source, recursive=p.recursive)
    except EstibaError as err:
        if _errno(err) == errno.ENOSYS:
            raise _OldKernel from err
        raise
    try:
        if p.attrs:
            kernel.mount_setattr(fd, p.attrs, recursive=p.recursive, label=p.source)
    except BaseException:
        kernel.close(fd)
        raise
    return fd


def _classic(p: Plan, target: str, kernel: Linux) -> None:
    """mount(2) of ``p`` on ``target``; a bind with flags is remounted to apply them."""
    if p.bind:
        kernel.mount(p.source, target, "", p.flags & (k.MS_BIND | k.MS_REC))
        extra = p.flags & ~(k.MS_BIND | k.MS_REC)
        if extra:
            kernel.mount("", target, "", k.MS_REMOUNT | k.MS_BIND | extra, label=target)
    elif p.cwd:
        kernel.mount_in(p.cwd, p.source, target, p.fstype, p.flags, p.data)
    else:
        kernel.mount(p.source, target, p.fstype, p.flags, p.data)


@contextlib.contextmanager
def _classic_temporary(p: Plan, kernel: Linux) -> Iterator[str]:
    import tempfile

    from estiba.errors import from_oserror

    try:
        target = tempfile.mkdtemp(prefix="estiba-mount-")  # mode 0700
    except OSError as err:
        raise from_oserror("make a temporary mount point", err) from err
    try:
        _classic(p, target, kernel)
        try:
            yield target
        finally:
            kernel.umount(target)
    finally:
        with contextlib.suppress(OSError):  # still a mount point if umount failed
            os.rmdir(target)


def _errno(err: BaseException) -> int:
    cause = err.__cause__
    return getattr(err, "errno", 0) or (cause.errno if isinstance(cause, OSError) else 0)
