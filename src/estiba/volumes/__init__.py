"""Volumes: data that outlives its containers, as Docker's ``local`` driver keeps it.

Owns: the volumes' directories (``<root>/volumes/<name>/_data``, what containers bind),
their records (``metadata.volumes``), names (Docker's rule), and the local driver's
options (``type``, ``device``, ``o``): such a volume is a mount (a tmpfs, a bind of a
host path, a block device) on its ``_data``, made when a container needs it and undone
when none does. Who uses a volume is the engine's to say. Nothing is created or removed
outside ``<root>/volumes`` but a bind volume's own mount.
May import: ``estiba.kernel``, ``estiba.metadata``, ``estiba.errors``, ``estiba.oci``.
Modules: ``service`` (``VolumeService``).
"""
