"""``estiba --help``, ``estiba help COMMAND``, ``estiba COMMAND --help``: help pages laid
out as docker's (cobra's usage template as the docker CLI sets it; pflag's option
columns, wrapped to the terminal's width), and the messages for a command that does not
exist. The pages are made from ``main``'s tables and each module's ``FLAGS_OF`` (and
``LONG_OF``, a longer description, where a module has one); a module not written yet,
or without ``FLAGS_OF``, gets a page without options.

Imported only when help is asked for or a command is unknown."""

from __future__ import annotations

import sys

from estiba.cli.docker.flags import Flag, UsageError, parse
from estiba.cli.main import (
    DOCKER_COMMANDS,
    GLOBAL_FLAGS,
    GLOBAL_USAGE,
    HELP_FLAGS,
    MANAGEMENT,
    resolve,
)

ABOUT = "A docker-compatible command line for the Estiba container engine"
# the commands docker's root page lists first, in its order (its "category-top")
COMMON = ("run", "exec", "ps", "build", "pull", "push", "images", "login", "logout",
          "search", "version", "info")
GROUPS = {
    "completion": "Print a shell's completion script",
    "container": "Work on containers",
    "ctr": "Work on the core's objects, as containerd's ctr does",
    "image": "Work on images",
    "network": "Work on networks",
    "system": "Work on the daemon as a whole",
    "volume": "Work on volumes",
}
# docker stops parsing their flags at the first argument: what follows belongs to the
# container's command (``estiba run IMAGE ls -h``)
NOT_INTERSPERSED = frozenset({"run", "create", "exec", "top"})
DEPRECATED_H = "Flag shorthand -h has been deprecated, use --help\n"
HELP_USAGE = "help [command]"
HELP_ABOUT = "Help about the command"
_MIN_PADDING = 11  # cobra's minNamePadding


# --- pflag's option columns -------------------------------------------------------

def _wrap_n(width: int, slop: int, text: str) -> tuple[str, str]:
    """The first line of ``text`` (up to ``width``, ``slop`` more when that ends it)
    and the rest, cut at a blank or at a newline."""
    if width + slop > len(text):
        return text, ""
    cut = max(text.rfind(" ", 0, width), text.rfind("\t", 0, width),
              text.rfind("\n", 0, width))
    if cut <= 0:
        return text, ""
    newline = text.rfind("\n", 0, width)
    if 0 < newline < cut:
        return text[:newline], text[newline + 1:]
    return text[:cut], text[cut + 1:]


def wrap(indent: int, cols: int, text: str) -> str:
    """``text`` wrapped into the columns from ``indent`` to ``cols``, its first line
    not indented (the caller has written the left column), as pflag wraps a usage."""
    pad = " " * indent
    if cols == 0:
        return text.replace("\n", "\n" + pad)
    room = cols - indent
    out = ""
    if room < 24:  # too narrow: the text goes in a block below, from column 16
        indent, pad = 16, " " * 16
        room = cols - indent
        out = "\n" + pad
    if room < 24:
        return text.replace("\n", out)
    slop = 5
    room -= slop
    line, text = _wrap_n(room, slop, text)
    out += line.replace("\n", "\n" + pad)
    while text:
        line, text = _wrap_n(room, slop, text)
        out += "\n" + pad + line.replace("\n", "\n" + pad)
    return out


def flag_usages(flags: tuple[Flag, ...], cols: int) -> str:
    """The options, sorted by name, one per line (its help wrapped), as pflag's
    FlagUsagesWrapped lists them."""
    rows = []
    for flag in sorted((f for f in flags if not f.hidden), key=lambda f: f.name):
        left = f"  -{flag.short}, --{flag.name}" if flag.short else f"      --{flag.name}"
        if flag.kind and flag.kind != "bool":  # pflag names no type for a boolean
            left += " " + flag.kind
        # pflag says a default that is not the zero value
        rows.append((left, flag.help + (" (default true)" if flag.default else "")))
    if not rows:
        return ""
    width = max(len(left) for left, _ in rows) + 1
    return "".join(f"{left} {' ' * (width - len(left))} {wrap(width + 2, cols, text)}\n"
                   for left, text in rows)


def columns() -> int:
    """The width docker wraps options to: its standard input's terminal's, less one;
    79 when that is no terminal."""
    import os

    try:
        return os.get_terminal_size(0).columns - 1
    except OSError:
        return 79


# --- what the tables say ----------------------------------------------------------

def top_name(name: str) -> str:
    """The top-level command a command path runs (``container ls`` -> ``ps``), else
    the path itself (``network ls``)."""
    group, _, sub = name.partition(" ")
    entry = MANAGEMENT.get(group, {}).get(sub)
    return entry if isinstance(entry, str) else name


