"""What the core tells a journal of its steps (the engine's ``Journal.note``, held by
the services as their ``note``): the details of a mount, of a runtime's command, of
the namespaces and the cgroup a container's process got. The core never imports the
journal: a service's ``note`` is ``no_note`` until someone gives it another.

``note(container id, layer, action, details)``: ``details`` a dict, or a function
making it when the journal is read (from values that do not change), or at once when
it is marked ``at_once`` (what the kernel says now, gone later); never called for a
container without a journal. The builders here are pure, but ``namespaces`` and
``cgroup``, which read what the kernel says.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from estiba.core.runtimes import RuntimeCLI
    from estiba.shim.conmon import Launch
    from estiba.snapshots import Mount

    Details = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
    Note = Callable[[str, str, str, Details], None]

_OVERLAY_DIRS = ("lowerdir", "upperdir", "workdir")


def no_note(cid: str, layer: str, action: str, details: object) -> None:
    pass


def at_once(make: Callable[[], Mapping[str, Any]]) -> Callable[[], Mapping[str, Any]]:
    """``make`` marked to be called when its step is noted: it reads what will be
    gone later (a process's namespaces, a file's inode)."""
    make.at_once = True  # type: ignore[attr-defined]
    return make


def mount(record: Mount) -> dict[str, str]:
    """A Mount record as a reader wants it: type, source, options; overlay's lower,
    upper and work directories absolute (a record's ``cwd`` applied)."""
    from estiba.mounts import plan as plan_of

    plan = plan_of(record)
    out = {"type": record.type, "source": record.source}
    lowers = [p.value for p in plan.params if p.key == "lowerdir+"]
    if lowers:
        out["lowerdir"] = ":".join(lowers)
    for param in plan.params:
        if param.key in ("upperdir", "workdir"):
            out[param.key] = param.value
    others = [o for o in record.options if o.partition("=")[0] not in _OVERLAY_DIRS]
    if others:
        out["options"] = ",".join(others)
    return out


def prepared(snapshotter: str, key: str, parent: str,
             records: Sequence[Mount]) -> dict[str, Any]:
    """A snapshot prepared: its key, its parent, the mounts that show it."""
    return {"snapshotter": snapshotter, "key": key, "parent": parent, **_flat(records)}


def mounted(records: Sequence[Mount], target: str) -> dict[str, Any]:
    """The rootfs mount of a task."""
    return {"target": target, **_flat(records)}


def _flat(records: Sequence[Mount]) -> dict[str, Any]:
    """One record's fields, or several records as a list of lines."""
    if len(records) == 1:
        return mount(records[0])
    return {"mounts": [" ".join(f"{k}={v}" for k, v in mount(r).items())
                       for r in records]}


def created(launch: Launch, bundle: str, pid: int, spec: dict) -> dict[str, Any]:
    """The runtime's ``create`` as conmon runs it (``shim/conmon.py``: the runtime's
    global flags, ``create --bundle --pid-file``, ``--console-socket`` with a
    terminal), the container's pid, and the mounts the runtime makes in the
    container's mount namespace from config.json."""
    argv = [launch.runtime_path, *launch.runtime_args, "create", "--bundle", bundle,
            "--pid-file", launch.files.pid_file]
    if launch.terminal:
        argv += ["--console-socket", "<conmon's>"]
    mounts = []
    for m in spec.get("mounts") or ():
        options = ",".join(m.get("options") or ())
        mounts.append(f"{m.get('destination')} <- {m.get('source')} ({m.get('type')}"
                      + (f" {options})" if options else ")"))
    return {"run by": "conmon", "argv": [*argv, launch.id], "pid": pid,
            "config": f"{bundle}/config.json", "mounts": mounts}


def runtime_call(cli: RuntimeCLI, verb: str, id: str, *args: Any) -> dict[str, Any]:
    """A runtime verb's command line (``start``, ``kill`` with its signal and all,
    ``delete`` with force) and where it ran: estiba's own runtime runs these in the
    daemon's process (``runtimes.InProcessEstiba``)."""
    from estiba.core import runtimes

    build = {"start": runtimes.start_argv, "kill": runtimes.kill_argv,
             "delete": runtimes.delete_argv}[verb]
    in_process = isinstance(cli, runtimes.InProcessEstiba)
    return {"argv": build(cli.runtime.path, cli.root, id, *args),
            "ran": "in the daemon's process, as estiba-runtime's code" if in_process
            else "as a process"}


def namespaces(pid: int) -> dict[str, Any]:
    """The namespaces of process ``pid`` (the kernel's names: ``net:[4026532712]``)
    and which of them it shares with the daemon."""
    from estiba.kernel.proc import namespaces as read

    own = read("self")
    theirs = read(pid)
    return {**theirs, "shared with the daemon": [k for k, v in theirs.items()
                                                 if own.get(k) == v]}


def cgroup(pid: int, cgroups_path: str) -> dict[str, Any]:
    """The cgroup of process ``pid`` as the kernel states it (``/proc/<pid>/cgroup``:
    ``hierarchy: path``, each v1 hierarchy by its controllers, v2's as ``cgroup2``),
    hierarchies of one path on one line (``hierarchies``); ``cgroupsPath`` the
    spec's."""
    from estiba.errors import from_oserror

    path = f"/proc/{pid}/cgroup"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise from_oserror(f"read {path}", err) from err
    return {"cgroupsPath": cgroups_path, "hierarchies": hierarchies(text)}


def hierarchies(text: str) -> list[str]:
    """``/proc/<pid>/cgroup``'s lines as ``controllers, ...: path``, one per path;
    the hierarchies where the process is in the root cgroup (a v1 host's v2 one)
    left out."""
    by_path: dict[str, list[str]] = {}
    for line in text.splitlines():
        number, _, rest = line.partition(":")
        controllers, _, where = rest.partition(":")
        if where in ("", "/"):
            continue
        if number == "0" and not controllers:
            controllers = "cgroup2"
        by_path.setdefault(where, []).extend(controllers.split(","))
    return [f"{', '.join(sorted(names))}: {where}" for where, names in by_path.items()]
