"""``python -m estiba.cli``: the ``estiba`` command."""

from estiba.cli.main import run_main

run_main()
