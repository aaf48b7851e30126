"""Pure data of the OCI specs: the runtime's config.json and state records.

Owns: typed records and their parsers (``runtime_config``), the runtime state
(``state``). Imports nothing of estiba but ``errors``. Specs: opencontainers/runtime-spec
config.md, config-linux.md, runtime.md.
"""
