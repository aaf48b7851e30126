"""The core: containerd's role. Small services over the storage layers and the OCI
runtime, which every front end (the core API and ``estiba ctr``, later the Docker
engine) calls; records live in the metadata database, bytes in the content store and
the snapshotter, running processes with their shims.

Services (one module each; a service takes its dependencies in its constructor, and
``Core`` in ``core/services.py`` composes them for one daemon root):

- ``namespaces.Namespaces``  list, create, delete (``metadata.namespaces``).
- ``content.Content``        list, info, delete blobs (``content.store`` + labels).
- ``images.Images``          list, get, import_archive (docker save/OCI tar),
                             export_archive, tag, delete, provide_busybox, unpack
                             (into the namespace's snapshotter).
- ``snapshots.Snapshots``    list, info, usage, tree for a namespace.
- ``containers.Containers``  create, get, list, update, delete container records.
- ``tasks.Tasks``            create, start, kill, delete, wait, exec, pause, resume,
                             ps, metrics, list, adopt (after a daemon restart).
- ``leases.Leases``          list, create, delete.
- ``events.Events``          publish and subscribe to typed events.

A container's steps (``steps.py``: the details of a mount, a runtime's command, the
namespaces and cgroup its process got) are told to the service's ``note``, which the
engine points at its journal (``estiba run --explain``).

Records (``oci.record.Record``, immutable):

- ``Container``: namespace, id, image (normalised name, "" if none), runtime (a
  configured runtime's name: ``estiba``, ``runc``), snapshotter, snapshot_key, spec (the
  OCI runtime config, a JSON object as dict), labels, created_at, updated_at.
- ``Task``: namespace, id (the container's), pid, status (``created``, ``running``,
  ``paused``, ``stopped``), exit_status (None while alive), exited_at, terminal, log_path.
- ``Event``: topic (``/containers/create``, ``/tasks/start``, ``/tasks/exit``,
  ``/images/create`` ...), namespace, timestamp (RFC 3339), attributes (dict).

Tasks run under a shim: Debian's ``conmon`` (C), one per container, chosen by
measurement (about 0.35 MiB PSS per container with 50 running, against 2.6 MiB for a
containerd-shim-runc-v2 and 2.4 MiB for the barest Python process). It runs the OCI
runtime's ``create``, holds the container's stdio or pty, writes its output in the CRI
log format, reaps it and writes its exit status to a file, and outlives the daemon.

Layout under the daemon's roots (``root`` default /var/lib/estiba, ``exec_root``
/run/estiba; see ``../shared/ARCHITECTURE.md``): a task's bundle is
``<exec_root>/tasks/<namespace>/<id>/`` (config.json, rootfs/ mounted from the snapshot,
the shim's pid file, exit file and sockets); the runtime's state is under
``<exec_root>/runtime/<runtime name>/<namespace>``; logs are
``<root>/tasks/<namespace>/<id>/<id>.log`` unless the caller names another path.

May import everything at layers 0 to 3 (``oci``, ``kernel``, ``content``, ``metadata``,
``cgroups``, ``mounts``, ``snapshots``, ``images``), never ``runtime`` (it is driven
through its command line), ``api``, ``cli`` or ``daemon``.
"""
