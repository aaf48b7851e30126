"""The Docker API's volume routes: each decodes, calls one method of
``engine.volumes``, encodes."""

from __future__ import annotations

from estiba.api.core.http import Reply
from estiba.api.docker.call import served
from estiba.oci.json_codec import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from estiba.api.docker.call import Call


def volumes_list(engine: Any, call: Call) -> dict:
    return served(engine, "volumes").list(call.arg("filters"))


def volumes_create(engine: Any, call: Call) -> Reply:
    return Reply(201, dumps(served(engine, "volumes").create(call.body)).encode())


def volumes_inspect(engine: Any, call: Call, name: str) -> dict:
    return served(engine, "volumes").inspect(name)


def volumes_delete(engine: Any, call: Call, name: str) -> None:
    served(engine, "volumes").remove(name, force=call.flag("force"))


def volumes_prune(engine: Any, call: Call) -> dict:
    return served(engine, "volumes").prune(call.arg("filters"))


ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/volumes", volumes_list, "json"),
    ("POST", "/volumes/create", volumes_create, "json"),
    ("POST", "/volumes/prune", volumes_prune, "json"),
    ("GET", "/volumes/{name}", volumes_inspect, "json"),
    ("DELETE", "/volumes/{name}", volumes_delete, "json"),
]
