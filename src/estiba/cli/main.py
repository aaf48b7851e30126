"""``estiba [OPTIONS] COMMAND ...``: the global options, then the command's module.
Help pages (``estiba.cli.docker.help``) and shell completion (``...completion``) are
imported only when asked for, so that ``estiba ps`` pays for neither."""

from __future__ import annotations

import sys

from estiba.cli.docker.flags import Flag, UsageError, parse

GLOBAL_USAGE = "[OPTIONS] COMMAND [ARG...]"
# docker's global options that Estiba honours (-H) or accepts (-D, -l: the client has no
# debug output to give)
GLOBAL_FLAGS = (
    Flag("debug", "D", help="Turn on debug output"),
    Flag("host", "H", repeat=True, help="Daemon socket to connect to"),
    Flag("log-level", "l", value=True,
         help='Logging level ("debug", "info", "warn", "error", "fatal") '
              '(default "info")'),
    Flag("version", "v", help="Print the version and quit"),
    # docker's TLS options: known (and hidden), so that they are refused by name
    *(Flag(name, value=name != "tls" and name != "tlsverify", hidden=True,
           help="TLS: not supported")
      for name in ("tls", "tlsverify", "tlscacert", "tlscert", "tlskey")),
)
TLS_FLAGS = ("tls", "tlsverify", "tlscacert", "tlscert", "tlskey")
# pflag's --help and its deprecated shorthand, told apart so that -h can say it is
# deprecated, as docker does; neither is listed among the options
HELP_FLAGS = (Flag("help"), Flag("help shorthand", "h"))
# the levels logrus parses, which docker checks -l against
LOG_LEVELS = ("panic", "fatal", "error", "warn", "warning", "info", "debug", "trace")

# command -> (module of estiba.cli.docker, function, usage line, what it does); a
# module is imported only when its command runs
DOCKER_COMMANDS = {
    # containers
    "run": ("run", "run", "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
            "Make a container of an image and run it"),
    "create": ("create", "create", "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
               "Make a container without starting it"),
    "start": ("attach", "start", "start [OPTIONS] CONTAINER [CONTAINER...]",
              "Start containers that are not running"),
    "attach": ("attach", "attach", "attach [OPTIONS] CONTAINER",
               "Connect this terminal's input and output to a running container"),
    "exec": ("exec", "exec_", "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
             "Run another process in a running container"),
    "ps": ("containers", "ps", "ps [OPTIONS]", "Show the containers"),
    "rm": ("containers", "rm", "rm [OPTIONS] CONTAINER [CONTAINER...]",
           "Delete containers"),
    "stop": ("lifecycle", "stop", "stop [OPTIONS] CONTAINER [CONTAINER...]",
             "Stop running containers (a signal, then a kill)"),
    "restart": ("lifecycle", "restart", "restart [OPTIONS] CONTAINER [CONTAINER...]",
                "Stop and start containers again"),
    "kill": ("lifecycle", "kill", "kill [OPTIONS] CONTAINER [CONTAINER...]",
             "Send a signal to running containers"),
    "pause": ("lifecycle", "pause", "pause CONTAINER [CONTAINER...]",
              "Freeze every process of containers"),
    "unpause": ("lifecycle", "unpause", "unpause CONTAINER [CONTAINER...]",
                "Thaw the processes of paused containers"),
    "wait": ("lifecycle", "wait", "wait CONTAINER [CONTAINER...]",
             "Wait for containers to stop and print their exit statuses"),
    "rename": ("lifecycle", "rename", "rename CONTAINER NEW_NAME", "Give a container another name"),
    "update": ("lifecycle", "update", "update [OPTIONS] CONTAINER [CONTAINER...]",
               "Change the resource limits of containers"),
    "port": ("lifecycle", "port", "port CONTAINER [PRIVATE_PORT[/PROTO]]",
             "Show a container's published ports"),
    "logs": ("logs", "logs", "logs [OPTIONS] CONTAINER", "Show what a container wrote"),
    "top": ("stats", "top", "top CONTAINER [ps OPTIONS]",
            "Show the processes of a container"),
    "stats": ("stats", "stats", "stats [OPTIONS] [CONTAINER...]",
              "Show the resources containers use, as they go"),
    "cp": ("files", "cp", "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
           "\testiba cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
           "Copy files between a container and this machine"),
    "diff": ("files", "diff", "diff CONTAINER",
             "Show what changed in a container's files"),
    "export": ("files", "export", "export [OPTIONS] CONTAINER",
               "Write a container's files as a tar archive"),
    "commit": ("files", "commit", "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
               "Make an image of a container's changes"),
    # images
    "images": ("images", "main", "images [OPTIONS] [REPOSITORY[:TAG]]", "Show the images"),
    "rmi": ("images", "rmi", "rmi [OPTIONS] IMAGE [IMAGE...]",
            "Delete images or their names"),
    "tag": ("images", "tag", "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
            "Give an image another name"),
    "history": ("images", "history", "history [OPTIONS] IMAGE",
                "Show the layers an image was made of"),
    "import": ("images", "import_", "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
               "Make an image of a filesystem tar archive"),
    "save": ("images", "save", "save [OPTIONS] IMAGE [IMAGE...]",
             "Write images to a tar archive (to standard output by default)"),
    "load": ("images", "load", "load [OPTIONS]",
             "Read images from a tar archive or standard input"),
    "pull": ("images", "pull", "pull [OPTIONS] NAME[:TAG|@DIGEST]",
             "Fetch an image from a registry"),
    # the rest
    "inspect": ("inspect", "main", "inspect [OPTIONS] NAME|ID [NAME|ID...]",
                "Show objects of the daemon as JSON"),
    "info": ("system", "info", "info [OPTIONS]", "Show what the daemon has and how it is set up"),
    "events": ("system", "events", "events [OPTIONS]",
               "Show the daemon's events as they happen"),
    "version": ("version", "main", "version [OPTIONS]",
                "Show the client's and the daemon's versions"),
}

