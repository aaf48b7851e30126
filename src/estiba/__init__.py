"""Estiba: a container engine.

The package is layered (see ARCHITECTURE.md): ``oci`` and ``errors`` are pure data,
``kernel`` is the only code that calls the kernel, ``cgroups`` manages control groups,
and ``runtime`` is ``estiba-runtime``, an OCI runtime with runc's command line.
"""

__version__ = "0.1.0"
