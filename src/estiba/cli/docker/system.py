"""``estiba info``, ``events``, ``system df`` and ``system prune``: docker's ``system``
commands. The text is made by pure functions (``info_text``, ``event_line``,
``df_rows``, ``prune_warning``)."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, count, filters, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from estiba.cli.docker.context import Context

INFO_FLAGS = (Flag("format", "f", kind="string", help="Go template, or 'json'"),)
EVENTS_FLAGS = (
    Flag("since", kind="string", help="Show the events since this time"),
    Flag("until", kind="string", help="Stop at this time"),
    Flag("filter", "f", repeat=True, kind="filter", help="Keep the events that match"),
    Flag("format", kind="string", help="Go template, or 'json'"),
)
DF_FLAGS = (
    Flag("verbose", "v", help="Show each object's usage"),
    Flag("format", kind="string", help="Go template, 'table' or 'json'"),
)
PRUNE_FLAGS = (
    Flag("all", "a", help="Remove every unused image, not only dangling ones"),
    Flag("force", "f", help="Skip the confirmation prompt"),
    Flag("volumes", help="Remove anonymous volumes as well"),
    Flag("filter", repeat=True, kind="filter", help="Prune only what matches"),
)
FLAGS_OF = {"info": INFO_FLAGS, "events": EVENTS_FLAGS, "df": DF_FLAGS,
            "prune": PRUNE_FLAGS}


# --- info ----------------------------------------------------------------------------


def _go(value: object) -> str:
    """A value as Go's fmt.Println prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def security_options(options: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """system.DecodeSecurityOptions: ``name=seccomp,profile=default`` as (name, the
    other key-value pairs); a legacy option without ``=`` is a name alone."""
    out = []
    for opt in options:
        if "=" not in opt:
            out.append((opt, []))
            continue
        name = ""
        pairs = []
        for part in opt.split(","):
            key, _, value = part.partition("=")
            if key == "name":
                name = value
            else:
                pairs.append((key, value))
        out.append((name, pairs))
    return out


def server_lines(info: Mapping[str, object]) -> list[str]:
    """The Server section of ``info``, as docker's prettyPrintServerInfo lays out the
    daemon's /info (lines empty in docker's ``fprintlnNonEmpty`` left out)."""
    lines: list[str] = []

    def line(label: str, value: object, non_empty: bool = False) -> None:
        text = _go(value)
        if non_empty and text == "":
            return
        lines.append(f"{label} {text}")

    g = info.get
    line(" Containers:", g("Containers", 0))
    line("  Running:", g("ContainersRunning", 0))
    line("  Paused:", g("ContainersPaused", 0))
    line("  Stopped:", g("ContainersStopped", 0))
    line(" Images:", g("Images", 0))
    line(" Server Version:", g("ServerVersion"), True)
    line(" Storage Driver:", g("Driver"), True)
    lines.extend(f"  {k}: {v}" for k, v in g("DriverStatus") or ())  # type: ignore[attr-defined]
    lines.extend(f" {k}: {v}" for k, v in g("SystemStatus") or ())  # type: ignore[attr-defined]
    line(" Logging Driver:", g("LoggingDriver"), True)
    line(" Cgroup Driver:", g("CgroupDriver"), True)
    line(" Cgroup Version:", g("CgroupVersion"), True)
    plugins: Mapping[str, list[str]] = g("Plugins") or {}  # type: ignore[assignment]
    lines.append(" Plugins:")
    line("  Volume:", " ".join(plugins.get("Volume") or ()))
    line("  Network:", " ".join(plugins.get("Network") or ()))
    if plugins.get("Authorization"):
        line("  Authorization:", " ".join(plugins["Authorization"]))
    line("  Log:", " ".join(plugins.get("Log") or ()))
    for directory in g("CDISpecDirs") or ():  # type: ignore[attr-defined]
        if directory == (g("CDISpecDirs") or [None])[0]:  # type: ignore[index]
            lines.append(" CDI spec directories:")
        lines.append(f"  {directory}")
    swarm: Mapping[str, object] = g("Swarm") or {}  # type: ignore[assignment]
    state = swarm.get("LocalNodeState", "")
    line(" Swarm:", state)
    if state not in ("inactive", "locked"):
        line("  NodeID:", swarm.get("NodeID", ""))
        if swarm.get("Error"):
            line("  Error:", swarm["Error"])
        line("  Is Manager:", bool(swarm.get("ControlAvailable")))
        line("  Node Address:", swarm.get("NodeAddr", ""))
    runtimes = g("Runtimes") or {}
    if runtimes:
        # docker prints a Go map's keys, in any order; sorted here
        line(" Runtimes:", " ".join(sorted(runtimes)))  # type: ignore[arg-type]
        line(" Default Runtime:", g("DefaultRuntime", ""))
    if g("OSType") == "linux":
        line(" Init Binary:", g("InitBinary", ""))
        for label, key in ((" containerd version:", "ContainerdCommit"),
                           (" runc version:", "RuncCommit"), (" init version:", "InitCommit")):
            line(label, (g(key) or {}).get("ID", ""))  # type: ignore[attr-defined]
        if g("SecurityOptions"):
            lines.append(" Security Options:")
            for name, pairs in security_options(g("SecurityOptions")):  # type: ignore[arg-type]
                lines.append(f"  {name}")
                lines.extend(f"   Profile: {v}" for k, v in pairs if k == "profile")
    if g("OSType") == "windows":
        line(" Default Isolation:", g("Isolation", ""))
    line(" Kernel Version:", g("KernelVersion"), True)
    line(" Operating System:", g("OperatingSystem"), True)
    line(" OSType:", g("OSType"), True)
    line(" Architecture:", g("Architecture"), True)
    line(" CPUs:", g("NCPU", 0))
    from estiba.units import bytes_size

    line(" Total Memory:", bytes_size(float(g("MemTotal") or 0)))  # type: ignore[arg-type]
    line(" Name:", g("Name"), True)
    line(" ID:", g("ID"), True)
    line(" Docker Root Dir:", g("DockerRootDir", ""))
    line(" Debug Mode:", bool(g("Debug")))
    if g("Debug"):
        line("  File Descriptors:", g("NFd", 0))
        line("  Goroutines:", g("NGoroutines", 0))
        line("  System Time:", g("SystemTime", ""))
        line("  EventsListeners:", g("NEventsListener", 0))
    line(" HTTP Proxy:", g("HttpProxy"), True)
    line(" HTTPS Proxy:", g("HttpsProxy"), True)
    line(" No Proxy:", g("NoProxy"), True)
    if g("Labels"):
        lines.append(" Labels:")
        lines.extend(f"  {label}" for label in g("Labels"))  # type: ignore[attr-defined]
    line(" Experimental:", bool(g("ExperimentalBuild")))
    registry: Mapping[str, object] = g("RegistryConfig") or {}  # type: ignore[assignment]
    indexes: Mapping[str, Mapping[str, object]] = registry.get("IndexConfigs") or {}  # type: ignore[assignment]
    cidrs: list[str] = registry.get("InsecureRegistryCIDRs") or []  # type: ignore[assignment]
    if indexes or cidrs:
        lines.append(" Insecure Registries:")
        lines.extend(f"  {i.get('Name', '')}" for i in indexes.values() if not i.get("Secure"))
        lines.extend(f"  {c}" for c in cidrs)
    if registry.get("Mirrors"):
        lines.append(" Registry Mirrors:")
        lines.extend(f"  {m}" for m in registry["Mirrors"])  # type: ignore[attr-defined]
    line(" Live Restore Enabled:", bool(g("LiveRestoreEnabled")))
    if g("ProductLicense"):
        line(" Product License:", g("ProductLicense"))
    if g("DefaultAddressPools"):
        lines.append(" Default Address Pools:")
        lines.extend(f"   Base: {p.get('Base', '')}, Size: {p.get('Size', 0)}"
                     for p in g("DefaultAddressPools"))  # type: ignore[attr-defined]
    return lines


def info_text(client: Mapping[str, object], server: Mapping[str, object] | None) -> str:
    """``info``'s text: the Client section (this program), the Server section (the
    daemon's /info; None: the daemon did not answer)."""
    name = (client.get("Platform") or {}).get("Name", "")  # type: ignore[attr-defined]
    lines = [f"Client: {name}" if name else "Client:"]
    if client.get("Version"):
        lines.append(f" Version:    {client['Version']}")
    lines.append(f" Context:    {client.get('Context', 'default')}")
    lines.append(f" Debug Mode: {_go(bool(client.get('Debug')))}")
    lines += ["", "Server:"]
    if server is not None:
        lines += server_lines(server)
        lines.append("")
    return "\n".join(lines) + "\n"


