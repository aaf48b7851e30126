"""Command-line options parsed by hand (argparse costs ~8 ms to import, a sixth of a
command's budget). The grammar is urfave/cli's, which ctr uses: options first, then
the positional arguments; ``--name=value`` or ``--name value``; ``--`` ends the
options. Where a verb takes no trailing command, options may also follow the
positional arguments (``images import FILE --tag T``)."""

from __future__ import annotations


class UsageError(Exception):
    """The arguments do not fit the command."""


class Option:
    """One option: its spellings, whether it takes a value, whether it repeats."""

    __slots__ = ("names", "value", "repeat")

    def __init__(self, *names: str, value: bool = False, repeat: bool = False) -> None:
        self.names = names
        self.value = value
        self.repeat = repeat

    @property
    def key(self) -> str:
        return max(self.names, key=len).lstrip("-").replace("-", "_")


def parse(argv: list[str], options: tuple[Option, ...] = (), *, interleave: bool = True
          ) -> tuple[dict[str, object], list[str]]:
    """({key: value}, positional arguments). Booleans are False when absent, values
    None (lists [] when repeatable)."""
    by_name = {name: opt for opt in options for name in opt.names}
    values: dict[str, object] = {}
    for opt in options:
        values[opt.key] = [] if opt.repeat else (None if opt.value else False)
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional.extend(argv[i:])
            break
        if not arg.startswith("-") or arg == "-" or (positional and not interleave):
            positional.append(arg)
            if not interleave:
                positional.extend(argv[i:])
                break
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        opt = by_name.get(name)
        if opt is None:
            raise UsageError(f"flag provided but not defined: {name}")
        if opt.value:
            if not eq:
                if i == len(argv):
                    raise UsageError(f"flag needs an argument: {name}")
                value = argv[i]
                i += 1
            if opt.repeat:
                values[opt.key].append(value)  # type: ignore[union-attr]
            else:
                values[opt.key] = value
        elif eq:
            raise UsageError(f"flag {name} takes no value")
        else:
            values[opt.key] = True
    return values, positional


def count(positional: list[str], least: int, most: int | None, usage: str) -> None:
    """Check the number of positional arguments."""
    if len(positional) < least or (most is not None and len(positional) > most):
        raise UsageError(f"usage: {usage}")
