"""The Docker API's routes of containers' filesystems: archive (``docker cp``),
export, changes (``docker diff``), commit. Each decodes, calls one method of
``engine.filesystems``, encodes.

``PUT /containers/{id}/archive`` takes its tar as a raw body (``call.stream``, a blocking
reader); the other routes take JSON."""

from __future__ import annotations

from estiba import errors
from estiba.api.core.http import Download, Reply
from estiba.engine.filesystem import PATH_STAT_HEADER, encode_path_stat
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, BinaryIO

    from estiba.api.docker.call import Call

TAR = "application/x-tar"


def _path(call: Call) -> str:
    path = call.arg("path")
    if not path:
        raise errors.InvalidArgument("path is required")
    return path


def containers_archive(engine: Any, call: Call, id: str) -> Reply | Download:
    """GET (the path's stat, then its tar streamed) and HEAD (the stat alone)."""
    path = _path(call)
    if call.request.method == "HEAD":
        found = engine.filesystems.stat(id, path)
        return Reply(200, b"", TAR,
                     headers=((PATH_STAT_HEADER, encode_path_stat(found)),))
    found, write = engine.filesystems.archive(id, path)
    return Download(write, TAR, headers=((PATH_STAT_HEADER, encode_path_stat(found)),))


def containers_archive_put(engine: Any, call: Call, id: str) -> Reply:
    body: BinaryIO | None = call.stream
    if body is None:  # pragma: no cover - the route is "raw"
        raise errors.InvalidArgument("copy to container: no archive in the request")
    engine.filesystems.extract(
        id, _path(call), body,
        no_overwrite_dir_non_dir=call.flag("noOverwriteDirNonDir"),
        copy_uid_gid=call.flag("copyUIDGID"))
    return Reply(200)


def containers_export(engine: Any, call: Call, id: str) -> Download:
    engine.containers.resolve(id)  # a missing container is a 404 before any output
    return Download(lambda out: engine.filesystems.export(id, out), TAR)


def containers_changes(engine: Any, call: Call, id: str) -> list:
    return engine.filesystems.changes(id)


def commit(engine: Any, call: Call) -> Reply:
    container = call.arg("container")
    if not container:
        raise errors.InvalidArgument("container is required")
    pause = call.arg("pause", "1").lower() not in ("0", "false", "no")
    made = engine.filesystems.commit(
        container, repo=call.arg("repo"), tag=call.arg("tag"),
        comment=call.arg("comment"), author=call.arg("author"), pause=pause,
        changes=[c for c in call.request.query.get("changes", []) if c],
        config=call.body or {})
    return Reply(201, dumps(made).encode())


ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/containers/{id}/archive", containers_archive, "json"),
    ("PUT", "/containers/{id}/archive", containers_archive_put, "raw"),
    ("GET", "/containers/{id}/export", containers_export, "json"),
    ("GET", "/containers/{id}/changes", containers_changes, "json"),
    ("POST", "/commit", commit, "json"),
]
