"""The daemon's front doors: thin adapters from a wire protocol to the services below
(``api/core`` to ``core/``; ``api/docker``, later, to ``engine/``). No semantics here:
decode, call, encode, and map the error taxonomy to status codes in one place."""
