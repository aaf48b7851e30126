"""The Docker API's image routes: each decodes, calls one method of ``engine.images``,
encodes."""

from __future__ import annotations

from estiba.api.core.http import Stream
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from estiba.api.docker.call import Call


def images_list(engine: Any, call: Call) -> list:
    return engine.images.list()


def images_inspect(engine: Any, call: Call, name: str) -> dict:
    return engine.images.inspect(name)


def images_delete(engine: Any, call: Call, name: str) -> list:
    return engine.images.delete(name, force=call.flag("force"))


def images_create(engine: Any, call: Call) -> Stream:
    progress = list(engine.images.pull(call.arg("fromImage"), call.arg("tag")))
    return Stream(iter([(dumps(p) + "\r\n").encode() for p in progress]),
                  "application/json")


ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/images/json", images_list, "json"),
    ("POST", "/images/create", images_create, "json"),
    ("GET", "/images/{name}/json", images_inspect, "json"),
    ("DELETE", "/images/{name}", images_delete, "json"),
]
