"""``estiba completion bash|zsh``: a shell completion script made from ``main``'s
tables and each module's ``FLAGS_OF``: the commands, the management commands'
subcommands, each command's flags; the names of containers, images, networks and
volumes are asked of the daemon when completed (``estiba ps -a --format
'{{.Names}}'`` ...), through the ``-H`` given on the command line being completed.

The script's logic is one shell function written for both shells (zsh runs it with
``emulate -L sh``): ``__estiba_complete CWORD WORD0 WORD1 ...`` prints the candidates
for word CWORD, one a line, or fails when a file name is wanted. Each shell wraps it in
its own completion function. Pure: the tables in, the script's text out."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, count, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cli.docker.context import Context

FLAGS = (Flag("no-descriptions", help="Leave descriptions out (the scripts have none)"),)
FLAGS_OF = {"bash": FLAGS, "zsh": FLAGS}

_BASH_INSTALL = """\
To complete estiba's commands in the current bash session:

\tsource <(estiba completion bash)

and in every new session, once:

\testiba completion bash > /etc/bash_completion.d/estiba

(or source it from ~/.bashrc). The script needs no bash-completion package."""

_ZSH_INSTALL = """\
Completion must be on in zsh (in ~/.zshrc: autoload -U compinit; compinit).
To complete estiba's commands in the current zsh session:

\tsource <(estiba completion zsh)

and in every new session, once:

\testiba completion zsh > "${fpath[1]}/_estiba"

