"""The daemon's configuration: a TOML file (``--config``, default
``/etc/estiba/estibad.toml`` when it exists) overridden by flags. Pure: argv and file
text in, a ``Config`` out; ``ConfigError`` says what is wrong.

File keys are the flags' names without the dashes' prefix::

    root = "/var/lib/estiba"
    exec-root = "/run/estiba"
    hosts = ["unix:///run/estiba/estiba.sock"]   # and tcp://HOST:PORT (plain HTTP)
    core-address = "/run/estiba/core.sock"
    default-runtime = "estiba"
    instance = "estiba"
    group = "estiba"
    log-level = "info"            # debug | info | warning | error
    log-format = "json"           # json | text
    live-restore = true           # false: stop the containers when the daemon stops
    shutdown-timeout = 10         # seconds for requests in flight at SIGTERM
    idle-timeout = 120            # seconds a connection may wait to send a request
    debug-failpoints = []         # named fault points (see failpoints.py); debug only
    [runtimes]
    runc = "/usr/bin/runc"
"""

from __future__ import annotations

import os
import sys

from estiba.client.connection import authority, parse_tcp
from estiba.oci.record import Record

DEFAULT_CONFIG = "/etc/estiba/estibad.toml"
DEFAULT_HOST = "unix:///run/estiba/estiba.sock"  # the Docker API
LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("json", "text")

USAGE = """\
usage: estibad [options]

  --config FILE            TOML configuration (default /etc/estiba/estibad.toml if present)
  --root DIR               persistent state (default /var/lib/estiba)
  --exec-root DIR          runtime state: bundles, sockets (default /run/estiba)
  -H, --host ADDRESS       Docker API socket, unix://PATH or tcp://HOST[:PORT] (port
                           2375; plain HTTP, no TLS: anyone who reaches it is root
                           here) (repeatable; default unix:///run/estiba/estiba.sock)
  --core-address PATH      core API socket (default /run/estiba/core.sock)
  --default-runtime NAME   runtime of containers that name none (default estiba)
  --runtime NAME=PATH      an OCI runtime (repeatable)
  --instance NAME          names the daemon's kernel objects (default estiba)
  --group NAME             group owning the sockets (mode 0660; 0600 without)
  --log-level LEVEL        debug, info, warning, error (default info)
  --log-format FORMAT      json or text (default json)
  --live-restore BOOL      keep containers running when the daemon stops (default true)
  --shutdown-timeout SECS  time given to requests in flight at SIGTERM (default 10)
  --idle-timeout SECS      close a connection that sends no request for this long
                           (default 120; 0: never)
  --debug-failpoints LIST  debug only, off by default: comma-separated fault points
                           (or env ESTIBA_FAILPOINTS) where the daemon kills itself
                           with SIGKILL, for crash tests: container-after-snapshot,
                           container-after-record, task-after-bundle, task-after-mount,
                           task-after-shim, task-before-start, import-after-blobs,
                           import-after-naming, unpack-after-layer (failpoints.py)
  -h, --help               this help
"""


class ConfigError(Exception):
    """A flag or a key of the configuration file is wrong."""


class Listener(Record):
    """Where the Docker API is served: a unix socket's ``path``, else TCP ``host`` (a
    name or an address, IPv6 without brackets) and ``port``."""

    path: str = ""
    host: str = ""
    port: int = 0

    @property
    def address(self) -> str:
        """As ``-H`` writes it."""
        return authority(self.path or (self.host, self.port))


def parse_host(host: str) -> Listener:
    """A ``-H`` value: ``unix:///path``, or ``tcp://`` as dockerd reads it (``tcp://HOST``
    is port 2375, ``tcp://:PORT`` localhost, ``tcp://[::1]:2375``; no scheme is TCP)."""
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "tcp", host
    if scheme == "unix":
        if not os.path.isabs(rest):
            raise ConfigError(f"host {host!r}: the socket path must be absolute")
        if len(os.fsencode(rest)) >= 108:
            raise ConfigError(f"host {host!r}: longer than a unix socket path allows")
        return Listener(path=rest)
    if scheme == "tcp":
        try:
            name, port = parse_tcp(rest)
        except ValueError as err:
            raise ConfigError(f"host {host!r}: {err}") from None
        return Listener(host=name, port=port)
    if scheme == "https":
        raise ConfigError(f"host {host!r}: TLS is not supported; tcp:// serves plain HTTP")
    raise ConfigError(f"host {host!r}: unsupported scheme {scheme!r}: expected unix:// "
                      "or tcp://")


