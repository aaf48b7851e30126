"""``estiba network create|ls|inspect|rm|prune|connect|disconnect``: docker's ``network``
commands. The request bodies are built by pure functions (``create_body``,
``endpoint_config``) and the rows of ``ls`` by ``NetworkRow``; the commands only call
the daemon and print."""

from __future__ import annotations

from estiba.cli.docker.flags import (
    Flag,
    count,
    exact,
    filters,
    given,
    int_value,
    key_values,
    parse,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from estiba.cli.docker.context import Context

CREATE_FLAGS = (
    Flag("driver", "d", kind="string", help='Network driver to use (default "bridge")'),
    Flag("opt", "o", repeat=True, kind="map", help="Options for the driver"),
    Flag("label", repeat=True, help="Metadata to set on the network"),
    Flag("internal", help="Keep the network from reaching outside"),
    Flag("attachable", help="Let containers be connected by hand"),
    Flag("ingress", help="Make it the swarm's routing-mesh network"),
    Flag("ipv4", help="Give the network IPv4 addresses (the default)"),
    Flag("ipv6", help="Give the network IPv6 addresses"),
    Flag("ipam-driver", kind="string", help="Address manager to use"),
    Flag("ipam-opt", repeat=True, kind="map", help="Options for the address manager"),
    Flag("subnet", repeat=True, kind="strings", help="Subnet in CIDR notation"),
    Flag("ip-range", repeat=True, kind="strings",
         help="Range of a subnet to hand addresses from"),
    Flag("gateway", repeat=True, kind="strings", help="Gateway of a subnet"),
    Flag("aux-address", repeat=True, kind="map",
         help="Addresses the network driver must not hand out"),
    Flag("scope", kind="string", help="Scope of the network"),
    Flag("config-only", help="Network that holds configuration only"),
    Flag("config-from", kind="string", help="Network to copy the configuration from"),
)
LS_FLAGS = (
    Flag("quiet", "q", help="Print the IDs only"),
    Flag("no-trunc", help="Print whole IDs"),
    Flag("filter", "f", repeat=True, kind="filter", help="Keep the networks that match"),
    Flag("format", kind="string", help="Go template, 'table' or 'json'"),
)
INSPECT_FLAGS = (
    Flag("format", "f", kind="string", help="Go template, or 'json'"),
    Flag("verbose", "v", help="Add the swarm details"),
)
RM_FLAGS = (Flag("force", "f", help="Say nothing of networks that do not exist"),)
PRUNE_FLAGS = (
    Flag("force", "f", help="Skip the confirmation prompt"),
    Flag("filter", repeat=True, kind="filter", help="Prune only what matches"),
)
_GW_PRIORITY = Flag("gw-priority", kind="int", help="Priority of this network's gateway")
CONNECT_FLAGS = (
    Flag("ip", kind="string", help="IPv4 address of the container on the network"),
    Flag("ip6", kind="string", help="IPv6 address of the container on the network"),
    Flag("link", repeat=True, help="Link to another container"),
    Flag("alias", repeat=True, kind="strings", help="Other name of the container"),
    Flag("link-local-ip", repeat=True, kind="strings", help="Link-local addresses"),
    Flag("driver-opt", repeat=True, kind="strings", help="Options for the driver"),
    _GW_PRIORITY,
)
DISCONNECT_FLAGS = (Flag("force", "f", help="Disconnect even if the container is gone"),)
FLAGS_OF = {"create": CREATE_FLAGS, "ls": LS_FLAGS, "inspect": INSPECT_FLAGS,
            "rm": RM_FLAGS, "prune": PRUNE_FLAGS, "connect": CONNECT_FLAGS,
            "disconnect": DISCONNECT_FLAGS}

PRUNE_WARNING = ("WARNING! This will remove all custom networks not used by at least "
                 "one container.\nAre you sure you want to continue?")
_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
           "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
           "CreatedAt": "CREATED AT"}


def refused(message: str) -> Exception:
    """A command line docker refuses after parsing it: its message alone, status 1."""
    from estiba.errors import InvalidArgument

    return InvalidArgument(message)


def strings(items: object) -> list[str]:
    """A ``strings`` flag's values: pflag splits each one at its commas."""
    return [part for item in items for part in str(item).split(",")]  # type: ignore[attr-defined]


# --- create ------------------------------------------------------------------------


def _in_subnet(subnet: str, data: str) -> bool:
    """Whether the address (or the network's address) of ``data`` lies in ``subnet``."""
    import ipaddress

    try:
        net = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        raise refused(f"invalid subnet: invalid CIDR address: {subnet}") from None
    try:
        if "/" in data:
            ip = ipaddress.ip_interface(data).ip
        else:
            ip = ipaddress.ip_address(data)
    except ValueError:
        if "/" in data:
            raise refused(f"invalid CIDR address: {data}") from None
        return False
    return ip.version == net.version and ip in net


