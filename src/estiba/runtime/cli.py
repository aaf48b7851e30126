"""``estiba-runtime``: runc's command line, so that whatever drives runc can drive it.

Each verb decodes its flags, calls one function of its module, and prints; errors of the
taxonomy become one message on stderr (and a line in ``--log``) and exit status 1.
"""

from __future__ import annotations

import os
import sys

from estiba import __version__
from estiba.errors import EstibaError, InvalidArgument, Unimplemented
from estiba.oci.state import OCI_VERSION
from estiba.runtime.log import Log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.oci.runtime_config import Process
    from estiba.runtime.container import Container

DEFAULT_ROOT = "/run/estiba-runtime"

# Flags are described as data and parsed by hand: argparse (with the gettext, locale
# and shutil it pulls in) costs ~10 ms per call, a quarter of the runtime's budget.
# A flag is (names, dest, kind) with kind "bool", "str", "int" or "list".
GLOBAL_FLAGS = (
    (("--root",), "root", "str"),
    (("--log",), "log", "str"),
    (("--log-format",), "log_format", "str"),
    (("--debug",), "debug", "bool"),
    (("--systemd-cgroup",), "systemd_cgroup", "bool"),
    (("--criu",), "criu", "str"),
    (("--rootless",), "rootless", "str"),
    (("-v", "--version"), "version", "bool"),
    (("-h", "--help"), "help", "bool"),
)
_CREATE = (
    (("-b", "--bundle"), "bundle", "str"),
    (("--console-socket",), "console_socket", "str"),
    (("--pid-file",), "pid_file", "str"),
    (("--no-pivot",), "no_pivot", "bool"),
    (("--no-new-keyring",), "no_new_keyring", "bool"),
    (("--preserve-fds",), "preserve_fds", "int"),
)
_UPDATE_FLAGS = tuple(
    (("--" + name,), name.replace("-", "_"), "str")
    for name in ("blkio-weight", "cpu-period", "cpu-quota", "cpu-rt-period",
                 "cpu-rt-runtime", "cpu-share", "cpuset-cpus", "cpuset-mems", "memory",
                 "memory-reservation", "memory-swap", "pids-limit", "kernel-memory",
                 "kernel-memory-tcp", "l3-cache-schema", "mem-bw-schema")
)
# command → (usage of its arguments, flags, whether arguments after the id are a
# command line of their own, passed through untouched, as exec's and ps's are)
COMMANDS: dict[str, tuple[str, tuple, bool, str]] = {
    "create": ("<container-id>", _CREATE, False, "create a container"),
    "run": ("<container-id>", _CREATE + (
        (("-d", "--detach"), "detach", "bool"), (("--keep",), "keep", "bool")),
        False, "create and run a container"),
    "start": ("<container-id>", (), False, "start a created container"),
    "state": ("<container-id>", (), False, "print a container's state"),
    "kill": ("<container-id> [signal]", ((("-a", "--all"), "all", "bool"),), False,
             "send a signal (default SIGTERM) to a container"),
    "delete": ("<container-id>", ((("-f", "--force"), "force", "bool"),), False,
               "delete a container"),
    "list": ("", ((("-f", "--format"), "format", "str"), (("-q", "--quiet"), "quiet", "bool")),
             False, "list containers"),
    "exec": ("<container-id> <command> [args...]", (
        (("-p", "--process"), "process", "str"),
        (("--console-socket",), "console_socket", "str"),
        (("--cwd",), "cwd", "str"),
        (("-e", "--env"), "env", "list"),
        (("-t", "--tty"), "tty", "bool"),
        (("-u", "--user"), "user", "str"),
        (("-g", "--additional-gids"), "additional_gids", "list"),
        (("-d", "--detach"), "detach", "bool"),
        (("--pid-file",), "pid_file", "str"),
        (("--process-label",), "process_label", "str"),
        (("--apparmor",), "apparmor", "str"),
        (("--no-new-privs",), "no_new_privs", "bool"),
        (("-c", "--cap"), "cap", "list"),
        (("--preserve-fds",), "preserve_fds", "int"),
        (("--ignore-paused",), "ignore_paused", "bool"),
        (("--cgroup",), "cgroup", "list"),
    ), True, "run a process in a running container"),
    "ps": ("<container-id> [ps options]", ((("-f", "--format"), "format", "str"),), True,
           "list a container's processes"),
    "pause": ("<container-id>", (), False, "freeze a container's processes"),
    "resume": ("<container-id>", (), False, "thaw a paused container"),
    "update": ("<container-id>", ((("-r", "--resources"), "resources", "str"),)
               + _UPDATE_FLAGS, False, "change a container's resource limits"),
    "spec": ("", ((("-b", "--bundle"), "bundle", "str"), (("--rootless",), "rootless", "bool")),
             False, "write a starting config.json"),
    "events": ("<container-id>", ((("--stats",), "stats", "bool"),
                                  (("--interval",), "interval", "str")), False,
               "print a container's usage (JSON lines) until it stops"),
    "features": ("", (), False, "print what this runtime implements (JSON)"),
}
_DEFAULTS = {"bool": False, "str": "", "int": 0, "list": None}


