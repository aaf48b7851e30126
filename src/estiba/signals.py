"""Signal names and numbers (signal(7), x86_64), parsed as runc's ``kill`` and
Docker's ``--signal`` accept them: ``KILL``, ``SIGKILL``, ``kill``, ``9``,
``RTMIN+3``. A table rather than the ``signal`` module, whose import costs ~4 ms of the
runtime's start."""

from __future__ import annotations

from estiba.errors import InvalidArgument

SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7,
    "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14,
    "TERM": 15, "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21,
    "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28,
    "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
}
SIGRTMIN = 34
SIGRTMAX = 64


def parse_signal(text: str) -> int:
    value = text.strip()
    if value.isdigit():
        number = int(value)
        if 1 <= number <= SIGRTMAX:
            return number
        raise InvalidArgument(f"invalid signal {text!r}")
    name = value.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name in SIGNALS:
        return SIGNALS[name]
    for base, number in (("RTMIN", SIGRTMIN), ("RTMAX", SIGRTMAX)):
        if name == base:
            return number
        if name.startswith(base + "+") or name.startswith(base + "-"):
            offset = name[len(base):]
            if offset[1:].isdigit():
                result = number + int(offset)
                if SIGRTMIN <= result <= SIGRTMAX:
                    return result
    raise InvalidArgument(f"invalid signal {text!r}")


def signal_number(signal: str | int) -> int:
    """``parse_signal`` that also takes a number as it is."""
    if isinstance(signal, int):
        if 1 <= signal <= SIGRTMAX:
            return signal
        raise InvalidArgument(f"invalid signal {signal!r}")
    return parse_signal(signal)
