"""``estiba ctr``: containerd's ``ctr`` for Estiba's core API, one module per noun
(``images.py``, ``containers.py``, ``tasks.py`` ...), as ctr has. Output (tables,
column names, sizes) is ctr's; errors are ``ctr: <message>`` on stderr with exit
status 1. ``main.py`` reads the global options (``-a/--address``, ``-n/--namespace``,
or ``ESTIBA_ADDRESS``, ``ESTIBA_NAMESPACE``) and imports only the named noun's module.
"""
