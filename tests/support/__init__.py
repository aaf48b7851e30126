"""Helpers for Estiba's tests: bundles and their default config, the busybox rootfs, the
in-container probe, calls to ``estiba-runtime``, and the kernel-leak check.

Imported by tests/conftest.py (which puts tests/ on ``sys.path``) as ``support.<module>``.
Uses only the standard library and pytest; never imports estiba, so it can drive any OCI
runtime (``ESTIBA_RUNTIME=runc`` runs the runtime tests against runc).
"""
