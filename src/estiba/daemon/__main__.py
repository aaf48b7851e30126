"""``python -m estiba.daemon``: run estibad."""

from estiba.daemon.main import run_main

run_main()
