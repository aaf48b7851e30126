"""A ``debian:bookworm`` base image built with debootstrap, without a registry.

Two steps, each usable alone:
- ``debootstrap(target)`` runs ``debootstrap --variant=minbase bookworm <target>
  <mirror>`` (the mirror of the machine's apt sources by default: deb.debian.org), then
  tidies what a container image does not carry (device nodes in ``dev/``, downloaded
  ``.deb`` files, apt's package lists), as Docker's debian images have it;
- ``build_from_rootfs(store, rootfs)`` turns a root filesystem directory into an image
  in a content store: one gzip layer written by ``diff.export_tree`` (the whole tree,
  entries sorted, PAX, mtimes in whole seconds), an image config (linux, the host's
  architecture, ``Cmd ["bash"]``, the ``PATH`` of Docker's debian image) and an OCI
  manifest.

``python -m estiba.images.debian --root DIR`` (``scripts/debian-image``) does both and
names the image ``docker.io/library/debian:bookworm`` in namespace ``docker`` of the
metadata database ``DIR/metadata.db`` (blobs under ``DIR/content``). Slow (minutes: it
downloads about 30 MB of packages and installs them) and needs root and the network,
so no default test runs it.
"""

from __future__ import annotations

import os
import shutil

from estiba.errors import AlreadyExists, FailedPrecondition, from_oserror
from estiba.images.base import BuiltImage, host_architecture
from estiba.oci.image import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from estiba.content.store import ContentStore

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
IMAGE_NAME = "docker.io/library/debian:bookworm"
NAMESPACE = "docker"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_ROOT = "/var/lib/estiba"

# what debootstrap leaves that an image does not carry (the directories stay, emptied)
_TIDY = ("dev", "var/cache/apt/archives", "var/lib/apt/lists")


def debootstrap(target: str, suite: str = SUITE, mirror: str = MIRROR, *,
                program: str = "debootstrap") -> None:
    """Install a minimal Debian ``suite`` into ``target`` (made if missing, must be
    empty), then tidy it for an image. Errors: ``FailedPrecondition`` when debootstrap
    is not installed, ``Internal`` naming the exit status when it fails."""
    found = shutil.which(program, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        raise FailedPrecondition(
            f"debootstrap {suite} into {target}: {program} is not installed "
            "(apt-get install -y debootstrap, or scripts/install.sh)")
    import subprocess

    from estiba.errors import Internal

    argv = [found, "--variant=minbase", suite, target, mirror]
    try:
        result = subprocess.run(argv, check=False)
    except OSError as err:
        raise from_oserror(f"run {found}", err) from err
    if result.returncode != 0:
        raise Internal(f"debootstrap {suite} into {target}: exit status "
                       f"{result.returncode} (see {target}/debootstrap/debootstrap.log)")
    tidy(target)


def tidy(rootfs: str) -> None:
    """Empty ``dev/`` (the runtime makes the devices), the downloaded packages and apt's
    lists (``apt-get update`` fetches them again), keeping the directories."""
    check_unmounted(rootfs)
    for rel in _TIDY:
        directory = os.path.join(rootfs, rel)
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            continue
        except OSError as err:
            raise from_oserror(f"list {directory}", err) from err
        for name in names:
            if name in ("partial", "lock") and rel != "dev":
                continue  # apt's own, kept empty as Docker's image has them
            path = os.path.join(directory, name)
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            except OSError as err:
                raise from_oserror(f"remove {path}", err) from err


def check_unmounted(rootfs: str) -> None:
    """Refuse a tree with anything mounted below it (a /proc debootstrap left behind):
    walking or deleting it would reach into the host."""
    root = os.path.realpath(rootfs)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise from_oserror("read /proc/self/mountinfo", err) from err
    for line in lines:
        point = _unescape(line.split(" ")[4])
        if point == root or point.startswith(root + "/"):
            raise FailedPrecondition(f"root filesystem {rootfs}: {point} is mounted")


def _unescape(field: str) -> str:
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def build_from_rootfs(store: ContentStore, rootfs: str, *, created: str | None = None,
                      architecture: str | None = None, cmd: Sequence[str] = ("bash",),
                      created_by: str = f"debootstrap --variant=minbase {SUITE}",
                      ) -> BuiltImage:
    """Write ``rootfs`` as a one-layer image into ``store``; return its digests.
    ``created`` (RFC 3339) defaults to now; ``architecture`` to the host's."""
    from estiba.images.diff import export_tree

    check_unmounted(rootfs)
    if created is None:
        import datetime

        created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ref = f"build-debian-{os.urandom(8).hex()}"
    w = store.writer(ref)
    try:
        layer = export_tree(rootfs, w, compression="gzip")  # type: ignore[arg-type]
        try:
            w.commit(layer.size, layer.digest)
        except AlreadyExists:
            pass  # the same tree was built before
    finally:
        if not w.closed:
            w.close()
            store.abort(ref)
    config = _json({
        "created": created,
        "architecture": architecture or host_architecture(),
        "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": list(cmd)},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        "history": [{"created": created, "created_by": created_by}],
    })
    config_digest = store.write_blob(config)
    manifest = _json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer.digest,
                    "size": layer.size}],
    })
    manifest_digest = store.write_blob(manifest)
    return BuiltImage(manifest_digest=manifest_digest, config_digest=config_digest,
                      layer_digest=layer.digest, diff_id=layer.diff_id, size=layer.size)