# management command -> {subcommand: (module, function, usage, what it does) or the
# top-level command it is another name for}
MANAGEMENT = {
    "container": {
        "ls": "ps", "list": "ps", "ps": "ps", "run": "run", "create": "create",
        "start": "start", "attach": "attach", "exec": "exec", "rm": "rm", "remove": "rm",
        "stop": "stop", "restart": "restart", "kill": "kill", "pause": "pause",
        "unpause": "unpause", "wait": "wait", "rename": "rename", "update": "update",
        "port": "port", "logs": "logs", "top": "top", "stats": "stats", "cp": "cp",
        "diff": "diff", "export": "export", "commit": "commit",
        "inspect": ("inspect", "container", "container inspect [OPTIONS] CONTAINER "
                    "[CONTAINER...]", "Show containers as JSON"),
        "prune": ("lifecycle", "prune", "container prune [OPTIONS]",
                  "Delete the stopped containers"),
    },
    "image": {
        "ls": "images", "list": "images", "rm": "rmi", "remove": "rmi", "tag": "tag",
        "history": "history", "import": "import", "save": "save", "load": "load",
        "pull": "pull",
        "inspect": ("inspect", "image", "image inspect [OPTIONS] IMAGE [IMAGE...]",
                    "Show images as JSON"),
        "prune": ("images", "prune", "image prune [OPTIONS]", "Delete the images nothing uses"),
    },
    "network": {
        "create": ("networks", "create", "network create [OPTIONS] NETWORK",
                   "Make a network"),
        "ls": ("networks", "ls", "network ls [OPTIONS]", "Show the networks"),
        "inspect": ("networks", "inspect", "network inspect [OPTIONS] NETWORK "
                    "[NETWORK...]", "Show networks as JSON"),
        "rm": ("networks", "rm", "network rm NETWORK [NETWORK...]",
               "Delete networks"),
        "prune": ("networks", "prune", "network prune [OPTIONS]",
                  "Delete the networks no container uses"),
        "connect": ("networks", "connect", "network connect [OPTIONS] NETWORK CONTAINER",
                    "Attach a container to a network"),
        "disconnect": ("networks", "disconnect", "network disconnect [OPTIONS] NETWORK "
                       "CONTAINER", "Detach a container from a network"),
    },
    "volume": {
        "create": ("volumes", "create", "volume create [OPTIONS] [VOLUME]",
                   "Make a volume"),
        "ls": ("volumes", "ls", "volume ls [OPTIONS]", "Show the volumes"),
        "inspect": ("volumes", "inspect", "volume inspect [OPTIONS] VOLUME [VOLUME...]",
                    "Show volumes as JSON"),
        "rm": ("volumes", "rm", "volume rm [OPTIONS] VOLUME [VOLUME...]",
               "Delete volumes"),
        "prune": ("volumes", "prune", "volume prune [OPTIONS]",
                  "Delete the volumes no container uses"),
    },
    "system": {
        "df": ("system", "df", "system df [OPTIONS]",
               "Show the disk space the daemon's objects take"),
        "info": "info", "events": "events",
        "prune": ("system", "prune", "system prune [OPTIONS]", "Delete what nothing uses"),
    },
}
# not a daemon's command: the scripts are made from these tables
MANAGEMENT["completion"] = {
    shell: ("completion", shell, f"completion {shell}",
            f"Print the completion script of {shell}")
    for shell in ("bash", "zsh")}
