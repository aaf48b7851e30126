"""The docker-compatible commands of ``estiba`` (``estiba ps``, ``images``, ``inspect``,
``rm``, ``version``): the flags, the output and the exit statuses of the docker CLI
(version 28), which is their spec.

Owns: ``flags`` (pflag's grammar), ``output`` (pure formatting: rows, ports, sizes,
durations), ``context`` (the host, the client, errors to exit statuses) and one module
per noun or verb group. May import ``estiba.client``, ``estiba.cli.gotemplate``,
``estiba.errors``, ``estiba.oci``, ``estiba.units``. Start-up matters: a command's
module is imported only when named, and none imports ``json``, ``re`` or ``argparse``.
"""
