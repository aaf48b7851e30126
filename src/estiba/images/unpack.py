"""Unpacking an image: its layers, from the content store, into committed snapshots named
by chain ID (containerd's ``core/unpack``), so a layer shared by many images is stored
once.

For each layer, bottom first: if committed snapshot ``<chain id>`` exists, it is reused.
Otherwise an active snapshot ``extract-<random>-<chain id>`` is prepared on the previous
chain ID, its filesystem is made visible as a directory, the decompressed blob is applied
there, the diff_id of the bytes applied is checked against the config's, and the snapshot
is committed as ``<chain id>``. On any failure the active snapshot is removed: no
half-applied layer is ever committed or left behind.

Making the filesystem visible: a bind record (a copy snapshot, or an overlay snapshot
without parent) names a plain directory, applied into directly; an overlay record is
mounted on a private temporary directory (through the kernel boundary) and applied
through, so a whiteout becomes a real overlay whiteout in the upper directory, and is
unmounted before the commit.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator

from estiba.errors import AlreadyExists, InvalidArgument, NotFound, from_oserror
from estiba.images.layer import apply_layer
from estiba.kernel import consts
from estiba.oci.digest import chain_ids
from estiba.oci.image import parse_image_config, parse_manifest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.content.store import ContentStore
    from estiba.kernel.linux import Linux
    from estiba.oci.image import Descriptor
    from estiba.snapshots import Mount, Snapshotter

# mount options that are flags, not data (overlay records carry none today)
_FLAG_OPTIONS = {"rw": 0, "ro": consts.MS_RDONLY}


def unpack(store: ContentStore, snapshotter: Snapshotter, manifest_digest: str, *,
           kernel: Linux | None = None) -> str:
    """Unpack the image whose manifest is ``manifest_digest`` in ``store`` into
    ``snapshotter``; return the chain ID of its top layer (the parent for a container's
    snapshot). ``kernel`` mounts overlays and applies layers (a ``Linux()`` by default)."""
    if kernel is None:
        from estiba.kernel.linux import Linux

        kernel = Linux()
    manifest = parse_manifest(store.read(manifest_digest))
    config = parse_image_config(store.read(str(manifest.config.digest)))
    diff_ids = config.rootfs.diff_ids
    if len(diff_ids) != len(manifest.layers):
        raise InvalidArgument(
            f"unpack {manifest_digest}: {len(manifest.layers)} layers but "
            f"{len(diff_ids)} diff ids in config {manifest.config.digest}")
    if not diff_ids:
        raise InvalidArgument(f"unpack {manifest_digest}: the image has no layers")
    parent = ""
    for layer, diff_id, chain in zip(manifest.layers, diff_ids, chain_ids(diff_ids),
                                     strict=True):
        name = str(chain)
        if not _committed(snapshotter, name):
            _unpack_layer(store, snapshotter, layer, str(diff_id), name, parent, kernel)
        parent = name
    return parent


def _committed(snapshotter: Snapshotter, name: str) -> bool:
    try:
        info = snapshotter.stat(name)
    except NotFound:
        return False
    return info.kind == "committed"


def _unpack_layer(store: ContentStore, snapshotter: Snapshotter, layer: Descriptor,
                  diff_id: str, chain: str, parent: str, kernel: Linux) -> None:
    key = f"extract-{secrets.token_hex(8)}-{chain}"
    mounts = snapshotter.prepare(key, parent=parent)
    try:
        with _mounted(mounts, kernel) as dest, store.reader(str(layer.digest)) as blob:
            result = apply_layer(blob, dest, kernel=kernel)
        if result.diff_id != diff_id:
            raise InvalidArgument(
                f"unpack layer {layer.digest}: diff id {result.diff_id} does not match "
                f"{diff_id} of the image config")
        try:
            snapshotter.commit(chain, key)
        except AlreadyExists:
            # another unpack committed the same layer meanwhile: theirs is as good
            snapshotter.remove(key)
    except BaseException:
        with contextlib.suppress(NotFound):
            snapshotter.remove(key)
        raise


@contextlib.contextmanager
def _mounted(mounts: list[Mount], kernel: Linux) -> Iterator[str]:
    """A directory showing the filesystem of ``mounts`` (one record) while in the block."""
    if len(mounts) != 1:
        raise InvalidArgument(f"unpack: expected one mount, got {len(mounts)}")
    mount = mounts[0]
    if mount.type == "bind":
        yield mount.source
        return
    if mount.type != "overlay":
        raise InvalidArgument(f"unpack: cannot apply a layer through a {mount.type} mount")
    flags, data = split_options(mount.options)
    target = tempfile.mkdtemp(prefix="estiba-unpack-")  # mode 0700
    try:
        _mount(kernel, mount, target, flags, data)
        try:
            yield target
        finally:
            kernel.umount(target)
    finally:
        with contextlib.suppress(OSError):  # still a mount point if umount failed
            os.rmdir(target)


def split_options(options: tuple[str, ...]) -> tuple[int, str]:
    """mount(8)-style options -> (flags, comma-joined data for the filesystem)."""
    flags = 0
    data = []
    for option in options:
        if option in _FLAG_OPTIONS:
            flags |= _FLAG_OPTIONS[option]
        else:
            data.append(option)
    return flags, ",".join(data)


def _mount(kernel: Linux, mount: Mount, target: str, flags: int, data: str) -> None:
    """mount(2), from ``mount.cwd`` when set: the options then name paths relative to it
    (short overlay lower names that fit the kernel's one-page option limit)."""
    if not mount.cwd:
        kernel.mount(mount.source, target, mount.type, flags, data)
        return
    try:
        back = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise from_oserror("open the working directory", err) from err
    try:
        try:
            os.chdir(mount.cwd)
        except OSError as err:
            raise from_oserror(f"chdir {mount.cwd}", err) from err
        try:
            kernel.mount(mount.source, target, mount.type, flags, data, label=target)
        finally:
            os.fchdir(back)
    finally:
        os.close(back)
