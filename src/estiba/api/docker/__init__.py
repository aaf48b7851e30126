"""The Docker Engine API (``/work/shared/specs/docker-engine-api.yaml``, API 1.47,
minimum 1.24) on each ``--host`` socket, a thin adapter over ``engine/``: the docker
CLI, docker-py and compose speak it. The HTTP server is the core API's
(``api/core/http.py``, ``api/core/server.py``: protocol-generic), the attach relay too
(``api/core/attach.py``: Docker's 8-byte frames).

Modules: ``app.py`` (the version prefix ``/v1.NN``, the router, the one error mapping:
``{"message"}`` with Docker's statuses), ``routes.py`` (one thin handler per route),
``system.py`` (``_ping``, ``version``, ``info``). May import ``engine``, ``api.core``'s
generic parts, ``oci``, ``errors`` and the standard library; never ``daemon``.

Routes (each also under ``/v1.NN``):

    GET|HEAD /_ping                      OK, with API-Version, OSType ... headers
    GET    /version | /info
    GET    /containers/json?all=1
    POST   /containers/create?name=      Config + HostConfig -> {"Id", "Warnings"}
    GET    /containers/{id}/json
    POST   /containers/{id}/start|stop?t=|kill?signal=|restart?t=
    POST   /containers/{id}/wait?condition=not-running|next-exit|removed
    POST   /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1  (hijacked)
    POST   /containers/{id}/resize?h=&w=
    GET    /containers/{id}/logs?stdout=1&stderr=1&follow=1
    DELETE /containers/{id}?force=1
    GET    /images/json | /images/{name}/json
    POST   /images/create?fromImage=&tag=  (the built-in busybox only)
"""
