"""The real docker CLI on networks: the default bridge with its addresses and outbound
NAT, the host, none and container: modes, user-defined bridges (create, ls, inspect, rm,
prune, connect, disconnect, --subnet, --ip, --internal, isolation), published ports
(-p, -P, docker port) and what a daemon restart keeps. Traffic goes only to this
machine's own addresses and to namespaces the tests make."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from harness import poll

from support.docker_cli import docker, engine_daemon

pytestmark = [pytest.mark.e2e, pytest.mark.root]


@pytest.fixture(scope="module")
def daemon() -> Iterator[object]:
    yield from engine_daemon("edn-")


def ok(d: object, *args: str) -> str:
    done = docker(d, *args)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout.strip()


def in_container(d: object, *args: str, network: tuple[str, ...] = ()) -> str:
    return ok(d, "run", "--rm", *network, "busybox", "sh", "-c", " ".join(args))


def network_json(d: object, name: str) -> dict:
    return json.loads(ok(d, "network", "inspect", name))[0]


def address_of(d: object, container: str, network: str = "bridge") -> str:
    return ok(d, "inspect", "-f",
              f"{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}", container)


def http_get(host: str, port: int, path: str = "/index.html", timeout: float = 3) -> str:
    """One HTTP GET by hand (the host's proxies must not be asked)."""
    import socket

    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data.decode(errors="replace")


def serve(d: object, name: str, *args: str) -> str:
    """A busybox httpd serving ``index.html`` ("hello from NAME") on port 80."""
    return ok(d, "run", "-d", "--name", name, *args, "busybox", "sh", "-c",
              f"echo hello from {name} > /index.html && exec httpd -f -p 80 -h /")


def served(host: str, port: int, name: str) -> bool:
    try:
        return f"hello from {name}" in http_get(host, port)
    except OSError:
        return False


def test_default_bridge_gives_an_address_and_the_files(daemon: object) -> None:
    bridge = network_json(daemon, "bridge")
    pool = bridge["IPAM"]["Config"][0]
    subnet = ipaddress.ip_network(pool["Subnet"])
    assert not subnet.overlaps(ipaddress.ip_network("172.17.0.0/16"))  # docker0's
    assert bridge["Driver"] == "bridge" and bridge["Options"][
        "com.docker.network.bridge.default_bridge"] == "true"
    ok(daemon, "run", "-d", "--name", "addressed", "busybox", "sleep", "1000")
    address = address_of(daemon, "addressed")
    assert ipaddress.ip_address(address) in subnet
    assert ok(daemon, "inspect", "-f", "{{.NetworkSettings.IPAddress}} "
              "{{.NetworkSettings.Gateway}}", "addressed") == f"{address} {pool['Gateway']}"
    seen = ok(daemon, "exec", "addressed", "sh", "-c",
              "ip -4 -o addr show eth0; ip route; cat /etc/hosts; hostname")
    assert f"inet {address}/{subnet.prefixlen}" in seen
    assert f"default via {pool['Gateway']} dev eth0" in seen
    hostname = seen.splitlines()[-1]
    assert f"{address}\t{hostname}" in seen
    members = network_json(daemon, "bridge")["Containers"]
    cid = ok(daemon, "inspect", "-f", "{{.Id}}", "addressed")
    assert members[cid]["Name"] == "addressed"
    assert members[cid]["IPv4Address"] == f"{address}/{subnet.prefixlen}"
    # the gateway answers, and the host reaches the container
    assert in_container(daemon, "ping -c1 -W2", pool["Gateway"], ">/dev/null && echo up") == "up"
    pinged = subprocess.run(["busybox", "ping", "-c1", "-W2", address], capture_output=True)
    assert pinged.returncode == 0
    ok(daemon, "rm", "-f", "addressed")
    assert "addressed" not in json.dumps(network_json(daemon, "bridge")["Containers"])


def test_dns_options_make_resolv_conf(daemon: object) -> None:
    text = in_container(daemon, "cat /etc/resolv.conf", network=(
        "--dns", "192.0.2.53", "--dns-search", "example.test", "--dns-option", "ndots:2"))
    assert text.splitlines() == ["nameserver 192.0.2.53", "search example.test",
                                 "options ndots:2"]


def test_host_none_and_container_modes(daemon: object) -> None:
    # veths of containers come and go meanwhile: the others are the host's own
    def steady(names: list[str]) -> list[str]:
        return sorted(n for n in names if not n.startswith("ves"))

    host_links = steady(os.listdir("/sys/class/net"))
    seen = in_container(daemon, "ls /sys/class/net", network=("--network", "host"))
    assert steady(seen.split()) == host_links
    assert network_json(daemon, "bridge")["Options"]["com.docker.network.bridge.name"] in seen
    assert in_container(daemon, "ls /sys/class/net", network=("--network", "none")) == "lo"
    ok(daemon, "run", "-d", "--name", "holder", "busybox", "sleep", "1000")
    address = address_of(daemon, "holder")
    shared = in_container(daemon, "ip -4 -o addr show eth0",
                          network=("--network", "container:holder"))
    assert f"inet {address}/" in shared
    ok(daemon, "rm", "-f", "holder")


def test_user_defined_networks(daemon: object) -> None:
    made = ok(daemon, "network", "create", "--subnet", "10.213.0.0/24", "--gateway",
              "10.213.0.254", "--label", "course=net", "mynet")
    assert len(made) == 64
    info = network_json(daemon, "mynet")
    assert info["IPAM"]["Config"] == [{"Subnet": "10.213.0.0/24", "Gateway": "10.213.0.254"}]
    assert info["Labels"] == {"course": "net"} and info["Internal"] is False
    listed = ok(daemon, "network", "ls", "--format", "{{.Name}} {{.Driver}}")
    assert "mynet bridge" in listed.splitlines() and "bridge bridge" in listed.splitlines()
    assert ok(daemon, "network", "ls", "-q", "--filter", "type=custom") == made[:12]
    dup = docker(daemon, "network", "create", "mynet")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    overlap = docker(daemon, "network", "create", "--subnet", "10.213.0.0/16", "other")
    assert overlap.returncode == 1 and "overlaps" in overlap.stderr

    serve(daemon, "web1", "--network", "mynet", "--ip", "10.213.0.10")
    assert address_of(daemon, "web1", "mynet") == "10.213.0.10"
    got = in_container(daemon, "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | "
                       "nc -w 3 10.213.0.10 80; ip -4 -o addr show eth0",
                       network=("--network", "mynet"))
    assert "hello from web1" in got
    assert "inet 10.213.0.1/24" in got  # the lowest free address
    # another network's containers are not reachable (isolation)
    isolated = in_container(daemon, "nc -w 2 10.213.0.10 80 </dev/null && echo reached || "
                            "echo blocked")
    assert isolated == "blocked"

    in_use = docker(daemon, "network", "rm", "mynet")
    assert in_use.returncode == 1 and "active endpoints" in in_use.stderr
    builtin = docker(daemon, "network", "rm", "bridge")
    assert builtin.returncode == 1 and "pre-defined network" in builtin.stderr

    # connect and disconnect a running container
    ok(daemon, "run", "-d", "--name", "joiner", "busybox", "sleep", "1000")
    ok(daemon, "network", "connect", "mynet", "joiner")
    links = ok(daemon, "exec", "joiner", "ls", "/sys/class/net").split()
    assert sorted(links) == ["eth0", "eth1", "lo"]
    assert address_of(daemon, "joiner", "mynet").startswith("10.213.0.")
    assert "joiner" in json.dumps(network_json(daemon, "mynet")["Containers"])
    ok(daemon, "network", "disconnect", "mynet", "joiner")
    assert sorted(ok(daemon, "exec", "joiner", "ls", "/sys/class/net").split()) == ["eth0",
                                                                                  "lo"]
    ok(daemon, "rm", "-f", "joiner", "web1")
    ok(daemon, "network", "rm", "mynet")
    assert docker(daemon, "network", "inspect", "mynet").returncode == 1


def test_internal_network_and_prune(daemon: object) -> None:
    ok(daemon, "network", "create", "--internal", "closed")
    routes = in_container(daemon, "ip route", network=("--network", "closed"))
    assert "default" not in routes and routes
    ok(daemon, "network", "create", "spare")
    pruned = ok(daemon, "network", "prune", "-f")
    assert "closed" in pruned and "spare" in pruned
    assert ok(daemon, "network", "ls", "-q", "--filter", "type=custom") == ""


def test_published_ports(daemon: object) -> None:
    gateway = network_json(daemon, "bridge")["IPAM"]["Config"][0]["Gateway"]
    serve(daemon, "pub", "-p", "18081:80")
    poll(lambda: served("127.0.0.1", 18081, "pub"), 10, "pub on 127.0.0.1:18081")
    assert served(gateway, 18081, "pub")
    assert ok(daemon, "port", "pub") == "80/tcp -> 0.0.0.0:18081"
    # a container reaches it through the host's address (hairpin)
    via_host = in_container(daemon, f"printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | "
                            f"nc -w 3 {gateway} 18081")
    assert "hello from pub" in via_host
    taken = docker(daemon, "run", "-d", "-p", "18081:80", "busybox", "sleep", "100")
    assert taken.returncode == 125 and "port is already allocated" in taken.stderr

    serve(daemon, "pub2", "--expose", "80", "-P", "-p", "127.0.0.1::81")
    lines = ok(daemon, "port", "pub2").splitlines()
    chosen = int(next(line for line in lines if line.startswith("80/tcp")).rsplit(":", 1)[1])
    assert any(line.startswith("81/tcp -> 127.0.0.1:") for line in lines)
    poll(lambda: served("127.0.0.1", chosen, "pub2"), 10, "pub2 on its chosen port")
    listed = ok(daemon, "ps", "--filter", "name=pub2", "--format", "{{.Ports}}")
    assert f"0.0.0.0:{chosen}->80/tcp" in listed

    def names(*filters: str) -> list[str]:
        args = [a for f in filters for a in ("--filter", f)]
        return sorted(ok(daemon, "ps", *args, "--format", "{{.Names}}").split())

    # the container's ports, as Docker matches them
    assert names("publish=80") == ["pub", "pub2"] and names("publish=81") == ["pub2"]
    assert names("publish=70-80/tcp") == ["pub", "pub2"]
    assert names("expose=81", "network=bridge") == ["pub2"]
    assert names("publish=80/udp") == [] and names("network=none") == []

    ok(daemon, "stop", "-t", "0", "pub")
    assert not served("127.0.0.1", 18081, "pub")
    ok(daemon, "rm", "-f", "pub", "pub2")
    left = [a for a in docker(daemon, "ps", "-aq").stdout.split() if a]
    assert left == [] or docker(daemon, "rm", "-f", *left).returncode == 0


@pytest.fixture()
def outside() -> Iterator[tuple[str, str]]:
    """An "outside" network namespace joined to the host by a veth: (its address, the
    host's address on the link), with a TCP server in it that answers each connection
    with the peer address it sees."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "src"))
    from estiba.kernel import netns

    tag = secrets.token_hex(3)
    path = f"/tmp/edn-outside-{tag}"
    host_end, far_end = f"ves-o{tag}", "eth0"
    base = next(n for n in ipaddress.ip_network("10.214.0.0/16").subnets(new_prefix=30)
                if not _routed(n))
    host_ip, far_ip = str(base[1]), str(base[2])
    server = None
    netns.create(path)
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name",
                            far_end, "netns", f"/proc/self/fd/{fd}"], check=True,
                           pass_fds=(fd,))
        finally:
            os.close(fd)
        subprocess.run(["ip", "addr", "add", f"{host_ip}/30", "dev", host_end], check=True)
        subprocess.run(["ip", "link", "set", host_end, "up"], check=True)
        inside = ["nsenter", f"--net={path}"]
        subprocess.run([*inside, "ip", "addr", "add", f"{far_ip}/30", "dev", far_end],
                       check=True)
        subprocess.run([*inside, "ip", "link", "set", far_end, "up"], check=True)
        code = ("import socket\n"
                "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                f"s.bind(('{far_ip}', 18090)); s.listen()\n"
                "while True:\n"
                "    c, peer = s.accept(); c.sendall(peer[0].encode() + b'\\n'); c.close()\n")
        server = subprocess.Popen([*inside, sys.executable, "-c", code])
        yield far_ip, host_ip
    finally:
        if server is not None:
            server.send_signal(signal.SIGKILL)
            server.wait(5)
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        netns.remove(path)


def _routed(net: ipaddress.IPv4Network) -> bool:
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"],
                            capture_output=True, text=True).stdout
    for line in routes.splitlines():
        with contextlib.suppress(ValueError):
            if ipaddress.ip_network(line.split()[0], strict=False).overlaps(net):
                return True
    return False


def test_outbound_nat_shows_the_host_address(daemon: object,
                                              outside: tuple[str, str]) -> None:
    far_ip, host_ip = outside
    deadline = time.monotonic() + 10
    seen = ""
    while time.monotonic() < deadline and not seen:
        seen = in_container(daemon, f"nc -w 3 {far_ip} 18090 </dev/null || true")
    # the server sees the host's address on its link, not the container's
    assert seen == host_ip


def test_a_restart_keeps_networks_addresses_and_ports(daemon: object) -> None:
    ok(daemon, "network", "create", "--subnet", "10.215.0.0/24", "kept")
    serve(daemon, "survivor", "--network", "kept", "-p", "18082:80")
    address = address_of(daemon, "survivor", "kept")
    poll(lambda: served("127.0.0.1", 18082, "survivor"), 10, "survivor published")
    daemon.stop()  # type: ignore[attr-defined]
    daemon.start()  # type: ignore[attr-defined]
    assert address_of(daemon, "survivor", "kept") == address
    assert served("127.0.0.1", 18082, "survivor")
    assert network_json(daemon, "kept")["IPAM"]["Config"][0]["Subnet"] == "10.215.0.0/24"
    ok(daemon, "rm", "-f", "survivor")
    ok(daemon, "network", "rm", "kept")
    assert not served("127.0.0.1", 18082, "survivor")


@pytest.fixture()
def upstream() -> Iterator[str]:
    """A DNS server of the test's own on a loopback address: every A query for
    ``outside.test`` gets 192.0.2.123, any other name a name error."""
    import socket
    import threading

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "src"))
    from estiba.network import dnsmessage as dns

    address = "127.0.0.77"
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((address, 53))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = server.recvfrom(4096)
            except OSError:
                continue
            query = dns.parse_query(data)
            if query.name == "outside.test" and query.qtype == dns.A:
                server.sendto(dns.answer(query, ["192.0.2.123"]), peer)
            elif query.name == "outside.test":
                server.sendto(dns.error(query, dns.NOERROR), peer)
            else:
                server.sendto(dns.error(query, dns.NXDOMAIN), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield address
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_embedded_dns_on_user_networks(daemon: object, upstream: str) -> None:
    ok(daemon, "network", "create", "names")
    ok(daemon, "run", "-d", "--name", "alpha", "--network", "names", "--network-alias",
       "db", "busybox", "sleep", "1000")
    alpha = address_of(daemon, "alpha", "names")
    short = ok(daemon, "inspect", "-f", "{{.Id}}", "alpha")[:12]
    seen = in_container(daemon, "cat /etc/resolv.conf;",
                        "for n in alpha db", short, "alpha.names; do nslookup $n 127.0.0.11 "
                        "| grep -A1 '^Name:' | tail -1; done;",
                        "nslookup outside.test | grep -A1 '^Name:' | tail -1;",
                        "nslookup missing.test >/dev/null 2>&1 || echo missing",
                        network=("--network", "names", "--dns", upstream))
    lines = seen.splitlines()
    assert lines[0] == "nameserver 127.0.0.11" and "ndots:0" in lines[1]
    assert lines[2:6] == [f"Address: {alpha}"] * 4, seen
    assert lines[6] == "Address: 192.0.2.123"  # forwarded to the container's --dns
    assert lines[7] == "missing"
    # the default bridge has no embedded DNS, as in Docker
    plain = in_container(daemon, "cat /etc/resolv.conf", network=("--dns", upstream))
    assert plain == f"nameserver {upstream}"
    ok(daemon, "rm", "-f", "alpha")
    ok(daemon, "network", "rm", "names")


def _kernel_text() -> str:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    rules = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    forward = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True,
                             text=True).stdout
    return links + rules + forward


def test_cycles_leave_nothing_behind(daemon: object) -> None:
    made = ok(daemon, "network", "create", "--subnet", "10.216.0.0/24", "--ip-range",
              "10.216.0.128/25", "-o", "com.docker.network.driver.mtu=1400", "cycled")
    bridge = f"es-{made[:12]}"
    assert f"{bridge}:" in _kernel_text()
    names = [f"cyc{i}" for i in range(3)]
    for i, name in enumerate(names):
        serve(daemon, name, "--network", "cycled", "-p", f"{18100 + i}:80")
    for i, name in enumerate(names):
        address = address_of(daemon, name, "cycled")
        assert ipaddress.ip_address(address) in ipaddress.ip_network("10.216.0.128/25")
        poll(lambda i=i, name=name: served("127.0.0.1", 18100 + i, name), 10, name)
    mtu = ok(daemon, "exec", "cyc0", "cat", "/sys/class/net/eth0/mtu")
    assert mtu == "1400"
    sandboxes = [ok(daemon, "inspect", "-f", "{{.NetworkSettings.SandboxKey}}", n)
                 for n in names]
    assert all(os.path.exists(path) for path in sandboxes)

    ok(daemon, "stop", "-t", "0", *names)
    # a stopped container holds no address, port or namespace
    assert network_json(daemon, "cycled")["Containers"] == {}
    assert not any(os.path.exists(path) for path in sandboxes)
    assert "dport 1810" not in _kernel_text()
    ok(daemon, "start", *names)
    poll(lambda: served("127.0.0.1", 18102, "cyc2"), 10, "cyc2 again")
    ok(daemon, "rm", "-f", *names)
    ok(daemon, "network", "rm", "cycled")

    def gone() -> bool:
        text = _kernel_text()
        return bridge not in text and "dport 1810" not in text
    poll(gone, 10, "the bridge, its rules and its ports gone")
    assert not any(os.path.exists(path) for path in sandboxes)


def test_port_ranges_and_udp(daemon: object) -> None:
    # busybox has no UDP server: the host's python, run in the container's namespaces
    # through a read-only bind of the host's root, echoes on 53/udp
    echo = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.bind(('0.0.0.0', 53)); "
            "[s.sendto(*s.recvfrom(100)) for _ in iter(int, 1)]")
    ok(daemon, "run", "-d", "--name", "ranges", "-p", "18130-18131:80-81",
       "-p", "18140:53/udp", "-v", "/:/host:ro", "busybox", "sh", "-c",
       f"echo pong > /p && (chroot /host {sys.executable} -c \"{echo}\" &) && "
       "exec httpd -f -p 81 -h /")
    lines = ok(daemon, "port", "ranges").splitlines()
    assert lines == ["53/udp -> 0.0.0.0:18140", "80/tcp -> 0.0.0.0:18130",
                     "81/tcp -> 0.0.0.0:18131"], lines
    poll(lambda: "pong" in _get_or_empty("127.0.0.1", 18131, "/p"), 10, "81 via 18131")
    import socket

    def echoed() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.sendto(b"ping-udp\n", ("127.0.0.1", 18140))
            try:
                return s.recv(100) == b"ping-udp\n"
            except OSError:
                return False
    poll(echoed, 10, "udp 53 through 18140")
    ok(daemon, "rm", "-f", "ranges")


def _get_or_empty(host: str, port: int, path: str) -> str:
    try:
        return http_get(host, port, path)
    except OSError:
        return ""
