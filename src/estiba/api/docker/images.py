"""The Docker API's image routes: each decodes, calls one method of ``engine.images``,
encodes. The routes whose body is a tar (``/images/create?fromSrc=-``,
``/images/load``) are "raw": the handler reads ``call.stream``."""

from __future__ import annotations

from estiba import errors
from estiba.api.core.http import Download, Reply, Stream
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from estiba.api.docker.call import Call


def _filters(call: Call, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    from estiba.engine import filters

    return filters.parse(call.arg("filters"), allowed)


def _lines(items: Iterable[dict]) -> Stream:
    return Stream(iter([(dumps(item) + "\r\n").encode() for item in items]),
                  "application/json")


def images_list(engine: Any, call: Call) -> list:
    from estiba.engine.images import LIST_FILTERS

    return engine.images.list(all=call.flag("all"), filters=_filters(call, LIST_FILTERS))


def images_inspect(engine: Any, call: Call, name: str) -> dict:
    return engine.images.inspect(name)


def images_history(engine: Any, call: Call, name: str) -> list:
    return engine.images.history(name)


def images_tag(engine: Any, call: Call, name: str) -> Reply:
    engine.images.tag(name, call.arg("repo"), call.arg("tag"))
    return Reply(201)


def images_delete(engine: Any, call: Call, name: str) -> list:
    return engine.images.delete(name, force=call.flag("force"),
                                noprune=call.flag("noprune"))


def images_prune(engine: Any, call: Call) -> dict:
    from estiba.engine.images import PRUNE_FILTERS

    return engine.images.prune(_filters(call, PRUNE_FILTERS))


def images_create(engine: Any, call: Call) -> Stream:
    """A pull (``fromImage``) or an import (``fromSrc=-``: the body is the tarball)."""
    source = call.arg("fromSrc")
    if source:
        if source != "-":
            raise errors.Unimplemented(
                f"import from {source}: only a tarball in the request body (fromSrc=-) "
                "can be imported")
        changes = call.request.query.get("changes") or []
        image_id = engine.images.import_rootfs(
            call.stream, repo=call.arg("repo"), tag=call.arg("tag"),
            changes=[c for c in changes if c], message=call.arg("message"))
        return _lines([{"status": image_id}])
    if not call.arg("fromImage"):
        raise errors.InvalidArgument("fromImage or fromSrc is required")
    return _lines(list(engine.images.pull(call.arg("fromImage"), call.arg("tag"))))


def images_get(engine: Any, call: Call) -> Download:
    return Download(engine.images.save(call.request.query.get("names") or []))


def images_get_one(engine: Any, call: Call, name: str) -> Download:
    return Download(engine.images.save([name]))


def images_load(engine: Any, call: Call) -> Stream:
    return _lines(engine.images.load(call.stream))


ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/images/json", images_list, "json"),
    ("POST", "/images/create", images_create, "raw"),
    ("GET", "/images/get", images_get, "json"),
    ("POST", "/images/load", images_load, "raw"),
    ("POST", "/images/prune", images_prune, "json"),
    ("GET", "/images/{name}/json", images_inspect, "json"),
    ("GET", "/images/{name}/history", images_history, "json"),
    ("GET", "/images/{name}/get", images_get_one, "json"),
    ("POST", "/images/{name}/tag", images_tag, "json"),
    ("DELETE", "/images/{name}", images_delete, "json"),
]
