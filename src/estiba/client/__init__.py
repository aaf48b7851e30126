"""Clients of the daemon's APIs, over HTTP on its unix sockets: what the command lines,
compose and the dashboard use; they never import the core. ``core.py`` speaks the core
API (``estiba ctr``); ``docker.py`` is the low-level Docker API client, one method per
endpoint (it works against any Docker-compatible daemon). ``connection.py`` is the
small HTTP/1.1 client both use, ``streams.py`` Docker's multiplexed stream frames.

May import ``estiba.errors`` and ``estiba.oci`` only.
"""