then start a new shell."""

LONG_OF = {"bash": "Print estiba's completion script for bash.\n\n" + _BASH_INSTALL,
           "zsh": "Print estiba's completion script for zsh.\n\n" + _ZSH_INSTALL}

# a positional argument's placeholder in a usage line -> what completes it
_PLACEHOLDERS = {
    "CONTAINER": "container", "IMAGE": "image", "SOURCE_IMAGE": "image",
    "TARGET_IMAGE": "image", "REPOSITORY": "image", "NETWORK": "network",
    "VOLUME": "volume", "NAME|ID": "any", "file|URL|-": "file", "DEST_PATH|-": "file",
    "SRC_PATH|-": "file",
}
# a flag's value -> what completes it
_FLAG_VALUES = {
    "network": "network", "net": "network", "volumes-from": "container",
    "type": "type", "log-level": "level",
}
_STATIC = {
    "type": "container image network volume",
    "level": "debug info warn error fatal",
}


class Command:
    """What completion knows of one command: its key (a shell word), the flags it
    offers (not the hidden ones, as cobra offers them), the flags that take a value
    (hidden ones too: their value is no argument), what each positional argument is
    (``+``: repeats)."""

    __slots__ = ("key", "flags", "valued", "args", "interspersed")

    def __init__(self, key: str, flags: tuple[Flag, ...], args: list[str],
                 interspersed: bool) -> None:
        self.key = key
        self.flags = tuple(f for f in flags if not f.hidden)
        self.valued = tuple(f for f in flags if f.value)
        self.args = args
        self.interspersed = interspersed


def arg_kinds(usage: str, path: str) -> list[str]:
    """What completes each positional argument of a usage line (its first line, after
    the command's path): ``rm [OPTIONS] CONTAINER [CONTAINER...]`` -> ``container
    container+``."""
    words = usage.split("\n")[0].split()[len(path.split()):]
    kinds = []
    for word in words:
        if word == "[OPTIONS]":
            continue
        repeats = word.endswith("...]") or word.endswith("...")
        bare = word.strip("[]").removesuffix("...")
        base = bare.split(":")[0] if ":" in bare and "|" not in bare.split(":")[0] else bare
        base = base.split("[")[0]
        kind = _PLACEHOLDERS.get(bare) or _PLACEHOLDERS.get(base) or "none"
        kinds.append(kind + ("+" if repeats else ""))
    return kinds


def _words(flags: tuple[Flag, ...]) -> str:
    out = []
    for flag in sorted(flags, key=lambda f: f.name):
        out.append(f"--{flag.name}")
        if flag.short:
            out.append(f"-{flag.short}")
    return " ".join(out)


def commands() -> tuple[list[Command], dict[tuple[str, str], str]]:
    """Every command (top-level ones by name, a management command's own ones as
    ``group_sub``), and (group, subcommand) -> the key it runs."""
    from estiba.cli.docker.help import NOT_INTERSPERSED, flags_of
    from estiba.cli.main import DOCKER_COMMANDS, MANAGEMENT

    found = []
    for name, (module, function, usage, _) in DOCKER_COMMANDS.items():
        found.append(Command(name, flags_of(module, function) or (),
                             arg_kinds(usage, name), name not in NOT_INTERSPERSED))
    subs: dict[tuple[str, str], str] = {}
    made: dict[int, str] = {}
    for group, table in MANAGEMENT.items():
        for sub, entry in table.items():
            if isinstance(entry, str):
                subs[(group, sub)] = entry
                continue
            if id(entry) not in made:
                module, function, usage, _ = entry
                key = f"{group}_{sub}"
                made[id(entry)] = key
                path = usage.split()[:2]
                found.append(Command(key, flags_of(module, function) or (),
                                     arg_kinds(usage, " ".join(path)), True))
            subs[(group, sub)] = made[id(entry)]
    return found, subs


def _q(text: str) -> str:
    """A shell word in single quotes."""
    return "'" + text.replace("'", "'\\''") + "'"


def body() -> str:
    """The completion logic both shells share, with the tables written in."""
    from estiba.cli.main import DOCKER_COMMANDS, GLOBAL_FLAGS, HELP_FLAGS, MANAGEMENT

    found, subs = commands()
    tops = " ".join(sorted([*DOCKER_COMMANDS, *MANAGEMENT, "ctr", "help"]))
    spec = "".join(
        f"    {c.key}) flags={_q(_words(c.flags + HELP_FLAGS[:1]))}; "
        f"valued={_q(_words(c.valued))}; args={_q(' '.join(c.args))}; "
        f"inter={1 if c.interspersed else 0} ;;\n" for c in found)
    keys = "".join(f"    {_q(f'{g} {s}')}) key={k} ;;\n" for (g, s), k in subs.items())
    groups = "".join(f"    {g}) subs={_q(' '.join(sorted(t)))} ;;\n"
                     for g, t in MANAGEMENT.items())
    values = "".join(f"    --{name}) kind={kind} ;;\n" for name, kind in _FLAG_VALUES.items())
    static = "".join(f"    {k}) __estiba_words {_q(v)} ;;\n" for k, v in _STATIC.items())
    return _BODY.format(
        known=" ".join(f"--{name}" for name in _FLAG_VALUES), tops=_q(tops),
        globals=_q(_words(tuple(f for f in GLOBAL_FLAGS + HELP_FLAGS[:1] if not f.hidden))),
        spec=spec, keys=keys,
        groups=groups, values=values, static=static)


def bash_script() -> str:
    return ("# bash completion for estiba, made by `estiba completion bash`.\n"
            + "".join(f"# {line}".rstrip() + "\n" for line in _BASH_INSTALL.splitlines())
            + "\n" + body() + _BASH_HOOK)


def zsh_script() -> str:
    return ("#compdef estiba\n# zsh completion for estiba, made by `estiba completion zsh`.\n"
            + "".join(f"# {line}".rstrip() + "\n" for line in _ZSH_INSTALL.splitlines())
            + "\n" + body() + _ZSH_HOOK)


def bash(ctx: Context, argv: list[str]) -> int:
    _, args = parse(argv, FLAGS)
    count("completion bash", args, 0, 0)
    ctx.out.write(bash_script())
    return 0


def zsh(ctx: Context, argv: list[str]) -> int:
    _, args = parse(argv, FLAGS)
    count("completion zsh", args, 0, 0)
    ctx.out.write(zsh_script())
    return 0


# {...} are filled in by body(); the shell's own braces are doubled
_BODY = r"""# each command's flags, the flags that take a value, what its arguments are
# (container, image, network, volume, any, file, command, none; + repeats) and
# whether its flags may follow its arguments
__estiba_spec() {{
    flags=; valued=; args=; inter=1
    case $1 in
{spec}    help) args='command+' ;;
    esac
}}

# the command a management command's subcommand runs
__estiba_key() {{
    key=
    case "$1 $2" in
{keys}    esac
}}

__estiba_subs() {{
    subs=
    case $1 in
{groups}    esac
}}

__estiba_value_kind() {{
    kind=none
    case $1 in
{values}    -l) kind=level ;;
    esac
}}

# the words of $1 that start with $cur, one a line
__estiba_words() {{
    for __estiba_w in $1; do
        case $__estiba_w in
        *"<none>"*) ;;
        "$cur"*) printf '%s\n' "$__estiba_w" ;;
        esac
    done
}}

# estiba itself, on the daemon named on the command line being completed
__estiba_ask() {{
    if [ -n "$host" ]; then
        "$prog" -H "$host" "$@" 2>/dev/null
    else
        "$prog" "$@" 2>/dev/null
    fi
}}

