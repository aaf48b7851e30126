"""Values printed as Go's ``fmt`` prints them (``%v`` and the ``printf`` verbs)."""

from __future__ import annotations

from estiba.cli.gotemplate.values import _MISSING, _go_type, _sorted_items

TYPE_CHECKING = False  # typing costs ~8 ms to import; only type checkers need it
if TYPE_CHECKING:
    from typing import Any

# --- printing as Go's fmt does -----------------------------------------------------------


def _go_quote(text: str, quote: str = '"') -> str:
    """strconv.Quote: printable characters as they are, the rest escaped."""
    out = [quote]
    for ch in text:
        if ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif ch in _QUOTE:
            out.append(_QUOTE[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x80 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


_QUOTE = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
          "\v": "\\v"}


def _decimal(value: float) -> tuple[str, int]:
    """The shortest digits that read back as ``abs(value)`` (finite, non-zero) and the
    decimal point's place: value = 0.DIGITS x 10**point."""
    mantissa, _, exp = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    zeros = len(digits) - len(digits.lstrip("0"))
    return digits[zeros:].rstrip("0"), len(whole) - zeros + int(exp or 0)


def _float(value: float, style: str) -> str:
    """Go's shortest float formatting: fmt's ``%v`` (style "v": %e below 1e-4 and from
    1e+06 up) or encoding/json's (style "json": %e below 1e-6 and from 1e21 up)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if repr(value).startswith("-") else ""
    if value == 0:
        return sign + "0"
    digits, point = _decimal(value)
    exp = point - 1
    if style == "json":
        use_e = abs(value) < 1e-6 or abs(value) >= 1e21
    else:
        use_e = exp < -4 or exp >= 6
    if use_e:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        width = 1 if style == "json" else 2  # json writes e-7, fmt e-07
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):0{width}d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _sprint(value: object) -> str:
    """fmt's %v."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value, "v")
    if value is None or value is _MISSING:
        return "<nil>"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_sprint(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{_sprint(k)}:{_sprint(v)}"
                                 for k, v in _sorted_items(value)) + "]"
    return "{" + " ".join(_sprint(v) for v in _struct(value).values()) + "}" \
        if type(value).__str__ is object.__str__ else str(value)


def _struct(value: object) -> dict[str, Any]:
    # An object's public fields in their declared order (records name theirs).
    names = getattr(value, "__fields__", None)
    if names is None:
        names = [n for n in getattr(value, "__dict__", {}) if not n.startswith("_")]
    return {n: getattr(value, n) for n in names}


def _pad(text: str, flags: str, width: int | None, numeric: bool = False) -> str:
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags:
        if numeric and text[:1] in "+- ":
            return text[0] + text[1:].rjust(width - 1, "0")
        return text.rjust(width, "0")
    return text.rjust(width)


def _signed(text: str, flags: str) -> str:
    if text.startswith("-"):
        return text
    return ("+" if "+" in flags else " " if " " in flags else "") + text


def _fmt_one(value: object, verb: str, flags: str, width: int | None,
             prec: int | None) -> str:
    """One operand of printf, as Go formats it; a verb that does not fit the operand's
    type gives Go's ``%!verb(type=value)``."""
    if isinstance(value, list | tuple):
        return "[" + " ".join(_fmt_one(v, verb, flags, width, prec) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(
            f"{_fmt_one(k, verb, flags, width, prec)}:{_fmt_one(v, verb, flags, width, prec)}"
            for k, v in _sorted_items(value)) + "]"
    if value is None or value is _MISSING:
        return _pad("<nil>", flags, width) if verb == "v" else f"%!{verb}(<nil>)"
    if isinstance(value, bool):
        if verb in "vt":
            return _pad("true" if value else "false", flags, width)
    elif isinstance(value, int):
        if verb in "vd":
            return _pad(_signed(str(value), flags), flags, width, True)
        if verb in "boxX":
            text = format(value, ("#" if "#" in flags else "") + verb)
            return _pad(_signed(text.replace("0o", "0"), flags), flags, width, True)
        if verb == "c":
            return _pad(chr(value), flags, width)
        if verb == "q":
            return _pad(_go_quote(chr(value), "'"), flags, width)
        if verb == "U":
            return _pad(f"U+{value:04X}", flags, width)
    elif isinstance(value, float):
        if verb in "vgGeEfF":
            if value != value or value in (float("inf"), float("-inf")):
                text = _float(value, "v")
                if text == "NaN" and "+" in flags:
                    text = "+NaN"
                elif text == "+Inf" and "+" not in flags:
                    text = " Inf" if " " in flags else "Inf"
                return _pad(text, flags.replace("0", ""), width)
            if verb in "vgG" and prec is None:
                text = _float(value, "v")
                text = text.upper() if verb == "G" else text
            else:
                text = format(value, f".{6 if prec is None else prec}{verb}")
            return _pad(_signed(text, flags), flags, width, True)
    elif isinstance(value, str):
        if verb in "vs":
            return _pad(value if prec is None else value[:prec], flags, width)
        if verb == "q":
            return _pad(_go_quote(value if prec is None else value[:prec]), flags, width)
        if verb in "xX":
            text = value.encode().hex()
            return _pad(text.upper() if verb == "X" else text, flags, width)
    elif verb in "vs":
        return _pad(_sprint(value), flags, width)
    return f"%!{verb}({_go_type(value)}={_sprint(value)})"


def _sprintf(fmt: str, *args: object) -> str:
    """fmt.Sprintf: flags ``+- #0``, width and precision (also ``*``), the verbs of
    strings, integers, floats and booleans, and Go's inline complaints."""
    out: list[str] = []
    used = 0
    i, n = 0, len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < n and fmt[i] in "+-# 0":
            flags += fmt[i]
            i += 1
        numbers: list[int | None] = []
        for part in ("width", "prec"):
            if part == "prec":
                if i < n and fmt[i] == ".":
                    i += 1
                else:
                    numbers.append(None)
                    continue
            if i < n and fmt[i] == "*":
                i += 1
                star = args[used] if used < len(args) else None
                used += 1
                if not isinstance(star, int) or isinstance(star, bool):
                    out.append("%!(BADWIDTH)" if part == "width" else "%!(BADPREC)")
                    star = None
                elif star < 0 and part == "width":
                    flags, star = flags + "-", -star
                numbers.append(star)
                continue
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            numbers.append(int(fmt[start:i]) if i > start else (0 if part == "prec" else None))
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_fmt_one(args[used], verb, flags, numbers[0], numbers[1]))
            used += 1
    if used < len(args):
        extra = ", ".join("<nil>" if a is None else f"{_go_type(a)}={_sprint(a)}"
                          for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