class Args:
    """The parsed command line: flags as attributes, ``positional`` and ``command``."""

    def __init__(self) -> None:
        self.command = ""
        self.positional: list[str] = []
        self.rest: list[str] = []

    def __getattr__(self, name: str) -> object:  # flags that were not given
        raise AttributeError(name)


def _set_defaults(args: Args, flags: tuple) -> dict[str, tuple[str, str]]:
    table = {}
    for names, dest, kind in flags:
        setattr(args, dest, [] if kind == "list" else _DEFAULTS[kind])
        for name in names:
            table[name] = (dest, kind)
    return table


def _take(args: Args, table: dict, argv: list[str], i: int) -> int:
    """Parse the flag at argv[i]; return the index after it."""
    token = argv[i]
    name, eq, inline = token.partition("=")
    if name not in table:
        raise InvalidArgument(f"flag provided but not defined: {name}")
    dest, kind = table[name]
    if kind == "bool":
        if eq and inline not in ("true", "false"):
            raise InvalidArgument(f"invalid boolean value {inline!r} for {name}")
        setattr(args, dest, inline != "false")
        return i + 1
    if eq:
        value = inline
        i += 1
    else:
        if i + 1 >= len(argv):
            raise InvalidArgument(f"flag needs an argument: {name}")
        value = argv[i + 1]
        i += 2
    if kind == "int":
        try:
            setattr(args, dest, int(value))
        except ValueError:
            raise InvalidArgument(f"invalid value {value!r} for flag {name}") from None
    elif kind == "list":
        getattr(args, dest).append(value)
    else:
        setattr(args, dest, value)
    return i


def parse_args(argv: list[str]) -> Args:
    """runc's command line: ``[global flags] COMMAND [flags] ARGS``. Flags may follow
    the arguments, except for exec and ps, whose arguments after the id are passed on."""
    args = Args()
    table = _set_defaults(args, GLOBAL_FLAGS)
    args.root = DEFAULT_ROOT
    args.log_format = "text"
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        i = _take(args, table, argv, i)
    if i == len(argv):
        return args
    args.command = argv[i]
    if args.command == "help":
        args.help = True
        args.command = argv[i + 1] if i + 1 < len(argv) else ""
        return args
    if args.command not in COMMANDS:
        raise InvalidArgument(f"no such command {args.command!r}")
    _, flags, passthrough, _ = COMMANDS[args.command]
    table = _set_defaults(args, flags)
    table["-h"] = table["--help"] = ("help", "bool")
    i += 1
    while i < len(argv):
        token = argv[i]
        if token == "--":
            args.positional.extend(argv[i + 1:])
            break
        if passthrough and args.positional:
            args.positional.extend(argv[i:])
            break
        if token.startswith("-") and token != "-":
            i = _take(args, table, argv, i)
            continue
        args.positional.append(token)
        i += 1
    return args


def usage(command: str = "") -> str:
    if command in COMMANDS:
        arguments, flags, _, text = COMMANDS[command]
        lines = [f"usage: estiba-runtime {command} [flags] {arguments}".rstrip(), "", text, ""]
        for names, dest, kind in flags:
            value = "" if kind == "bool" else " " + dest.upper()
            lines.append("  " + ", ".join(names) + value)
        return "\n".join(lines) + "\n"
    lines = ["usage: estiba-runtime [global flags] COMMAND [flags] ARGS", "",
             "An OCI runtime with runc's command line.", "", "commands:"]
    for name, (_, _, _, text) in COMMANDS.items():
        lines.append(f"  {name:<8} {text}")
    lines += ["", "global flags:", "  --root DIR (default /run/estiba-runtime)",
              "  --log FILE", "  --log-format text|json", "  --debug", "  --systemd-cgroup",
              "  -v, --version"]
    return "\n".join(lines) + "\n"


