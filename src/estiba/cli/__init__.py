"""The ``estiba`` command line (``python -m estiba.cli``, ``.venv/bin/estiba``):
``estiba ctr``, containerd's ``ctr`` for Estiba's core API (``cli/ctr/``), and the
docker-compatible commands (``cli/docker/``: so far version, ps, images, inspect, rm)
on the Docker API client, with ``--format`` templates (``cli/gotemplate/``);
``estiba compose`` and ``estiba registry`` come later.

Front end only: it talks HTTP to the daemon through ``estiba.client`` and never
imports the core or the engine. Start-up matters (a command is one process): argv is
parsed by hand (``args.py``; argparse costs ~8 ms to import) and each noun's module is
imported only when named.

May import ``estiba.client``, ``estiba.errors``, ``estiba.oci``.
"""
