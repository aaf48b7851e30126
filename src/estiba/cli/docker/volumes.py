"""``estiba volume create|ls|inspect|rm|prune``: docker's ``volume`` commands. The rows
of ``ls`` (and of ``system df -v``) are ``VolumeRow``; the commands only call the daemon
and print."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, count, filters, key_values, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from estiba.cli.docker.context import Context

CREATE_FLAGS = (
    Flag("driver", "d", kind="string", help="Volume driver to use"),
    Flag("name", kind="string", help="Name of the volume (or give it as the argument)"),
    Flag("opt", "o", repeat=True, kind="map", help="Options for the driver"),
    Flag("label", repeat=True, help="Metadata to set on the volume"),
)
LS_FLAGS = (
    Flag("quiet", "q", help="Print the names only"),
    Flag("filter", "f", repeat=True, kind="filter", help="Keep the volumes that match"),
    Flag("format", kind="string", help="Go template, 'table' or 'json'"),
    Flag("cluster", help="List cluster volumes (swarm only)"),
)
INSPECT_FLAGS = (Flag("format", "f", kind="string", help="Go template, or 'json'"),)
RM_FLAGS = (Flag("force", "f", help="Remove even volumes in use"),)
PRUNE_FLAGS = (
    Flag("all", "a", help="Remove named volumes as well as anonymous ones"),
    Flag("force", "f", help="Skip the confirmation prompt"),
    Flag("filter", repeat=True, kind="filter", help="Prune only what matches"),
)
FLAGS_OF = {"create": CREATE_FLAGS, "ls": LS_FLAGS, "inspect": INSPECT_FLAGS,
            "rm": RM_FLAGS, "prune": PRUNE_FLAGS}

ANONYMOUS_WARNING = ("WARNING! This will remove anonymous local volumes not used by at "
                     "least one container.\nAre you sure you want to continue?")
ALL_WARNING = ("WARNING! This will remove all local volumes not used by at least one "
               "container.\nAre you sure you want to continue?")
_TABLE = "table {{.Driver}}\t{{.Name}}"
HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE",
           "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS",
           "Size": "SIZE", "Group": "GROUP", "Availability": "AVAILABILITY",
           "Status": "STATUS"}


class VolumeRow:
    """One line of ``volume ls`` (and of ``system df -v``): docker's volumeContext."""

    __fields__ = ("Availability", "Driver", "Group", "Labels", "Links", "Mountpoint",
                  "Name", "Scope", "Size", "Status")

    def __init__(self, v: Mapping[str, object]) -> None:
        from estiba.units import human_size

        self.Name = str(v.get("Name") or "")
        self.Driver = str(v.get("Driver") or "")
        self.Scope = str(v.get("Scope") or "")
        self.Mountpoint = str(v.get("Mountpoint") or "")
        self._labels: Mapping[str, str] = v.get("Labels") or {}  # type: ignore[assignment]
        # docker joins them in a Go map's order: any order; sorted here
        self.Labels = ",".join(sorted(f"{k}={val}" for k, val in self._labels.items()))
        usage: Mapping[str, int] | None = v.get("UsageData")  # type: ignore[assignment]
        self.Links = "N/A" if usage is None else str(usage.get("RefCount", 0))
        size = -1 if usage is None else int(usage.get("Size", -1))
        self.Size = "N/A" if size == -1 else human_size(size)
        # the cluster fields: a local volume has none
        self.Group = self.Availability = self.Status = "N/A"

    def Label(self, name: str) -> str:  # noqa: N802 - the name templates call
        return self._labels.get(name, "")


VolumeRow.__name__ = "*formatter.volumeContext"  # the type docker's template errors name


def ls_format(fmt: str, quiet: bool) -> str:
    """formatter.NewVolumeFormat: a format given wins over ``-q``."""
    if fmt in ("", "table"):
        return "{{.Name}}" if quiet else _TABLE
    return fmt


def create_body(opts: Mapping[str, object], args: list[str]) -> dict[str, object]:
    """The ``POST /volumes/create`` body: the name as an argument or ``--name``."""
    from estiba.cli.docker.networks import refused

    name = str(opts["name"] or "")
    if args:
        if name:
            raise refused("conflicting options: cannot specify a volume-name through "
                             "both --name and as a positional arg")
        name = args[0]
    return {"Driver": opts["driver"] or "local",
            "DriverOpts": key_values(opts["opt"]),  # type: ignore[arg-type]
            "Name": name, "Labels": key_values(opts["label"])}  # type: ignore[arg-type]


def create(ctx: Context, argv: list[str]) -> int:
    opts, args = parse(argv, CREATE_FLAGS)
    count("volume create", args, 0, 1)
    body = create_body(opts, args)
    ctx.out.write(f"{ctx.client.create_volume(body).get('Name', '')}\n")
    return 0


def ls(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.context import render_rows
    from estiba.cli.docker.output import natural_sorted

    opts, args = parse(argv, LS_FLAGS)
    count("volume ls", args, 0, 0)
    fmt = ls_format(str(opts["format"] or ""), bool(opts["quiet"]))
    answer = ctx.client.volumes(filters=filters(opts["filter"]))  # type: ignore[arg-type]
    found = natural_sorted(answer.get("Volumes") or [], lambda v: str(v.get("Name") or ""))
    ctx.out.write(render_rows(fmt, [VolumeRow(v) for v in found], HEADERS))
    return 0


def inspect(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.inspect import inspect_each

    opts, names = parse(argv, INSPECT_FLAGS)
    count("volume inspect", names, 1, None)
    return inspect_each(ctx, names, ctx.client.inspect_volume, str(opts["format"] or ""))


def rm(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.context import each

    opts, names = parse(argv, RM_FLAGS)
    count("volume rm", names, 1, None)
    return each(ctx, names, lambda n: ctx.client.remove_volume(n, force=bool(opts["force"])))


def prune_report(report: Mapping[str, object]) -> tuple[str, int]:
    """(what ``volume prune`` prints before its total, the bytes reclaimed): docker
    counts the space only when a volume went."""
    from estiba.cli.docker.pruning import deleted

    text = deleted("Deleted Volumes:", report.get("VolumesDeleted") or ())  # type: ignore[arg-type]
    return text, int(report.get("SpaceReclaimed") or 0) if text else 0  # type: ignore[call-overload]


def prune(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.pruning import confirm, reclaimed

    opts, args = parse(argv, PRUNE_FLAGS)
    count("volume prune", args, 0, 0)
    wanted = filters(opts["filter"], "--filter")  # type: ignore[arg-type]
    warning = ANONYMOUS_WARNING
    if opts["all"]:
        if "all" in wanted:
            ctx.err.write("conflicting options: cannot specify both --all and "
                          "--filter all=1\n")
            return 1
        wanted["all"] = ["true"]
        warning = ALL_WARNING
    if not opts["force"] and not confirm(ctx, warning):
        return 0
    text, space = prune_report(ctx.client.prune_volumes(filters=wanted))
    ctx.out.write(text + reclaimed(space))
    return 0
