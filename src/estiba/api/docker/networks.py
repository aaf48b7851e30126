"""The Docker API's network routes: each decodes, calls one method of
``engine.networks``, encodes."""

from __future__ import annotations

from estiba.api.core.http import Reply
from estiba.api.docker.call import served
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from estiba.api.docker.call import Call


def networks_list(engine: Any, call: Call) -> list:
    return served(engine, "networks").list(call.arg("filters"))


def networks_inspect(engine: Any, call: Call, id: str) -> dict:
    return served(engine, "networks").inspect(id)


def networks_create(engine: Any, call: Call) -> Reply:
    return Reply(201, dumps(served(engine, "networks").create(call.body)).encode())


def networks_delete(engine: Any, call: Call, id: str) -> None:
    served(engine, "networks").remove(id)


def networks_prune(engine: Any, call: Call) -> dict:
    return served(engine, "networks").prune(call.arg("filters"))


def networks_connect(engine: Any, call: Call, id: str) -> Reply:
    served(engine, "networks").connect(id, call.body)
    return Reply(200)


def networks_disconnect(engine: Any, call: Call, id: str) -> Reply:
    served(engine, "networks").disconnect(id, call.body)
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