class Config(Record):
    root: str = "/var/lib/estiba"
    exec_root: str = "/run/estiba"
    hosts: tuple[str, ...] = ()
    core_address: str = "/run/estiba/core.sock"
    default_runtime: str = "estiba"
    runtimes: tuple[tuple[str, str], ...] = ()
    instance: str = "estiba"
    group: str = ""
    log_level: str = "info"
    log_format: str = "json"
    live_restore: bool = True
    shutdown_timeout: float = 10.0
    idle_timeout: float = 120.0
    debug_failpoints: tuple[str, ...] = ()
    config_file: str = ""

    def runtime_paths(self) -> dict[str, str]:
        return dict(self.runtimes)

    @property
    def listeners(self) -> tuple[Listener, ...]:
        """The Docker API's hosts, parsed (``build`` has checked them)."""
        return tuple(parse_host(host) for host in self.hosts)

    @property
    def cgroup_parent(self) -> str:
        """The containers' cgroup parent: ``estiba``, with the instance as a suffix when
        it is not the default one (ARCHITECTURE.md, "Names")."""
        return "estiba" if self.instance == "estiba" else f"estiba-{self.instance}"


# flag -> (field, kind); kind "list" appends, "bool" takes true/false
_FLAGS = {
    "--root": ("root", "str"),
    "--exec-root": ("exec_root", "str"),
    "-H": ("hosts", "list"),
    "--host": ("hosts", "list"),
    "--core-address": ("core_address", "str"),
    "--default-runtime": ("default_runtime", "str"),
    "--runtime": ("runtimes", "list"),
    "--instance": ("instance", "str"),
    "--group": ("group", "str"),
    "--log-level": ("log_level", "str"),
    "--log-format": ("log_format", "str"),
    "--live-restore": ("live_restore", "bool"),
    "--shutdown-timeout": ("shutdown_timeout", "float"),
    "--idle-timeout": ("idle_timeout", "float"),
    "--debug-failpoints": ("debug_failpoints", "list"),
    "--config": ("config_file", "str"),
}


def parse_flags(argv: list[str]) -> dict[str, object]:
    """Flags as {field: value}; ``--flag=value`` and ``--flag value`` both work."""
    out: dict[str, object] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name not in _FLAGS:
            raise ConfigError(f"unknown flag {arg!r}")
        field, kind = _FLAGS[name]
        if not eq:
            if kind == "bool" and (i + 1 == len(argv) or argv[i + 1].startswith("-")):
                value = "true"  # a bare --live-restore
            else:
                i += 1
                if i == len(argv):
                    raise ConfigError(f"flag {name} needs a value")
                value = argv[i]
        i += 1
        if kind == "list":
            items = value.split(",") if field == "debug_failpoints" else [value]
            out.setdefault(field, [])
            out[field].extend(v for v in items if v)  # type: ignore[union-attr]
        elif kind == "bool":
            out[field] = _bool(name, value)
        elif kind == "float":
            out[field] = _float(name, value)
        else:
            out[field] = value
    return out


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def _float(name: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name}: expected a number, got {value!r}") from err
    if number < 0:
        raise ConfigError(f"{name}: must not be negative")
    return number