# system.Info's fields in its declared order, with the value Go's zero gives them;
# None in the second place: omitempty, left out when the daemon sends nothing
_INFO_FIELDS: tuple[tuple[str, object], ...] = (
    ("ID", ""), ("Containers", 0), ("ContainersRunning", 0), ("ContainersPaused", 0),
    ("ContainersStopped", 0), ("Images", 0), ("Driver", ""), ("DriverStatus", None),
    ("Plugins", {"Volume": None, "Network": None, "Authorization": None, "Log": None}),
    ("MemoryLimit", False), ("SwapLimit", False), ("CpuCfsPeriod", False),
    ("CpuCfsQuota", False), ("CPUShares", False), ("CPUSet", False), ("PidsLimit", False),
    ("IPv4Forwarding", False), ("Debug", False), ("NFd", 0), ("OomKillDisable", False),
    ("NGoroutines", 0), ("SystemTime", ""), ("LoggingDriver", ""), ("CgroupDriver", ""),
    ("CgroupVersion", ""), ("NEventsListener", 0), ("KernelVersion", ""),
    ("OperatingSystem", ""), ("OSVersion", ""), ("OSType", ""), ("Architecture", ""),
    ("IndexServerAddress", ""), ("RegistryConfig", None), ("NCPU", 0), ("MemTotal", 0),
    ("GenericResources", None), ("DockerRootDir", ""), ("HttpProxy", ""),
    ("HttpsProxy", ""), ("NoProxy", ""), ("Name", ""), ("Labels", None),
    ("ExperimentalBuild", False), ("ServerVersion", ""), ("Runtimes", None),
    ("DefaultRuntime", ""), ("Swarm", {}), ("LiveRestoreEnabled", False),
    ("Isolation", ""), ("InitBinary", ""), ("ContainerdCommit", {"ID": ""}),
    ("RuncCommit", {"ID": ""}), ("InitCommit", {"ID": ""}), ("SecurityOptions", None),
    ("ProductLicense", ...), ("DefaultAddressPools", ...), ("FirewallBackend", ...),
    ("CDISpecDirs", None), ("DiscoveredDevices", ...), ("Containerd", ...),
    ("Warnings", None),
)
_SWARM_FIELDS: tuple[tuple[str, object], ...] = (
    ("NodeID", ""), ("NodeAddr", ""), ("LocalNodeState", ""), ("ControlAvailable", False),
    ("Error", ""), ("RemoteManagers", None), ("Nodes", ...), ("Managers", ...),
    ("Cluster", ...), ("Warnings", ...),
)