def name_image(root: str, built: BuiltImage, name: str = IMAGE_NAME,
               namespace: str = NAMESPACE) -> None:
    """Point ``name`` in ``namespace`` of ``root``'s metadata at the built manifest."""
    from estiba.content.store import ContentStore
    from estiba.images import naming
    from estiba.metadata.db import Database

    store = ContentStore(os.path.join(root, "content"))
    db = Database(os.path.join(root, "metadata.db"))
    try:
        naming.name_image(store, db, namespace, name, built.manifest_digest)
    finally:
        db.close()


def _json(value: object) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":")).encode()


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys
    import tempfile
    import time

    from estiba.content.store import ContentStore
    from estiba.errors import EstibaError

    parser = argparse.ArgumentParser(
        prog="debian-image",
        description=f"build {IMAGE_NAME} with debootstrap into an estiba root")
    parser.add_argument("--root", default=DEFAULT_ROOT,
                        help="content store and metadata.db root (default %(default)s)")
    parser.add_argument("--mirror", default=MIRROR, help="default %(default)s")
    parser.add_argument("--suite", default=SUITE, help="default %(default)s")
    parser.add_argument("--name", default=None, help=f"default {IMAGE_NAME}")
    args = parser.parse_args(argv)
    name = args.name or f"docker.io/library/debian:{args.suite}"
    root = os.path.abspath(args.root)
    started = time.monotonic()
    try:
        os.makedirs(root, mode=0o711, exist_ok=True)
        # beside the store, not in /tmp: same filesystem, and /tmp may be a small tmpfs
        work = tempfile.mkdtemp(prefix="debootstrap-", dir=root)
        try:
            rootfs = os.path.join(work, "rootfs")
            debootstrap(rootfs, args.suite, args.mirror)
            bootstrapped = time.monotonic()
            built = build_from_rootfs(ContentStore(os.path.join(root, "content")), rootfs,
                                      created_by=f"debootstrap --variant=minbase "
                                                 f"{args.suite} {args.mirror}")
            name_image(root, built, name)
        finally:
            check_unmounted(work)  # never rmtree into a mount left behind
            shutil.rmtree(work, ignore_errors=True)
    except EstibaError as err:
        print(f"debian-image: {err}", file=sys.stderr)
        return 1
    done = time.monotonic()
    print(f"{name} {built.manifest_digest}")
    print(f"layer {built.layer_digest} ({built.size} bytes), diff id {built.diff_id}")
    print(f"debootstrap {bootstrapped - started:.1f} s, layer and config "
          f"{done - bootstrapped:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
