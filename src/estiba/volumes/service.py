"""``VolumeService``: a namespace's volumes of the local driver — made, listed, removed,
mounted for their users, measured."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import threading

from estiba.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    from_oserror,
)
from estiba.kernel import consts as k
from estiba.kernel.proc import mounted_under
from estiba.metadata.volumes import VolumeRecord, Volumes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.kernel.linux import Linux
    from estiba.metadata.db import Database

NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
OPTIONS = ("type", "device", "o")
# mount options that are flags of mount(2), not the filesystem's data
_FLAGS = {"ro": k.MS_RDONLY, "bind": k.MS_BIND, "rbind": k.MS_BIND | k.MS_REC,
          "nosuid": 2, "nodev": 4, "noexec": 8}


def check_name(name: str) -> None:
    """Docker's rule for a local volume's name."""
    if isinstance(name, str) and len(name) < 2:
        raise InvalidArgument(f"create {name}: volume name is too short, names should be "
                              "at least two alphanumeric characters")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume '
            'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass '
            "a host directory, use absolute path")


def check_options(options: dict[str, str], name: str = "") -> None:
    for key in options:
        if key not in OPTIONS:
            raise InvalidArgument(f'create {name}: invalid option: "{key}"')
    if options and not options.get("type") and "bind" not in options.get("o", ""):
        raise InvalidArgument("missing required option: \"type\"")
    if options.get("type") and not options.get("device"):
        raise InvalidArgument("missing required option: \"device\"")


def mount_args(options: dict[str, str]) -> tuple[str, str, int, str]:
    """(source, fstype, flags, data) of a volume's mount (pure)."""
    flags, data = 0, []
    for option in (o for o in options.get("o", "").split(",") if o):
        if option in _FLAGS:
            flags |= _FLAGS[option]
        else:
            data.append(option)
    fstype = options.get("type", "")
    if flags & k.MS_BIND or fstype == "none":
        fstype = ""
    return options.get("device", ""), fstype, flags, ",".join(data)


class VolumeService:
    def __init__(self, db: Database, root: str, kernel: Linux) -> None:
        self.db = db
        self.root = os.path.join(root, "volumes")
        self.kernel = kernel
        self._lock = threading.Lock()

    def store(self, namespace: str) -> Volumes:
        return Volumes(self.db, namespace)

    def mountpoint(self, name: str) -> str:
        return os.path.join(self.root, name, "_data")

    def create(self, namespace: str, name: str = "", *, driver: str = "local",
               options: dict[str, str] | None = None, labels: dict[str, str] | None = None,
               anonymous: bool = False) -> tuple[VolumeRecord, bool]:
        """The volume ``name`` (a new random one when empty), made unless it exists;
        (its record, whether it was made now)."""
        if driver != "local":
            raise NotFound(f"plugin \"{driver}\" not found")
        options = dict(options or {})
        name = name or secrets.token_hex(32)
        check_name(name)
        check_options(options, name)
        store = self.store(namespace)
        with self._lock:
            with contextlib.suppress(NotFound):
                return store.get(name), False
            path = self.mountpoint(name)
            try:
                os.makedirs(path, mode=0o755)
                os.chmod(os.path.dirname(path), 0o701)
            except FileExistsError:
                pass  # a directory a crash left: taken over
            except OSError as err:
                raise from_oserror(f"create volume {name}", err) from err
            try:
                record = store.create(VolumeRecord(
                    namespace=namespace, name=name, driver=driver,
                    options=tuple(sorted(options.items())),
                    labels=tuple(sorted((labels or {}).items())), anonymous=anonymous))
            except AlreadyExists:
                return store.get(name), False
            except BaseException:
                shutil.rmtree(os.path.dirname(path), ignore_errors=True)
                raise
        return record, True

    def get(self, namespace: str, name: str) -> VolumeRecord:
        return self.store(namespace).get(name)

    def list(self, namespace: str) -> list[VolumeRecord]:
        return self.store(namespace).list()

    def remove(self, namespace: str, name: str) -> VolumeRecord:
        """The record and the data gone (the caller checked that nothing uses it). A
        volume's own mount is undone first, and nothing is removed while anything is
        still mounted below it: a bind volume's host files are never touched."""
        with self._lock:
            self.get(namespace, name)
            self._unmount(name)
            left = mounted_under(os.path.join(self.root, name))
            if left:
                raise FailedPrecondition(f"remove {name}: {left[0]} is still mounted")
            record = self.store(namespace).delete(name)
            shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)
        return record

    def mount(self, namespace: str, name: str) -> str:
        """The volume's data ready for a container: its mount made if it has one."""
        record = self.get(namespace, name)
        path = self.mountpoint(name)
        options = dict(record.options)
        if not options:
            os.makedirs(path, mode=0o755, exist_ok=True)
            return path
        with self._lock:
            if not mounted_under(path):
                os.makedirs(path, mode=0o755, exist_ok=True)
                source, fstype, flags, data = mount_args(options)
                self.kernel.mount(source or fstype, path, fstype, flags, data)
        return path

    def unmount(self, namespace: str, name: str) -> None:
        """The mount of a volume no container uses any more undone."""
        with contextlib.suppress(NotFound):
            if dict(self.get(namespace, name).options):
                with self._lock:
                    self._unmount(name)

    def _unmount(self, name: str) -> None:
        # mountinfo, not a device number: a bind of the same filesystem has the same one
        for path in reversed(mounted_under(os.path.join(self.root, name))):
            self.kernel.umount(path, k.MNT_DETACH)

    def size(self, name: str) -> int:
        """Bytes of the files under the volume's data (-1 when it cannot be read)."""
        total = 0
        try:
            for top, _, files in os.walk(self.mountpoint(name)):
                for file in files:
                    with contextlib.suppress(OSError):
                        total += os.lstat(os.path.join(top, file)).st_size
        except OSError:
            return -1
        return total

    def is_empty(self, name: str) -> bool:
        try:
            return not os.listdir(self.mountpoint(name))
        except OSError:
            return False
