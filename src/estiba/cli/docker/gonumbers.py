"""Integers as the docker CLI's Go reads them from flags, with strconv's messages
(``strconv.ParseInt: parsing "x": invalid syntax``): pflag's int and uint flags use
base 0 (``0x10``, ``0o17``, ``010``, ``1_000``), the values docker splits itself
(ports, retry counts, ulimits) base 10. Each raises ValueError with the message; the
caller makes pflag's or docker's error of it."""

from __future__ import annotations


def _go_digits(text: str) -> int:
    """strconv's base-0 syntax: 0x, 0o, 0b prefixes, a leading 0 for octal, ``_``
    between digits. Python's int() would also take spaces and non-ASCII digits, which
    Go refuses."""
    if not text.isascii() or text != text.strip():
        raise ValueError(text)
    body = text.lstrip("+-")
    if len(body) > 1 and body[0] == "0" and (body[1].isdigit() or body[1] == "_"):
        text = text.replace(body, "0o" + body[1:], 1)
    return int(text, 0)


def go_int(text: str, bits: int = 64) -> int:
    """pflag's int flags: strconv.ParseInt(text, 0, bits)."""
    try:
        value = _go_digits(text)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def go_uint(text: str, bits: int = 64) -> int:
    """pflag's unsigned flags: strconv.ParseUint(text, 0, bits)."""
    try:
        if text[:1] in ("+", "-"):
            raise ValueError(text)
        value = _go_digits(text)
    except ValueError:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax') from None
    if value >= 1 << bits:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value


def decimal_int(text: str) -> int:
    """strconv.ParseInt(text, 10, 64)."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body.isdigit() or not body.isascii():
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def decimal_uint(text: str, bits: int) -> int:
    """strconv.ParseUint(text, 10, bits), the ports' and rates' syntax."""
    if not text.isdigit() or not text.isascii():
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    value = int(text)
    if value >= 1 << bits:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value
