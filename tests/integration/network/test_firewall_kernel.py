"""The firewall on the real kernel: the nft table replaced whole, iptables' FORWARD
rules put and taken away, and published ports reaching a server in a network namespace.

Every object carries a random tag: bridge ``es-t<tag>``, table ``estiba-t<tag>``, netns
``es-t<tag><x>``, host veth ends ``ves<tag><x>``, subnet ``198.18.<n>.0/24`` (the
benchmarking range, on no real network). Traffic goes only between this machine's own
addresses and those namespaces. Teardown removes everything, even after a failure.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from estiba.errors import InvalidArgument
from estiba.kernel.nftables import Nftables
from estiba.network.firewall import BridgeNet, Published, script, sysctls
from estiba.network.forwarding import LEGACY_TABLES, Iptables, accept_rules

pytestmark = pytest.mark.root

SERVER_PORT = 8080
# a server in the namespace: answers each connection with the address it came from
SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
print("ready", flush=True)
while True:
    c, peer = s.accept()
    c.sendall(peer[0].encode() + b"\\n")
    c.close()
"""
CLIENT = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(c.recv(100).decode().strip())
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def ip_quiet(*args: str) -> None:
    """For teardown: the object may be gone already."""
    subprocess.run(["ip", *args], check=False, capture_output=True)


@dataclass(frozen=True)
class MadeBridge:
    tag: str
    name: str
    subnet: ipaddress.IPv4Network

    @property
    def gateway(self) -> str:
        return str(self.subnet[1])

    def address(self, n: int) -> str:
        return str(self.subnet[n])

    def net(self, **kwargs: bool) -> BridgeNet:
        return BridgeNet(self.name, str(self.subnet), self.gateway, **kwargs)


def _free_subnet() -> ipaddress.IPv4Network:
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"],
                            capture_output=True, text=True, check=True).stdout
    for _ in range(50):
        subnet = ipaddress.IPv4Network(f"198.18.{secrets.randbelow(254) + 1}.0/24")
        if f"{subnet.network_address}/24" not in routes:
            return subnet
    pytest.skip("no free 198.18.x.0/24 subnet for the test bridge")


@pytest.fixture
def bridge() -> Iterator[MadeBridge]:
    tag = secrets.token_hex(3)
    made = MadeBridge(tag, f"es-t{tag}", _free_subnet())
    try:
        ip("link", "add", made.name, "type", "bridge")
        ip("addr", "add", f"{made.gateway}/{made.subnet.prefixlen}", "dev", made.name)
        ip("link", "set", made.name, "up")
        yield made
    finally:
        ip_quiet("link", "del", made.name)


@pytest.fixture
def nft() -> Nftables:
    return Nftables()


@pytest.fixture
def table(bridge: MadeBridge, nft: Nftables) -> Iterator[str]:
    name = f"estiba-t{bridge.tag}"
    try:
        yield name
    finally:
        nft.delete_table("ip", name)


def _rules(listing: dict) -> dict[str, list[dict]]:
    chains: dict[str, list[dict]] = {}
    for item in listing["nftables"]:
        if "chain" in item:
            chains.setdefault(item["chain"]["name"], [])
        if "rule" in item:
            chains.setdefault(item["rule"]["chain"], []).append(item["rule"])
    return chains


def _dnat_ports(listing: dict) -> list[int]:
    ports = []
    for rule in _rules(listing).get("prerouting", []):
        for expr in rule["expr"]:
            if "dnat" in expr:
                ports.append(expr["dnat"]["port"])
            match = expr.get("match", {})
            if match.get("left", {}).get("payload", {}).get("field") == "dport":
                ports.append(match["right"])
    return ports


# --- the table -----------------------------------------------------------------------


