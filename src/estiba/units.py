"""Sizes and durations as Docker's and containerd's tools print them (go-units'
HumanSize, BytesSize and HumanDuration, containerd's progress.Bytes) and read them
(go-units' RAMInBytes, Go's time.ParseDuration). Pure; imports nothing."""

from __future__ import annotations

_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def _scaled(size: float, base: int, units: tuple[str, ...]) -> tuple[float, str]:
    """go-units' getSizeAndUnit: ``size`` divided by ``base`` until below it, and the
    unit reached."""
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return size, units[i]


def binary_size(size: int) -> str:
    """containerd's progress.Bytes: ``512 B``, ``1.5 KiB``, ``2.0 MiB``."""
    if size < 1024:
        return f"{size} B"
    value, unit = _scaled(float(size), 1024, _BINARY)
    return f"{value:.1f} {unit}"


def bytes_size(size: float) -> str:
    """go-units' BytesSize: binary units, four significant digits (``23.54GiB``,
    ``512B``), as ``stats`` and ``info`` print memory."""
    value, unit = _scaled(size, 1024, _BINARY)
    return f"{value:.4g}{unit}"


def human_size(size: float, precision: int = 4) -> str:
    """go-units' HumanSizeWithPrecision, decimal units: ``1.234kB`` with 4 significant
    digits (its HumanSize), ``4.26MB`` with the docker CLI's 3."""
    value, unit = _scaled(size, 1000, _DECIMAL)
    return f"{value:.{precision}g}{unit}"


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration: ``Less than a second``, ``About a minute``, ``3 days``."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"  # whole hours here, not rounded


_RAM_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(text: str) -> int:
    """go-units' RAMInBytes (``-m 512m``, ``--shm-size 1g``, a log's ``max-size``):
    a number, a space maybe, a binary unit maybe followed by b or ib, any case;
    ValueError with go-units' message for anything else."""
    sep = max(text.rfind(c) for c in "0123456789. ")
    if sep == -1:
        raise ValueError(f"invalid size: '{text}'")
    number, suffix = (text[:sep + 1], text[sep + 1:]) if text[sep] != " " else \
        (text[:sep], text[sep + 1:])
    try:
        size = float(number) if number.strip() == number and "_" not in number else \
            float("x")
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{number}": invalid syntax'
                         ) from None
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    if not suffix:
        return int(size)
    low = suffix.lower()
    ok = len(low) <= 3 and (low == "b" or (low[0] in _RAM_UNITS and low[1:] in
                                            ("", "b", "ib")))
    if not ok:
        raise ValueError(f"invalid suffix: '{low if len(low) <= 3 else suffix}'")
    return int(size * _RAM_UNITS.get(low[0], 1))


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
                   "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds: ``300ms``, ``1h30m``, ``-1.5s``, ``0``;
    ValueError (``time: invalid duration "x"``) for anything else."""
    invalid = ValueError(f'time: invalid duration "{text}"')
    rest = text
    sign = -1 if rest.startswith("-") else 1
    rest = rest[1:] if rest[:1] in ("-", "+") else rest
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0.0
    while rest:
        i = 0
        while i < len(rest) and (rest[i].isdigit() or rest[i] == "."):
            i += 1
        number, rest = rest[:i], rest[i:]
        if number in ("", ".") or number.count(".") > 1:
            raise invalid
        j = 0
        while j < len(rest) and not (rest[j].isdigit() or rest[j] == "."):
            j += 1
        unit, rest = rest[:j], rest[j:]
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(number) * _DURATION_UNITS[unit]
    return sign * int(round(total))