def ipam_configs(subnets: list[str], ranges: list[str], gateways: list[str],
                 aux: Mapping[str, str]) -> list[dict[str, object]]:
    """docker's consolidateIpam: one IPAM config per subnet, each range, gateway and
    auxiliary address placed in the subnet that holds it. Errors in docker's words."""
    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise refused("every ip-range or gateway must have a corresponding subnet")
    configs: dict[str, dict[str, object]] = {}
    for s in subnets:
        for k in configs:
            if _in_subnet(s, k) or _in_subnet(k, s):
                raise refused("multiple overlapping subnet configuration is not "
                                 "supported")
        configs[s] = {"Subnet": s}
    for what, key, values in (("range", "IPRange", ranges),
                              ("gateway", "Gateway", gateways)):
        plural = "ranges" if what == "range" else "gateways"
        where = "on" if what == "range" else "for"
        for value in values:
            match = False
            for s in subnets:
                if not _in_subnet(s, value):
                    continue
                if key in configs[s]:
                    raise refused(f"cannot configure multiple {plural} ({value}, "
                                     f"{configs[s][key]}) {where} the same subnet ({s})")
                configs[s][key] = value
                match = True
            if not match:
                raise refused(f"no matching subnet for {what} {value}")
    for name, address in aux.items():
        match = False
        for s in subnets:
            if _in_subnet(s, address):
                configs[s].setdefault("AuxiliaryAddresses", {})[name] = address  # type: ignore[union-attr]
                match = True
        if not match:
            raise refused(f"no matching subnet for aux-address {address}")
    return list(configs.values())


def create_body(name: str, opts: Mapping[str, object],
                changed: tuple[str, ...] = ()) -> dict[str, object]:
    """The ``POST /networks/create`` body docker sends for ``network create``;
    ``changed``: the flags among ipv4 and ipv6 that were given."""
    body: dict[str, object] = {
        "Name": name,
        "Driver": opts["driver"] or "bridge",
        "Scope": opts["scope"] or "",
        "IPAM": {"Driver": opts["ipam_driver"] or "default",
                 "Config": ipam_configs(strings(opts["subnet"]), strings(opts["ip_range"]),
                                        strings(opts["gateway"]),
                                        key_values(opts["aux_address"])),  # type: ignore[arg-type]
                 "Options": key_values(opts["ipam_opt"])},  # type: ignore[arg-type]
        "Internal": bool(opts["internal"]),
        "Attachable": bool(opts["attachable"]),
        "Ingress": bool(opts["ingress"]),
        "ConfigOnly": bool(opts["config_only"]),
        "Options": key_values(opts["opt"]),  # type: ignore[arg-type]
        "Labels": key_values(opts["label"]),  # type: ignore[arg-type]
    }
    for flag in ("ipv4", "ipv6"):
        if flag in changed:
            body[f"EnableIPv{flag[-1]}"] = bool(opts[flag])
    if opts["config_from"]:
        body["ConfigFrom"] = {"Network": opts["config_from"]}
    return body


def create(ctx: Context, argv: list[str]) -> int:
    opts, args = parse(argv, CREATE_FLAGS)
    exact("network create", args, 1)
    body = create_body(args[0], opts, tuple(
        f for f in ("ipv4", "ipv6") if given(argv, CREATE_FLAGS, f, interspersed=True)))
    ctx.out.write(f"{ctx.client.create_network(body).get('Id', '')}\n")
    return 0


# --- ls ----------------------------------------------------------------------------


def go_time(stamp: str) -> str:
    """An RFC 3339 UTC time (``2026-12-04T22:03:50.851885940Z``) as Go's
    ``time.Time.String()`` prints it: ``2026-12-04 22:03:50.85188594 +0000 UTC``."""
    if not stamp.endswith("Z") or "T" not in stamp:
        return stamp
    date, _, clock = stamp[:-1].partition("T")
    whole, dot, frac = clock.partition(".")
    frac = frac.rstrip("0")
    return f"{date} {whole}{'.' + frac if frac else ''} +0000 UTC"


class NetworkRow:
    """One line of ``network ls``: the fields docker's networkContext offers."""

    __fields__ = ("CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels",
                  "Name", "Scope")

    def __init__(self, n: Mapping[str, object], trunc: bool = True) -> None:
        nid = str(n.get("Id") or "")
        self.ID = nid[:12] if trunc else nid
        self.Name = str(n.get("Name") or "")
        self.Driver = str(n.get("Driver") or "")
        self.Scope = str(n.get("Scope") or "")
        self.IPv4 = "true" if n.get("EnableIPv4") else "false"
        self.IPv6 = "true" if n.get("EnableIPv6") else "false"
        self.Internal = "true" if n.get("Internal") else "false"
        self._labels: Mapping[str, str] = n.get("Labels") or {}  # type: ignore[assignment]
        # docker joins them in a Go map's order: any order; sorted here
        self.Labels = ",".join(sorted(f"{k}={v}" for k, v in self._labels.items()))
        self.CreatedAt = go_time(str(n.get("Created") or ""))

    def Label(self, name: str) -> str:  # noqa: N802 - the name templates call
        return self._labels.get(name, "")


