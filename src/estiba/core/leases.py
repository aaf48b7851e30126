"""The lease service: a namespace's leases (``metadata.leases``), which keep what they
hold from the garbage collector; and ``CollectorLock``, which keeps a collection from
running while work that a lease cannot cover yet is under way."""

from __future__ import annotations

import contextlib
import secrets
import threading

from estiba.metadata.leases import Leases as LeaseRecords

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from estiba.metadata.db import Database
    from estiba.metadata.leases import Lease


class Leases:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, namespace: str) -> list[Lease]:
        return LeaseRecords(self.db, namespace).list()

    def create(self, namespace: str, id: str = "",
               expires_in: float | None = None) -> Lease:
        """Lease ``id`` (a random one when ""), expiring ``expires_in`` seconds from now
        (None: never)."""
        return LeaseRecords(self.db, namespace).create(id or secrets.token_hex(16),
                                                       expires_in)

    def delete(self, namespace: str, id: str) -> None:
        LeaseRecords(self.db, namespace).delete(id)

    def add_resource(self, namespace: str, id: str, kind: str, resource: str) -> None:
        LeaseRecords(self.db, namespace).add_resource(id, kind, resource)

    def resources(self, namespace: str, id: str) -> list[tuple[str, str]]:
        return LeaseRecords(self.db, namespace).resources(id)


class CollectorLock:
    """Shared by work in progress, exclusive to a collection (a readers-writer lock).

    Some work stores resources before it can name them to a lease: an archive load
    commits its blobs, and only then are their digests known. Such work runs ``shared()``
    until the lease holds what it stored; the collector runs ``exclusive()``, so it never
    lists a blob that is stored but not yet held. Works run side by side; a waiting
    collection lets no new work start, so it is never starved.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive and not self._waiting)
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            try:
                self._cond.wait_for(lambda: not self._exclusive and not self._shared)
            finally:
                self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()
