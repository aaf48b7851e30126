"""Networks as objects: ``Network`` (connect, disconnect, remove, its containers) and
``NetworkCollection`` (get, list, create, prune)."""

from __future__ import annotations

from estiba.client.models.containers import Container, id_of
from estiba.client.models.errors import NotFound
from estiba.client.models.resource import Collection, Model, merge_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any


def network_body(name: str, *, driver: str = "", internal: bool = False,
                 attachable: bool = False, enable_ipv6: bool | None = None,
                 labels: Mapping[str, str] | None = None,
                 options: Mapping[str, str] | None = None,
                 ipam: Mapping[str, Any] | None = None, subnet: str = "",
                 gateway: str = "", ip_range: str = "") -> dict[str, Any]:
    """The body of ``POST /networks/create``; ``subnet``/``gateway``/``ip_range``
    are the one IPAM pool of ``docker network create --subnet ...`` (or give
    ``ipam``, Docker's IPAM object, whole)."""
    body: dict[str, Any] = {"Name": name}
    if driver:
        body["Driver"] = driver
    if internal:
        body["Internal"] = True
    if attachable:
        body["Attachable"] = True
    if enable_ipv6 is not None:
        body["EnableIPv6"] = enable_ipv6
    if labels:
        body["Labels"] = dict(labels)
    if options:
        body["Options"] = dict(options)
    pool = {k: v for k, v in (("Subnet", subnet), ("Gateway", gateway),
                              ("IPRange", ip_range)) if v}
    if ipam and pool:
        from estiba import errors

        raise errors.InvalidArgument("ipam and subnet/gateway/ip_range: give one form")
    if ipam:
        body["IPAM"] = dict(ipam)
    elif pool:
        body["IPAM"] = {"Driver": "default", "Config": [pool]}
    return body


def endpoint_config(aliases: Sequence[str] = (), ipv4_address: str = "",
                    ipv6_address: str = "", links: Sequence[str] = (),
                    driver_opts: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The EndpointConfig of a connect (None when nothing is asked)."""
    config: dict[str, Any] = {}
    if aliases:
        config["Aliases"] = list(aliases)
    if links:
        config["Links"] = list(links)
    addresses = {k: v for k, v in (("IPv4Address", ipv4_address),
                                   ("IPv6Address", ipv6_address)) if v}
    if addresses:
        config["IPAMConfig"] = addresses
    if driver_opts:
        config["DriverOpts"] = dict(driver_opts)
    return config or None


class Network(Model):
    def _inspect(self) -> dict[str, Any]:
        return self.client.calls.inspect_network(self.id)

    @property
    def containers(self) -> list[Container]:
        """The containers attached to it (as last inspected: ``reload()`` first)."""
        found = []
        for id in self.attrs.get("Containers") or {}:
            try:
                found.append(self.client.containers.get(id))
            except NotFound:
                continue  # removed since the inspect
        return found

    def connect(self, container: Container | str, *, aliases: Sequence[str] = (),
                ipv4_address: str = "", ipv6_address: str = "",
                links: Sequence[str] = (), driver_opts: Mapping[str, str] | None = None
                ) -> None:
        self.client.calls.connect(self.id, id_of(container), endpoint_config(
            aliases, ipv4_address, ipv6_address, links, driver_opts))

    def disconnect(self, container: Container | str, force: bool = False) -> None:
        self.client.calls.disconnect(self.id, id_of(container), force)

    def remove(self) -> None:
        self.client.calls.remove_network(self.id)


class NetworkCollection(Collection):
    def get(self, id_or_name: str) -> Network:
        return Network(self.api.inspect_network(id_or_name), self.client)

    def list(self, *, names: Sequence[str] = (), ids: Sequence[str] = (),
             filters: Mapping[str, Any] | None = None, sparse: bool = False,
             **more_filters: Any) -> list[Network]:
        """The networks, filtered as ``docker network ls --filter`` (``driver=...``,
        ``label=...``); ``sparse``: ``attrs`` the list's form (no ``Containers``)."""
        merged = merge_filters(filters, {**more_filters, "name": list(names) or None,
                                         "id": list(ids) or None})
        found = self.api.networks(filters=merged)
        if sparse:
            return [Network(item, self.client) for item in found]
        return [Network(attrs, self.client) for attrs in self._all_inspected(
            [item["Id"] for item in found], self.api.inspect_network)]

    def create(self, name: str, **options: Any) -> Network:
        """A new network; ``options``: see ``network_body`` (driver, internal, labels,
        subnet ...)."""
        made = self.api.create_network(network_body(name, **options))
        return self.get(made["Id"])

    def prune(self, filters: Mapping[str, Any] | None = None, **more_filters: Any
              ) -> dict[str, Any]:
        """Remove the unused networks: ``{"NetworksDeleted"}``."""
        return self.api.prune_networks(merge_filters(filters, more_filters))
