"""``NetworkService``: networks and endpoints as the daemon keeps them — the records
(``metadata.networks``), their addresses (``ipam``), the bridges and veths (``bridge``),
the containers' network namespaces (``<exec root>/netns/<container id>``) and the
firewall (``firewall``, one nft table recomputed from the records on each change).

Kernel objects are named for the daemon's instance (ARCHITECTURE.md, "Names"): the
default network's bridge is ``estiba0`` (``es-<instance>`` for another instance), a
user-defined network's ``es-<12 hex digits of its id>``, the table ``estiba``
(``estiba-<instance>``). Every method may be called from any thread.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import threading
from typing import Protocol

from estiba.errors import (
    EstibaError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from estiba.metadata import networks as records
from estiba.network import ipam
from estiba.network.bridge import veth_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from estiba.metadata.db import Database
    from estiba.network.bridge import BridgeDriver
    from estiba.network.firewall import BridgeNet
    from estiba.network.ports import Mapping
    from estiba.network.resolver import Resolver

DEFAULT_NETWORK = "bridge"
BUILTIN = {"bridge": "bridge", "host": "host", "none": "null"}
DEFAULT_MTU = 1500


def instance_names(instance: str) -> tuple[str, str]:
    """(default bridge, nft table) of a daemon instance."""
    if instance == "estiba":
        return "estiba0", "estiba"
    return f"es-{instance}"[:15], f"estiba-{instance}"


class Firewall(Protocol):
    def apply(self, table: str, nets: list, published: list) -> None: ...

    def delete(self, table: str) -> None: ...


class Forwarding(Protocol):
    def ensure(self, bridge: str) -> None: ...

    def remove(self, bridge: str) -> None: ...


class Attachment:
    """What a container asks of one network: a static address, aliases, ports."""

    __slots__ = ("network", "address", "aliases", "ports", "names")

    def __init__(self, network: str, address: str = "", aliases: Sequence[str] = (),
                 ports: Sequence[Mapping] = (), names: Sequence[str] = ()) -> None:
        self.network = network
        self.address = address
        self.aliases = tuple(aliases)
        self.ports = tuple(ports)
        self.names = tuple(names)  # what the embedded DNS answers with its address


class NetworkService:
    def __init__(self, db: Database, exec_root: str, driver: BridgeDriver, *,
                 instance: str = "estiba", firewall: Firewall | None = None,
                 forwarding: Forwarding | None = None,
                 write_sysctl: Callable[[str, str], None] | None = None,
                 resolver: Callable[[NetworkService], Resolver] | None = None) -> None:
        self.db = db
        self.driver = driver
        self.netns_dir = os.path.join(exec_root, "netns")
        self.default_bridge, self.table = instance_names(instance)
        self._firewall = firewall
        self._forwarding = forwarding
        self._write_sysctl = write_sysctl or _write_sysctl
        self._lock = threading.RLock()  # the firewall's state and the bridges
        self.resolver = resolver(self) if resolver is not None else None
        # a container's steps, for its journal (``core/steps.py``'s ``Note``): given by
        # the engine
        self.note: Callable[..., None] = _no_note

    # --- networks ----------------------------------------------------------------------

    def store(self, namespace: str) -> records.Networks:
        return records.Networks(self.db, namespace)

    def ensure_defaults(self, namespace: str) -> None:
        """The built-in networks ``bridge``, ``host`` and ``none`` of ``namespace``, and
        the default bridge up in the kernel."""
        store = self.store(namespace)
        for name, driver in BUILTIN.items():
            if store.by_name(name) is not None:
                continue  # restore() at daemon start gave it its kernel side
            config: dict = {"builtin": True}
            if driver == "bridge":
                plan = ipam.plan(taken=self._taken_subnets())
                config.update(subnet=plan.subnet, gateway=plan.gateway,
                              ip_range=plan.ip_range, bridge=self.default_bridge,
                              mtu=DEFAULT_MTU, icc=True, masquerade=True)
            try:
                made = store.create(records.NetworkRecord(
                    namespace=namespace, id=secrets.token_hex(32), name=name,
                    driver=driver, config=config))
            except EstibaError:
                if store.by_name(name) is None:  # not a concurrent maker's
                    raise
                continue
            self.restore_network(made)

    def create(self, namespace: str, name: str, *, driver: str = "bridge",
               subnet: str = "", gateway: str = "", ip_range: str = "",
               internal: bool = False, options: dict | None = None,
               labels: dict | None = None, attachable: bool = False) -> records.NetworkRecord:
        if driver != "bridge":
            raise InvalidArgument(f"plugin \"{driver}\" not found" if driver not in
                                  ("host", "null") else
                                  f"only one instance of \"{driver}\" network is allowed")
        options = dict(options or {})
        network_id = secrets.token_hex(32)
        with self._lock:
            plan = ipam.plan(subnet=subnet, gateway=gateway, ip_range=ip_range,
                             taken=self._taken_subnets())
            bridge = str(options.get("com.docker.network.bridge.name")
                         or f"es-{network_id[:12]}")
            if len(bridge.encode()) > 15:
                raise InvalidArgument(f"bridge name {bridge!r}: longer than 15 bytes")
            mtu = int(options.get("com.docker.network.driver.mtu") or DEFAULT_MTU)
            config = {"subnet": plan.subnet, "gateway": plan.gateway,
                      "ip_range": plan.ip_range, "bridge": bridge, "mtu": mtu,
                      "internal": bool(internal), "attachable": bool(attachable),
                      "icc": _flag(options, "com.docker.network.bridge.enable_icc"),
                      "masquerade": _flag(options,
                                          "com.docker.network.bridge.enable_ip_masquerade"),
                      "options": options, "ipam_given": bool(subnet)}
            record = self.store(namespace).create(records.NetworkRecord(
                namespace=namespace, id=network_id, name=name, driver=driver,
                config=config, labels=tuple(sorted((labels or {}).items()))))
            try:
                self.restore_network(record)
            except BaseException:
                self.store(namespace).delete(network_id)
                self._bridge_gone(bridge)
                raise
        return record

    def get(self, namespace: str, ref: str) -> records.NetworkRecord:
        """A network by full id, name, or unique id prefix (Docker's order)."""
        store = self.store(namespace)
        every = store.list()
        for match in ([n for n in every if n.id == ref], [n for n in every if n.name == ref],
                      [n for n in every if n.id.startswith(ref)] if ref else []):
            if len(match) == 1:
                return match[0]
            if len(match) > 1:
                raise InvalidArgument(f"network {ref} is ambiguous ({len(match)} matches "
                                      "found based on ID prefix)")
        raise NotFound(f"network {ref} not found")

    def list(self, namespace: str) -> list[records.NetworkRecord]:
        return self.store(namespace).list()

    def remove(self, namespace: str, ref: str) -> records.NetworkRecord:
        network = self.get(namespace, ref)
        if (network.config or {}).get("builtin"):
            raise PermissionDenied(f"{network.name} is a pre-defined network and cannot "
                                   "be removed")
        with self._lock:
            self.store(namespace).delete(network.id)
            self._bridge_gone(str(network.option("bridge")))
        return network

    def restore_network(self, network: records.NetworkRecord) -> None:
        """A bridge network's kernel side as its record says (after a create, at daemon
        start, after a reboot emptied the kernel)."""
        self._bridge_up(network)
        self.refresh_firewall()

    def _bridge_up(self, network: records.NetworkRecord) -> None:
        """The bridge, its sysctls and its forwarding rules (not the firewall)."""
        if network.driver != "bridge":
            return
        from estiba.network.firewall import sysctls

        config = network.config or {}
        bridge = config["bridge"]
        with self._lock:
            self.driver.ensure_bridge(bridge, config["gateway"],
                                      ipaddress.ip_network(config["subnet"]).prefixlen,
                                      mtu=int(config.get("mtu") or 0))
            for path, value in sysctls([_bridge_net(network)]).items():
                self._write_sysctl(path, value)
            if self._forwarding is not None:
                self._forwarding.ensure(bridge)

    def restore(self) -> None:
        """At daemon start: every bridge network's kernel side, the firewall (once), and
        the embedded DNS of the containers whose namespaces outlived the daemon."""
        for network in records.every_network(self.db):
            self._bridge_up(network)
        self.refresh_firewall()
        if self.resolver is None:
            return
        for network, endpoint in records.every_endpoint(self.db):
            path = self.sandbox_path(endpoint.container_id)
            if ((network.config or {}).get("builtin") or not os.path.exists(path)
                    or self.resolver.serves(endpoint.container_id)):
                continue
            with contextlib.suppress(EstibaError, OSError):
                self.resolver.add(endpoint.container_id, path,
                                  (endpoint.config or {}).get("dns") or ())

    def _bridge_gone(self, bridge: str) -> None:
        if self._forwarding is not None:
            self._forwarding.remove(bridge)
        self.driver.remove_bridge(bridge)
        self.refresh_firewall()

    def _taken_subnets(self) -> list[ipaddress.IPv4Network]:
        taken = []
        for cidr in self.driver.taken_subnets():
            try:
                taken.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                continue
        for network in records.every_network(self.db):
            subnet = (network.config or {}).get("subnet")
            if subnet:
                taken.append(ipaddress.ip_network(subnet))
        return [t for t in taken if t.version == 4]  # type: ignore[misc]

    # --- endpoints ---------------------------------------------------------------------

    def sandbox_path(self, container_id: str) -> str:
        return os.path.join(self.netns_dir, container_id)

    def sandbox(self, container_id: str) -> str:
        """The container's network namespace (made when missing, with loopback up)."""
        from estiba.kernel import netns

        path = self.sandbox_path(container_id)
        os.makedirs(self.netns_dir, mode=0o711, exist_ok=True)
        if not os.path.exists(path):
            netns.create(path)
            inode = os.stat(path).st_ino  # the namespace's, read while it is there
            self.note(container_id, "kernel", "network namespace", {
                "path": path, "inode": f"net:[{inode}]",
                "pinned by": "a bind mount of its nsfs file at the path"})
        return path

    def attach(self, namespace: str, container_id: str, attachments: Sequence[Attachment],
               dns: Sequence[str] = ()) -> tuple[str, list[records.EndpointRecord]]:
        """The container's network namespace (made) with an endpoint on each network
        asked; (its path, the endpoints). On a user-defined network the embedded DNS
        serves it, forwarding to ``dns``. The endpoints are undone when a step fails;
        ``release`` takes the namespace."""
        path = self.sandbox(container_id)
        made: list[records.EndpointRecord] = []
        try:
            for index, want in enumerate(attachments):
                made.append(self._attach_one(namespace, container_id, path, want,
                                             ifname=f"eth{index}", first=index == 0,
                                             dns=dns))
            if any((e.config or {}).get("ports") for e in made):
                self.refresh_firewall()
                self.note(container_id, "kernel", "nft rules",
                          lambda: self._rules_of(made))
            if self.resolver is not None and self.user_defined(namespace, made):
                self.resolver.add(container_id, path, dns)
        except BaseException:
            # the endpoints undone; the namespace is the caller's to release (a
            # runtime may be joining it meanwhile)
            for endpoint in made:
                self.disconnect(namespace, container_id, endpoint.network_id)
            raise
        return path, made

    def _attach_one(self, namespace: str, container_id: str, path: str, want: Attachment,
                    ifname: str, first: bool,
                    dns: Sequence[str] = ()) -> records.EndpointRecord:
        network = self.get(namespace, want.network)
        if network.driver != "bridge":
            raise InvalidArgument(f"container cannot be connected to network "
                                  f"{network.name} of driver {network.driver} beside others")
        config = network.config or {}
        plan = ipam.Plan(subnet=config["subnet"], gateway=config["gateway"],
                         ip_range=config.get("ip_range") or config["subnet"])
        if want.address and config.get("builtin"):
            raise InvalidArgument("user specified IP address is supported on user defined "
                                  "networks only")
        if want.address and not config.get("ipam_given"):
            raise InvalidArgument("user specified IP address is supported only when "
                                  "connecting to networks with user configured subnets")

        def allocate(used: set[str]) -> tuple[str, str]:
            address = ipam.allocate(plan, used, want.address)
            return address, ipam.mac_of(address)

        host_end = veth_name(container_id, network.id)
        with self._lock:  # host ports chosen and recorded at once
            ports = self._choose_ports(want.ports) if want.ports else []
            endpoint = self.store(namespace).add_endpoint(records.EndpointRecord(
                namespace=namespace, network_id=network.id, container_id=container_id,
                config={"host_end": host_end, "ifname": ifname,
                        "aliases": list(want.aliases), "names": list(want.names),
                        "dns": list(dns),
                        "ports": [_port_json(p) for p in ports],
                        "endpoint_id": secrets.token_hex(32)}), allocate)
        try:
            self.driver.attach(path, config["bridge"], host_end, ifname, endpoint.address,
                               ipaddress.ip_network(config["subnet"]).prefixlen,
                               endpoint.mac, config["gateway"],
                               mtu=int(config.get("mtu") or 0),
                               default_route=first and not config.get("internal"))
        except BaseException:
            self.store(namespace).delete_endpoint(network.id, container_id)
            raise
        self.note(container_id, "kernel", "veth pair", lambda: {
            "host end": host_end, "bridge": config["bridge"], "container end": ifname,
            "namespace": path, "address": f"{endpoint.address}/"
            f"{ipaddress.ip_network(config['subnet']).prefixlen}",
            "mac": endpoint.mac, "default route": f"via {config['gateway']}"
            if first and not config.get("internal") else "none",
            "network": network.name})
        return endpoint

    def connect(self, namespace: str, container_id: str,
                attachment: Attachment) -> records.EndpointRecord:
        """One more endpoint for a container whose namespace exists (its task runs)."""
        path = self.sandbox_path(container_id)
        if not os.path.exists(path):
            raise FailedPrecondition(f"container {container_id} has no network namespace")
        taken = {str((e.config or {}).get("ifname")) for e in
                 self.store(namespace).endpoints(container_id=container_id)}
        index = next(i for i in range(len(taken) + 1) if f"eth{i}" not in taken)
        endpoint = self._attach_one(namespace, container_id, path, attachment,
                                    ifname=f"eth{index}", first=not taken)
        if (endpoint.config or {}).get("ports"):
            self.refresh_firewall()
        return endpoint

    def disconnect(self, namespace: str, container_id: str, network_id: str) -> bool:
        """The container's endpoint on one network deleted; False when it had none."""
        endpoint = self.store(namespace).delete_endpoint(network_id, container_id)
        if endpoint is None:
            return False
        config = endpoint.config or {}
        self.driver.detach(str(config.get("host_end") or ""))
        if config.get("ports"):
            self.refresh_firewall()
        return True

    def _choose_ports(self, wanted: Sequence[Mapping]) -> list[Mapping]:
        """The host ports of ``wanted``, those to choose chosen: free of every
        endpoint's published ports and of the host's own listeners."""
        from estiba.network import ports

        if any(m.proto == "sctp" for m in wanted):
            raise InvalidArgument("publishing sctp ports is not supported")
        published = {(p["proto"], p["host_ip"], int(p["host_port"]))
                     for _, endpoint in records.every_endpoint(self.db)
                     for p in (endpoint.config or {}).get("ports") or ()}

        def in_use(proto: str, host_ip: str, port: int) -> bool:
            if any((p, n) == (proto, port) and (ip == host_ip or ports.ANY_IP in (ip, host_ip))
                   for p, ip, n in published):
                return True
            return _bound(proto, host_ip, port)

        return ports.choose(wanted, in_use, ports.local_range())

    def mappings(self, endpoint: records.EndpointRecord) -> list[Mapping]:
        """The ports an endpoint publishes."""
        from estiba.network.ports import Mapping

        return [Mapping(proto=p["proto"], port=int(p["port"]), host_ip=p["host_ip"],
                        host_port=int(p["host_port"]))
                for p in (endpoint.config or {}).get("ports") or ()]

    def user_defined(self, namespace: str,
                     endpoints: Sequence[records.EndpointRecord]) -> bool:
        """Whether one of ``endpoints`` is on a user-defined network."""
        builtin = {n.id for n in self.list(namespace) if (n.config or {}).get("builtin")}
        return any(e.network_id not in builtin for e in endpoints)

    def lookup(self, container_id: str, name: str) -> list[str] | None:
        """The embedded DNS's answer: the addresses of ``name`` (a DNS name of an
        endpoint, or ``NAME.NETWORK``) on the user-defined networks of the container,
        None when none knows it."""
        every = records.every_endpoint(self.db)
        mine = {n.id for n, e in every
                if e.container_id == container_id and not (n.config or {}).get("builtin")}
        found = []
        for network, endpoint in every:
            if network.id not in mine or not endpoint.address:
                continue
            short = name.removesuffix("." + network.name.lower())
            names = {str(n).lower() for n in (endpoint.config or {}).get("names") or ()}
            if name in names or short in names:
                found.append(endpoint.address)
        return found or None

    def endpoints(self, namespace: str, network_id: str = "",
                  container_id: str = "") -> list[records.EndpointRecord]:
        return self.store(namespace).endpoints(network_id, container_id)

    def release(self, namespace: str, container_id: str) -> None:
        """Every endpoint of the container deleted (veths, addresses), its namespace
        removed: what its task's end leaves. Fine when there is nothing."""
        from estiba.kernel import netns

        if self.resolver is not None:
            self.resolver.remove(container_id)
        store = self.store(namespace)
        had_ports = False
        for endpoint in store.endpoints(container_id=container_id):
            had_ports = had_ports or bool((endpoint.config or {}).get("ports"))
            store.delete_endpoint(endpoint.network_id, container_id)
        # The veths are not deleted here: a deletion waits for the kernel's grace
        # periods (20-40 ms each). The namespace's last reference goes with its mount
        # (its processes are gone), and the kernel then destroys it, and its veths
        # with it, in the background; ``attach`` deals with a host end not gone yet.
        if netns.remove(self.sandbox_path(container_id)):
            self.note(container_id, "kernel", "network namespace released", {
                "path": self.sandbox_path(container_id),
                "then": "the kernel destroys it, and its veths with it, once unused"})
        if had_ports:
            self.refresh_firewall()
            self.note(container_id, "kernel", "nft rules", {
                "table": f"ip {self.table}", "rewritten": "without its published ports"})

    # --- the firewall ------------------------------------------------------------------

    def refresh_firewall(self) -> None:
        """The nft table recomputed from every network and endpoint, replaced at once."""
        if self._firewall is None:
            return
        from estiba.network.firewall import Published

        with self._lock:
            nets = [_bridge_net(network) for network in records.every_network(self.db)
                    if network.driver == "bridge"]
            published = []
            for network, endpoint in records.every_endpoint(self.db):
                for port in (endpoint.config or {}).get("ports") or []:
                    published.append(Published(
                        proto=port["proto"], host_ip=port["host_ip"],
                        host_port=int(port["host_port"]), address=endpoint.address,
                        port=int(port["port"]),
                        bridge=str((network.config or {}).get("bridge"))))
            self._firewall.apply(self.table, nets, published)

    def _rules_of(self, endpoints: Sequence[records.EndpointRecord]) -> dict:
        """The DNAT rules of the ports ``endpoints`` publish, as the table has them."""
        from estiba.network.firewall import Published, dnat_rule

        rules = [dnat_rule(Published(
            proto=port["proto"], host_ip=port["host_ip"], host_port=int(port["host_port"]),
            address=endpoint.address, port=int(port["port"]), bridge=""))
            for endpoint in endpoints for port in (endpoint.config or {}).get("ports") or ()]
        return {"table": f"ip {self.table}", "chains": ["prerouting", "output"],
                "rules": rules}

    def purge(self) -> None:
        """Every kernel object of this instance's networks gone — namespaces,
        bridges, forwarding rules, the firewall's table — the records kept: what a
        test leaves when it is done with a daemon."""
        from estiba.kernel import netns

        with contextlib.suppress(OSError):
            for name in os.listdir(self.netns_dir):
                netns.remove(os.path.join(self.netns_dir, name))
        for network in records.every_network(self.db):
            bridge = (network.config or {}).get("bridge")
            if network.driver == "bridge" and bridge:
                if self._forwarding is not None:
                    self._forwarding.remove(bridge)
                self.driver.remove_bridge(bridge)
        if self._firewall is not None:
            self._firewall.delete(self.table)


def _no_note(*args: object) -> None:
    pass


def _bridge_net(network: records.NetworkRecord) -> BridgeNet:
    """What the firewall knows of a bridge network."""
    from estiba.network.firewall import BridgeNet

    c = network.config or {}
    return BridgeNet(bridge=c["bridge"], subnet=c["subnet"], gateway=c["gateway"],
                     internal=bool(c.get("internal")),
                     masquerade=bool(c.get("masquerade", True)),
                     icc=bool(c.get("icc", True)))


def _flag(options: dict, key: str) -> bool:
    value = options.get(key)
    if value is None or value == "":
        return True
    text = str(value).lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid value for option {key}: {value!r} (true or false)")


def _port_json(mapping: Mapping) -> dict:
    return {"proto": mapping.proto, "port": mapping.port, "host_ip": mapping.host_ip,
            "host_port": mapping.host_port}


def _bound(proto: str, host_ip: str, port: int) -> bool:
    """Whether a listener of the host holds the port (a bind of our own fails)."""
    import socket

    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        if kind == socket.SOCK_STREAM:
            # a connection in TIME_WAIT does not hold a port against a listener
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host_ip, port))
        except OSError:
            return True
    return False


def _write_sysctl(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError:
        pass  # a read-only /proc/sys (a container) leaves what is there