def as_go_info(info: Mapping[str, object]) -> dict[str, object]:
    """The daemon's /info as docker decodes it into system.Info and encodes it again:
    the struct's fields in its order, zero values for what the daemon left out, the
    daemon's fields the struct does not have dropped."""

    def fill(data: Mapping[str, object], fields: tuple[tuple[str, object], ...]
             ) -> dict[str, object]:
        out: dict[str, object] = {}
        for name, zero in fields:
            if name in data and not (zero is ... and not data[name]):
                out[name] = data[name]
            elif zero is not ...:
                out[name] = zero
        return out

    filled = fill(info, _INFO_FIELDS)
    filled["Swarm"] = fill(info.get("Swarm") or {}, _SWARM_FIELDS)  # type: ignore[arg-type]
    return filled


# the maps of system.Info (the rest of its objects are structs)
_INFO_MAPS = frozenset({"Runtimes", "IndexConfigs", "Options", "Details"})


def go_struct(value: object, key: str = "") -> object:
    """Decoded JSON as Go's structs: objects keep the daemon's field order for
    ``json`` (Go's maps, named in ``_INFO_MAPS``, print their keys sorted)."""
    from estiba.cli.docker.context import Struct

    if isinstance(value, dict):
        if key in _INFO_MAPS:
            return {k: go_struct(v) for k, v in value.items()}
        return Struct(**{k: go_struct(v, k) for k, v in value.items()})
    if isinstance(value, list):
        return [go_struct(v) for v in value]
    return value


