"""Images on disk: layers applied and diffed, base images built offline, OCI layouts.

Owns: the whiteout name rules (``whiteouts``), the layer applier with its safe
extraction (``layer``), compression (``compression``), the diff direction — an overlay
upper directory back to a layer tar, ``docker diff``'s changes, a tree's export —
(``diff``), ``busybox:latest`` built from the host's busybox-static (``base``) and
``debian:bookworm`` from debootstrap (``debian``), archives and layouts read as byte
ranges (``sources``), the OCI image layout (``layout``), ``docker save`` archives
(``archive``), ``docker import`` (``importer``, with the Dockerfile instructions it
takes in ``instructions``), the gc references of image documents (``references``),
images named in a namespace (``naming``), and the unpacking of an image into snapshots
by chain ID (``unpack``).
May import: ``estiba.errors``, ``estiba.oci``, ``estiba.kernel``, ``estiba.content``,
``estiba.metadata``, ``estiba.snapshots``.
Spec: OCI image spec, ``layer.md`` (changesets, whiteouts, opaque whiteouts) and
``image-layout.md``.
"""

from estiba.images.layer import ApplyResult, apply_layer

__all__ = ["ApplyResult", "apply_layer"]
