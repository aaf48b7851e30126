"""``estibad``, the daemon: the one composition root. It reads the configuration
(``config.py``), builds the core's services (``build_core`` in ``main.py``), serves the
core API (``api/core``) on ``--core-address`` and the Docker API (``api/docker``, over
``engine/``) on each ``--host``,
and stops cleanly on SIGTERM or SIGINT, leaving the containers running (unless
``live-restore = false``). Nothing imports this package; it may import every other.

Start: ``python -m estiba.daemon`` or the ``.venv/bin/estibad`` launcher (written by
``scripts/install.sh``, ``python -S``). The systemd unit is ``packaging/estibad.service``.
"""
