"""``estiba-runtime``: runc's command line, so that whatever drives runc can drive it.

Each verb decodes its flags, calls one function of its module, and prints; errors of the
taxonomy become one message on stderr (and a line in ``--log``) and exit status 1.
"""

from __future__ import annotations

import os
import sys

from estiba import __version__
from estiba.errors import EstibaError, InvalidArgument, NotImplemented
from estiba.oci.state import OCI_VERSION
from estiba.runtime.log import Log

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

DEFAULT_ROOT = "/run/estiba-runtime"


def _parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(prog="estiba-runtime",
                                description="An OCI runtime with runc's command line.")
    p.add_argument("--root", default=DEFAULT_ROOT, help="directory for container state")
    p.add_argument("--log", default="", help="log file")
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true")
    p.add_argument("--criu", default="", help=argparse.SUPPRESS)
    p.add_argument("--rootless", default="auto", help=argparse.SUPPRESS)
    p.add_argument("-v", "--version", action="store_true")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def create_flags(c: argparse.ArgumentParser) -> None:
        c.add_argument("id")
        c.add_argument("-b", "--bundle", default=".")
        c.add_argument("--console-socket", default="")
        c.add_argument("--pid-file", default="")
        c.add_argument("--no-pivot", action="store_true")
        c.add_argument("--no-new-keyring", action="store_true")
        c.add_argument("--preserve-fds", type=int, default=0)

    create_flags(sub.add_parser("create", help="create a container"))
    r = sub.add_parser("run", help="create and run a container")
    create_flags(r)
    r.add_argument("-d", "--detach", action="store_true")
    r.add_argument("--keep", action="store_true")

    for verb, text in (("start", "start a created container"),
                       ("state", "print a container's state"),
                       ("pause", "pause a container's processes"),
                       ("resume", "resume a paused container")):
        sub.add_parser(verb, help=text).add_argument("id")

    k = sub.add_parser("kill", help="send a signal to a container")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    k.add_argument("-a", "--all", action="store_true")

    d = sub.add_parser("delete", help="delete a container")
    d.add_argument("id")
    d.add_argument("-f", "--force", action="store_true")

    ls = sub.add_parser("list", help="list containers")
    ls.add_argument("-f", "--format", default="table", choices=("table", "json"))
    ls.add_argument("-q", "--quiet", action="store_true")

    e = sub.add_parser("exec", help="run a process in a container")
    e.add_argument("id")
    e.add_argument("command", nargs=argparse.REMAINDER)
    e.add_argument("-p", "--process", default="")
    e.add_argument("--console-socket", default="")
    e.add_argument("--cwd", default="")
    e.add_argument("-e", "--env", action="append", default=[])
    e.add_argument("-t", "--tty", action="store_true")
    e.add_argument("-u", "--user", default="")
    e.add_argument("-g", "--additional-gids", action="append", default=[])
    e.add_argument("-d", "--detach", action="store_true")
    e.add_argument("--pid-file", default="")
    e.add_argument("--process-label", default="")
    e.add_argument("--apparmor", default="")
    e.add_argument("--no-new-privs", action="store_true")
    e.add_argument("-c", "--cap", action="append", default=[])
    e.add_argument("--preserve-fds", type=int, default=0)
    e.add_argument("--ignore-paused", action="store_true")

    ps = sub.add_parser("ps", help="list a container's processes")
    ps.add_argument("id")
    ps.add_argument("ps_args", nargs=argparse.REMAINDER)
    ps.add_argument("-f", "--format", default="table", choices=("table", "json"))

    u = sub.add_parser("update", help="change a container's resource limits")
    u.add_argument("id")
    u.add_argument("-r", "--resources", default="")
    for flag in ("blkio-weight", "cpu-period", "cpu-quota", "cpu-rt-period", "cpu-rt-runtime",
                 "cpu-share", "cpuset-cpus", "cpuset-mems", "memory", "memory-reservation",
                 "memory-swap", "pids-limit", "kernel-memory", "kernel-memory-tcp",
                 "l3-cache-schema", "mem-bw-schema"):
        u.add_argument("--" + flag, default=None)

    s = sub.add_parser("spec", help="write a starting config.json")
    s.add_argument("-b", "--bundle", default=".")
    s.add_argument("--rootless", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    log = Log(args.log, args.log_format, args.debug)
    if args.version:
        sys.stdout.write(f"estiba-runtime version {__version__}\nspec: {OCI_VERSION}\n")
        return 0
    if not args.command:
        _parser().print_help()
        return 0
    try:
        if args.systemd_cgroup:
            raise NotImplemented("--systemd-cgroup is not supported: cgroups are managed "
                                 "through cgroupfs")
        return _dispatch(args, log) or 0
    except EstibaError as err:
        log.error(str(err))
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, log: Log) -> int | None:
    from estiba.runtime.container import Container

    cmd = args.command
    root = args.root
    if cmd in ("create", "run"):
        from estiba.kernel.linux import Linux
        from estiba.runtime.create import CreateOptions

        opts = CreateOptions(bundle=args.bundle, pid_file=args.pid_file,
                             console_socket=args.console_socket, no_pivot=args.no_pivot,
                             preserve_fds=args.preserve_fds)
        if cmd == "create":
            from estiba.runtime.create import create

            create(Linux(), root, args.id, opts)
            return 0
        from estiba.runtime.run import run

        return run(Linux(), root, args.id, opts, detach=args.detach, keep=args.keep,
                   warn=log.warn)
    if cmd == "delete":
        from estiba.runtime.delete import delete

        delete(root, args.id, force=args.force, warn=log.warn)
        return 0
    if cmd == "list":
        from estiba.runtime.list import render

        sys.stdout.write(render(root, args.format, args.quiet))
        return 0
    if cmd == "spec":
        from estiba.runtime.spec import write_spec

        if args.rootless:
            raise NotImplemented("spec --rootless needs user namespaces, not supported yet")
        write_spec(args.bundle)
        return 0

    container = Container.load(root, args.id)
    if cmd == "start":
        from estiba.runtime.start import start

        start(container, warn=log.warn)
    elif cmd == "state":
        import json

        sys.stdout.write(json.dumps(_state_json(container), indent=2) + "\n")
    elif cmd == "kill":
        from estiba.runtime.kill import kill
        from estiba.runtime.signals import parse_signal

        kill(container, parse_signal(args.signal), all_processes=args.all)
    elif cmd == "pause":
        from estiba.runtime.pause import pause

        pause(container)
    elif cmd == "resume":
        from estiba.runtime.pause import resume

        resume(container)
    elif cmd == "ps":
        from estiba.runtime import ps

        ps_args = [a for a in args.ps_args if a != "--"]
        out = ps.ps_json(container) + "\n" if args.format == "json" else \
            ps.ps_table(container, ps_args)
        sys.stdout.write(out)
    elif cmd == "update":
        return _update(container, args)
    elif cmd == "exec":
        return _exec(container, args)
    return 0


