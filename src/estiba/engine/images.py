"""Docker's images on the core's image service, in the engine's namespace: the list and
inspect objects (the Id is the config's digest), and a pull that only knows the built-in
busybox (no registry client yet)."""

from __future__ import annotations

from estiba import errors
from estiba.core.images import normalise
from estiba.images import naming
from estiba.oci import reference

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any


class Images:
    def __init__(self, core: Any, namespace: str) -> None:
        self.core = core
        self.namespace = namespace

    def resolve(self, name: str) -> Any:
        """The image record ``name`` refers to (busybox provided if missing): NotFound
        says ``No such image`` as Docker does."""
        try:
            return self.core.images.resolve(self.namespace, name)
        except errors.NotFound as err:
            raise errors.NotFound(f"No such image: {_familiar(name)}") from err

    def image_id(self, name: str) -> str:
        manifest, _ = self.core.images.manifest(self.namespace, name)
        return str(manifest.config.digest)

    def _describe(self, image: Any) -> tuple[str, dict, int]:
        manifest, _ = self.core.images.manifest(self.namespace, image.name)
        config = self.core.images.config(self.namespace, image.name)
        size = sum(layer.size for layer in manifest.layers)
        return str(manifest.config.digest), config, size

    def list(self) -> list[dict]:
        """``GET /images/json``: one item per image (its tags grouped)."""
        by_id: dict[str, dict] = {}
        for image in self.core.images.list(self.namespace):
            try:
                image_id, config, size = self._describe(image)
            except errors.NotFound:
                continue  # a record whose blobs are not all there
            item = by_id.get(image_id)
            if item is None:
                by_id[image_id] = item = {
                    "Id": image_id, "ParentId": "", "RepoTags": [], "RepoDigests": [],
                    "Created": _created(config), "Size": size, "SharedSize": -1,
                    "Labels": (config.get("config") or {}).get("Labels") or {},
                    "Containers": -1,
                }
            item["RepoTags"].append(_familiar(image.name))
        return list(by_id.values())

    def inspect(self, name: str) -> dict:
        """``GET /images/{name}/json`` (a built-in image is provided when asked for)."""
        image = self.resolve(name)
        image_id, config, size = self._describe(image)
        return {
            "Id": image_id, "RepoTags": [_familiar(image.name)], "RepoDigests": [],
            "Parent": "", "Comment": "", "Created": config.get("created") or "",
            "DockerVersion": "", "Author": config.get("author") or "",
            "Config": config.get("config") or {},
            "Architecture": config.get("architecture") or "",
            "Os": config.get("os") or "linux", "Size": size,
            "GraphDriver": {"Name": "overlayfs", "Data": None},
            "RootFS": config.get("rootfs") or {"Type": "layers", "Layers": []},
            "Metadata": {"LastTagTime": image.updated_at or image.created_at},
        }

    def delete(self, name: str, force: bool = False) -> list[dict]:
        """``DELETE /images/{name}``: untag ``name``; refused while a container uses it
        unless ``force`` (the container keeps its snapshot; the collector frees what
        nothing uses)."""
        try:
            image = self.core.images.get(self.namespace, name)
        except errors.NotFound as err:
            raise errors.NotFound(f"No such image: {_familiar(name)}") from err
        users = [c.id for c in self.core.containers.list(self.namespace)
                 if c.image == image.name]
        if users and not force:
            raise errors.Conflict(
                f"conflict: unable to remove repository reference \"{_familiar(name)}\" "
                f"(must force) - container {users[0][:12]} is using its referenced image")
        self.core.images.delete(self.namespace, image.name)
        return [{"Untagged": _familiar(image.name)}]

    def pull(self, from_image: str, tag: str) -> Iterator[dict]:
        """``POST /images/create``: the progress objects of a pull. Only the built-in
        busybox can be had (no registry client yet): Unimplemented for anything else."""
        name = f"{from_image}:{tag}" if tag and ":" not in from_image.rpartition("/")[2] \
            and "@" not in from_image else from_image
        if normalise(name) != naming.BUSYBOX:
            raise errors.Unimplemented(
                f"pull {_familiar(name)}: pull is not supported yet: busybox:latest is "
                "built in")
        image = self.core.images.resolve(self.namespace, name)
        yield {"status": f"Pulling from {_familiar_repo(image.name)}", "id": "latest"}
        yield {"status": f"Digest: {image.target_digest}"}
        yield {"status": f"Status: Image is up to date for {_familiar(image.name)}"}


def _familiar(name: str) -> str:
    try:
        return reference.parse(name).familiar()
    except Exception:  # noqa: BLE001 - an unparsable name is shown as given
        return name


def _familiar_repo(name: str) -> str:
    try:
        return reference.parse(name).familiar_name()
    except Exception:  # noqa: BLE001 - an unparsable name is shown as given
        return name


def _created(config: dict) -> int:
    from estiba.engine.inspect import parse_time

    try:
        return int(parse_time(config.get("created") or ""))
    except ValueError:
        return 0
