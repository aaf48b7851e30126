"""Rules beside iptables (estiba.network.forwarding), with a recording fake for the
binaries and nft's listing, no kernel."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from estiba.errors import Internal
from estiba.network.forwarding import (
    Iptables,
    accept_rules,
    has_forward_chain,
    legacy_has_filter,
)

FILTER_WITH_FORWARD = {"nftables": [
    {"metainfo": {"version": "1.0.6"}},
    {"table": {"family": "ip", "name": "filter"}},
    {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "hook": "forward"}},
]}


class FakeNft:
    def __init__(self, listing: dict | None) -> None:
        self.listing = listing

    def list_table(self, family: str, name: str) -> dict | None:
        assert (family, name) == ("ip", "filter")
        return self.listing


class FakeIptables:
    """Each binary's FORWARD chain as a list of rule specs; records every call."""

    def __init__(self, *binaries: str) -> None:
        self.chains: dict[str, list[list[str]]] = {b: [] for b in binaries}
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.calls.append(argv)
        binary, wait, verb, chain, *spec = argv
        assert (wait, chain) == ("-w", "FORWARD")
        rules = self.chains[binary]
        code = 0
        if verb == "-C":
            code = 0 if spec in rules else 1
        elif verb == "-I":
            rules.insert(0, spec)
        elif verb == "-D":
            if spec in rules:
                rules.remove(spec)
            else:
                code = 1
        return subprocess.CompletedProcess(argv, code, "", "")


def which(name: str) -> str | None:
    return f"/usr/sbin/{name}"


def make(tmp_path: Path, listing: dict | None, legacy: str | None,
         fake: FakeIptables) -> Iptables:
    names = tmp_path / "ip_tables_names"
    if legacy is not None:
        names.write_text(legacy)
    return Iptables(FakeNft(listing), run=fake, which=which, legacy_tables=str(names))


def test_accept_rules_are_tagged() -> None:
    assert accept_rules("es-1") == [
        ["-i", "es-1", "-m", "comment", "--comment", "estiba", "-j", "ACCEPT"],
        ["-o", "es-1", "-m", "comment", "--comment", "estiba", "-j", "ACCEPT"],
    ]


def test_forward_chain_found_in_listing() -> None:
    assert has_forward_chain(FILTER_WITH_FORWARD)
    assert not has_forward_chain(None)
    assert not has_forward_chain({"nftables": [{"table": {"name": "filter"}}]})


def test_legacy_filter_found_in_table_names() -> None:
    assert legacy_has_filter("nat\nfilter\n")
    assert not legacy_has_filter("nat\n")
    assert not legacy_has_filter("")


def test_no_forward_chain_anywhere_runs_nothing(tmp_path: Path) -> None:
    fake = FakeIptables()
    tables = make(tmp_path, None, None, fake)
    assert tables.backends() == []
    tables.ensure("es-1")
    tables.remove("es-1")
    assert fake.calls == []


def test_legacy_is_never_run_without_its_filter_table(tmp_path: Path) -> None:
    fake = FakeIptables("/usr/sbin/iptables-nft")
    tables = make(tmp_path, FILTER_WITH_FORWARD, "nat\n", fake)
    assert tables.backends() == ["/usr/sbin/iptables-nft"]
    tables.ensure("es-1")
    assert all(call[0] == "/usr/sbin/iptables-nft" for call in fake.calls)


def test_ensure_inserts_at_top_in_order_and_is_idempotent(tmp_path: Path) -> None:
    nft, legacy = "/usr/sbin/iptables-nft", "/usr/sbin/iptables-legacy"
    fake = FakeIptables(nft, legacy)
    fake.chains[nft].append(["-j", "DOCKER-USER"])
    tables = make(tmp_path, FILTER_WITH_FORWARD, "filter\n", fake)
    tables.ensure("es-1")
    tables.ensure("es-1")
    assert fake.chains[nft] == [*accept_rules("es-1"), ["-j", "DOCKER-USER"]]
    assert fake.chains[legacy] == accept_rules("es-1")
    assert sum(call[2] == "-I" for call in fake.calls) == 4
    tables.remove("es-1")
    tables.remove("es-1")
    assert fake.chains == {nft: [["-j", "DOCKER-USER"]], legacy: []}


def test_remove_deletes_duplicates(tmp_path: Path) -> None:
    nft = "/usr/sbin/iptables-nft"
    fake = FakeIptables(nft)
    fake.chains[nft] = [*accept_rules("es-1"), *accept_rules("es-1")]
    make(tmp_path, FILTER_WITH_FORWARD, None, fake).remove("es-1")
    assert fake.chains[nft] == []


def test_a_failing_binary_raises(tmp_path: Path) -> None:
    def broken(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(argv), 4, "", "iptables: Resource busy.\n")

    tables = Iptables(FakeNft(FILTER_WITH_FORWARD), run=broken, which=which,
                      legacy_tables=str(tmp_path / "none"))
    with pytest.raises(Internal, match="iptables-nft -C FORWARD -o es-1 .*resource busy"):
        tables.ensure("es-1")