def from_file(data: dict) -> dict[str, object]:
    """The keys of a parsed TOML file as {field: value}."""
    out: dict[str, object] = {}
    for key, value in data.items():
        field = "hosts" if key == "host" else key.replace("-", "_")
        if field == "runtimes":
            if not isinstance(value, dict) or not all(
                    isinstance(v, str) for v in value.values()):
                raise ConfigError("runtimes: expected a table of name = \"path\"")
            out[field] = [f"{k}={v}" for k, v in value.items()]
        elif field in ("hosts", "debug_failpoints"):
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise ConfigError(f"{key}: expected a list of strings")
            out[field] = list(items)
        elif field == "live_restore":
            out[field] = _bool(key, value)
        elif field in ("shutdown_timeout", "idle_timeout"):
            out[field] = _float(key, value)
        elif field in Config.__fields__ and field != "config_file":
            if not isinstance(value, str):
                raise ConfigError(f"{key}: expected a string")
            out[field] = value
        else:
            raise ConfigError(f"unknown key {key!r}")
    return out


def build(values: dict[str, object], default_runtime_path: str,
          installed: dict[str, str] | None = None) -> Config:
    """Check the merged values and fill the runtimes: the default runtime ``estiba`` is
    ``default_runtime_path`` unless configured; ``installed`` (name -> path: runc, crun
    found on the host) are there too unless configured, as dockerd offers runc."""
    runtimes: dict[str, str] = {}
    for item in values.pop("runtimes", []):  # type: ignore[union-attr]
        name, eq, path = item.partition("=")
        if not eq or not name or not path:
            raise ConfigError(f"runtime {item!r}: expected name=path")
        runtimes[name] = path
    runtimes.setdefault("estiba", default_runtime_path)
    for name, path in (installed or {}).items():
        runtimes.setdefault(name, path)
    config = Config(**{**values, "runtimes": tuple(sorted(runtimes.items())),
                       "hosts": tuple(values.get("hosts", ()))  # type: ignore[arg-type]
                       or (DEFAULT_HOST,),
                       "debug_failpoints": tuple(values.get("debug_failpoints", ()))})  # type: ignore[arg-type]
    if config.default_runtime not in runtimes:
        raise ConfigError(f"default runtime {config.default_runtime!r} is not configured "
                          f"(runtimes: {', '.join(sorted(runtimes))})")
    if config.log_level not in LEVELS:
        raise ConfigError(f"log level {config.log_level!r}: expected one of "
                          f"{', '.join(LEVELS)}")
    if config.log_format not in FORMATS:
        raise ConfigError(f"log format {config.log_format!r}: expected json or text")
    if not config.instance or "/" in config.instance or len(config.instance) > 15:
        raise ConfigError(f"instance {config.instance!r}: 1 to 15 characters, no '/'")
    for host in config.hosts:
        parse_host(host)  # its ConfigError now, before anything is started
    for name in ("root", "exec_root", "core_address"):
        if not os.path.isabs(getattr(config, name)):
            raise ConfigError(f"{name.replace('_', '-')}: must be an absolute path")
    if len(os.fsencode(config.core_address)) >= 108:
        raise ConfigError(f"core address {config.core_address}: longer than a unix "
                          "socket path may be (107 bytes)")
    return config


def load(argv: list[str]) -> Config:
    """Flags, then the file they name (or the default file if present), merged."""
    flags = parse_flags(argv)
    path = str(flags.get("config_file") or "")
    values: dict[str, object] = {}
    if path or os.path.exists(DEFAULT_CONFIG):
        path = path or DEFAULT_CONFIG
        import tomllib

        try:
            with open(path, "rb") as f:
                values = from_file(tomllib.load(f))
        except OSError as err:
            raise ConfigError(f"read {path}: {err.strerror.lower()}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: {err}") from err
    for field, value in flags.items():
        if field in ("runtimes", "hosts", "debug_failpoints") and field in values:
            values[field] = list(values[field]) + list(value)  # type: ignore[arg-type]
        else:
            values[field] = value
    values["config_file"] = path
    return build(values, own_runtime_path(), installed_runtimes())


def installed_runtimes() -> dict[str, str]:
    """runc and crun, where the host has them."""
    import shutil

    found = {name: shutil.which(name) for name in ("runc", "crun")}
    return {name: path for name, path in found.items() if path}


def own_runtime_path() -> str:
    # the launcher beside this interpreter (the venv's bin), else found on PATH
    beside = os.path.join(os.path.dirname(sys.executable), "estiba-runtime")
    return beside if os.path.exists(beside) else "estiba-runtime"
