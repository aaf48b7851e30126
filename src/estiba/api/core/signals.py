"""Signals as the ``kill`` route takes them: a name (``SIGTERM``, ``TERM``) or a
number, as ``kill(1)`` and ctr's ``--signal`` accept them."""

from __future__ import annotations

from estiba import errors

_SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
    "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
    "PWR": 30, "SYS": 31,
}


def signal_number(signal: str | int) -> int:
    """``SIGTERM``, ``TERM``, ``15`` or 15 as 15."""
    if isinstance(signal, int):
        number = signal
    elif signal.isdigit():
        number = int(signal)
    else:
        name = signal.upper()
        name = name[3:] if name.startswith("SIG") else name
        if name not in _SIGNALS:
            raise errors.InvalidArgument(f"unknown signal {signal!r}")
        number = _SIGNALS[name]
    if not 0 < number < 65:
        raise errors.InvalidArgument(f"signal {signal!r} out of range")
    return number
