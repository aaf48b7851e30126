"""Metadata: what the engine knows about its objects, in one SQLite database (WAL).

Owns: the schema and its migrations (``db``), namespaces (``namespaces``), leases
(``leases``), snapshots (``snapshots``) and images (``images``) — the records; the bytes
they describe live in ``content/`` and ``snapshots/``. Objects are namespaced as
containerd's are: Docker-level objects live in the namespace ``docker``, others stay
apart. Every change is one transaction.
May import: ``estiba.errors`` and ``estiba.oci``.
"""
