"""The flags of ``estiba run`` and ``estiba create`` and the request they make: argv
in, the API's container Config, HostConfig and NetworkingConfig out, every value
converted as docker's CLI (version 28) converts it before it sends the request (its
``containerOptions`` and ``parse``). Pure but for the files ``--env-file``,
``--label-file`` and ``--security-opt seccomp=FILE`` name, and the client's
environment ``-e NAME`` reads. The value grammars are in ``runvalues`` (sizes,
volumes, mounts, devices, limits) and ``runnetwork`` (ports, networks)."""

from __future__ import annotations

from estiba.cli.docker.flags import (
    Flag,
    UsageError,
    flag_names,
    given,
    int_value,
    key_values,
    parse,
    value_error,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_F = Flag
# docker's flags in its help's order; the Windows-only ones and --disable-content-trust
# are accepted as docker accepts them, the hidden old names (--net, --net-alias,
# --dns-opt) too, left out of the help page as docker leaves them
_COMMON = (
    _F("add-host", repeat=True, help="Map a host name to an IP address (host:ip)"),
    _F("annotation", repeat=True, kind="map",
       help="Annotation for the OCI runtime to receive with the container"),
    _F("attach", "a", repeat=True, help="Stream to connect: STDIN, STDOUT or STDERR"),
    _F("blkio-weight", kind="uint16",
       help="Relative block IO weight, 10 to 1000 (0 turns it off)"),
    _F("blkio-weight-device", repeat=True, help="Relative block IO weight of one device"),
    _F("cap-add", repeat=True, help="Linux capabilities to grant"),
    _F("cap-drop", repeat=True, help="Linux capabilities to take away"),
    _F("cgroup-parent", value=True, help="Parent cgroup to place the container under"),
    _F("cgroupns", value=True, help="Cgroup namespace mode (host|private)"),
    _F("cidfile", value=True, help="File to store the new container's ID in"),
    _F("cpu-count", kind="int", help="How many CPUs may be used (Windows only)"),
    _F("cpu-percent", kind="int", help="Usable share of the CPUs, in percent (Windows only)"),
    _F("cpu-period", kind="int", help="CPU period of the Completely Fair Scheduler (CFS)"),
    _F("cpu-quota", kind="int", help="CPU quota of the Completely Fair Scheduler (CFS)"),
    _F("cpu-rt-period", kind="int", help="Real-time CPU period (microseconds)"),
    _F("cpu-rt-runtime", kind="int", help="Real-time CPU runtime (microseconds)"),
    _F("cpu-shares", "c", kind="int", help="Relative CPU weight (shares)"),
    _F("cpus", kind="decimal", help="How many CPUs the container may use"),
    _F("cpuset-cpus", value=True, help="CPUs the container may run on (0-3, 0,1)"),
    _F("cpuset-mems", value=True, help="Memory nodes the container may use (0-3, 0,1)"),
    _F("detach", "d", help="Run in the background and print the new container's ID"),
    _F("detach-keys", value=True, help="Key sequence that detaches from the container"),
    _F("device", repeat=True, help="Host device to expose in the container"),
    _F("device-cgroup-rule", repeat=True, help="Rule to add to the cgroup's device allow list"),
    _F("device-read-bps", repeat=True, help="Cap on reads from a device, in bytes per second"),
    _F("device-read-iops", repeat=True, help="Cap on reads from a device, in IOPS"),
    _F("device-write-bps", repeat=True, help="Cap on writes to a device, in bytes per second"),
    _F("device-write-iops", repeat=True, help="Cap on writes to a device, in IOPS"),
    _F("disable-content-trust", help="Do not verify the image", default=True),
    _F("dns", repeat=True, help="DNS servers to use"),
    _F("dns-option", repeat=True, help="DNS resolver options"),
    _F("dns-opt", repeat=True, help="DNS resolver options", hidden=True),
    _F("dns-search", repeat=True, help="DNS search domains to use"),
    _F("domainname", value=True, help="NIS domain name of the container"),
    _F("entrypoint", value=True, help="Replace the image's default ENTRYPOINT"),
    _F("env", "e", repeat=True, help="Environment variables to set"),
    _F("env-file", repeat=True, help="Read environment variables from a file"),
    _F("explain", help="Print what the run does, step by step (Estiba only)"),
    _F("expose", repeat=True, help="Port or port range to expose"),
    _F("gpus", kind="gpu-request", help="GPUs to give the container (not supported)"),
    _F("group-add", repeat=True, help="Supplementary groups to join"),
    _F("health-cmd", value=True, help="Health check command"),
    _F("health-interval", kind="duration", help="Interval between health checks (ms|s|m|h)"),
    _F("health-retries", kind="int", help="Failures in a row before the container is unhealthy"),
    _F("health-start-interval", kind="duration",
       help="Interval between health checks in the start period (ms|s|m|h)"),
    _F("health-start-period", kind="duration",
       help="Grace period before failed checks count as retries (ms|s|m|h)"),
    _F("health-timeout", kind="duration",
       help="Longest a single health check may take (ms|s|m|h)"),
    _F("hostname", "h", value=True, help="Host name of the container"),
    _F("init", help="Use an init process that relays signals and reaps exited "
                    "processes"),
    _F("interactive", "i", help="Keep STDIN open, attached or not"),
    _F("io-maxbandwidth", kind="bytes",
       help="Cap on the system drive's IO bandwidth (Windows only)"),
    _F("io-maxiops", kind="uint", help="Cap on the system drive's IOPS (Windows only)"),
    _F("ip", value=True, help="The container's IPv4 address, such as 172.30.100.104"),
    _F("ip6", value=True, help="The container's IPv6 address, such as 2001:db8::33"),
    _F("ipc", value=True, help="IPC namespace mode"),
    _F("isolation", value=True, help="Isolation technology for the container"),
    _F("kernel-memory", kind="bytes", help="Limit on kernel memory"),
    _F("label", "l", repeat=True, help="Metadata label for the container"),
    _F("label-file", repeat=True, help="Read labels from a file, one per line"),
    _F("link", repeat=True, help="Container to link to"),
    _F("link-local-ip", repeat=True, help="Link-local IPv4/IPv6 addresses of the container"),
    _F("log-driver", value=True, help="Log driver the container uses"),
    _F("log-opt", repeat=True, help="Options for the log driver"),
    _F("mac-address", value=True, help="The container's MAC address, such as 92:d0:c6:0a:29:33"),
    _F("memory", "m", kind="bytes", help="Hard memory limit"),
    _F("memory-reservation", kind="bytes", help="Soft memory limit (reservation)"),
    _F("memory-swap", kind="bytes",
       help="Memory plus swap limit; -1 for unlimited swap"),
    _F("memory-swappiness", kind="int",
       help="How readily the container's memory is swapped out (0 to 100)"),
    _F("mount", repeat=True, kind="mount", help="Filesystem mount to add to the container"),
    _F("name", value=True, help="Name for the container"),
    _F("net", repeat=True, kind="network", help="Network to connect the container to",
       hidden=True),
    _F("net-alias", repeat=True, help="Alias of the container within the network",
       hidden=True),
    _F("network", repeat=True, kind="network", help="Network to connect the container to"),
    _F("network-alias", repeat=True, help="Alias of the container within the network"),
    _F("no-healthcheck", help="Turn off any HEALTHCHECK the image defines"),
    _F("oom-kill-disable", help="Turn off the OOM killer for the container"),
    _F("oom-score-adj", kind="int",
       help="Adjust the host's OOM score for the container (-1000 to 1000)"),
    _F("pid", value=True, help="PID namespace (host or container:<name|id>)"),
    _F("pids-limit", kind="int", help="Process limit (-1 for unlimited)"),
    _F("platform", value=True, help="Platform to use when the server supports several"),
    _F("privileged", help="Grant the container extended privileges"),
    _F("publish", "p", repeat=True, help="Make container ports reachable on the host"),
    _F("publish-all", "P", help="Publish every exposed port on a random host port"),
    _F("pull", value=True, help='When to pull the image first: "always", "missing" or "never"'),
    _F("quiet", "q", help="Do not print pull progress"),
    _F("read-only", help="Keep the container's root filesystem read-only"),
    _F("restart", value=True, help="Restart policy once the container exits"),
    _F("rm", help="Remove the container and its anonymous volumes once it "
                  "exits"),
    _F("runtime", value=True, help="Runtime that runs the container"),
    _F("security-opt", repeat=True, help="Security settings for the container"),
    _F("shm-size", kind="bytes", help="Size of the /dev/shm mount"),
    _F("sig-proxy", help="Forward signals it receives to the process", default=True),
    _F("stop-signal", value=True, help="Signal used to stop the container"),
    _F("stop-timeout", kind="int", help="Seconds to wait for the container to stop"),
    _F("storage-opt", repeat=True, help="Options for the container's storage driver"),
    _F("sysctl", repeat=True, kind="map", help="Kernel parameters (sysctl) to set"),
    _F("tmpfs", repeat=True, help="Directory to mount as tmpfs"),
    _F("tty", "t", help="Give the container a pseudo-TTY"),
    _F("ulimit", repeat=True, kind="ulimit", help="Resource limits (ulimit) to set"),
    _F("use-api-socket", help="Mount the Docker API socket and its credentials (not supported)"),
    _F("user", "u", value=True, help="User to run as: <name|uid>[:<group|gid>]"),
    _F("userns", value=True, help="User namespace (host)"),
    _F("uts", value=True, help="UTS namespace (host)"),
    _F("volume", "v", repeat=True, help="Volume or bind mount to add"),
    _F("volume-driver", value=True, help="Volume driver for the container's volumes"),
    _F("volumes-from", repeat=True, help="Mount the volumes of the given container(s)"),
    _F("workdir", "w", value=True, help="Directory to work in inside the container"),
)
_RUN_ONLY = ("detach", "detach-keys", "sig-proxy", "explain")
RUN_FLAGS = _COMMON
CREATE_FLAGS = tuple(f for f in _COMMON if f.name not in _RUN_ONLY)
_BY_NAME = {f.name: f for f in _COMMON}


class ConfigError(Exception):
    """The flags parse but do not make a valid container (docker's ``parse`` and
    ``validatePullOpt`` errors): docker prints ``docker: MESSAGE`` and a pointer to
    ``--help``, and exits 125."""

    status = 125

    def text(self, command: str) -> str:
        return (f"estiba: {self}\n\nRun 'estiba {command} --help' for more "
                "information\n")


class RunOptions:
    """What ``run``/``create`` send (``config``, ``host_config``,
    ``networking_config``; the query's ``name`` and ``platform``) and what the client
    does around it."""

    __slots__ = ("name", "platform", "pull", "config", "host_config",
                 "networking_config", "detach", "interactive", "tty", "attach",
                 "sig_proxy", "detach_keys", "quiet", "cidfile", "explain", "auto_remove")

    def __init__(self, *, name: str, platform: str, pull: str, config: dict,
                 host_config: dict, networking_config: dict | None, detach: bool,
                 interactive: bool, tty: bool, attach: list[str], sig_proxy: bool,
                 detach_keys: str, quiet: bool, cidfile: str, explain: bool,
                 auto_remove: bool) -> None:
        self.name = name
        self.platform = platform
        self.pull = pull
        self.config = config
        self.host_config = host_config
        self.networking_config = networking_config
        self.detach = detach
        self.interactive = interactive
        self.tty = tty
        self.attach = attach
        self.sig_proxy = sig_proxy
        self.detach_keys = detach_keys
        self.quiet = quiet
        self.cidfile = cidfile
        self.explain = explain
        self.auto_remove = auto_remove

    @property
    def image(self) -> str:
        return str(self.config["Image"])

    def body(self) -> dict:
        """The body of ``POST /containers/create``."""
        body = dict(self.config)
        body["HostConfig"] = self.host_config
        if self.networking_config is not None:
            body["NetworkingConfig"] = self.networking_config
        return body


def flag_error(name: str, value: str, message: str) -> UsageError:
    """pflag's error for a value the flag ``name`` refuses."""
    return value_error(_BY_NAME[name], value, message)


# docker's hidden other names of flags, which fill the same list in the order given
_ALIASES = {"net": "network", "net-alias": "network-alias", "dns-opt": "dns-option"}


def _canonical(argv: list[str], flags: tuple[Flag, ...]) -> list[str]:
    """argv with the flags' other names replaced by their own."""
    out = list(argv)
    for i, name in flag_names(argv, flags):
        if name in _ALIASES:
            out[i] = "--" + _ALIASES[name] + out[i][2 + len(name):]
    return out


def parse_run(argv: list[str], *, run: bool,
              environ: Mapping[str, str] | None = None) -> RunOptions:
    """``run``'s (``run=True``) or ``create``'s arguments as the request docker's CLI
    makes; ``environ`` is where ``-e NAME`` finds NAME's value (the process's
    environment when None). UsageError for a flag's value pflag refuses, ConfigError
    for options that do not make a container."""
    from estiba.cli.docker import runnetwork as rn
    from estiba.cli.docker import runvalues as rv
    from estiba.cli.docker.context import ENVIRON
    from estiba.cli.docker.flags import count

    flags = RUN_FLAGS if run else CREATE_FLAGS
    command = "run" if run else "create"
    opts, positional = parse(_canonical(argv, flags), flags, interspersed=False)
    env_source = ENVIRON if environ is None else environ
    v = _FlagValues(opts)

    # what pflag checks while it parses (before cobra counts the arguments)
    attach = [v.attach_stream(a) for a in v.list("attach")]
    env = [v.env(e, env_source) for e in v.list("env")]
    labels = [v.label(lab) for lab in v.list("label")]
    extra_hosts = [v.check("add-host", h, rv.extra_host) for h in v.list("add-host")]
    dns = [v.check("dns", d, rv.ip_address) for d in v.list("dns")]
    dns_search = [v.check("dns-search", d, rv.dns_search) for d in v.list("dns-search")]
    links = [v.check("link", lk, rv.link) for lk in v.list("link")]
    sysctls = v.map("sysctl", rv.sysctl)
    annotations = v.map("annotation", None)
    ulimits = rv.sorted_ulimits([v.check("ulimit", u, rv.ulimit) for u in v.list("ulimit")])
    weight_devices = [v.check("blkio-weight-device", d, rv.weight_device)
                      for d in v.list("blkio-weight-device")]
    throttles = {key: [v.check(key, d, rv.bps_device if key.endswith("bps")
                               else rv.iops_device) for d in v.list(key)]
                 for key in ("device-read-bps", "device-write-bps", "device-read-iops",
                             "device-write-iops")}
    cgroup_rules = [v.check("device-cgroup-rule", r, rv.device_cgroup_rule)
                    for r in v.list("device-cgroup-rule")]
    mounts = [v.check("mount", m, rv.mount) for m in v.list("mount")]
    networks = [v.check("network", n, rn.network_attachment)
                for n in v.list("network")]
    cpus = v.nano_cpus()
    memory = v.bytes("memory")
    memory_reservation = v.bytes("memory-reservation")
    memory_swap = v.bytes("memory-swap", minus_one=True)
    v.bytes("kernel-memory")  # checked, then dropped: API 1.42 and later ignore it
    shm_size = v.bytes("shm-size")
    io_bandwidth = v.bytes("io-maxbandwidth")
    swappiness = v.int("memory-swappiness", -1)
    health = {key: v.duration(f"health-{key}") for key in
              ("interval", "timeout", "start-period", "start-interval")}
    health_retries = v.int("health-retries", 0)
    stop_timeout = v.int("stop-timeout", None)
    blkio_weight = v.uint("blkio-weight", 16)
    count(command, positional, 1, None)
    image, cmd = positional[0], positional[1:]

    # docker refuses the Windows-only flags for a Linux daemon before anything else
    windows_only = [f'"--{name}" is only supported on a Docker daemon running on windows, '
                    "but the Docker daemon is running on linux"
                    for name in ("cpu-count", "cpu-percent", "io-maxbandwidth", "io-maxiops")
                    if v.raw(name) is not None]
    if windows_only:
        from estiba.errors import InvalidArgument

        raise InvalidArgument("\n".join(windows_only))

    # what docker's parse checks once the flags are in
    if opts["gpus"] is not None:
        raise ConfigError("--gpus is not supported: Estiba has no GPU device support")
    if opts["use_api_socket"]:
        raise ConfigError("--use-api-socket is not supported by Estiba")
    pull = str(opts["pull"] if opts["pull"] is not None else "missing")
    if pull not in ("always", "missing", "never", ""):
        raise ConfigError(f"invalid pull option: '{pull}': must be one of \"always\", "
                          "\"missing\" or \"never\"")
    mac = str(opts["mac_address"] or "")
    if mac and not rv.is_mac(mac):
        raise ConfigError(f"{mac} is not a valid mac address")
    if swappiness != -1 and not 0 <= swappiness <= 100:
        raise ConfigError(f"invalid value: {swappiness}. Valid memory swappiness range "
                          "is 0-100")
    volumes: dict[str, dict] = {}
    binds = []
    for spec in dict.fromkeys(v.list("volume")):
        bind = rv.volume_bind(spec)
        if bind is None:
            volumes[spec] = {}
        else:
            binds.append(bind)
    tmpfs = {}
    for t in v.list("tmpfs"):
        path, _, options = t.partition(":")
        tmpfs[path] = options
    entrypoint = None
    if opts["entrypoint"] is not None:
        entrypoint = [str(opts["entrypoint"])]
    exposed, bindings = rn.port_specs(v.list("publish"))
    for e in v.list("expose"):
        for port in rn.expose(e):
            exposed.setdefault(port, {})
    devices = [rv.device(d) for d in v.list("device")]
    # docker passes -e through a map (its proxy settings' merge): one entry per name
    env = rv.read_env_files(v.list("env-file"), env_source) + rv.unique_env(env)
    labels = rv.read_label_files(v.list("label-file")) + labels
    pid = str(opts["pid"] or "")
    if not (pid in ("", "host") or rv.is_container_ref(pid)):
        raise ConfigError("--pid: invalid PID mode")
    if str(opts["uts"] or "") not in ("", "host"):
        raise ConfigError("--uts: invalid UTS mode")
    if str(opts["userns"] or "") not in ("", "host"):
        raise ConfigError("--userns: invalid USER mode")
    if str(opts["cgroupns"] or "") not in ("", "host", "private"):
        raise ConfigError("--cgroupns: invalid CGROUP mode")
    restart = rv.restart_policy(str(opts["restart"] if opts["restart"] is not None
                                    else "no"))
    log_driver = str(opts["log_driver"] or "")
    log_opts = key_values(v.list("log-opt"))
    if log_driver == "none" and v.list("log-opt"):
        raise ConfigError("invalid logging opts for driver none")
    security, masked, readonly = rv.security_opts(v.list("security-opt"))
    storage = rv.storage_opts(v.list("storage-opt"))
    healthcheck = _healthcheck(opts, health, health_retries)
    cap_add, cap_drop = rv.capabilities(v.list("cap-add"), v.list("cap-drop"))

    config: dict = {
        "Hostname": str(opts["hostname"] or ""), "Domainname": str(opts["domainname"] or ""),
        "User": str(opts["user"] or ""),
        "AttachStdin": "stdin" in attach or bool(opts["interactive"]),
        "AttachStdout": "stdout" in attach or not attach,
        "AttachStderr": "stderr" in attach or not attach,
        "Tty": bool(opts["tty"]), "OpenStdin": bool(opts["interactive"]),
        "StdinOnce": False, "Env": env or None, "Cmd": cmd or None,
        "Image": image, "Volumes": volumes, "WorkingDir": str(opts["workdir"] or ""),
        "Entrypoint": entrypoint, "OnBuild": None, "Labels": key_values(labels),
    }
    if exposed:
        config["ExposedPorts"] = exposed
    if opts["stop_signal"]:
        config["StopSignal"] = str(opts["stop_signal"])
    if stop_timeout is not None:
        config["StopTimeout"] = stop_timeout
    if healthcheck is not None:
        config["Healthcheck"] = healthcheck
    if config["OpenStdin"] and config["AttachStdin"]:
        # stdin attached at creation is closed when the client lets go of it
        config["StdinOnce"] = True

    host_config: dict = {
        "Binds": binds or None, "ContainerIDFile": str(opts["cidfile"] or ""),
        "LogConfig": {"Type": log_driver, "Config": log_opts},
        "NetworkMode": networks[0]["Target"] if networks else "default",
        "PortBindings": bindings, "RestartPolicy": restart,
        "AutoRemove": bool(opts["rm"]), "VolumeDriver": str(opts["volume_driver"] or ""),
        "VolumesFrom": v.list("volumes-from") or None, "ConsoleSize": [0, 0],
        "CapAdd": cap_add, "CapDrop": cap_drop,
        "CgroupnsMode": str(opts["cgroupns"] or ""), "Dns": dns,
        "DnsOptions": v.list("dns-option"), "DnsSearch": dns_search,
        "ExtraHosts": extra_hosts or None, "GroupAdd": v.list("group-add") or None,
        "IpcMode": str(opts["ipc"] or ""), "Cgroup": "", "Links": links or None,
        "OomScoreAdj": v.int("oom-score-adj", 0), "PidMode": pid,
        "Privileged": bool(opts["privileged"]),
        "PublishAllPorts": bool(opts["publish_all"]),
        "ReadonlyRootfs": bool(opts["read_only"]), "SecurityOpt": security,
        "UTSMode": str(opts["uts"] or ""), "UsernsMode": str(opts["userns"] or ""),
        "ShmSize": shm_size, "Isolation": str(opts["isolation"] or ""),
        "CpuShares": v.int("cpu-shares", 0), "Memory": memory, "NanoCpus": cpus,
        "CgroupParent": str(opts["cgroup_parent"] or ""), "BlkioWeight": blkio_weight,
        "BlkioWeightDevice": weight_devices,
        "BlkioDeviceReadBps": throttles["device-read-bps"],
        "BlkioDeviceWriteBps": throttles["device-write-bps"],
        "BlkioDeviceReadIOps": throttles["device-read-iops"],
        "BlkioDeviceWriteIOps": throttles["device-write-iops"],
        "CpuPeriod": v.int("cpu-period", 0), "CpuQuota": v.int("cpu-quota", 0),
        "CpuRealtimePeriod": v.int("cpu-rt-period", 0),
        "CpuRealtimeRuntime": v.int("cpu-rt-runtime", 0),
        "CpusetCpus": str(opts["cpuset_cpus"] or ""),
        "CpusetMems": str(opts["cpuset_mems"] or ""), "Devices": devices,
        "DeviceCgroupRules": cgroup_rules or None, "DeviceRequests": None,
        "MemoryReservation": memory_reservation, "MemorySwap": memory_swap,
        "MemorySwappiness": swappiness, "OomKillDisable": bool(opts["oom_kill_disable"]),
        "PidsLimit": v.int("pids-limit", 0), "Ulimits": ulimits,
        "CpuCount": v.int("cpu-count", 0), "CpuPercent": v.int("cpu-percent", 0),
        "IOMaximumIOps": v.uint("io-maxiops", 64), "IOMaximumBandwidth": io_bandwidth,
        "MaskedPaths": masked, "ReadonlyPaths": readonly,
    }
    for key, value in (("Annotations", annotations), ("StorageOpt", storage),
                       ("Tmpfs", tmpfs), ("Sysctls", sysctls), ("Mounts", mounts),
                       ("Runtime", str(opts["runtime"] or ""))):
        if value:
            host_config[key] = value
    if given(argv, flags, "init"):
        host_config["Init"] = bool(opts["init"])
    if host_config["AutoRemove"] and restart["Name"] not in ("", "no"):
        raise ConfigError("conflicting options: cannot specify both --restart and --rm")

    endpoints = rn.endpoints(networks, aliases=v.list("network-alias"),
                             links=links, ipv4=str(opts["ip"] or ""),
                             ipv6=str(opts["ip6"] or ""), mac=mac,
                             link_local=v.list("link-local-ip"))
    # --mac-address goes to the main endpoint only: Config's MacAddress is for daemons
    # before API 1.44, and docker's client clears it for later ones

    detach = bool(opts["detach"]) if run else False
    if detach:
        if attach:
            from estiba.errors import InvalidArgument

            raise InvalidArgument("conflicting options: cannot specify both --attach and "
                                  "--detach")
        config.update(AttachStdin=False, AttachStdout=False, AttachStderr=False,
                      StdinOnce=False)
    sig_proxy = bool(opts["sig_proxy"]) if run else True  # create has no --sig-proxy
    return RunOptions(
        name=str(opts["name"] or ""), platform=str(opts["platform"] or ""), pull=pull,
        config=config, host_config=host_config,
        networking_config={"EndpointsConfig": endpoints}, detach=detach,
        interactive=bool(opts["interactive"]), tty=bool(opts["tty"]), attach=attach,
        sig_proxy=sig_proxy, detach_keys=str(opts.get("detach_keys") or ""),
        quiet=bool(opts["quiet"]), cidfile=str(opts["cidfile"] or ""),
        explain=bool(opts.get("explain")), auto_remove=bool(opts["rm"]))


def _healthcheck(opts: dict, durations: dict[str, int], retries: int) -> dict | None:
    """docker's HealthConfig: ``NONE`` for --no-healthcheck, else only the settings
    given (the daemon fills the rest from the image)."""
    settings = bool(opts["health_cmd"]) or any(durations.values()) or retries != 0
    if opts["no_healthcheck"]:
        if settings:
            raise ConfigError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not settings:
        return None
    for key, ns in durations.items():
        if ns < 0:
            raise ConfigError(f"--health-{key} cannot be negative")
    if retries < 0:
        raise ConfigError("--health-retries cannot be negative")
    health: dict = {}
    if opts["health_cmd"]:
        health["Test"] = ["CMD-SHELL", str(opts["health_cmd"])]
    for key, field in (("interval", "Interval"), ("timeout", "Timeout"),
                       ("start-period", "StartPeriod"), ("start-interval", "StartInterval")):
        if durations[key]:
            health[field] = durations[key]
    if retries:
        health["Retries"] = retries
    return health


class _FlagValues:
    """The parsed flags' values converted as pflag's typed values convert them, with
    pflag's error when a value does not convert."""

    def __init__(self, opts: dict) -> None:
        self.opts = opts

    def list(self, name: str) -> list[str]:
        return list(self.opts[name.replace("-", "_")])  # type: ignore[arg-type]

    def raw(self, name: str) -> str | None:
        value = self.opts[name.replace("-", "_")]
        return None if value is None else str(value)

    def check(self, name: str, value: str, convert: object) -> object:
        try:
            return convert(value)  # type: ignore[operator]
        except ValueError as err:
            raise flag_error(name, value, str(err)) from None

    def map(self, name: str, validate: object) -> dict[str, str]:
        if validate is not None:
            for item in self.list(name):
                self.check(name, item, validate)
        return key_values(self.list(name))

    def attach_stream(self, value: str) -> str:
        stream = value.lower()
        if stream not in ("stdin", "stdout", "stderr"):
            raise flag_error("attach", value, "valid streams are STDIN, STDOUT and STDERR")
        return stream

    def env(self, value: str, environ: Mapping[str, str]) -> str:
        key, eq, _ = value.partition("=")
        if not key:
            raise flag_error("env", value, f"invalid environment variable: {value}")
        if not eq and key in environ:
            return f"{key}={environ[key]}"
        return value

    def label(self, value: str) -> str:
        key = value.partition("=")[0].strip()
        if not key:
            raise flag_error("label", value, f"invalid label '{value}': empty name")
        if any(c in key for c in " \t\n\v\f\r"):
            raise flag_error("label", value, f"label '{key}' contains whitespaces")
        return value

    def int(self, name: str, default: int | None, bits: int = 64) -> int:
        text = self.raw(name)
        if text is None:
            return default  # type: ignore[return-value]
        return int_value(_BY_NAME[name], text, bits)

    def uint(self, name: str, bits: int) -> int:
        text = self.raw(name)
        if text is None:
            return 0
        from estiba.cli.docker.gonumbers import go_uint

        try:
            return go_uint(text, bits)
        except ValueError as err:
            raise flag_error(name, text, str(err)) from None

    def bytes(self, name: str, minus_one: bool = False) -> int:
        text = self.raw(name)
        if text is None:
            return 0
        if minus_one and text == "-1":
            return -1
        from estiba.units import ram_in_bytes

        return self.check(name, text, ram_in_bytes)  # type: ignore[return-value]

    def duration(self, name: str) -> int:
        text = self.raw(name)
        if text is None:
            return 0
        from estiba.units import parse_duration

        return self.check(name, text, parse_duration)  # type: ignore[return-value]

    def nano_cpus(self) -> int:
        text = self.raw("cpus")
        if text is None:
            return 0
        from estiba.cli.docker.runvalues import nano_cpus

        return self.check("cpus", text, nano_cpus)  # type: ignore[return-value]
