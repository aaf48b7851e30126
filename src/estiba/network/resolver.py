"""The embedded DNS server of user-defined networks, as Docker has one: inside each
attached container's network namespace a UDP socket at 127.0.0.11:53 (the container's
/etc/resolv.conf names it), all served by one thread of the daemon. A name of the
container's networks (a container's name, short id or alias) gets its addresses; any
other name is forwarded, as it came, to the container's upstream servers — asked from
the host's namespace, so an upstream on the host's loopback works — and their answer
goes back as it came.

The sockets hold their namespaces: ``remove`` closes a container's before its
namespace goes. Queries over TCP are not served.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from estiba.network import dnsmessage as dns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

ADDRESS = "127.0.0.11"
FORWARD_TIMEOUT = 2.0


class Resolver:
    """``lookup(container id, name)``: the addresses of a name on that container's
    networks, None when none of them knows it."""

    def __init__(self, lookup: Callable[[str, str], list[str] | None],
                 open_socket: Callable[[str], socket.socket]) -> None:
        self._lookup = lookup
        self._open_socket = open_socket  # a UDP socket inside the namespace at a path
        self._selector = selectors.DefaultSelector()
        self._served: dict[str, tuple[socket.socket, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._forwards = ThreadPoolExecutor(4, thread_name_prefix="dns-forward")
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="dns", daemon=True)
        self._thread.start()

    def add(self, container_id: str, netns: str, upstreams: Sequence[str]) -> None:
        """Serve the container's namespace at ``netns`` (again: its old socket closed)."""
        sock = self._open_socket(netns)
        try:
            sock.setblocking(False)
            sock.bind((ADDRESS, 53))
        except OSError:
            sock.close()
            raise
        with self._lock:
            old = self._served.pop(container_id, None)
            self._served[container_id] = (sock, tuple(upstreams))
            if old is not None:
                self._selector.unregister(old[0])
                old[0].close()
            self._selector.register(sock, selectors.EVENT_READ, container_id)
        self._wake()

    def serves(self, container_id: str) -> bool:
        with self._lock:
            return container_id in self._served

    def remove(self, container_id: str) -> None:
        with self._lock:
            served = self._served.pop(container_id, None)
            if served is not None:
                self._selector.unregister(served[0])
                served[0].close()
        self._wake()

    def close(self) -> None:
        with self._lock:
            self._closing = True
            for sock, _ in self._served.values():
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
                sock.close()
            self._served.clear()
        self._wake()
        self._thread.join(timeout=5)
        self._forwards.shutdown(wait=False, cancel_futures=True)
        self._wake_r.close()
        self._wake_w.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # --- the thread ------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                self._receive(key.data, key.fileobj)  # type: ignore[arg-type]

    def _receive(self, container_id: str, sock: socket.socket) -> None:
        try:
            data, peer = sock.recvfrom(4096)
        except OSError:
            return
        try:
            query = dns.parse_query(data)
        except ValueError:
            return  # not a query: nothing to answer
        with self._lock:
            upstreams = self._served.get(container_id, (None, ()))[1]
        try:
            addresses = (self._lookup(container_id, query.name)
                         if query.qclass == dns.IN else None)
        except Exception:  # noqa: BLE001 - a lookup failing is the asker's SERVFAIL
            self._reply(sock, dns.error(query, dns.SERVFAIL), peer)
            return
        if addresses is not None:
            reply = (dns.answer(query, addresses) if query.qtype == dns.A
                     else dns.error(query, dns.NOERROR))
            self._reply(sock, reply, peer)
            return
        if not upstreams:
            self._reply(sock, dns.error(query, dns.SERVFAIL), peer)
            return
        self._forwards.submit(self._forward, sock, data, query, peer, upstreams)

    def _forward(self, sock: socket.socket, data: bytes, query: dns.Query,
                 peer: object, upstreams: tuple[str, ...]) -> None:
        for server in upstreams:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
                out.settimeout(FORWARD_TIMEOUT)
                try:
                    out.connect((server, 53))
                    out.send(data)
                    reply = out.recv(65535)
                except OSError:
                    continue
            self._reply(sock, reply, peer)
            return
        self._reply(sock, dns.error(query, dns.SERVFAIL), peer)

    @staticmethod
    def _reply(sock: socket.socket, data: bytes, peer: object) -> None:
        with contextlib.suppress(OSError):  # the socket's container went meanwhile
            sock.sendto(data, peer)