def info_data(client: Mapping[str, object], server: Mapping[str, object] | None,
              errors: list[str]) -> object:
    """What ``info --format`` renders: the daemon's /info with ``ClientInfo`` beside
    it (and ``ServerErrors`` when the daemon did not answer), as docker's dockerInfo."""
    data = as_go_info(server or {})
    if errors:
        data["ServerErrors"] = errors
    # docker's client section of info: its version without the negotiated API version
    data["ClientInfo"] = {"Debug": bool(client.get("Debug")), **{
        k: v for k, v in client.items() if k not in ("Debug", "APIVersion") and v != ""},
        "Plugins": [], "Warnings": None}
    return go_struct(data)


def info(ctx: Context, argv: list[str]) -> int:
    from estiba import errors
    from estiba.cli.docker.version import client_info

    opts, args = parse(argv, INFO_FLAGS)
    count("info", args, 0, 0)
    fmt = str(opts["format"] or "")
    server: dict | None
    failure = ""
    try:
        server = ctx.client.info()
        client = client_info(ctx.client.api_version)
    except errors.Unavailable:
        server, client = None, client_info("")
        failure = (f"Cannot connect to the Estiba daemon at {ctx.host}. Is the estiba "
                   "daemon running?")
    client["Debug"] = False
    if not fmt:
        ctx.out.write(info_text(client, server))
        if failure:
            ctx.err.write(f"{failure}\n")
            return 1
        for warning in (server or {}).get("Warnings") or ():
            ctx.err.write(f"{warning}\n")
        return 0
    from estiba.cli import gotemplate

    if failure:
        ctx.err.write(failure + "\n")
    data = info_data(client, server, [failure] if failure else [])
    if fmt == "json":
        fmt = "{{json .}}"
    try:
        template = gotemplate.parse(fmt)
    except gotemplate.TemplateError as err:
        ctx.err.write(f"template parsing error: {err}\n")
        return 64
    ctx.out.write(template.render(data) + "\n")
    return 1 if failure else 0


# --- events --------------------------------------------------------------------------

def rfc3339_nano_fixed(nanos: int, offset: int = 0) -> str:
    """Go's ``2006-01-02T15:04:05.000000000Z07:00`` of a time in nanoseconds, in a zone
    ``offset`` seconds east of UTC."""
    import time

    seconds, frac = divmod(nanos, 1_000_000_000)
    t = time.gmtime(seconds + offset)
    zone = "Z"
    if offset:
        sign = "+" if offset > 0 else "-"
        zone = f"{sign}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', t)}.{frac:09d}{zone}"


def event_line(event: Mapping[str, object], offset: int = 0) -> str:
    """docker's line for an event: time, type, action, actor, sorted attributes."""
    parts = []
    nanos = int(event.get("timeNano") or 0)  # type: ignore[call-overload]
    if not nanos and event.get("time"):
        nanos = int(event["time"]) * 1_000_000_000  # type: ignore[call-overload]
    if nanos:
        parts.append(rfc3339_nano_fixed(nanos, offset) + " ")
    actor: Mapping[str, object] = event.get("Actor") or {}  # type: ignore[assignment]
    parts.append(f"{event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}")
    attrs: Mapping[str, str] = actor.get("Attributes") or {}  # type: ignore[assignment]
    if attrs:
        parts.append(" (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")")
    return "".join(parts) + "\n"


