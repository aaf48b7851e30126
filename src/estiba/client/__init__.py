"""Clients of the daemon's APIs, over HTTP on its unix sockets: what the command lines,
compose and the dashboard use; they never import the core. ``core.py`` speaks the core
API (``estiba ctr``); the Docker API client comes next (it works against any
Docker-compatible daemon). ``connection.py`` is the small HTTP/1.1 client both use.

May import ``estiba.errors`` and ``estiba.oci`` only.
"""