def _need(args: Args, count: int, at_most: int | None = None) -> None:
    arguments = COMMANDS[args.command][0]
    have = len(args.positional)
    if have < count or (at_most is not None and have > at_most):
        raise InvalidArgument(f"{args.command}: expected {arguments}, got "
                              f"{' '.join(args.positional) or 'nothing'}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
    except InvalidArgument as err:
        Log().error(str(err))
        return 1
    log = Log(args.log, args.log_format, args.debug)
    if args.version:
        sys.stdout.write(f"estiba-runtime version {__version__}\nspec: {OCI_VERSION}\n")
        return 0
    if args.help or not args.command:
        sys.stdout.write(usage(args.command))
        return 0
    try:
        if args.log_format not in ("text", "json"):
            raise InvalidArgument(f"invalid log format {args.log_format!r}: text or json")
        if args.systemd_cgroup:
            raise Unimplemented("--systemd-cgroup is not supported: cgroups are managed "
                                 "through cgroupfs")
        return _dispatch(args, log) or 0
    except EstibaError as err:
        log.error(str(err))
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: Args, log: Log) -> int | None:
    from estiba.runtime.container import Container

    cmd = args.command
    root = args.root
    if cmd in ("list", "spec", "features"):
        _need(args, 0, 0)
    elif cmd == "kill":
        _need(args, 1, 2)
    elif cmd in ("exec", "ps"):
        _need(args, 1)
    else:
        _need(args, 1, 1)
    container_id = args.positional[0] if args.positional else ""
    if log.debug_enabled:
        log.debug(f"{cmd} {' '.join(args.positional)} (root {root}, pid {os.getpid()})")
    if cmd in ("create", "run"):
        from estiba.kernel.linux import Linux
        from estiba.runtime.create import CreateOptions

        opts = CreateOptions(bundle=args.bundle or ".", pid_file=args.pid_file,
                             console_socket=args.console_socket, no_pivot=args.no_pivot,
                             no_new_keyring=args.no_new_keyring,
                             preserve_fds=args.preserve_fds)
        if cmd == "create":
            from estiba.runtime.create import create

            container = create(Linux(), root, container_id, opts)
            log.debug(f"created {container_id}: init pid {container.pid}, cgroup "
                      f"{container.data['cgroups_path']}")
            return 0
        from estiba.runtime.run import run

        return run(Linux(), root, container_id, opts, detach=args.detach, keep=args.keep,
                   warn=log.warn)
    if cmd == "delete":
        from estiba.runtime.delete import delete

        delete(root, container_id, force=args.force, warn=log.warn)
        return 0
    if cmd == "list":
        from estiba.runtime.list import render

        if args.format not in ("", "table", "json"):
            raise InvalidArgument(f"invalid format {args.format!r}: table or json")
        sys.stdout.write(render(root, args.format or "table", args.quiet))
        return 0
    if cmd == "features":
        import json

        from estiba.runtime.features import host_features

        sys.stdout.write(json.dumps(host_features(), indent=4) + "\n")
        return 0
    if cmd == "spec":
        from estiba.runtime.spec import write_spec

        write_spec(args.bundle or ".", rootless=args.rootless)
        return 0

    container = Container.load(root, container_id)
    if cmd == "start":
        from estiba.runtime.start import start

        start(container, warn=log.warn)
    elif cmd == "state":
        import json

        sys.stdout.write(json.dumps(_state_json(container), indent=2) + "\n")
    elif cmd == "kill":
        from estiba.runtime.kill import kill
        from estiba.signals import parse_signal

        signal = args.positional[1] if len(args.positional) > 1 else "SIGTERM"
        kill(container, parse_signal(signal), all_processes=args.all)
    elif cmd == "pause":
        from estiba.runtime.pause import pause

        pause(container)
    elif cmd == "resume":
        from estiba.runtime.pause import resume

        resume(container)
    elif cmd == "ps":
        from estiba.runtime import ps

        if args.format == "json":
            out = ps.ps_json(container) + "\n"
        elif args.format in ("", "table"):
            out = ps.ps_table(container, args.positional[1:])
        else:
            raise InvalidArgument(f"invalid format {args.format!r}: table or json")
        sys.stdout.write(out)
    elif cmd == "update":
        return _update(container, args)
    elif cmd == "events":
        _events(container, args)
    elif cmd == "exec":
        return _exec(container, args)
    return 0


