"""Metadata: what the engine knows about its objects, in one SQLite database (WAL).

Owns: the schema and its migrations (``db``), namespaces (``namespaces``), leases
(``leases``), snapshots (``snapshots``), images (``images``) and content labels
(``content``) — the records; the bytes they describe live in ``content/`` and
``snapshots/``. And garbage collection (``gc``): which blobs, snapshots and ingests no
image, lease or root label reaches, deleted through the content store's and the
snapshotters' public verbs (taken as parameters, never imported). Objects are namespaced as
containerd's are: Docker-level objects live in the namespace ``docker``, others stay
apart. Every change is one transaction.
May import: ``estiba.errors`` and ``estiba.oci``.
"""