def aliases(name: str) -> list[str]:
    """Every path that runs the command, docker's order: the management command's
    names first, the top-level name last."""
    group, _, sub = name.partition(" ")
    entry = MANAGEMENT.get(group, {}).get(sub)
    if sub and not isinstance(entry, str):
        return [f"{group} {each}" for each, other in MANAGEMENT[group].items()
                if other is entry]
    top = entry if isinstance(entry, str) else name
    paths = [f"{g} {each}" for g, subs in MANAGEMENT.items()
             for each, other in subs.items() if other == top]
    return [*paths, top] if top in DOCKER_COMMANDS else paths


def subcommands(group: str) -> list[tuple[str, str]]:
    """(first name, description) of a management command's subcommands, sorted."""
    seen: list[object] = []
    rows = []
    for sub, entry in MANAGEMENT[group].items():
        if any(entry == other for other in seen):
            continue
        seen.append(entry)
        what = DOCKER_COMMANDS[entry][3] if isinstance(entry, str) else entry[3]
        rows.append((sub, what))
    return sorted(rows)


def flags_of(module: str, function: str) -> tuple[Flag, ...] | None:
    """``FLAGS_OF[function]`` of the command's module; None where there is none."""
    table = getattr(_module(module), "FLAGS_OF", None)
    if not isinstance(table, dict) or function not in table:
        return None
    return tuple(table[function])


def _module(module: str) -> object:
    try:
        return __import__(f"estiba.cli.docker.{module}", fromlist=["FLAGS_OF"])
    except Exception:  # a module being written may not import yet: no options then
        return None


# --- pages ------------------------------------------------------------------------

def _rows(rows: list[tuple[str, str]], padding: int) -> str:
    return "".join(f"  {name.ljust(padding)} {what}\n" for name, what in rows)


def command_page(name: str, usage: str, about: str, flags: tuple[Flag, ...] | None,
                 cols: int = 79) -> str:
    """A command's page: usage, description, aliases, options."""
    page = f"Usage:  estiba {usage}\n\n{about.strip()}\n"
    paths = aliases(name)
    if len(paths) > 1:
        page += "\nAliases:\n  " + ", ".join(f"estiba {p}" for p in paths) + "\n"
    if flags:
        page += "\nOptions:\n" + flag_usages(flags, cols).rstrip() + "\n"
    return page


def group_page(group: str) -> str:
    """A management command's page: its subcommands."""
    rows = subcommands(group)
    padding = max([_MIN_PADDING, *(len(sub) for sub, _ in rows)])
    return (f"Usage:  estiba {group} COMMAND\n\n{GROUPS.get(group, '')}\n\n"
            f"Commands:\n{_rows(rows, padding)}\n"
            f"Run 'estiba {group} COMMAND --help' for more information on a command.\n")


def root_page(cols: int = 79) -> str:
    """``estiba --help``: the commands in docker's sections, the global options."""
    common = [(n, DOCKER_COMMANDS[n][3]) for n in COMMON if n in DOCKER_COMMANDS]
    groups = sorted((g, GROUPS.get(g, "")) for g in (*MANAGEMENT, "ctr"))
    rest = sorted((n, entry[3]) for n, entry in DOCKER_COMMANDS.items() if n not in COMMON)
    padding = max([_MIN_PADDING, *(len(n) for n, _ in (*common, *groups, *rest))])
    return (f"Usage:  estiba [OPTIONS] COMMAND\n\n{ABOUT}\n\n"
            f"Common Commands:\n{_rows(common, padding)}\n"
            f"Management Commands:\n{_rows(groups, padding)}\n"
            f"Commands:\n{_rows(rest, padding)}\n"
            f"Global Options:\n{flag_usages(GLOBAL_FLAGS, cols).rstrip()}\n\n"
            "Run 'estiba COMMAND --help' for more information on a command.\n")


def page_of(words: list[str], cols: int = 79) -> str | None:
    """The page of the command ``words`` name, or of the management command; None for
    neither."""
    found = resolve(words) if words else None
    if found is not None:
        name, (module, function, usage, about), _ = found
        return command_page(name, usage, _long(module, function) or about,
                            flags_of(module, function), cols)
    if words and words[0] in MANAGEMENT:
        return group_page(words[0])
    return None


def _long(module: str, function: str) -> str:
    table = getattr(_module(module), "LONG_OF", None)
    return table.get(function, "") if isinstance(table, dict) else ""


# --- the front door's cases -------------------------------------------------------

