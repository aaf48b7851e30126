"""Failpoints: named fault points for crash testing, as etcd's gofail and TiKV's
fail-rs have, turned on only by the documented debug option ``--debug-failpoints``
(off by default). A failpoint is a name the code checks at one place (``hit(name)``):
when it is on, that place raises ``Failpoint`` (or exits the process for names ending
in ``-exit``), so a test can stop the daemon between two steps and check what a restart
recovers.

No code checks a failpoint yet; ``KNOWN`` lists the names as they are placed.
"""

from __future__ import annotations

import os

KNOWN: frozenset[str] = frozenset()


class Failpoint(Exception):
    """Raised where an active failpoint is hit."""


class Failpoints:
    def __init__(self, active: tuple[str, ...] = ()) -> None:
        unknown = sorted(set(active) - KNOWN)
        if unknown:
            known = ", ".join(sorted(KNOWN)) or "none yet"
            raise ValueError(f"unknown failpoints {', '.join(unknown)} (known: {known})")
        self.active = frozenset(active)

    def hit(self, name: str) -> None:
        if name not in self.active:
            return
        if name.endswith("-exit"):
            os._exit(99)
        raise Failpoint(f"failpoint {name}")
