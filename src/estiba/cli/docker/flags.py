"""Flags parsed as spf13/pflag (the docker CLI's parser) parses them: ``--name value``,
``--name=value``, ``-a``, combined short booleans ``-aq``, a short flag's value joined
(``-fx``) or next (``-f x``), repeatable flags, flags among the positional arguments,
``--`` ending the flags. Errors carry pflag's wording and docker's exit status 125.
Pure: argv in, values out."""

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
    """Check the number of positional arguments, in cobra's words."""
    if most == 0 and args:
        raise ArgumentsError(f"'estiba {command}' accepts no arguments", "Run")
    if len(args) < least:
        plural = "s" if least > 1 else ""
        raise ArgumentsError(f"'estiba {command}' requires at least {least} argument{plural}")
    if most is not None and len(args) > most:
        plural = "s" if most > 1 else ""
        raise ArgumentsError(f"'estiba {command}' requires at most {most} argument{plural}")


class Flag:
    """One flag: its long name, its one-letter shorthand, whether it takes a value,
    whether it repeats (values gathered in a list); for ``--help``, what it does and
    the type name docker shows for its value (``string``, ``list``, ``int`` ...)."""

    __slots__ = ("name", "short", "value", "repeat", "help", "kind")

    def __init__(self, name: str, short: str = "", *, value: bool = False,
                 repeat: bool = False, help: str = "", kind: str = "") -> None:
        self.name = name
        self.short = short
        self.value = value or repeat or bool(kind)
        self.repeat = repeat
        self.help = help
        self.kind = kind or ("list" if repeat else "string" if value else "")

    @property
    def key(self) -> str:
        return self.name.replace("-", "_")


_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _bool(flag: Flag, text: str) -> bool:
    # pflag reads a boolean's explicit value with strconv.ParseBool
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f'invalid argument "{text}" for "--{flag.name}" flag: '
                     f'strconv.ParseBool: parsing "{text}": invalid syntax')


def parse(argv: list[str], flags: tuple[Flag, ...], *, interspersed: bool = True
          ) -> tuple[dict[str, object], list[str]]:
    """({key: value}, positional arguments). Absent flags: False for booleans, None
    for values, [] for repeatable ones. ``interspersed=False`` (pflag's
    SetInterspersed(false)): the first positional argument ends the flags, so what
    follows it is taken as it is (``run IMAGE ls -l``)."""
    longs = {f.name: f for f in flags}
    shorts = {f.short: f for f in flags if f.short}
    values: dict[str, object] = {}
    for f in flags:
        values[f.key] = [] if f.repeat else (None if f.value else False)
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