def test_table_applied_replaced_atomically_and_deleted(
    bridge: MadeBridge, table: str, nft: Nftables,
) -> None:
    target = bridge.address(2)
    first = script(table, [bridge.net()],
                   [Published("tcp", "", 40001, target, SERVER_PORT, bridge.name)])
    nft.run(first)
    listing = nft.list_table("ip", table)
    assert listing is not None
    chains = _rules(listing)
    assert set(chains) == {"prerouting", "output", "postrouting", "forward"}
    assert len(chains["postrouting"]) == 3 and len(chains["forward"]) == 2
    assert _dnat_ports(listing) == [40001, SERVER_PORT]

    # the changed model replaces the table while a reader keeps looking at it
    second = script(table, [bridge.net(icc=False)],
                    [Published("udp", "127.0.0.1", 40002, target, 53, bridge.name)])
    seen: list[bool] = []
    done = threading.Event()

    def watch() -> None:
        reader = Nftables()
        while not done.is_set():
            seen.append(reader.list_table("ip", table) is not None)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(20):
            nft.run(first)
            nft.run(second)
    finally:
        done.set()
        watcher.join()
    assert seen and all(seen), "the table was missing during a replacement"
    listing = nft.list_table("ip", table)
    assert listing is not None
    assert _dnat_ports(listing) == [40002, 53]
    assert len(_rules(listing)["forward"]) == 3  # icc false adds a drop

    # a batch that fails half-way changes nothing
    with pytest.raises(InvalidArgument, match="nft: .*No such file or directory"):
        nft.run(first + f"add rule ip {table} nochain accept\n")
    assert nft.list_table("ip", table) == listing

    assert nft.delete_table("ip", table) is True
    assert nft.list_table("ip", table) is None
    assert nft.delete_table("ip", table) is False


def test_empty_model_is_an_empty_table(bridge: MadeBridge, table: str,
                                       nft: Nftables) -> None:
    nft.run(script(table, [], []))
    listing = nft.list_table("ip", table)
    assert listing is not None and _rules(listing) == {}


# --- iptables ------------------------------------------------------------------------


def _iptables_state() -> list[str]:
    """What iptables shows, both backends, without making a legacy table appear."""
    state = _save(["iptables-nft-save"])
    if Path(LEGACY_TABLES).exists() and Path(LEGACY_TABLES).read_text().strip():
        state += _save(["iptables-legacy-save"])
    return state


def _save(argv: list[str]) -> list[str]:
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if not line.startswith("#")]


def test_iptables_rules_put_and_taken_away_on_this_host(bridge: MadeBridge) -> None:
    before = _iptables_state()
    tables = Iptables(Nftables())
    backends = tables.backends()
    try:
        tables.ensure(bridge.name)
        tables.ensure(bridge.name)
        for binary in backends:
            shown = subprocess.run([binary, "-S", "FORWARD"], capture_output=True,
                                   text=True, check=True).stdout.splitlines()
            ours = [line for line in shown if bridge.name in line]
            assert ours == [
                f'-A FORWARD -i {bridge.name} -m comment --comment estiba -j ACCEPT',
                f'-A FORWARD -o {bridge.name} -m comment --comment estiba -j ACCEPT',
            ]
            assert shown[1:3] == ours  # at the top, right after "-P FORWARD ..."
    finally:
        tables.remove(bridge.name)
    tables.remove(bridge.name)
    assert _iptables_state() == before


# in a namespace of its own, iptables-nft's FORWARD exists whatever this host holds
IN_NETNS = """
import subprocess, sys
from estiba.kernel.nftables import Nftables
from estiba.network.forwarding import Iptables
bridge = sys.argv[1]
subprocess.run(["iptables-nft", "-P", "FORWARD", "DROP"], check=True)
tables = Iptables(Nftables())
print("backends", *[b.rsplit("/", 1)[-1] for b in tables.backends()])
tables.ensure(bridge)
tables.ensure(bridge)
print(subprocess.run(["iptables-nft", "-S", "FORWARD"], capture_output=True, text=True,
                     check=True).stdout, end="")
tables.remove(bridge)
print(subprocess.run(["iptables-nft", "-S", "FORWARD"], capture_output=True, text=True,
                     check=True).stdout, end="")
print("legacy", open("/proc/net/ip_tables_names").read().split()
      if __import__("os").path.exists("/proc/net/ip_tables_names") else [])
"""


NETNS_DIR = "/run/netns"


def _mount_points() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


@pytest.fixture(scope="module", autouse=True)
def netns_dir_as_found() -> Iterator[None]:
    """``ip netns add`` makes /run/netns a shared bind mount of itself the first time;
    when it was not one before these tests, undo that once it is empty again. A plain
    umount fails (EBUSY) while anyone's namespace is still mounted there, so another
    user of the directory is never disturbed."""
    existed = os.path.isdir(NETNS_DIR)
    mounted = NETNS_DIR in _mount_points()
    yield
    if not mounted and NETNS_DIR in _mount_points() and not os.listdir(NETNS_DIR):
        subprocess.run(["umount", NETNS_DIR], check=False, capture_output=True)
    if not existed and os.path.isdir(NETNS_DIR) and NETNS_DIR not in _mount_points():
        with contextlib.suppress(OSError):  # not empty: someone else's now
            os.rmdir(NETNS_DIR)