def _state_json(container: Container) -> dict:
    out = container.state().to_json()
    out["rootfs"] = container.data.get("rootfs", "")
    out["created"] = container.data.get("created", "")
    out["owner"] = container.data.get("owner", "")
    return out


def _events(container: Container, args: Args) -> None:
    import json

    from estiba.runtime.events import watch
    from estiba.units import parse_duration

    try:
        interval = parse_duration(args.interval or "5s") / 1e9
    except ValueError as err:
        raise InvalidArgument(f"--interval: {err}") from None
    if interval <= 0:
        raise InvalidArgument("--interval: duration must be greater than 0")

    def emit(event: dict) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    watch(container, interval, emit, once=bool(args.stats))


def _read_json_source(source: str, what: str) -> object:
    from estiba.oci import json_codec

    try:
        if source == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(source, "rb") as f:
                raw = f.read()
    except OSError as err:
        raise InvalidArgument(f"read {what} {source}: {(err.strerror or '').lower()}") from err
    try:
        return json_codec.loads(raw)
    except ValueError as err:
        raise InvalidArgument(f"{what}: malformed json: {err}") from None


def _update(container: Container, args: Args) -> int:
    from estiba.runtime.update import FLAGS, merge, update

    base: object = {}
    if args.resources:
        base = _read_json_source(args.resources, "resources")
        if not isinstance(base, dict):
            raise InvalidArgument("resources: expected an object")
    # a flag not given parses as "": only the given ones override the JSON (containerd
    # gives none, only --resources -)
    flags = {name: getattr(args, name) or None for name in FLAGS}
    update(container, merge(base, flags))
    return 0


def _exec(container: Container, args: Args) -> int:
    from estiba.kernel.linux import Linux
    from estiba.oci.runtime_config import parse_process
    from estiba.runtime.exec import exec_process

    if args.process:
        process = parse_process(_read_json_source(args.process, "process"))
    else:
        command = [a for a in args.positional[1:]]
        if command and command[0] == "--":
            command = command[1:]
        if not command:
            raise InvalidArgument("exec: no command given (ARGS... or --process FILE)")
        process = _process_from_flags(container, args, command)
    return exec_process(Linux(), container, process, detach=args.detach,
                        pid_file=args.pid_file, console_socket=args.console_socket,
                        preserve_fds=args.preserve_fds)


def _process_from_flags(container: Container, args: Args, command: list[str]) -> Process:
    """runc's rule: start from the container's own process and apply the flags."""
    from estiba.oci.runtime_config import parse_process

    data = dict(container.config.get("process") or {"cwd": "/"})
    data["args"] = command
    data["terminal"] = bool(args.tty)
    if args.cwd:
        data["cwd"] = args.cwd
    if args.env:
        env = list(data.get("env") or [])
        for entry in args.env:
            name = entry.split("=", 1)[0]
            env = [e for e in env if e.split("=", 1)[0] != name]
            env.append(entry)
        data["env"] = env
    if args.user:
        uid, _, gid = args.user.partition(":")
        try:
            user = {"uid": int(uid), "gid": int(gid) if gid else 0}
        except ValueError:
            raise InvalidArgument(f"invalid user {args.user!r}: want UID[:GID]") from None
        data["user"] = user
    if args.additional_gids:
        user = dict(data.get("user") or {})
        try:
            user["additionalGids"] = [int(g) for g in args.additional_gids]
        except ValueError:
            raise InvalidArgument("invalid --additional-gids") from None
        data["user"] = user
    if args.cap:
        caps = {k: list(v) for k, v in (data.get("capabilities") or {}).items()}
        for cap in args.cap:
            for key in ("bounding", "effective", "permitted", "ambient"):
                if cap not in caps.setdefault(key, []):
                    caps[key].append(cap)
        data["capabilities"] = caps
    if args.no_new_privs:
        data["noNewPrivileges"] = True
    return parse_process(data)


def run_main() -> None:
    """Entry point: exit without the interpreter's teardown (a few ms; nothing of the
    runtime needs it once its output is flushed)."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_main()