class Message:
    """events.Message for a template (Go's field names); ``to_json`` writes its JSON
    tags, leaving out the empty ``status``, ``id`` and ``from`` as Go's omitempty does."""

    _TAGS = (("Status", "status"), ("ID", "id"), ("From", "from"), ("Type", "Type"),
             ("Action", "Action"), ("Actor", "Actor"), ("Scope", "scope"),
             ("Time", "time"), ("TimeNano", "timeNano"))

    def __init__(self, event: Mapping[str, object]) -> None:
        from estiba.cli.docker.context import Struct

        actor: Mapping[str, object] = event.get("Actor") or {}  # type: ignore[assignment]
        self.Status = event.get("status", "")
        self.ID = event.get("id", "")
        self.From = event.get("from", "")
        self.Type = event.get("Type", "")
        self.Action = event.get("Action", "")
        # a nil Go map: indexing it gives <no value>, not an error
        self.Actor = Struct(ID=actor.get("ID", ""), Attributes=actor.get("Attributes") or {})
        self.Scope = event.get("scope", "")
        self.Time = event.get("time", 0)
        self.TimeNano = event.get("timeNano", 0)
        self.__fields__ = tuple(name for name, _ in self._TAGS)

    def to_json(self) -> str:
        from estiba.cli.gotemplate.functions import _json

        return "{" + ",".join(
            f"{_json(tag)}:{_json(getattr(self, name))}" for name, tag in self._TAGS
            if tag not in ("status", "id", "from") or getattr(self, name)) + "}"


Message.__name__ = "*events.Message"  # the type docker's template errors name


def events(ctx: Context, argv: list[str]) -> int:
    import time

    from estiba.cli import gotemplate
    from estiba.cli.docker.timefilters import TimestampError, timestamp

    opts, args = parse(argv, EVENTS_FLAGS)
    count("events", args, 0, 0)
    fmt = str(opts["format"] or "")
    template = None
    as_json = fmt in ("json", "{{json .}}")
    if fmt and not as_json:
        try:
            template = gotemplate.parse(fmt)
            template.render(Message({}))  # docker checks it on an empty event
        except gotemplate.TemplateError as err:
            ctx.err.write(f"Error parsing format: {err}\n")
            return 64
    now = time.time()
    offset = time.localtime(now).tm_gmtoff
    try:
        since, until = (timestamp(str(opts[key]), now, offset) if opts[key] else ""
                        for key in ("since", "until"))
    except TimestampError as err:
        ctx.err.write(f"{err}\n")
        return 1
    import signal

    # a stream ends at ^C even when started with SIGINT ignored (as ``cmd &`` starts it)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stream = ctx.client.events(since=since or None, until=until or None,
                               filters=filters(opts["filter"]))  # type: ignore[arg-type]
    for event in stream:
        if as_json:
            line = Message(event).to_json() + "\n"
        elif template is not None:
            line = template.render(Message(event)) + "\n"
        else:
            line = event_line(event, offset)
        try:
            ctx.out.write(line)
            ctx.out.flush()  # a stream: each event as it comes, even into a pipe
        except BrokenPipeError:
            # the reader is gone (``| head``): end as quietly as docker, which SIGPIPE
            # ends; stdout pointed at /dev/null so that the exit's flush is silent
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            return 141
    return 0


# --- df ------------------------------------------------------------------------------

DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
              "Reclaimable": "RECLAIMABLE"}
_DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
_DF_IMAGES = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
              "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}")
_DF_CONTAINERS = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
                  "{{.RunningFor}}\t{{.Status}}\t{{.Names}}")
_DF_VOLUMES = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
_DF_CACHE = ("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t"
             "{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}")
CACHE_HEADERS = {"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE",
                 "CreatedSince": "CREATED", "LastUsedSince": "LAST USED",
                 "UsageCount": "USAGE", "Shared": "SHARED"}


def _reclaimable(reclaimable: int, total: int, percent: bool = True) -> str:
    from estiba.units import human_size

    if percent and total > 0:
        return f"{human_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return human_size(reclaimable)


