"""``estiba-runtime``: an OCI runtime with runc's command line (runc's role).

Owns: the container lifecycle of the OCI runtime spec (runtime.md) — ``create``,
``start``, ``state``, ``kill``, ``delete`` — and runc's other verbs (``run``, ``exec``,
``ps``, ``pause``, ``resume``, ``update``, ``list``, ``spec``). One module per verb; the
config is validated (``validate``), turned into a plan (``plan``, pure), and the plan is
applied by the forked init (``init``, ``process``). State lives under ``--root``
(``container``). May import: ``estiba.oci``, ``estiba.errors``, ``estiba.kernel``,
``estiba.cgroups`` — never images, snapshots or content: storage and execution meet only
through a rootfs path.
"""
