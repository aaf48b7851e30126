"""The Docker API's network routes: each decodes, calls one method of
``engine.networks``, encodes."""

from __future__ import annotations

from estiba import errors
from estiba.api.core.http import Reply
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from estiba.api.docker.call import Call


def _networks(engine: Any) -> Any:
    if engine.networks is None:
        raise errors.Unavailable("this daemon runs without networks")
    return engine.networks


def networks_list(engine: Any, call: Call) -> list:
    return _networks(engine).list(call.arg("filters"))


def networks_inspect(engine: Any, call: Call, id: str) -> dict:
    return _networks(engine).inspect(id)


def networks_create(engine: Any, call: Call) -> Reply:
    return Reply(201, dumps(_networks(engine).create(call.body)).encode())


def networks_delete(engine: Any, call: Call, id: str) -> None:
    _networks(engine).remove(id)


def networks_prune(engine: Any, call: Call) -> dict:
    return _networks(engine).prune(call.arg("filters"))


def networks_connect(engine: Any, call: Call, id: str) -> Reply:
    _networks(engine).connect(id, call.body)
    return Reply(200)


def networks_disconnect(engine: Any, call: Call, id: str) -> Reply:
    _networks(engine).disconnect(id, call.body)
    return Reply(200)


ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/networks", networks_list, "json"),
    ("POST", "/networks/create", networks_create, "json"),
    ("POST", "/networks/prune", networks_prune, "json"),
    ("GET", "/networks/{id}", networks_inspect, "json"),
    ("DELETE", "/networks/{id}", networks_delete, "json"),
    ("POST", "/networks/{id}/connect", networks_connect, "json"),
    ("POST", "/networks/{id}/disconnect", networks_disconnect, "json"),
]
