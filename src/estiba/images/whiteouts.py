"""Whiteout names of the OCI image spec (layer.md, "Whiteouts").

A layer deletes a path of the layers below it by carrying an empty file named
``.wh.<name>`` beside it; ``.wh..wh..opq`` in a directory (the opaque whiteout) hides
everything the lower layers put in that directory. Other names starting with
``.wh..wh.`` are AUFS bookkeeping (``.wh..wh.plnk``, ``.wh..wh.aufs``): they are
whiteout-prefixed, never extracted, and mean nothing to the applier.

Pure name rules on one path component; no filesystem access.
"""

from __future__ import annotations

from estiba.errors import InvalidArgument

PREFIX = ".wh."
META_PREFIX = ".wh..wh."
OPAQUE = ".wh..wh..opq"


def is_whiteout(name: str) -> bool:
    """Whether a path component is a whiteout file of any kind (never extracted)."""
    return name.startswith(PREFIX)


def is_opaque(name: str) -> bool:
    """Whether a path component is the opaque whiteout marker."""
    return name == OPAQUE


def is_meta(name: str) -> bool:
    """Whether a path component is AUFS metadata (``.wh..wh.*``), the opaque marker
    included."""
    return name.startswith(META_PREFIX)


def target(name: str) -> str:
    """The component a plain whiteout removes: ``.wh.foo`` -> ``foo``.

    Raises InvalidArgument for names that are not plain whiteouts or whose target is not
    a single ordinary component (empty, ``.``, ``..``, or holding a ``/``).
    """
    if not is_whiteout(name) or is_meta(name):
        raise InvalidArgument(f"whiteout {name!r}: not a plain whiteout name")
    removed = name[len(PREFIX):]
    if removed in ("", ".", "..") or "/" in removed or "\0" in removed:
        raise InvalidArgument(f"whiteout {name!r}: invalid target {removed!r}")
    return removed


def whiteout_for(name: str) -> str:
    """The whiteout file name that removes ``name``: ``foo`` -> ``.wh.foo``."""
    if name in ("", ".", "..") or "/" in name:
        raise InvalidArgument(f"whiteout for {name!r}: not a single path component")
    return PREFIX + name