__estiba_names() {{
    case $1 in
    container) __estiba_words "$(__estiba_ask ps -a --format '{{{{.Names}}}}')" ;;
    image) __estiba_words "$(__estiba_ask images --format '{{{{.Repository}}}}:{{{{.Tag}}}}')" ;;
    network) __estiba_words "$(__estiba_ask network ls --format '{{{{.Name}}}}')" ;;
    volume) __estiba_words "$(__estiba_ask volume ls --format '{{{{.Name}}}}')" ;;
    any) for __estiba_k in container image network volume; do
             __estiba_names $__estiba_k
         done ;;
    command) __estiba_words {tops} ;;
{static}    file) return 1 ;;
    esac
    return 0
}}

# __estiba_complete CWORD WORD0 WORD1 ...: the candidates for word CWORD
__estiba_complete() {{
    [ -n "${{ZSH_VERSION-}}" ] && emulate -L sh
    local cword prog cur host pending command group key n i w kind flags valued args \
        inter subs dashdash stop
    cword=$1 prog=$2
    shift 2
    cur= host= pending= command= group= key= n=0 i=1 dashdash=0 stop=0
    for w in "$@"; do
        if [ "$i" -ge "$cword" ]; then
            cur=$w
            break
        fi
        i=$((i + 1))
        if [ -n "$pending" ]; then
            case $pending in -H|--host) host=$w ;; esac
            pending=
            continue
        fi
        if [ -z "$command" ]; then
            case $w in
            -H|--host|-l|--log-level) pending=$w ;;
            --host=*) host=${{w#--host=}} ;;
            -H*) host=${{w#-H}} ;;
            -*) ;;
            *) command=$w
               __estiba_subs "$command"
               if [ -n "$subs" ]; then group=$command; else key=$command; fi ;;
            esac
            continue
        fi
        if [ -n "$group" ] && [ -z "$key" ]; then
            case $w in
            -*) ;;
            *) __estiba_key "$group" "$w"; [ -n "$key" ] || stop=1 ;;
            esac
            continue
        fi
        [ -n "$key" ] || continue
        __estiba_spec "$key"
        if [ "$dashdash" = 1 ]; then
            n=$((n + 1))
            continue
        fi
        case $w in
        --) dashdash=1 ;;
        --*=*) ;;
        -?*)
            case " $valued {known} " in
            *" $w "*) pending=$w ;;
            *) case $w in
               --*) ;;
               *) case " $valued " in
                  *" -${{w#"${{w%?}}"}} "*) pending=-${{w#"${{w%?}}"}} ;;
                  esac ;;
               esac ;;
            esac ;;
        *) n=$((n + 1))
           [ "$inter" = 1 ] || stop=1 ;;
        esac
    done
    if [ -n "$pending" ]; then
        __estiba_value_kind "$pending"
        __estiba_names "$kind"
        return
    fi
    if [ -z "$command" ]; then
        case $cur in
        -*) __estiba_words {globals} ;;
        *) __estiba_words {tops} ;;
        esac
        return 0
    fi
    [ "$stop" = 1 ] && return 1
    if [ -n "$group" ] && [ -z "$key" ]; then
        case $cur in
        -*) __estiba_words --help ;;
        *) __estiba_words "$subs" ;;
        esac
        return 0
    fi
    [ "$command" = ctr ] && return 1
    __estiba_spec "$key"
    case $cur in
    -*) if [ "$dashdash" = 0 ]; then
            __estiba_words "$flags"
            return 0
        fi ;;
    esac
    set -- $args
    kind=none
    while [ "$#" -gt 0 ]; do
        kind=$1
        [ "$n" -eq 0 ] && break
        n=$((n - 1))
        case $1 in
        *+) ;;
        *) [ "$#" -eq 1 ] && kind=none
           shift ;;
        esac
    done
    __estiba_names "${{kind%+}}"
}}
"""

_BASH_HOOK = r"""
_estiba() {
    local out status IFS
    out=$(__estiba_complete "$COMP_CWORD" "${COMP_WORDS[@]}")
    status=$?
    IFS=$'\n'
    if [ "$status" = 0 ]; then
        COMPREPLY=($out)
    else
        COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
    fi
}
complete -F _estiba estiba
"""

_ZSH_HOOK = r"""
_estiba() {
    local out
    local -a found
    if ! out=$(__estiba_complete $((CURRENT - 1)) "${words[@]}"); then
        _files
        return
    fi
    found=(${(f)out})
    compadd -- $found
}

if [ "$funcstack[1]" = "_estiba" ]; then
    _estiba "$@"
else
    compdef _estiba estiba
fi
"""
