"""``docker commit``: a commit's config completed from the container's
(``merge_config``), the image name it asks for (``commit_name``), the new image config
(``commit_image_config``), and the writing of the image (``write_commit``): the writable
layer as a tar, its config and manifest staged and committed together under a lease,
then named.
"""

from __future__ import annotations

import json

from estiba import errors
from estiba.engine.writablelayer import mount_points

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def merge_config(user: Mapping[str, Any], container: Mapping[str, Any]) -> dict:
    """A commit's config: what the request gives (its changes applied), completed from
    the container's Config as Docker's commit does (moby ``daemon/commit.go`` merge):
    User, WorkingDir, StopSignal, Cmd/Entrypoint taken when unset; Env, Labels,
    ExposedPorts and Volumes merged, the request's keys winning (pure)."""
    out = dict(user)
    for key in ("User", "WorkingDir", "StopSignal"):
        if not out.get(key) and container.get(key):
            out[key] = container[key]
    for key in ("ExposedPorts", "Volumes", "Labels"):
        mine = dict(out.get(key) or {})
        for name, value in (container.get(key) or {}).items():
            mine.setdefault(name, value)
        if mine or key == "Labels":
            out[key] = mine
    env = list(out.get("Env") or [])
    names = {e.partition("=")[0] for e in env}
    env += [e for e in container.get("Env") or [] if e.partition("=")[0] not in names]
    if env:
        out["Env"] = env
    if not out.get("Entrypoint"):
        if not out.get("Cmd") and container.get("Cmd"):
            out["Cmd"] = container["Cmd"]
        if out.get("Entrypoint") is None and container.get("Entrypoint"):
            out["Entrypoint"] = container["Entrypoint"]
    if container.get("Healthcheck") and not out.get("Healthcheck"):
        out["Healthcheck"] = container["Healthcheck"]
    return out


def commit_image_config(base: Mapping[str, Any], config: Mapping[str, Any], *,
                        diff_id: str, created: str, author: str = "", comment: str = "",
                        created_by: str = "", container_id: str = "") -> dict:
    """The image config of a commit (pure): the base image's with ``config`` as its
    container config, the new layer's ``diff_id`` appended to its rootfs and one history
    entry appended, as Docker writes them."""
    rootfs = dict(base.get("rootfs") or {})
    diff_ids = [*(rootfs.get("diff_ids") or []), diff_id]
    entry: dict[str, object] = {"created": created}
    if author:
        entry["author"] = author
    if created_by:
        entry["created_by"] = created_by
    if comment:
        entry["comment"] = comment
    out: dict[str, Any] = {
        "architecture": base.get("architecture") or "",
        "os": base.get("os") or "linux",
        "created": created,
        "config": dict(config),
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [*(base.get("history") or []), entry],
    }
    for key in ("variant", "os.version", "os.features"):
        if base.get(key):
            out[key] = base[key]
    if author:
        out["author"] = author
    if comment:
        out["comment"] = comment
    if container_id:
        out["container"] = container_id
    return out


def commit_name(repo: str, tag: str) -> str:
    """The image name a commit asks for: ``repo:tag``, ``repo`` (``latest``), or "" for
    an untagged image; InvalidArgument for a tag without a repository (pure)."""
    if not repo:
        if tag:
            raise errors.InvalidArgument("tag is specified without a repository")
        return ""
    from estiba.oci import reference

    name = f"{repo}:{tag}" if tag else repo
    try:
        return str(reference.parse(name))
    except Exception as err:  # noqa: BLE001 - any parse failure is the client's
        raise errors.InvalidArgument(f"invalid reference format: {err}") from err


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def write_commit(core: Any, namespace: str, container: Any, upper: str,
                 lowers: list[str], *, name: str, config: dict,
                 container_config: dict, base_config: dict, base_manifest: dict,
                 author: str, comment: str) -> dict:
    """The image of a commit written to ``core``'s store and named ``name`` (untagged
    when empty): the writable layer ``upper`` over ``lowers`` as a new layer on the base
    image's (``base_manifest``, ``base_config``): {"Id"}."""
    import hashlib
    import secrets

    from estiba.content.store import abort_staged, commit_together
    from estiba.core.images import untagged_name
    from estiba.images import diff, naming
    from estiba.metadata import leases
    from estiba.oci import image as oci
    from estiba.oci.state import timestamp

    store, db = core.store, core.db
    docker = base_manifest.get("mediaType") == oci.DOCKER_MANIFEST
    token = secrets.token_hex(8)
    staged: list[tuple[str, Any]] = []

    def stage(what: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        writer = store.writer(f"commit-{token}-{what}", total=len(data))
        staged.append((digest, writer))
        writer.write(data)
        return digest

    created = timestamp()
    cmd = container_config.get("Cmd") or []
    with leases.temporary(db, namespace, "commit") as hold, \
            core.images.collector.shared():
        try:
            writer = store.writer(f"commit-{token}-layer")
            staged.append(("", writer))
            layer = diff.write_layer(upper, writer, lower_dirs=lowers,
                                     skip=mount_points(upper, lowers))
            staged[0] = (layer.digest, writer)
            image_config = commit_image_config(
                base_config, config, diff_id=layer.diff_id, created=created,
                author=author, comment=comment,
                created_by=" ".join(cmd) if isinstance(cmd, list) else str(cmd),
                container_id=container.id)
            raw_config = _json(image_config)
            config_digest = stage("config", raw_config)
            manifest = {
                "schemaVersion": 2,
                "mediaType": oci.DOCKER_MANIFEST if docker else oci.OCI_MANIFEST,
                "config": {"mediaType": oci.DOCKER_CONFIG if docker else oci.OCI_CONFIG,
                           "digest": config_digest, "size": len(raw_config)},
                "layers": [*(base_manifest.get("layers") or []), {
                    "mediaType": oci.DOCKER_LAYER if docker else oci.OCI_LAYER,
                    "digest": layer.digest, "size": layer.size}],
            }
            manifest_digest = stage("manifest", _json(manifest))
        except BaseException:
            abort_staged(store, staged)
            raise
        for digest, _ in staged:
            hold("content", digest)
        commit_together(store, staged)
        naming.name_image(store, db, namespace, name or untagged_name(manifest_digest),
                          manifest_digest)
    return {"Id": config_digest}
