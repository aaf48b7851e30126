"""The docker-compatible commands of ``estiba`` (``estiba ps``, ``images``, ``inspect``,
``rm``, ``version``): the flags, the output and the exit statuses of the docker CLI
(version 28), which is their spec.

Owns: ``flags`` (pflag's grammar, cobra's argument counts, the ``--filter`` and map
values), ``gonumbers`` (Go's integer syntax), ``timefilters`` (``--since``/``--until``),
``output`` (pure formatting: rows, ports, sizes, durations, docker's natural order),
``context`` (the host, the client, errors to exit statuses, acting on each name),
``pruning`` (what the prune commands share) and one module per noun or verb group.
May import ``estiba.client``, ``estiba.cli.gotemplate``, ``estiba.errors``,
``estiba.oci``, ``estiba.units``. Start-up matters: a command's module is imported
only when named, and none imports ``json``, ``re`` or ``argparse``.
"""
