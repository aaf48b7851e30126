"""Image layers on disk: applying a layer tar onto a directory (and, later, the diff
direction, an overlay upper dir back to a layer tar), unpacking images, OCI layouts.

Owns: the whiteout name rules (``whiteouts``), the layer applier with its safe
extraction (``layer``).
May import: ``estiba.errors``, ``estiba.oci``, ``estiba.kernel`` (and ``estiba.content``).
Spec: OCI image spec, ``layer.md`` (changesets, whiteouts, opaque whiteouts).
"""

from estiba.images.layer import ApplyResult, apply_layer

__all__ = ["ApplyResult", "apply_layer"]
