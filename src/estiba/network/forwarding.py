"""Living beside iptables: accepting the bridges' traffic in its FORWARD chain.

A forwarded packet passes every base chain on the netfilter forward hook, and is dropped
when any of them drops it. Estiba's own table accepts, but an iptables ``filter`` table
left by another engine (policy DROP on FORWARD, as Docker sets it) would still drop
everything its bridges forward, container to container (br_netfilter passes bridged
packets through the hook too) and container to outside. So where such a FORWARD chain
exists, Estiba inserts two rules at its top accepting traffic into and out of each of its
bridges, tagged with the comment ``estiba``, and deletes them with the bridge.

Two iptables can be at work at once: iptables-nft (its tables are nftables tables) and
iptables-legacy (the x_tables of the kernel). Each is handled only when its FORWARD chain
exists, found without running it: iptables-legacy makes the legacy tables appear when it
merely looks at them, and they would then filter from there on.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from estiba.errors import Internal, Unavailable

COMMENT = "estiba"
NFT_BINARY = "iptables-nft"
LEGACY_BINARY = "iptables-legacy"
LEGACY_TABLES = "/proc/net/ip_tables_names"
CHAIN = "FORWARD"


class TableLister(Protocol):
    """What ``Iptables`` needs of ``estiba.kernel.nftables.Nftables``."""

    def list_table(self, family: str, name: str) -> dict | None: ...


def accept_rules(bridge: str) -> list[list[str]]:
    """The rule specs (the argv after ``-I FORWARD`` or ``-D FORWARD``) accepting what
    comes out of ``bridge`` and what goes into it."""
    tag = ["-m", "comment", "--comment", COMMENT]
    return [["-i", bridge, *tag, "-j", "ACCEPT"], ["-o", bridge, *tag, "-j", "ACCEPT"]]


def has_forward_chain(listing: dict | None) -> bool:
    """Whether nft's JSON listing of ``ip filter`` holds iptables' FORWARD chain."""
    if not listing:
        return False
    items = listing.get("nftables", [])
    return any(item.get("chain", {}).get("name") == CHAIN for item in items)


def legacy_has_filter(tables_names: str) -> bool:
    """Whether ``/proc/net/ip_tables_names`` (one table a line) lists ``filter``."""
    return "filter" in tables_names.split()


Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


class Iptables:
    """The iptables binaries that exist, on the FORWARD chains that exist."""

    def __init__(self, nftables: TableLister, run: Runner = _run,
                 which: Callable[[str], str | None] = shutil.which,
                 legacy_tables: str = LEGACY_TABLES) -> None:
        self._nftables = nftables
        self._run = run
        self._which = which
        self._legacy_tables = Path(legacy_tables)

    def backends(self) -> list[str]:
        """The binaries whose FORWARD chain exists, by path."""
        found = []
        nft = self._which(NFT_BINARY)
        if nft and has_forward_chain(self._nftables.list_table("ip", "filter")):
            found.append(nft)
        legacy = self._which(LEGACY_BINARY)
        if legacy and legacy_has_filter(self._read_legacy_tables()):
            found.append(legacy)
        return found

    def ensure(self, bridge: str) -> None:
        """Insert the accept rules of ``bridge`` missing at the top of each FORWARD."""
        for binary in self.backends():
            # inserted last first, so they end up at the top in the order of the list
            for spec in reversed(accept_rules(bridge)):
                if not self._exists(binary, spec):
                    self._call(binary, "-I", spec)

    def remove(self, bridge: str) -> None:
        """Delete the accept rules of ``bridge`` (every copy; a missing one is fine)."""
        for binary in self.backends():
            for spec in accept_rules(bridge):
                while self._exists(binary, spec):
                    self._call(binary, "-D", spec)

    def _read_legacy_tables(self) -> str:
        try:
            return self._legacy_tables.read_text()
        except FileNotFoundError:
            return ""  # ip_tables not loaded: no legacy table at all
        except OSError as err:
            raise Unavailable(f"read {self._legacy_tables}: {err.strerror}") from err

    def _exists(self, binary: str, spec: list[str]) -> bool:
        done = self._run([binary, "-w", "-C", CHAIN, *spec])
        if done.returncode == 0:
            return True
        if done.returncode == 1:  # "bad rule (does a matching rule exist ...)"
            return False
        raise _failed(binary, "-C", spec, done)

    def _call(self, binary: str, verb: str, spec: list[str]) -> None:
        done = self._run([binary, "-w", verb, CHAIN, *spec])
        if done.returncode != 0:
            raise _failed(binary, verb, spec, done)


def _failed(binary: str, verb: str, spec: list[str],
            done: subprocess.CompletedProcess[str]) -> Internal:
    reason = (done.stderr or done.stdout or "").strip().lower() or f"exit {done.returncode}"
    return Internal(f"{Path(binary).name} {verb} {CHAIN} {' '.join(spec)}: {reason}")
