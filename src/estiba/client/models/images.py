"""Images as objects: ``Image`` and ``ImageCollection`` (get, list, pull, load,
create from a filesystem tar, remove, prune)."""

from __future__ import annotations

from estiba.client.models.resource import Collection, Model, merge_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from typing import Any, BinaryIO

NO_TAG = "<none>:<none>"


def split_tag(reference: str) -> tuple[str, str]:
    """(repository, tag) of a reference; the tag ``""`` when it names none (or names
    a digest, kept in the repository part: ``busybox@sha256:...``). A colon before the
    last slash is a registry's port, not a tag."""
    if "@" in reference:
        return reference, ""
    name, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, ""
    return name, tag


def loaded_names(progress: Iterable[Mapping[str, Any]]) -> list[str]:
    """The images a load reports (``Loaded image: NAME`` / ``Loaded image ID: ID``)."""
    names = []
    for item in progress:
        for line in str(item.get("stream", "")).splitlines():
            for prefix in ("Loaded image: ", "Loaded image ID: "):
                if line.startswith(prefix):
                    names.append(line[len(prefix):].strip())
    return names


class Image(Model):
    def _inspect(self) -> dict[str, Any]:
        return self.client.calls.inspect_image(self.id)

    @property
    def short_id(self) -> str:
        """The 12 hex digits ``docker images`` shows."""
        return self.id.removeprefix("sha256:")[:12]

    @property
    def tags(self) -> list[str]:
        return [t for t in self.attrs.get("RepoTags") or () if t != NO_TAG]

    @property
    def name(self) -> str:
        """Its first tag, ``""`` for an untagged image."""
        tags = self.tags
        return tags[0] if tags else ""

    @property
    def labels(self) -> dict[str, str]:
        return (self.attrs.get("Config") or {}).get("Labels") or {}

    def tag(self, repository: str, tag: str = "") -> None:
        """Name it ``repository:tag`` too (``tag`` ``""``: latest)."""
        self.client.calls.tag(self.id, repository, tag)
        self.reload()

    def history(self) -> list[dict[str, Any]]:
        return self.client.calls.history(self.id)

    def save(self) -> Iterator[bytes]:
        """A ``docker save`` tar of it, with its tags (a load restores them)."""
        return self.client.calls.save(self.tags or [self.id])

    def remove(self, force: bool = False, noprune: bool = False) -> list[dict[str, str]]:
        """What the daemon did: ``{"Untagged": ...}`` and ``{"Deleted": ...}`` items."""
        return self.client.calls.remove_image(self.id, force, noprune)


class ImageCollection(Collection):
    def get(self, name: str) -> Image:
        return Image(self.api.inspect_image(name), self.client)

    def list(self, name: str = "", *, all: bool = False,
             filters: Mapping[str, Any] | None = None, sparse: bool = False,
             **more_filters: Any) -> list[Image]:
        """The images (``name``: those of that reference, as ``docker images NAME``);
        filters as ``docker images --filter`` (``dangling=True``, ``label=...``)."""
        merged = merge_filters(filters, {**more_filters, "reference": name or None})
        found = self.api.images(all=all, filters=merged)
        if sparse:
            return [Image(item, self.client) for item in found]
        return [Image(attrs, self.client) for attrs in self._all_inspected(
            [item["Id"] for item in found], self.api.inspect_image)]

    def pull(self, repository: str, tag: str = "", platform: str = "") -> Image:
        """Pull it (``latest`` when neither ``tag`` nor the name gives a tag or digest,
        as the CLI does) and return it."""
        if not tag:
            repository, tag = split_tag(repository)
            if not tag and "@" not in repository:
                tag = "latest"
        for _ in self.api.pull(repository, tag, platform):
            pass
        return self.get(f"{repository}:{tag}" if tag else repository)

    def load(self, data: bytes | BinaryIO) -> list[Image]:
        """Load a ``docker save`` tar; the images it held (each once, however many of
        its names the tar held)."""
        images: dict[str, Image] = {}
        for name in loaded_names(self.api.load(data)):
            image = self.get(name)
            images.setdefault(image.id, image)
        return list(images.values())

    def create(self, data: bytes | BinaryIO, repository: str = "", tag: str = "",
               changes: Sequence[str] = ()) -> Image:
        """An image of the filesystem tar ``data`` (``docker import``); ``changes``:
        Dockerfile instructions for its config."""
        progress = list(self.api.import_image(data, repository, tag, changes))
        made = next((p["status"] for p in reversed(progress) if p.get("status")), "")
        return self.get(made.strip())

    def remove(self, image: str, force: bool = False, noprune: bool = False
               ) -> list[dict[str, str]]:
        return self.api.remove_image(image, force, noprune)

    def prune(self, filters: Mapping[str, Any] | None = None, **more_filters: Any
              ) -> dict[str, Any]:
        """Remove the dangling images (``dangling=False``: every unused one):
        ``{"ImagesDeleted", "SpaceReclaimed"}``."""
        return self.api.prune_images(merge_filters(filters, more_filters))
