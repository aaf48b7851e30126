"""The Docker Engine API (``/work/shared/specs/docker-engine-api.yaml``, API 1.47,
minimum 1.24) on each ``--host`` socket, a thin adapter over ``engine/``: the docker
CLI, docker-py and compose speak it. The HTTP server is the core API's
(``api/core/http.py``, ``api/core/server.py``: protocol-generic), the attach relay too
(``api/core/attach.py``: Docker's 8-byte frames).

Modules: ``app.py`` (the version prefix ``/v1.NN``, the router, the one error mapping:
``{"message"}`` with Docker's statuses; a ``raw`` route reads its body as a stream),
``call.py`` (what a handler gets), ``routes.py`` (containers' routes and the table),
``execs.py``, ``filesystem.py`` (archive, export, changes, commit), ``images.py``,
``events.py``, ``system.py`` (``_ping``, ``version``, ``info``): one thin handler per
route. May import ``engine``, ``api.core``'s generic parts, ``oci``, ``errors``,
``signals`` and the standard library; never ``daemon``.

Routes (each also under ``/v1.NN``):

    GET|HEAD /_ping                      OK, with API-Version, OSType ... headers
    GET    /version | /info
    GET    /events?since=&until=&filters=                 JSON lines
    GET    /containers/json?all=&limit=&filters=
    POST   /containers/create?name=      Config + HostConfig -> {"Id", "Warnings"}
    POST   /containers/prune?filters=
    GET    /containers/{id}/json | /top?ps_args= | /stats?stream=&one-shot=
    POST   /containers/{id}/start|stop?t=&signal=|kill?signal=|restart?t=|pause|unpause
    POST   /containers/{id}/rename?name=
    POST   /containers/{id}/wait?condition=not-running|next-exit|removed
    POST   /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1  (hijacked)
    POST   /containers/{id}/resize?h=&w=
    GET    /containers/{id}/logs?stdout=1&stderr=1&follow=1&tail=&since=&until=&timestamps=1
           &details=1
    DELETE /containers/{id}?force=1
    GET    /containers/{id}/explain      estiba's own: [{"at", "layer", "action", "details"}]
    POST   /containers/{id}/exec; POST /exec/{id}/start (hijacked) | /resize; GET /exec/{id}/json
    GET|HEAD|PUT /containers/{id}/archive?path=   (docker cp)
    GET    /containers/{id}/export | /changes;  POST /commit?container=&repo=&tag=
    GET    /images/json?filters= | /images/{name}/json | /history | /get; GET /images/get?names=
    POST   /images/create?fromSrc=-|fromImage= (the built-in busybox only) | /images/load
    POST   /images/{name}/tag?repo=&tag= | /images/prune;  DELETE /images/{name}?force=
"""
