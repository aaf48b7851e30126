"""Fixtures of the network tests, on the real kernel as root.

- ``names``: fresh link names of the test's own — host side ``es-t<hex>`` (bridges) and
  ``ves<hex>`` (veth ends), so a leftover shows in the leak check — at most 15 bytes.
- ``made``: a register of what a test creates (links by name, namespaces by path);
  afterwards, even when the test failed, every link is deleted and every namespace
  removed, and the teardown checks that none is left.
- ``subnet``: a 10.231.x.0/24 (and a second one, ``far``) that no route of the host
  covers; the test is skipped when none is free.
- ``netlink``: a Netlink on the host's namespace; skipped with the reason when the
  kernel makes no bridges or veth pairs.
"""

from __future__ import annotations

import ipaddress
import os
import random
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from estiba.errors import EstibaError, Internal
from estiba.kernel import netns
from estiba.kernel.netlink import Netlink


@dataclass
class Names:
    bridge: str
    veth: str

    def host(self, suffix: str) -> str:
        """Another veth name of this test's own."""
        name = f"{self.veth}{suffix}"
        assert len(name.encode()) <= 15
        return name


@dataclass
class Made:
    links: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    directory: str = ""  # where namespaces are pinned

    def link(self, name: str) -> str:
        self.links.append(name)
        return name

    def namespace(self, name: str = "ns") -> str:
        path = os.path.join(self.directory, name)
        self.namespaces.append(path)
        return path


@dataclass(frozen=True)
class Subnets:
    near: ipaddress.IPv4Network  # the bridge's network
    far: ipaddress.IPv4Network  # reachable from a namespace only by its default route


@pytest.fixture
def names() -> Names:
    tag = secrets.token_hex(3)
    return Names(bridge=f"es-t{tag}", veth=f"ves{tag}")


@pytest.fixture
def netlink() -> Iterator[Netlink]:
    with Netlink() as nl:
        _probe(nl)
        yield nl


def _probe(nl: Netlink) -> None:
    """Skip, saying why, when the kernel lacks the bridge or the veth driver."""
    tag = secrets.token_hex(3)
    for kind, make, name in (
        ("bridge", lambda n: nl.add_bridge(n), f"es-tp{tag}"),
        ("veth", lambda n: nl.add_veth(n, n + "p"), f"vesp{tag}"),
    ):
        try:
            make(name)
        except Internal as err:
            pytest.skip(f"the kernel makes no {kind} links: {err}")
        finally:
            nl.delete_link(name)


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Made]:
    # under pytest's temporary root, where the session's leak check looks for mounts
    register = Made(directory=str(tmp_path))
    yield register
    failures = []
    with Netlink() as nl:
        for name in reversed(register.links):
            try:
                nl.delete_link(name)
            except EstibaError as err:
                failures.append(str(err))
        failures += [f"link {name} left" for name in register.links if nl.link(name)]
    for path in reversed(register.namespaces):
        try:
            netns.remove(path)
        except EstibaError as err:
            failures.append(str(err))
    failures += [f"{path} left" for path in register.namespaces if os.path.lexists(path)]
    assert not failures, "cleaning up failed:\n" + "\n".join(failures)


@pytest.fixture
def subnets() -> Subnets:
    """Two free /24s of 10.231.0.0/16, judged by the host's routes (all tables)."""
    if not shutil.which("ip"):
        pytest.skip("no ip command to check the host's routes with")
    out = subprocess.run(["ip", "-4", "-o", "route", "show", "table", "all"],
                         capture_output=True, text=True, check=True).stdout
    taken = []
    for line in out.splitlines():
        dst = line.split()[0]
        if dst in ("default", "broadcast", "local", "unreachable", "blackhole",
                   "prohibit", "multicast"):
            dst = line.split()[1] if dst != "default" else "0.0.0.0/0"
        if dst == "0.0.0.0/0":
            continue  # the default route covers everything and clashes with nothing
        try:
            taken.append(ipaddress.ip_network(dst, strict=False))
        except ValueError:
            continue
    free = [net for net in ipaddress.ip_network("10.231.0.0/16").subnets(new_prefix=24)
            if not any(net.overlaps(t) for t in taken)]
    if len(free) < 2:
        pytest.skip("no two free /24s in 10.231.0.0/16 on this host")
    near, far = random.sample(free, 2)
    return Subnets(near, far)
