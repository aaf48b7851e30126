"""The journal of a Docker container: what happened below the Docker API while it was
made, started, stopped and removed, for ``estiba run --explain`` (served by the
estiba-only route ``GET /containers/{id}/explain``). A learner reads in it how a docker
command becomes the core's calls (containerd's services), the shim's and the OCI
runtime's commands, and the kernel objects they made.

A step is (seconds since the journal began, layer, action, details). Layers, from the
Docker API down: ``engine`` (dockerd's role), ``core`` (containerd's services), ``shim``
(conmon), ``runtime`` (estiba-runtime, runc's role), ``kernel`` (the namespaces,
cgroups, mounts, links and firewall rules made).

Recording costs little, as it happens on every container's way: the engine ``begin``s a
container's journal at its create; from then on the engine, the core's services and the
network service ``note`` its steps (they hold the journal's ``note`` as a callable: the
core never imports the engine). Details given as a function are made only when the
journal is read (from values that do not change: a spec, a command's record), but for
a function marked ``at_once`` (``core.steps.at_once``: what the kernel says now, gone
later), called when the step is noted. A note of a container without a journal (a core
client's own container) is dropped, its details never made. ``ended`` after its
removal: a journal is kept ``linger`` seconds more,
so that a ``--rm`` container can still be explained. At most ``keep`` journals are kept
(the oldest go first), each of at most ``max_steps`` steps (one restarting for days
keeps its first steps and its latest, and says how many went in between). Journals live
in memory only: a daemon's restart forgets them.

``spec_details`` and ``mount_steps`` are pure: what the engine's create notes of the
OCI spec it made and of the volumes and binds it gave the container.
"""

from __future__ import annotations

import threading
import time

from estiba import errors
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    Details = Mapping[str, Any]

KEEP = 128  # journals
LINGER = 600.0  # seconds a removed container's journal is kept
MAX_STEPS = 400  # steps of one journal
HEAD = 100  # the first steps, kept when a journal is cut
ETC_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")  # the engine writes them


class Step(Record):
    at: float  # seconds since the journal began
    layer: str
    action: str
    details: Any  # a dict, or a function making it (``Journal.note``)

    def json(self) -> dict:
        return {"at": round(self.at, 6), "layer": self.layer, "action": self.action,
                "details": self.details}

    def made(self) -> Step:
        """The step with its details made."""
        if not callable(self.details):
            return self
        return self.replace(details=_made(self.details))


class _Journal:
    __slots__ = ("id", "name", "began", "steps", "left_out", "ended_at")

    def __init__(self, cid: str, name: str, began: float) -> None:
        self.id = cid
        self.name = name
        self.began = began
        self.steps: list[Step] = []
        self.left_out = 0
        self.ended_at: float | None = None


