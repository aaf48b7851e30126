"""estibad's Docker API on TCP without a core: ``Server.listen_tcp`` serving a request
on a loopback port (and naming a port already taken), and the warning dockerd gives
for an address other than loopback, served without TLS."""

from __future__ import annotations

import asyncio
import re
import socket

import pytest

from estiba import errors
from estiba.api.core.http import Reply, Request
from estiba.api.core.server import Server
from estiba.client.connection import Connection
from estiba.daemon.config import Listener
from estiba.daemon.main import warn_if_exposed


def _server(logged: list[tuple]) -> Server:
    async def app(request: Request) -> Reply:
        return Reply(200, b'{"path": "%s"}' % request.path.encode())

    return Server(app, lambda exc: Reply(500), None,  # type: ignore[arg-type]
                  lambda *args, **fields: logged.append((*args, fields)))


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("host", [
    "127.0.0.1",
    pytest.param("::1", marks=pytest.mark.skipif(not _has_ipv6_loopback(),
                                                 reason="no IPv6 loopback address")),
])
def test_listen_tcp_serves_on_loopback_and_names_a_taken_port(host: str) -> None:
    logged: list[tuple] = []
    where = f"[{host}]" if ":" in host else host

    async def scenario() -> None:
        server = _server(logged)
        await server.listen_tcp(host, 0)  # any free port: the test picks none
        assert server.bound_addresses() == [host]
        port = server._servers[0].sockets[0].getsockname()[1]

        def get() -> bytes:
            conn = Connection((host, port), timeout=5)
            try:
                return conn.request("GET", "/x").read()
            finally:
                conn.close()

        assert await asyncio.to_thread(get) == b'{"path": "/x"}'
        with pytest.raises(errors.EstibaError,
                           match=f"listen on tcp://{re.escape(where)}:{port}: address "
                                 "already in use"):
            await _server(logged).listen_tcp(host, port)
        await server.shutdown(1)

    asyncio.run(scenario())


class Bound:
    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)

    def bound_addresses(self) -> list[str]:
        return self.addresses


@pytest.mark.parametrize(("addresses", "warned"), [
    (("127.0.0.1",), False),
    (("127.0.0.2", "::1", "::ffff:127.0.0.1"), False),
    (("0.0.0.0",), True),
    (("::",), True),
    (("127.0.0.1", "192.0.2.7"), True),
])
def test_a_port_beyond_loopback_is_warned_of(addresses: tuple[str, ...],
                                             warned: bool) -> None:
    logged: list[tuple] = []
    listener = Listener(host="h", port=2375)
    warn_if_exposed(Bound(*addresses), listener,
                    lambda *args, **fields: logged.append((*args, fields)))
    assert bool(logged) == warned
    if warned:
        level, message, fields = logged[0]
        assert level == "warning" and "without TLS is insecure" in message
        assert "root access" in message and fields["host"] == "tcp://h:2375"