def df_rows(du: Mapping[str, object]) -> list[object]:
    """The four lines of ``system df`` from the daemon's /system/df, counted as
    docker's disk-usage formatter counts them."""
    from estiba.cli.docker.context import Struct
    from estiba.units import human_size

    def row(kind: str, total: int, active: int, size: int, reclaim: str) -> object:
        return Struct(Active=str(active), Reclaimable=reclaim, Size=human_size(size),
                      TotalCount=str(total), Type=kind)

    images: list[Mapping] = du.get("Images") or []  # type: ignore[assignment]
    layers = int(du.get("LayersSize") or 0)  # type: ignore[call-overload]
    used = sum(int(i.get("Size", 0)) - int(i.get("SharedSize", 0)) for i in images
               if i.get("Containers") and i.get("Size", 0) != -1
               and i.get("SharedSize", 0) != -1)
    containers: list[Mapping] = du.get("Containers") or []  # type: ignore[assignment]

    def active(c: Mapping) -> bool:
        state = str(c.get("State") or "")
        return any(s in state for s in ("running", "paused", "restarting"))

    c_size = sum(int(c.get("SizeRw") or 0) for c in containers)
    c_free = sum(int(c.get("SizeRw") or 0) for c in containers if not active(c))
    volumes: list[Mapping] = du.get("Volumes") or []  # type: ignore[assignment]
    usage = [v.get("UsageData") or {"Size": -1, "RefCount": 0} for v in volumes]
    v_size = sum(int(u.get("Size", -1)) for u in usage if u.get("Size", -1) != -1)
    v_free = sum(int(u.get("Size", -1)) for u in usage
                 if u.get("Size", -1) != -1 and not u.get("RefCount"))
    cache: list[Mapping] = du.get("BuildCache") or []  # type: ignore[assignment]
    b_size = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    b_free = sum(int(b.get("Size") or 0) for b in cache
                 if not b.get("Shared") and not b.get("InUse"))
    return [
        row("Images", len(images), sum(1 for i in images if i.get("Containers")), layers,
            _reclaimable(layers - used, layers)),
        row("Containers", len(containers), sum(1 for c in containers if active(c)),
            c_size, _reclaimable(c_free, c_size)),
        row("Local Volumes", len(volumes), sum(1 for u in usage if u.get("RefCount")),
            v_size, _reclaimable(v_free, v_size)),
        row("Build Cache", len(cache), sum(1 for b in cache if b.get("InUse")), b_size,
            _reclaimable(b_free, b_size, percent=False)),
    ]


def df_verbose(du: Mapping[str, object], now: float, trunc: bool) -> object:
    """The objects of ``system df -v``: each image under its first tag, containers
    without their image's size, volumes, build cache records."""
    from estiba.cli.docker.context import Struct
    from estiba.cli.docker.output import ContainerRow, ImageRow, familiar_image
    from estiba.cli.docker.volumes import VolumeRow

    images = []
    for i in du.get("Images") or ():  # type: ignore[attr-defined]
        repo = tag = "<none>"
        tags = [t for t in i.get("RepoTags") or () if t != "<none>:<none>"]
        if tags:
            name, colon, t = tags[0].rpartition(":")
            if colon and "/" not in t:
                repo, tag = familiar_image(name), t
        images.append(ImageRow(i, repo, tag, "", now, trunc))
    containers = [ContainerRow({**c, "SizeRootFs": 0}, now, trunc)
                  for c in du.get("Containers") or ()]  # type: ignore[attr-defined]
    volumes = [VolumeRow(v) for v in du.get("Volumes") or ()]  # type: ignore[attr-defined]
    return Struct(Images=images, Containers=containers, Volumes=volumes, BuildCache=[])


def df_verbose_table(du: Mapping[str, object], now: float) -> str:
    from estiba.cli.docker.output import CONTAINER_HEADERS, IMAGE_HEADERS
    from estiba.cli.docker.volumes import HEADERS as VOLUME_HEADERS
    from estiba.cli.gotemplate import render_table
    from estiba.units import human_size

    objects = df_verbose(du, now, trunc=True)
    cache = sum(int(b.get("Size") or 0) for b in du.get("BuildCache") or ()  # type: ignore[attr-defined]
                if not b.get("Shared"))
    return ("Images space usage:\n\n"
            + render_table(_DF_IMAGES, objects.Images, IMAGE_HEADERS)  # type: ignore[attr-defined]
            + "\nContainers space usage:\n\n"
            + render_table(_DF_CONTAINERS, objects.Containers, CONTAINER_HEADERS)  # type: ignore[attr-defined]
            + "\nLocal Volumes space usage:\n\n"
            + render_table(_DF_VOLUMES, objects.Volumes,  # type: ignore[attr-defined]
                           {**VOLUME_HEADERS, "Links": "LINKS"})
            + f"\nBuild cache usage: {human_size(cache)}\n\n"
            + render_table(_DF_CACHE, [], CACHE_HEADERS))