class Journal:
    """The journals of recent containers; every method may be called from any
    thread."""

    def __init__(self, keep: int = KEEP, linger: float = LINGER,
                 max_steps: int = MAX_STEPS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_steps <= HEAD + 1:
            raise errors.InvalidArgument(f"journal: max_steps {max_steps} must exceed "
                                         f"{HEAD + 1}")
        self.keep = keep
        self.linger = linger
        self.max_steps = max_steps
        self.clock = clock
        self._lock = threading.Lock()
        self._journals: dict[str, _Journal] = {}  # oldest first

    def begin(self, cid: str, name: str, details: Details) -> None:
        """Start the journal of container ``cid`` (named ``name``) with the engine's
        ``create`` step."""
        now = self.clock()
        with self._lock:
            self._forget_old(now)
            journal = self._journals[cid] = _Journal(cid, name.lstrip("/"), now)
            journal.steps.append(Step(at=0.0, layer="engine", action="create",
                                      details=dict(details)))

    def note(self, cid: str, layer: str, action: str,
             details: Details | Callable[[], Details]) -> None:
        """One step of container ``cid``; ``details`` may be a function making them
        when the journal is read, or at once if it is marked ``at_once``."""
        with self._lock:
            journal = self._journals.get(cid)
        if journal is None:
            return
        if callable(details) and getattr(details, "at_once", False):
            details = _made(details)
        step = Step(at=self.clock() - journal.began, layer=layer, action=action,
                    details=details)
        with self._lock:
            journal.steps.append(step)
            if len(journal.steps) > self.max_steps:
                self._cut(journal)

    def note_all(self, cid: str, steps: Iterable[tuple[str, str, Details]]) -> None:
        for layer, action, details in steps:
            self.note(cid, layer, action, details)

    def ended(self, cid: str) -> None:
        """Container ``cid`` is removed: its last step, and its journal kept for
        ``linger`` seconds from now."""
        self.note(cid, "engine", "removed", {})
        with self._lock:
            journal = self._journals.get(cid)
            if journal is not None:
                journal.ended_at = self.clock()

    def explain(self, ref: str) -> list[dict]:
        """The steps (JSON) of the container ``ref`` names: its id, an id prefix or its
        name; NotFound when no journal is kept of it."""
        with self._lock:
            self._forget_old(self.clock())
            journal = _find(self._journals, ref)
            if journal is None:
                raise errors.NotFound(f"no journal of container {ref}: it was made before "
                                      "the daemon started, or removed too long ago")
            journal.steps[:] = [step.made() for step in journal.steps]
            return [step.json() for step in journal.steps]

    def _cut(self, journal: _Journal) -> None:
        """One step too many: the oldest after the first ``HEAD`` goes, and the step at
        ``HEAD`` says how many went (the first cut makes it so, dropping the one
        there)."""
        steps = journal.steps
        dropped = steps.pop(HEAD + 1)
        journal.left_out += 1 if journal.left_out else 2
        steps[HEAD] = Step(at=dropped.at, layer="engine", action="left out",
                           details={"steps": journal.left_out})

    def _forget_old(self, now: float) -> None:
        """Drop the journals kept past their linger, then the oldest beyond ``keep``
        (under the lock)."""
        gone = [cid for cid, j in self._journals.items()
                if j.ended_at is not None and now - j.ended_at > self.linger]
        for cid in gone:
            del self._journals[cid]
        while len(self._journals) >= self.keep:
            del self._journals[next(iter(self._journals))]


def _made(make: Callable[[], Details]) -> dict:
    """What ``make`` gives; a journal never fails what it records: details that cannot
    be made say why instead."""
    try:
        return dict(make())
    except (errors.EstibaError, OSError, ValueError, KeyError) as err:
        return {"unreadable": str(err)}


def _find(journals: dict[str, _Journal], ref: str) -> _Journal | None:
    """Docker's order: the full id, a name, a unique id prefix."""
    found = journals.get(ref)
    if found is not None:
        return found
    name = ref.lstrip("/")
    named = [j for j in journals.values() if j.name == name]
    if named:
        return named[-1]  # the latest of a name reused
    prefixed = [j for cid, j in journals.items() if ref and cid.startswith(ref)]
    return prefixed[0] if len(prefixed) == 1 else None


# --- what the create notes (pure) ------------------------------------------------------


def spec_details(spec: dict) -> dict:
    """What a learner looks for in the OCI spec the engine made: the namespaces asked
    for (a path: one joined), the cgroup, the process."""
    linux = spec.get("linux") or {}
    spaces = []
    for ns in linux.get("namespaces") or ():
        spaces.append(f"{ns.get('type')} (join {ns['path']})" if ns.get("path")
                      else str(ns.get("type")))
    process = spec.get("process") or {}
    user = process.get("user") or {}
    return {"namespaces": spaces, "cgroupsPath": linux.get("cgroupsPath", ""),
            "args": list(process.get("args") or ()),
            "user": f"{user.get('uid', 0)}:{user.get('gid', 0)}",
            "hostname": spec.get("hostname", "")}


def mount_steps(spec: dict, volumes: list[dict], made: Iterable[str],
                standard: Iterable[str], mountpoint: Callable[[str], str] | None = None
                ) -> list[tuple[str, str, dict]]:
    """The engine's steps for the container's own mounts of ``spec`` (those not in
    ``standard``): the files the engine writes (/etc/hosts ...: one step), each volume
    (``volumes``: the create's label entries; ``made``: the names made for it;
    ``mountpoint``: a volume's host directory), bind of a host path and tmpfs."""
    skip = set(standard)
    by_destination = {v["Destination"]: v for v in volumes}
    made = set(made)
    files = {}
    steps = []
    for mount in spec.get("mounts") or ():
        destination = mount.get("destination", "")
        options = ",".join(mount.get("options") or ())
        volume = by_destination.get(destination)
        if volume is not None:
            source = mountpoint(volume["Name"]) if mountpoint else mount.get("source", "")
            steps.append(("engine", "volume", {
                "name": volume["Name"], "made": volume["Name"] in made, "source": source,
                "destination": destination, "options": options}))
        elif destination in ETC_FILES:
            files[destination] = mount.get("source", "")
        elif destination in skip:
            continue
        elif mount.get("type") == "tmpfs":
            steps.append(("engine", "tmpfs", {"destination": destination,
                                              "options": options}))
        else:
            steps.append(("engine", "bind", {"source": mount.get("source", ""),
                                             "destination": destination,
                                             "options": options}))
    if files:
        steps.insert(0, ("engine", "files", files))
    return steps