@pytest.fixture
def netns() -> Iterator[list[str]]:
    """Names of namespaces the test makes (``es-t...``); all deleted afterwards."""
    made: list[str] = []
    try:
        yield made
    finally:
        for name in made:
            ip_quiet("netns", "del", name)


def test_iptables_rules_in_a_namespace_with_a_forward_chain(
    bridge: MadeBridge, netns: list[str],
) -> None:
    name = f"es-t{bridge.tag}i"
    netns.append(name)
    ip("netns", "add", name)
    done = subprocess.run(["ip", "netns", "exec", name, sys.executable, "-c", IN_NETNS,
                           bridge.name], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "backends iptables-nft"
    i, o = (" ".join(["-A FORWARD", *spec]) for spec in accept_rules(bridge.name))
    assert lines[1:4] == ["-P FORWARD DROP", i, o]
    assert lines[4:] == ["-P FORWARD DROP", "legacy []"]


# --- the data path -------------------------------------------------------------------


@dataclass
class Namespace:
    name: str
    address: str


def _join(bridge: MadeBridge, netns: list[str], suffix: str, n: int) -> Namespace:
    """A namespace whose eth0 is on the bridge, with address ``n`` of its subnet."""
    ns = Namespace(f"es-t{bridge.tag}{suffix}", bridge.address(n))
    netns.append(ns.name)
    ip("netns", "add", ns.name)
    host_end = f"ves{bridge.tag}{suffix}"
    # made inside the namespace's own link list: deleting the namespace deletes the
    # pair, the host end with it
    ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns.name)
    ip("link", "set", host_end, "master", bridge.name, "up")
    inside = ("ip", "-n", ns.name)
    ip(*inside[1:], "addr", "add", f"{ns.address}/{bridge.subnet.prefixlen}", "dev", "eth0")
    ip(*inside[1:], "link", "set", "lo", "up")
    ip(*inside[1:], "link", "set", "eth0", "up")
    ip(*inside[1:], "route", "add", "default", "via", bridge.gateway)
    return ns


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                os.kill(proc.pid, 9)
            proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()


def _ask(host: str, port: int) -> str:
    """The address the namespace's server saw this connection come from."""
    with socket.create_connection((host, port), timeout=5) as conn:
        return conn.recv(100).decode().strip()


def test_published_port_reaches_a_server_in_a_namespace(
    bridge: MadeBridge, table: str, nft: Nftables, netns: list[str],
    processes: list[subprocess.Popen[str]],
) -> None:
    server_ns = _join(bridge, netns, "a", 2)
    client_ns = _join(bridge, netns, "b", 3)
    server = subprocess.Popen(
        ["ip", "netns", "exec", server_ns.name, sys.executable, "-c", SERVER,
         str(SERVER_PORT)], stdout=subprocess.PIPE, text=True)
    processes.append(server)
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"

    host_port = 20000 + secrets.randbelow(20000)
    nets = [bridge.net()]
    published = [Published("tcp", "", host_port, server_ns.address, SERVER_PORT,
                           bridge.name)]
    old = {}
    values = sysctls(nets)
    tables = Iptables(nft)
    try:
        for path, value in values.items():
            old[path] = Path(path).read_text().strip()
            Path(path).write_text(value)
        nft.run(script(table, nets, published))
        # iptables' FORWARD (left by another engine, if any) must let the bridge's own
        # traffic through for the namespaces to reach each other
        tables.ensure(bridge.name)

        # from the host: loopback needs route_localnet and the loopback masquerade
        assert _ask("127.0.0.1", host_port) == bridge.gateway
        assert _ask(bridge.gateway, host_port) == bridge.gateway
        # from the other namespace: straight, then hairpin through the published port
        assert _ask_from(client_ns, server_ns.address, SERVER_PORT) == client_ns.address
        assert _ask_from(client_ns, bridge.gateway, host_port) == bridge.gateway
    finally:
        tables.remove(bridge.name)
        for path, value in old.items():
            if not path.startswith(f"/proc/sys/net/ipv4/conf/{bridge.name}/"):
                Path(path).write_text(value)


def _ask_from(ns: Namespace, host: str, port: int) -> str:
    done = subprocess.run(["ip", "netns", "exec", ns.name, sys.executable, "-c", CLIENT,
                           host, str(port)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