def df(ctx: Context, argv: list[str]) -> int:
    import time

    from estiba.cli.docker.context import render_rows

    opts, args = parse(argv, DF_FLAGS)
    count("system df", args, 0, 0)
    fmt = str(opts["format"] or "") or "table"
    du = ctx.client.df()
    if not opts["verbose"]:
        ctx.out.write(render_rows(_DF_TABLE if fmt == "table" else fmt, df_rows(du),
                                  DF_HEADERS))
        return 0
    if fmt == "table":
        ctx.out.write(df_verbose_table(du, time.time()))
        return 0
    from estiba.cli import gotemplate

    objects = df_verbose(du, time.time(), trunc=fmt.startswith("table"))
    template = gotemplate.parse("{{json .}}" if fmt == "json" else fmt)
    ctx.out.write(template.render(objects))
    return 0


# --- prune ---------------------------------------------------------------------------


def prune_warning(all: bool, volumes: bool, wanted: Mapping[str, list[str]]) -> str:
    """docker's question before ``system prune``: what goes, and the filters."""
    from estiba.cli.docker.output import natural_sorted

    goes = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        goes.append("all anonymous volumes not used by at least one container")
    goes.append("all images without at least one container associated to them" if all
                else "all dangling images")
    goes.append("all build cache" if all else "unused build cache")
    text = "WARNING! This will remove:\n" + "".join(f"  - {g}\n" for g in goes)
    shown = [f"{name}={v}" for name in ("label", "label!", "until")
             for v in wanted.get(name, ())]
    shown = natural_sorted(shown, lambda s: s)  # docker sorts the filters naturally
    if shown:
        text += ("\n  Items to be pruned will be filtered with:\n"
                 + "".join(f"  - {f}\n" for f in shown))
    return text + "\nAre you sure you want to continue?"


def prune(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.pruning import confirm, deleted, image_lines, reclaimed

    opts, args = parse(argv, PRUNE_FLAGS)
    count("system prune", args, 0, 0)
    wanted = filters(opts["filter"], "--filter")  # type: ignore[arg-type]
    if opts["volumes"] and "until" in wanted:
        ctx.err.write('ERROR: The "until" filter is not supported with "--volumes"\n')
        return 1
    if not opts["force"] and not confirm(
            ctx, prune_warning(bool(opts["all"]), bool(opts["volumes"]), wanted)):
        return 0
    client = ctx.client
    space = 0
    report = client.prune_containers(filters=wanted)
    if report.get("ContainersDeleted"):
        ctx.out.write(deleted("Deleted Containers:", report["ContainersDeleted"]))
        space += int(report.get("SpaceReclaimed") or 0)
    report = client.prune_networks(filters=wanted)
    ctx.out.write(deleted("Deleted Networks:", report.get("NetworksDeleted") or ()))
    if opts["volumes"]:
        report = client.prune_volumes(filters=wanted)
        if report.get("VolumesDeleted"):
            ctx.out.write(deleted("Deleted Volumes:", report["VolumesDeleted"]))
            space += int(report.get("SpaceReclaimed") or 0)
    report = client.prune_images(filters={**wanted,
                                          "dangling": ["false" if opts["all"] else "true"]})
    if report.get("ImagesDeleted"):
        ctx.out.write(deleted("Deleted Images:", image_lines(report["ImagesDeleted"])))
        space += int(report.get("SpaceReclaimed") or 0)
    report = client.prune_build_cache(all=bool(opts["all"]), filters=wanted)
    if report.get("CachesDeleted"):
        ctx.out.write(deleted("Deleted build cache objects:", report["CachesDeleted"]))
        space += int(report.get("SpaceReclaimed") or 0)
    ctx.out.write(reclaimed(space))
    return 0
