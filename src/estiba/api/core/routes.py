"""The core API's routes (listed in this package's docstring): each decodes, calls one
service of the core, encodes. Handlers are blocking functions, run in the daemon's thread
pool, called as ``handler(core, call, **path_params)``; what they return is encoded
by ``encoding.encode`` (None: 204), unless it is a ``Stream``, ``Download`` or
``Takeover`` (attach: ``attach.py``).
"""

from __future__ import annotations

from estiba import __version__, errors
from estiba.api.core.encoding import labels, rfc3339, to_json
from estiba.api.core.http import BlockingBody, Download, Request, Stream
from estiba.oci.json_codec import dumps
from estiba.signals import signal_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

API_VERSION = "1"
DEFAULT_NAMESPACE = "default"
# how long a stream waits for the next event or log line before it checks that its
# client is still there
POLL = 0.5


class Call:
    """What a handler sees of a request: the namespace, the query, the JSON body (or
    the raw body as a blocking file for the routes that stream it in)."""

    __slots__ = ("namespace", "request", "body", "stream")

    def __init__(self, request: Request, body: dict, stream: BlockingBody | None) -> None:
        self.namespace = request.headers.get("estiba-namespace") or DEFAULT_NAMESPACE
        self.request = request
        self.body = body
        self.stream = stream

    def arg(self, name: str, default: str = "") -> str:
        return self.request.arg(name, default)

    def args(self, name: str) -> list[str]:
        return self.request.query.get(name, [])

    def flag(self, name: str) -> bool:
        return self.request.flag(name)

    def field(self, name: str, kind: type | tuple[type, ...] = str, default: Any = None,
              required: bool = False) -> Any:
        if name not in self.body or self.body[name] is None:
            if required:
                raise errors.InvalidArgument(f"missing field {name!r}")
            return default
        value = self.body[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(
                k.__name__ for k in kind)
            raise errors.InvalidArgument(f"field {name!r}: expected {names}")
        return value

    def strings(self, name: str, default: Any = None) -> Any:
        """A field that must be a list of strings (argv, env)."""
        value = self.field(name, list, default)
        if value is not None and not all(isinstance(item, str) for item in value):
            raise errors.InvalidArgument(f"field {name!r}: expected a list of strings")
        return value

    def spec(self) -> dict | None:
        """The ``spec`` field: an OCI runtime config, whole or partial (the runtime
        checks it at task create); the JSON kinds of the members it has are checked
        here, so that a mistyped one is refused now rather than stored."""
        spec = self.field("spec", dict)
        if spec is None:
            return None
        for key, want in _SPEC_KINDS.items():
            parent, _, name = key.rpartition(".")
            holder = spec.get(parent) if parent else spec
            if not isinstance(holder, dict) or holder.get(name) is None:
                continue
            value = holder[name]
            ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
            if ok and want is list and key in ("process.args", "process.env"):
                ok = all(isinstance(item, str) for item in value)
            if not ok:
                raise errors.InvalidArgument(f"field 'spec': {key}: expected "
                                             f"{_KIND_NAMES[want]}")
        return spec


# members of a spec and the JSON kinds they must have (when present)
_SPEC_KINDS: dict[str, type] = {
    "ociVersion": str, "process": dict, "root": dict, "mounts": list, "hostname": str,
    "linux": dict, "annotations": dict, "hooks": dict,
    "process.args": list, "process.env": list, "process.cwd": str,
    "process.terminal": bool, "process.user": dict, "root.path": str,
    "root.readonly": bool,
}
_KIND_NAMES = {str: "a string", dict: "an object", list: "a list of strings",
               bool: "true or false"}


# --- version, namespaces, content -----------------------------------------------------

def version(core: Any, call: Call) -> dict:
    return {"version": __version__, "api_version": API_VERSION, "revision": ""}


def namespaces_list(core: Any, call: Call) -> list:
    return [{"name": n.name, "labels": dict(n.labels), "created_at": n.created_at}
            for n in core.namespaces.list()]


def namespaces_create(core: Any, call: Call) -> dict:
    name = call.field("name", required=True)
    ns = core.namespaces.create(name, dict(labels(call.body.get("labels"))))
    return {"name": ns.name, "labels": dict(ns.labels), "created_at": ns.created_at}


def namespaces_delete(core: Any, call: Call, ns: str) -> None:
    core.namespaces.delete(ns)


def _blob(info: Any, blob_labels: dict) -> dict:
    return {"digest": info.digest, "size": info.size,
            "created_at": rfc3339(info.created_at), "labels": dict(blob_labels)}


def content_list(core: Any, call: Call) -> list:
    return [_blob(info, lab) for info, lab in core.content.list(call.namespace)]


def content_info(core: Any, call: Call, digest: str) -> dict:
    return _blob(*core.content.info(call.namespace, digest))


def content_delete(core: Any, call: Call, digest: str) -> None:
    core.content.delete(call.namespace, digest)


# --- images -----------------------------------------------------------------------------

def _image(image: Any) -> dict:
    return {"name": image.name,
            "target": {"digest": image.target_digest, "mediaType": image.target_media_type,
                       "size": image.target_size},
            "created_at": image.created_at, "updated_at": image.updated_at,
            "labels": dict(image.labels)}


def images_list(core: Any, call: Call) -> list:
    return [_image(i) for i in core.images.list(call.namespace)]


def images_get(core: Any, call: Call, name: str) -> dict:
    return _image(core.images.get(call.namespace, name))


def images_import(core: Any, call: Call) -> list:
    imported = core.images.import_archive(call.namespace, call.stream, tag=call.arg("tag"),
                                          unpack=call.flag("unpack"))
    return [{"name": i.name, "digest": i.target_digest} for i in imported]


def images_export(core: Any, call: Call) -> Download:
    names = call.args("name")
    if not names:
        raise errors.InvalidArgument("export: name at least one image (?name=...)")
    namespace = call.namespace
    return Download(lambda out: core.images.export_archive(namespace, names, out))


def images_tag(core: Any, call: Call) -> dict:
    source = call.field("source", required=True)
    target = call.field("target", required=True)
    return _image(core.images.tag(call.namespace, source, target))


def images_delete(core: Any, call: Call, name: str) -> None:
    core.images.delete(call.namespace, name)


def images_unpack(core: Any, call: Call, name: str) -> dict:
    return {"chain_id": core.images.unpack(call.namespace, name)}


# --- snapshots --------------------------------------------------------------------------

def snapshots_list(core: Any, call: Call) -> list:
    return core.snapshots.list(call.namespace)


def snapshots_info(core: Any, call: Call, key: str) -> Any:
    return core.snapshots.info(call.namespace, key)


def snapshots_usage(core: Any, call: Call, key: str) -> Any:
    return core.snapshots.usage(call.namespace, key)


# --- containers -------------------------------------------------------------------------

def containers_list(core: Any, call: Call) -> list:
    return core.containers.list(call.namespace)


def containers_create(core: Any, call: Call) -> Any:
    cid = call.field("id", required=True)
    image = call.field("image", default="")
    spec = call.spec()
    runtime = call.field("runtime", default="")
    container_labels = labels(call.body.get("labels"))
    if not image:
        if spec is None:
            raise errors.InvalidArgument("create container: name an image or give a spec")
        from estiba.core.records import Container

        return core.containers.create(Container(
            namespace=call.namespace, id=cid, runtime=runtime, spec=spec,
            labels=container_labels))
    return core.new_container(
        call.namespace, cid, image, runtime=runtime, args=call.strings("args"),
        env=call.strings("env", default=[]), cwd=call.field("cwd", default=""),
        terminal=call.field("terminal", bool, default=False),
        labels=dict(container_labels), spec=spec)


def containers_get(core: Any, call: Call, id: str) -> Any:
    return core.containers.get(call.namespace, id)


def containers_delete(core: Any, call: Call, id: str) -> None:
    core.remove_container(call.namespace, id)


# --- tasks ------------------------------------------------------------------------------

def tasks_list(core: Any, call: Call) -> list:
    return core.tasks.list(call.namespace)


def tasks_create(core: Any, call: Call) -> Any:
    ns = call.namespace
    container = core.containers.get(ns, call.field("container_id", required=True))
    mounts = core.snapshots.mounts(ns, container.snapshot_key) if container.snapshot_key \
        else []
    return core.tasks.create(container, mounts, stdin=call.field("stdin", bool, False),
                             terminal=call.field("terminal", bool, False),
                             log_path=call.field("log_path", default=""))


def tasks_get(core: Any, call: Call, id: str) -> Any:
    return core.tasks.get(call.namespace, id)


def tasks_start(core: Any, call: Call, id: str) -> Any:
    return core.tasks.start(call.namespace, id)


def tasks_kill(core: Any, call: Call, id: str) -> None:
    signal = call.field("signal", (str, int), default=15)
    core.tasks.kill(call.namespace, id, signal_number(signal),
                    all=call.field("all", bool, default=False))


def _exit(task: Any) -> dict:
    return {"exit_status": task.exit_status, "exited_at": task.exited_at}


def tasks_wait(core: Any, call: Call, id: str) -> dict:
    exec_id = call.arg("exec_id")
    if exec_id:
        return {"exit_status": core.tasks.wait_exec(call.namespace, id, exec_id).exit_status}
    return _exit(core.tasks.wait(call.namespace, id))


def tasks_delete(core: Any, call: Call, id: str) -> dict:
    return _exit(core.tasks.delete(call.namespace, id, force=call.flag("force")))


def tasks_pause(core: Any, call: Call, id: str) -> None:
    core.tasks.pause(call.namespace, id)


def tasks_resume(core: Any, call: Call, id: str) -> None:
    core.tasks.resume(call.namespace, id)


def tasks_ps(core: Any, call: Call, id: str) -> list:
    return [{"pid": pid} for pid in core.tasks.ps(call.namespace, id)]


def tasks_metrics(core: Any, call: Call, id: str) -> dict:
    return core.tasks.metrics(call.namespace, id)


def tasks_exec(core: Any, call: Call, id: str) -> dict:
    exec_id = call.field("exec_id", required=True)
    args = call.strings("args")
    if not args:
        raise errors.InvalidArgument("exec: field 'args' is missing or empty")
    # what is not given is the container's (exec_process): an empty env or cwd too
    process = {"args": args}
    env, cwd = call.strings("env", default=[]), call.field("cwd", default="")
    if env:
        process["env"] = env
    if cwd:
        process["cwd"] = cwd
    terminal = call.field("terminal", bool, default=False)
    if call.flag("attach"):
        from estiba.api.core import attach

        stdin = call.field("stdin", bool, default=False)
        _, conn = core.tasks.exec_attached(call.namespace, id, exec_id, process,
                                           terminal=terminal, stdin=stdin)
        return attach.takeover(call.request, conn, tty=terminal, stdin=stdin)
    started = core.tasks.exec(call.namespace, id, exec_id, process, terminal=terminal)
    if not call.flag("wait"):
        return {"pid": started.pid}
    done = core.tasks.wait_exec(call.namespace, id, exec_id)
    return {"pid": started.pid, "exit_status": done.exit_status}


def tasks_attach(core: Any, call: Call, id: str) -> Any:
    from estiba.api.core import attach

    exec_id = call.arg("exec_id")
    if exec_id:
        tty = core.tasks.get_exec(call.namespace, id, exec_id).terminal
    else:
        tty = core.tasks.get(call.namespace, id).terminal
    conn = core.tasks.attach(call.namespace, id, exec_id)
    return attach.takeover(call.request, conn, tty=tty, stdin=call.flag("stdin"))


def tasks_resize(core: Any, call: Call, id: str) -> None:
    core.tasks.resize(call.namespace, id, call.field("height", int, required=True),
                      call.field("width", int, required=True),
                      exec_id=call.field("exec_id", default=""))


def tasks_logs(core: Any, call: Call, id: str) -> Stream:
    from estiba.api.core import logs

    task = core.tasks.get(call.namespace, id)  # NotFound before the stream starts
    follow = call.flag("follow")
    namespace = call.namespace

    def exited(timeout: float) -> Any:
        try:
            current = core.tasks.wait(namespace, id, timeout=timeout)
        except errors.Unavailable:
            return None
        return current if current.exit_status is not None else None

    return Stream(_ndjson(logs.entries(task.log_path, follow=follow, exited=exited,
                                       poll=POLL)))


# --- leases, events ---------------------------------------------------------------------

def leases_list(core: Any, call: Call) -> list:
    return core.leases.list(call.namespace)


def leases_create(core: Any, call: Call) -> Any:
    expires = call.field("expires_in", (int, float))
    return core.leases.create(call.namespace, call.field("id", default=""), expires)


def leases_delete(core: Any, call: Call, id: str) -> None:
    core.leases.delete(call.namespace, id)


def events(core: Any, call: Call) -> Stream:
    namespace = call.request.headers.get("estiba-namespace", "")
    subscription = core.events.subscribe(call.args("topic"), namespace)

    def items() -> Iterator[Any]:
        try:
            while True:
                yield subscription.get(timeout=POLL)
        finally:
            subscription.close()

    return Stream(_ndjson(items()))


def _ndjson(items: Iterator[Any]) -> Iterator[bytes | None]:
    for item in items:
        yield None if item is None else (dumps(to_json(item)) + "\n").encode()


# method, path pattern, handler, body: "json" (read whole, decoded), "raw" (streamed
# to the handler as a blocking file); literal segments are tried before parameters
ROUTES: list[tuple[str, str, Callable[..., Any], str]] = [
    ("GET", "/v1/version", version, "json"),
    ("GET", "/v1/namespaces", namespaces_list, "json"),
    ("POST", "/v1/namespaces", namespaces_create, "json"),
    ("DELETE", "/v1/namespaces/{ns}", namespaces_delete, "json"),
    ("GET", "/v1/content", content_list, "json"),
    ("GET", "/v1/content/{digest}", content_info, "json"),
    ("DELETE", "/v1/content/{digest}", content_delete, "json"),
    ("GET", "/v1/images", images_list, "json"),
    ("POST", "/v1/images/import", images_import, "raw"),
    ("GET", "/v1/images/export", images_export, "json"),
    ("POST", "/v1/images/tag", images_tag, "json"),
    ("GET", "/v1/images/{name}", images_get, "json"),
    ("DELETE", "/v1/images/{name}", images_delete, "json"),
    ("POST", "/v1/images/{name}/unpack", images_unpack, "json"),
    ("GET", "/v1/snapshots", snapshots_list, "json"),
    ("GET", "/v1/snapshots/{key}", snapshots_info, "json"),
    ("GET", "/v1/snapshots/{key}/usage", snapshots_usage, "json"),
    ("GET", "/v1/containers", containers_list, "json"),
    ("POST", "/v1/containers", containers_create, "json"),
    ("GET", "/v1/containers/{id}", containers_get, "json"),
    ("DELETE", "/v1/containers/{id}", containers_delete, "json"),
    ("GET", "/v1/tasks", tasks_list, "json"),
    ("POST", "/v1/tasks", tasks_create, "json"),
    ("GET", "/v1/tasks/{id}", tasks_get, "json"),
    ("DELETE", "/v1/tasks/{id}", tasks_delete, "json"),
    ("POST", "/v1/tasks/{id}/start", tasks_start, "json"),
    ("POST", "/v1/tasks/{id}/kill", tasks_kill, "json"),
    ("POST", "/v1/tasks/{id}/wait", tasks_wait, "json"),
    ("POST", "/v1/tasks/{id}/pause", tasks_pause, "json"),
    ("POST", "/v1/tasks/{id}/resume", tasks_resume, "json"),
    ("GET", "/v1/tasks/{id}/ps", tasks_ps, "json"),
    ("GET", "/v1/tasks/{id}/metrics", tasks_metrics, "json"),
    ("POST", "/v1/tasks/{id}/exec", tasks_exec, "json"),
    ("POST", "/v1/tasks/{id}/attach", tasks_attach, "json"),
    ("POST", "/v1/tasks/{id}/resize", tasks_resize, "json"),
    ("GET", "/v1/tasks/{id}/logs", tasks_logs, "json"),
    ("GET", "/v1/leases", leases_list, "json"),
    ("POST", "/v1/leases", leases_create, "json"),
    ("DELETE", "/v1/leases/{id}", leases_delete, "json"),
    ("GET", "/v1/events", events, "json"),
]
