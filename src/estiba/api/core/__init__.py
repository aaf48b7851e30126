"""The core API: JSON over HTTP/1.1 on the core socket (default /run/estiba/core.sock),
containerd's API in Estiba's shape. ``estiba ctr`` (``cli/ctr/``, through
``client/core.py``) is its client.

Modules: ``http.py`` (HTTP/1.1 framing by hand on asyncio streams, and the response
kinds: ``Reply``, ``Stream``, ``Download``, ``Takeover`` for hijacked connections),
``server.py`` (connections, keep-alive, bounded shutdown), ``app.py`` (the router, the
thread pool calls, the one error mapping), ``routes.py`` (one thin handler per route),
``encoding.py`` (records to JSON, the taxonomy's statuses), ``logs.py`` (the CRI log
reader of the ``logs`` route), ``attach.py`` (the attach stream's relay and framing).
May import ``core`` (its records and
services' shapes), ``oci``, ``errors`` and the standard library; never ``daemon``.

Conventions: the namespace is the ``Estiba-Namespace`` header (default ``default``);
bodies are JSON objects (``Content-Type: application/json``) except the image archives
(``application/x-tar``) and streams; errors are ``{"message": "..."}`` with the status
of the error taxonomy: InvalidArgument 400, PermissionDenied 403, NotFound 404,
AlreadyExists and Conflict 409, FailedPrecondition 412, Unimplemented 501,
Unavailable 503, anything else 500. Records are encoded as JSON objects with their
field names (``Container``, ``Task``, image and snapshot infos ...). Streams
(``events``, ``logs``) are newline-delimited JSON, one object per line, chunked.

Routes (``{id}`` a container id, ``{name}`` an image name, URL-quoted):

    GET    /v1/version                       {"version", "api_version", "revision"}
    GET    /v1/namespaces                    [{"name", "labels"}]
    POST   /v1/namespaces                    {"name", "labels"?}
    DELETE /v1/namespaces/{ns}
    GET    /v1/content                       [{"digest", "size", "created_at", "labels"}]
    GET    /v1/content/{digest}
    DELETE /v1/content/{digest}
    GET    /v1/images                        [{"name", "target": {digest, mediaType, size},
                                               "created_at", "updated_at", "labels"}]
    GET    /v1/images/{name}
    POST   /v1/images/import?tag=...         body: a tar (docker save or OCI layout) ->
                                             [{"name", "digest"}]; ?unpack=1 unpacks
    GET    /v1/images/export?name=..&name=.. a tar (docker load reads it)
    POST   /v1/images/tag                    {"source", "target"}
    DELETE /v1/images/{name}
    POST   /v1/images/{name}/unpack          {"snapshotter"?} -> {"chain_id"}
    GET    /v1/snapshots                     [{"kind", "name", "parent", "created_at",
                                               "labels"}]
    GET    /v1/snapshots/{key}               info; /v1/snapshots/{key}/usage {"size","inodes"}
    GET    /v1/containers                    [Container]
    POST   /v1/containers                    {"id", "image", "runtime"?, "args"?, "env"?,
                                              "cwd"?, "terminal"?, "labels"?, "spec"?}
                                             -> Container (spec built from the image's
                                             config when not given)
    GET    /v1/containers/{id}               Container
    DELETE /v1/containers/{id}               (refused while a task exists: 412)
    GET    /v1/tasks                         [Task]
    POST   /v1/tasks                         {"container_id", "stdin"?, "terminal"?,
                                              "log_path"?} -> Task (created)
    GET    /v1/tasks/{id}                    Task
    POST   /v1/tasks/{id}/start              -> Task
    POST   /v1/tasks/{id}/kill               {"signal"?: "SIGTERM"|15, "all"?: false}
    POST   /v1/tasks/{id}/wait               -> {"exit_status", "exited_at"}; blocks;
                                             ?exec_id=E: an exec's -> {"exit_status"}
    DELETE /v1/tasks/{id}                    -> {"exit_status", "exited_at"}
    POST   /v1/tasks/{id}/pause | /resume
    GET    /v1/tasks/{id}/ps                 [{"pid"}]
    GET    /v1/tasks/{id}/metrics            cgroup stats (memory, cpu, pids)
    POST   /v1/tasks/{id}/exec               {"exec_id", "args", "env"?, "cwd"?,
                                              "terminal"?} -> {"pid"}; waits for exit
                                             when ?wait=1 -> {"exit_status"};
                                             ?attach=1 (body also "stdin"?): the
                                             connection is taken over as by attach,
                                             connected before the process runs
    POST   /v1/tasks/{id}/attach?stdin=1&exec_id=E
                                             101 (with "Connection: Upgrade") or 200,
                                             then the connection carries the process's
                                             stdio (attach.py): in, stdin (raw; a
                                             half-close ends it); out, the pty's bytes
                                             (terminal) or Docker's multiplexed frames
                                             [stream 1|2, 0, 0, 0, size BE32] + bytes;
                                             closed when the process's output ends
    POST   /v1/tasks/{id}/resize             {"height", "width", "exec_id"?}: the pty's
                                             size (412 without a running shim)
    GET    /v1/tasks/{id}/logs?follow=1      stream of {"time", "stream", "log"} (the CRI
                                             log's lines, partial lines joined), ending
                                             with {"exit_status"} when following
    GET    /v1/leases | POST /v1/leases {"id", "expires_in"?} | DELETE /v1/leases/{id}
    GET    /v1/events?topic=/tasks/*         stream of Event
"""