def front(rest: list[str], asked: bool, shorthand: bool) -> int:
    """No command, ``help``, or ``--help`` among the global options."""
    if shorthand:  # docker's global flags report on stderr, a command's on stdout
        sys.stderr.write(DEPRECATED_H)
    if not rest:
        # docker's root alone prints its page on stderr, and succeeds
        (sys.stdout if asked else sys.stderr).write(root_page(columns()))
        return 0
    if rest[0] == "help" and not asked:
        return help_command(rest[1:])
    if rest[0] == "ctr":
        return _ctr_help()
    sys.stdout.write(page_of(rest, columns()) or root_page(columns()))
    return 0


def help_command(args: list[str]) -> int:
    """``estiba help [COMMAND...]``."""
    try:
        opts, topics = parse(args, HELP_FLAGS)
    except UsageError as err:
        sys.stderr.write(f"{err}\n\nUsage:  estiba {HELP_USAGE}\n\n"
                         "Run 'estiba help --help' for more information\n")
        return err.status
    if opts["help shorthand"]:
        sys.stdout.write(DEPRECATED_H)
    if opts["help"] or opts["help shorthand"]:
        sys.stdout.write(f"Usage:  estiba {HELP_USAGE}\n\n{HELP_ABOUT}\n")
        return 0
    if not topics:
        sys.stdout.write(root_page(columns()))
        return 0
    if topics == ["ctr"]:
        return _ctr_help()
    known = 0
    if topics[0] in DOCKER_COMMANDS:
        known = 1
    elif topics[0] in MANAGEMENT:
        known = 2 if len(topics) > 1 and topics[1] in MANAGEMENT[topics[0]] else 1
    if known < len(topics):
        sys.stderr.write(f"unknown help topic: {' '.join(topics[known:])}\n")
        return 1
    sys.stdout.write(page_of(topics, columns()) or "")
    return 0


def _ctr_help() -> int:
    """ctr's own usage, which it prints for ``--help``."""
    from estiba.cli.ctr.main import main as ctr

    return ctr(["--help"])


def command_help(name: str, entry: tuple[str, str, str, str], args: list[str]
                 ) -> int | None:
    """The command's page if its flags ask for help (status 0), a flag error as
    docker reports it (status 125), or None: the command runs."""
    from estiba.cli.docker.context import usage_text

    module, function, usage, about = entry
    flags = flags_of(module, function)
    interspersed = top_name(name) not in NOT_INTERSPERSED
    if flags is None:
        # without its flags, the command's arguments cannot be told from its options'
        # values: any -h or --help asks
        shorthand = asked = False
        for arg in args:
            if arg == "--" or (not interspersed and not arg.startswith("-")):
                break
            asked = asked or arg == "--help"
            shorthand = shorthand or (arg[:2] != "--" and arg[:1] == "-" and "h" in arg)
        if not (asked or shorthand):
            return None
    else:
        # a command's own -h (run's --hostname) wins over help's, as in cobra
        helps = HELP_FLAGS if all(f.short != "h" for f in flags) else HELP_FLAGS[:1]
        try:
            opts, _ = parse(args, flags + helps, interspersed=interspersed)
        except UsageError as err:
            sys.stderr.write(usage_text(name, usage, str(err)))
            return err.status
        shorthand = bool(opts.get("help shorthand"))
        if not (opts["help"] or shorthand):
            return None
    if shorthand:
        sys.stdout.write(DEPRECATED_H)
    sys.stdout.write(command_page(name, usage, _long(module, function) or about, flags,
                                  columns()))
    return 0


def unknown(rest: list[str]) -> int:
    """``rest[0]`` is no command, or a management command without a known
    subcommand: its page when asked (or when alone), else docker's error."""
    group = rest[0] if rest[0] in MANAGEMENT else ""
    try:
        opts, positional = parse(rest[1:], HELP_FLAGS)
    except UsageError as err:
        usage = group or GLOBAL_USAGE
        sys.stderr.write(f"{err}\n\nUsage:  estiba {usage}\n\n"
                         f"Run 'estiba {group + ' ' if group else ''}--help' "
                         "for more information\n")
        return err.status
    asked = bool(opts["help"] or opts["help shorthand"])
    if opts["help shorthand"]:
        sys.stdout.write(DEPRECATED_H)
    if not group:
        if asked:
            sys.stdout.write(root_page(columns()))
            return 0
        sys.stderr.write(f"estiba: unknown command: estiba {rest[0]}\n\n"
                         "Run 'estiba --help' for more information\n")
        return 1
    if asked or not positional or group == "completion":
        # docker prints a management command's page on stderr when it is run alone;
        # cobra's own completion command prints it on stdout
        out = sys.stdout if asked or group == "completion" else sys.stderr
        out.write(group_page(group))
        return 0
    sys.stderr.write(f"estiba: unknown command: estiba {group} {positional[0]}\n\n"
                     f"Usage:  estiba {group}\n\n"
                     f"Run 'estiba {group} --help' for more information\n")
    return 1