def _state_json(container: Container) -> dict:  # noqa: F821
    out = container.state().to_json()
    out["rootfs"] = container.data.get("rootfs", "")
    out["created"] = container.data.get("created", "")
    out["owner"] = container.data.get("owner", "")
    return out


def _read_json_source(source: str, what: str) -> object:
    import json

    try:
        if source == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(source, "rb") as f:
                raw = f.read()
    except OSError as err:
        raise InvalidArgument(f"read {what} {source}: {(err.strerror or '').lower()}") from err
    try:
        return json.loads(raw)
    except ValueError as err:
        raise InvalidArgument(f"{what}: malformed json: {err}") from None


def _update(container: Container, args: argparse.Namespace) -> int:  # noqa: F821
    from estiba.runtime.update import FLAGS, merge, update

    base: object = {}
    if args.resources:
        base = _read_json_source(args.resources, "resources")
        if not isinstance(base, dict):
            raise InvalidArgument("resources: expected an object")
    flags = {name: getattr(args, name) for name in FLAGS}
    update(container, merge(base, flags))
    return 0


def _exec(container: Container, args: argparse.Namespace) -> int:  # noqa: F821
    from estiba.kernel.linux import Linux
    from estiba.oci.runtime_config import parse_process
    from estiba.runtime.exec import exec_process

    if args.process:
        process = parse_process(_read_json_source(args.process, "process"))
    else:
        command = [a for a in args.command]
        if command and command[0] == "--":
            command = command[1:]
        if not command:
            raise InvalidArgument("exec: no command given (ARGS... or --process FILE)")
        process = _process_from_flags(container, args, command)
    return exec_process(Linux(), container, process, detach=args.detach,
                        pid_file=args.pid_file, console_socket=args.console_socket,
                        preserve_fds=args.preserve_fds)


def _process_from_flags(container, args, command: list[str]):  # noqa: ANN001, ANN202
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
    data.pop("consoleSize", None)
    return parse_process(data)


def run_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    os._exit(main())
