"""Volumes as objects: ``Volume`` (its name is its id) and ``VolumeCollection`` (get,
list, create, prune)."""

from __future__ import annotations

from estiba.client.models.resource import Collection, Model, merge_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class Volume(Model):
    def _inspect(self) -> dict[str, Any]:
        return self.client.calls.inspect_volume(self.id)

    @property
    def id(self) -> str:
        return self.attrs["Name"]

    def remove(self, force: bool = False) -> None:
        self.client.calls.remove_volume(self.id, force)


class VolumeCollection(Collection):
    def get(self, name: str) -> Volume:
        return Volume(self.api.inspect_volume(name), self.client)

    def list(self, *, filters: Mapping[str, Any] | None = None, **more_filters: Any
             ) -> list[Volume]:
        """The volumes, filtered as ``docker volume ls --filter`` (``dangling=True``,
        ``label=...``, ``name=...``); the list's objects are the inspect's."""
        found = self.api.volumes(filters=merge_filters(filters, more_filters))
        return [Volume(item, self.client) for item in found.get("Volumes") or ()]

    def create(self, name: str = "", *, driver: str = "",
               driver_opts: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None) -> Volume:
        """A new volume (``name`` ``""``: the daemon names it)."""
        body: dict[str, Any] = {"Name": name}
        if driver:
            body["Driver"] = driver
        if driver_opts:
            body["DriverOpts"] = dict(driver_opts)
        if labels:
            body["Labels"] = dict(labels)
        return Volume(self.api.create_volume(body), self.client)

    def prune(self, filters: Mapping[str, Any] | None = None, **more_filters: Any
              ) -> dict[str, Any]:
        """Remove the unused anonymous volumes (``all=True``: named ones too, API
        1.42+): ``{"VolumesDeleted", "SpaceReclaimed"}``."""
        return self.api.prune_volumes(merge_filters(filters, more_filters))
