"""Flags parsed as spf13/pflag (the docker CLI's parser) parses them: ``--name value``,
``--name=value``, ``-a``, combined short booleans ``-aq``, a short flag's value joined
(``-fx``) or next (``-f x``), repeatable flags, flags among the positional arguments,
``--`` ending the flags. Errors carry pflag's wording and docker's exit status 125.
Also here: cobra's checks of the number of arguments (``count``, ``exact``,
``between``; status 1), the values several commands' flags share (``int_value``,
``filters``, ``key_values``) and pflag's ``Changed`` (``given``). Pure: argv in,
values out."""

from __future__ import annotations

USAGE_STATUS = 125  # docker's status for a command line that does not parse


class UsageError(Exception):
    """The arguments do not fit the command; ``str()`` is pflag's message."""

    status = USAGE_STATUS


class ArgumentsError(UsageError):
    """The flags parse but the positional arguments are too few or too many; docker
    exits 1 for these, not 125."""

    status = 1

    def __init__(self, message: str, hint: str = "See") -> None:
        super().__init__(message)
        self.hint = hint  # docker's cli.NoArgs says "Run ...", its other checks "See ..."


def count(command: str, args: list[str], least: int, most: int | None) -> None:
    """cobra's NoArgs, MinimumNArgs and MaximumNArgs, in docker's words (``most``
    None: no upper bound)."""
    if most == 0 and args:
        raise ArgumentsError(f"'estiba {command}' accepts no arguments", "Run")
    if len(args) < least:
        plural = "s" if least > 1 else ""
        raise ArgumentsError(f"'estiba {command}' requires at least {least} argument{plural}")
    if most is not None and len(args) > most:
        plural = "s" if most > 1 else ""
        raise ArgumentsError(f"'estiba {command}' requires at most {most} argument{plural}")


def exact(command: str, args: list[str], number: int) -> None:
    """cobra's ExactArgs, in docker's words."""
    if len(args) != number:
        plural = "s" if number != 1 else ""
        raise ArgumentsError(f"'estiba {command}' requires {number} argument{plural}", "Run")


def between(command: str, args: list[str], least: int, most: int) -> None:
    """cobra's RangeArgs, in docker's words."""
    if not least <= len(args) <= most:
        raise ArgumentsError(f"'estiba {command}' requires at least {least} and at most "
                             f"{most} arguments", "Run")


class Flag:
    """One flag: its long name, its one-letter shorthand, whether it takes a value,
    whether it repeats (values gathered in a list); for ``--help``, what it does and
    the type name docker shows for its value (``string``, ``list``, ``int`` ...).
    ``hidden``: accepted but left out of the help pages, as docker hides deprecated
    names (``stop --time``, ``run --net``). ``default``: a boolean's value when absent
    (true for ``history -H``, ``commit --pause``); help pages say so."""

    __slots__ = ("name", "short", "value", "repeat", "help", "kind", "hidden", "default")

    def __init__(self, name: str, short: str = "", *, value: bool = False,
                 repeat: bool = False, help: str = "", kind: str = "",
                 hidden: bool = False, default: bool = False) -> None:
        self.name = name
        self.short = short
        self.value = value or repeat or bool(kind)
        self.repeat = repeat
        self.help = help
        self.kind = kind or ("list" if repeat else "string" if value else "")
        self.hidden = hidden
        self.default = default

    @property
    def key(self) -> str:
        return self.name.replace("-", "_")

    @property
    def label(self) -> str:
        """How pflag names the flag in its errors: ``-m, --memory`` or ``--cpus``."""
        return f"-{self.short}, --{self.name}" if self.short else f"--{self.name}"


def value_error(flag: Flag, value: str, message: str) -> UsageError:
    """pflag's error for a value its flag refuses."""
    return UsageError(f'invalid argument "{value}" for "{flag.label}" flag: {message}')


def int_value(flag: Flag, text: str, bits: int = 64) -> int:
    """An int flag's value as pflag reads it (strconv.ParseInt, base 0: ``0x10`` is
    16), pflag's error if it is none."""
    from estiba.cli.docker.gonumbers import go_int

    try:
        return go_int(text, bits)
    except ValueError as err:
        raise value_error(flag, text, str(err)) from None


