"""The suite's own layout: test modules are imported by their basename (rootdir-relative
imports without packages), so two files of one name anywhere under tests/ stop the
whole collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_names_are_unique() -> None:
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, n in names.items() if n > 1] == []