# the aliases cobra gives these subcommands
for _group in ("network", "volume"):
    MANAGEMENT[_group]["list"] = MANAGEMENT[_group]["ls"]
    MANAGEMENT[_group]["remove"] = MANAGEMENT[_group]["rm"]


def resolve(argv: list[str]) -> tuple[str, tuple[str, str, str, str], list[str]] | None:
    """(the command's name, its entry, its arguments) for ``argv``, a top-level command
    or a management command's subcommand; None for an unknown one. A subcommand is
    named as cobra names it, by its first name (``container list`` is ``container
    ls``), and its usage line starts with that name."""
    name, rest = argv[0], argv[1:]
    if name in DOCKER_COMMANDS:
        return name, DOCKER_COMMANDS[name], rest
    group = MANAGEMENT.get(name)
    if group is None or not rest or rest[0] not in group:
        return None
    entry = group[rest[0]]
    first = next(sub for sub, each in group.items() if each == entry)
    if isinstance(entry, str):
        module, function, usage, what = DOCKER_COMMANDS[entry]
        usage = f"{name} {first}" + usage[len(entry):]
        return f"{name} {first}", (module, function, usage, what), rest[1:]
    return f"{name} {first}", entry, rest[1:]


def _asks_help(args: list[str]) -> bool:
    """Whether ``--help`` or ``-h`` may be among the flags (a cheap look, the parse
    decides)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--help" or arg.startswith("--help=") or (
                arg[:1] == "-" and arg[1:2] != "-" and "h" in arg):
            return True
    return False


def _global_error(message: str) -> int:
    sys.stderr.write(f"{message}\n\nUsage:  estiba {GLOBAL_USAGE}\n\n"
                     "Run 'estiba --help' for more information\n")
    return 125


def main(argv: list[str]) -> int:
    try:
        opts, rest = parse(argv, GLOBAL_FLAGS + HELP_FLAGS, interspersed=False)
    except UsageError as err:
        return _global_error(str(err))
    level = opts["log_level"]
    if level is not None and str(level).lower() not in LOG_LEVELS:
        sys.stderr.write(f"Unable to parse logging level: {level}\n")
        return 1
    given = [f"--{name}" for name in TLS_FLAGS if opts[name]]
    if given:
        sys.stderr.write(f"Failed to initialize: {', '.join(given)}: TLS is not supported: "
                         "use unix:// or tcp:// on a trusted network\n")
        return 1
    hosts: list[str] = opts["host"]  # type: ignore[assignment]
    if len(hosts) > 1:
        sys.stderr.write("Failed to initialize: unable to resolve estiba endpoint: "
                         "Specify only one -H\n")
        return 1
    host = hosts[0] if hosts else None
    asked = bool(opts["help"] or opts["help shorthand"])
    if not rest and opts["version"] and not asked:
        from estiba import __version__

        sys.stdout.write(f"Estiba version {__version__}, build {_build()}\n")
        return 0
    if asked or not rest or rest[0] == "help":
        from estiba.cli.docker.help import front

        return front(rest, asked, bool(opts["help shorthand"]))
    command, args = rest[0], rest[1:]
    if command == "ctr":
        from estiba.cli.ctr.main import main as ctr

        return ctr(args)
    found = resolve(rest)
    if found is None:
        from estiba.cli.docker.help import unknown

        return unknown(rest)
    name, entry, args = found
    if _asks_help(args):
        from estiba.cli.docker.help import command_help

        status = command_help(name, entry, args)
        if status is not None:
            return status
    module, function, usage, _ = entry
    from estiba.cli.docker.context import run

    # __import__ rather than importlib.import_module: importlib's import costs more
    # than the command module
    body = getattr(__import__(f"estiba.cli.docker.{module}", fromlist=[function]),
                   function)
    return run(name, usage, body, args, host)


def _build() -> str:
    """The commit of the checkout Estiba runs from (it is installed editable), read
    from .git without running git; "unknown" elsewhere."""
    import os

    git = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))), ".git")
    try:
        with open(os.path.join(git, "HEAD")) as f:
            head = f.read().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            try:
                with open(os.path.join(git, ref)) as f:
                    head = f.read().strip()
            except FileNotFoundError:  # packed by git gc
                with open(os.path.join(git, "packed-refs")) as f:
                    head = next(line.split()[0] for line in f
                                if line.rstrip().endswith(" " + ref))
    except (OSError, StopIteration):
        return "unknown"
    return head[:7]


def run_main() -> None:
    try:
        status = main(sys.argv[1:])
    except KeyboardInterrupt:
        status = 130
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(status)