def key_values(items: list[str]) -> dict[str, str]:
    """A map flag's items (``-o k=v``, ``--label k=v``) as docker's
    ConvertKVStringsToMap makes them: each split at its first ``=``, an item without
    one an empty value, a key given twice its last value."""
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def filters(items: list[str], label: str = "-f, --filter") -> dict[str, list[str]]:
    """``--filter k=v`` (repeated) as the API's filters; ``label`` is the flag as pflag
    names it in its error (a prune command's ``--filter`` has no ``-f``)."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f'invalid argument "{item}" for "{label}" flag: '
                             "bad format of filter (expected name=value)")
        out.setdefault(key.strip().lower(), []).append(value)
    return out


_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _bool(flag: Flag, text: str) -> bool:
    # pflag reads a boolean's explicit value with strconv.ParseBool
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise value_error(flag, text, f'strconv.ParseBool: parsing "{text}": invalid syntax')


def parse(argv: list[str], flags: tuple[Flag, ...], *, interspersed: bool = True
          ) -> tuple[dict[str, object], list[str]]:
    """({key: value}, positional arguments). Absent flags: their default for booleans
    (False unless said), None for values, [] for repeatable ones.
    ``interspersed=False`` (pflag's SetInterspersed(false)): the first positional
    argument ends the flags, so what follows it is taken as it is (``run IMAGE ls
    -l``)."""
    longs = {f.name: f for f in flags}
    shorts = {f.short: f for f in flags if f.short}
    values: dict[str, object] = {}
    for f in flags:
        values[f.key] = [] if f.repeat else (None if f.value else f.default)
    positional: list[str] = []

    def store(flag: Flag, value: str) -> None:
        if flag.repeat:
            values[flag.key].append(value)  # type: ignore[union-attr]
        else:
            values[flag.key] = value

    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional.extend(argv[i:])
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            flag = longs.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: --{name}")
            if not flag.value:
                values[flag.key] = _bool(flag, value) if eq else True
            elif eq:
                store(flag, value)
            elif i < len(argv):
                store(flag, argv[i])
                i += 1
            else:
                raise UsageError(f"flag needs an argument: --{name}")
        elif arg.startswith("-") and arg != "-":
            letters = arg[1:]
            j = 0
            while j < len(letters):
                ch = letters[j]
                j += 1
                flag = shorts.get(ch)
                if flag is None:
                    # pflag names what is left of the group, from this letter on
                    raise UsageError(f"unknown shorthand flag: '{ch}' in -{letters[j - 1:]}")
                rest = letters[j:]
                if not flag.value:
                    if rest.startswith("="):
                        values[flag.key] = _bool(flag, rest[1:])
                        break
                    values[flag.key] = True
                    continue
                if rest:
                    store(flag, rest[1:] if rest.startswith("=") else rest)
                elif i < len(argv):
                    store(flag, argv[i])
                    i += 1
                else:
                    raise UsageError(f"flag needs an argument: '{ch}' in -{letters[j - 1:]}")
                break
        else:
            positional.append(arg)
            if not interspersed:
                positional.extend(argv[i:])
                break
    return values, positional


def flag_names(argv: list[str], flags: tuple[Flag, ...], *, interspersed: bool = False
               ) -> list[tuple[int, str]]:
    """(index in argv, long name) of each flag on the command line, as ``parse`` reads
    them (a flag's value is not a flag): up to ``--``, and up to the first positional
    argument unless ``interspersed``."""
    longs = {f.name: f for f in flags}
    shorts = {f.short: f for f in flags if f.short}
    found = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            if interspersed:
                continue
            break
        if arg.startswith("--"):
            key, eq, _ = arg[2:].partition("=")
            found.append((i - 1, key))
            flag = longs.get(key)
            if flag is not None and flag.value and not eq:
                i += 1
            continue
        letters = arg[1:]
        for j, ch in enumerate(letters):
            flag = shorts.get(ch)
            if flag is None:
                break
            found.append((i - 1, flag.name))
            if flag.value:
                i += 0 if letters[j + 1:] else 1
                break
    return found


def given(argv: list[str], flags: tuple[Flag, ...], name: str, *,
          interspersed: bool = False) -> bool:
    """Whether the flag ``name`` is on the command line (pflag's ``Changed``: a
    boolean's absence and its ``=false`` differ for ``run --init``, and docker sends
    ``network create``'s ``EnableIPv6`` only when the flag is given)."""
    return any(found == name for _, found in flag_names(argv, flags,
                                                         interspersed=interspersed))
