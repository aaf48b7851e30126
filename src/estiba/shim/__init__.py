"""Shims: the small process that sits between the core and one container, as
containerd-shim does — it runs the OCI runtime's ``create`` (or ``exec``), holds the
container's stdio or pty, writes its output to a log, reaps it, records its exit status,
and outlives the daemon.

Owns: ``conmon`` (Debian's ``conmon``, the C shim of Podman and CRI-O, chosen by
measurement: about 0.35 MiB PSS per container): its command line, its sync and start
pipes, the files it leaves in a task's bundle directory.

May import: ``estiba.errors``, ``estiba.oci``, ``estiba.kernel``. The core
(``core/tasks.py``) drives it; a shim never imports the core.
"""