NetworkRow.__name__ = "*network.networkContext"  # the type docker's template errors name


def ls_format(fmt: str, quiet: bool) -> str:
    """formatter.NewNetworkFormat: a format given wins over ``-q``."""
    if fmt in ("", "table"):
        return "{{.ID}}" if quiet else _TABLE
    return fmt


def ls(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.context import render_rows
    from estiba.cli.docker.output import natural_sorted

    opts, args = parse(argv, LS_FLAGS)
    count("network ls", args, 0, 0)
    fmt = ls_format(str(opts["format"] or ""), bool(opts["quiet"]))
    found = ctx.client.networks(filters=filters(opts["filter"]))  # type: ignore[arg-type]
    found = natural_sorted(found, lambda n: str(n.get("Name") or ""))
    rows = [NetworkRow(n, trunc=not opts["no_trunc"]) for n in found]
    ctx.out.write(render_rows(fmt, rows, HEADERS))
    return 0


# --- inspect, rm, prune --------------------------------------------------------------


def inspect(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.inspect import inspect_each

    opts, names = parse(argv, INSPECT_FLAGS)
    count("network inspect", names, 1, None)
    return inspect_each(ctx, names, ctx.client.inspect_network, str(opts["format"] or ""))


def rm(ctx: Context, argv: list[str]) -> int:
    from estiba.client.docker import DockerError

    opts, names = parse(argv, RM_FLAGS)
    count("network rm", names, 1, None)
    failed = False
    for name in names:
        try:
            ctx.client.remove_network(name)
        except DockerError as err:
            if opts["force"] and err.status == 404:
                continue
            # docker writes each failure as it happens, then its status line
            ctx.err.write(f"Error response from daemon: {err.message}\n")
            failed = True
            continue
        ctx.out.write(name + "\n")
    if failed:
        ctx.err.write("exit status 1\n")
        return 1
    return 0


def prune_report(report: Mapping[str, object]) -> str:
    """What ``network prune`` prints of the daemon's report ("" when nothing went):
    docker prints no total for networks."""
    from estiba.cli.docker.pruning import deleted

    return deleted("Deleted Networks:", report.get("NetworksDeleted") or ())  # type: ignore[arg-type]


def prune(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.pruning import confirm

    opts, args = parse(argv, PRUNE_FLAGS)
    count("network prune", args, 0, 0)
    wanted = filters(opts["filter"], "--filter")  # type: ignore[arg-type]
    if not opts["force"] and not confirm(ctx, PRUNE_WARNING):
        return 0
    ctx.out.write(prune_report(ctx.client.prune_networks(filters=wanted)))
    return 0


# --- connect, disconnect --------------------------------------------------------------


def endpoint_config(opts: Mapping[str, object]) -> dict[str, object]:
    """The EndpointSettings docker sends for ``network connect``."""
    driver_opts: dict[str, str] = {}
    for item in strings(opts["driver_opt"]):
        key, eq, value = str(item).partition("=")
        if not eq:
            raise refused("invalid key/value pair format in driver options")
        driver_opts[key.strip()] = value.strip()
    ipam: dict[str, object] = {}
    if opts["ip"]:
        ipam["IPv4Address"] = opts["ip"]
    if opts["ip6"]:
        ipam["IPv6Address"] = opts["ip6"]
    if opts["link_local_ip"]:
        ipam["LinkLocalIPs"] = strings(opts["link_local_ip"])
    config: dict[str, object] = {"IPAMConfig": ipam, "Links": list(opts["link"]),  # type: ignore[call-overload]
                                 "Aliases": strings(opts["alias"])}
    if driver_opts:
        config["DriverOpts"] = driver_opts
    if opts["gw_priority"] is not None:
        config["GwPriority"] = int_value(_GW_PRIORITY, str(opts["gw_priority"]))
    return config


def connect(ctx: Context, argv: list[str]) -> int:
    opts, args = parse(argv, CONNECT_FLAGS)
    exact("network connect", args, 2)
    ctx.client.connect(args[0], args[1], endpoint_config(opts))
    return 0


def disconnect(ctx: Context, argv: list[str]) -> int:
    opts, args = parse(argv, DISCONNECT_FLAGS)
    exact("network disconnect", args, 2)
    ctx.client.disconnect(args[0], args[1], force=bool(opts["force"]))
    return 0
