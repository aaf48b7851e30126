"""The template functions: Go's builtins and Docker's (``json``, ``join``, ``split``,
``title``, ``lower``, ``upper``, ``pad``, ``truncate``)."""

from __future__ import annotations

from _json import encode_basestring

from estiba.cli.gotemplate.gofmt import _float, _sprint, _sprintf, _struct
from estiba.cli.gotemplate.values import _MISSING, _ArgError, _FuncError, _go_type, _truth

TYPE_CHECKING = False  # typing costs ~8 ms to import; only type checkers need it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


# --- functions ---------------------------------------------------------------------------


def _want_str(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        raise _ArgError("invalid value; expected string")
    raise _ArgError(f"wrong type for value; expected string; got {_go_type(value)}")


def _want_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is None:
        raise _ArgError("invalid value; expected int")
    raise _ArgError(f"wrong type for value; expected int; got {_go_type(value)}")


def _len(item: object) -> int:
    if isinstance(item, str):
        return len(item.encode())  # Go counts bytes
    if isinstance(item, list | tuple | dict):
        return len(item)
    if item is None:
        raise _FuncError("len of nil pointer")
    raise _FuncError(f"len of type {_go_type(item)}")


def _index(item: object, *indexes: object) -> Any:
    if item is None:
        raise _FuncError("index of untyped nil")
    for key in indexes:
        if isinstance(item, list | tuple | str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise _FuncError(f"cannot index slice/array with type {_go_type(key)}")
            seq = item.encode() if isinstance(item, str) else item
            if not 0 <= key < len(seq):
                raise _FuncError(f"index out of range: {key}")
            item = seq[key]
        elif isinstance(item, dict):
            if key is None or (item and type(key) is not type(next(iter(item)))):
                raise _FuncError(f"value has type {_go_type(key)}; should be string")
            item = item.get(key)
        elif item is None:
            raise _FuncError("index of nil pointer")
        else:
            raise _FuncError(f"can't index item of type {_go_type(item)}")
    return item


def _slice(item: object, *indexes: object) -> Any:
    if item is None:
        raise _FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise _FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise _FuncError("cannot 3-index slice a string")
        seq: Any = item.encode()
    elif isinstance(item, list | tuple):
        seq = item
    else:
        raise _FuncError(f"can't slice item of type {_go_type(item)}")
    bounds = [0, len(seq)]
    for pos, key in enumerate(indexes):
        if not isinstance(key, int) or isinstance(key, bool):
            raise _FuncError(f"cannot index slice/array with type {_go_type(key)}")
        if not 0 <= key <= len(seq):
            raise _FuncError(f"index out of range: {key}")
        if pos < 2:
            bounds[pos] = key
    if bounds[1] < bounds[0]:
        raise _FuncError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    part = seq[bounds[0]:bounds[1]]
    return part.decode(errors="replace") if isinstance(part, bytes) else part


def _sprint_args(*args: object) -> str:
    # fmt.Sprint: a space between operands when neither is a string
    out: list[str] = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(_sprint(arg))
    return "".join(out)


def _println(*args: object) -> str:
    return " ".join(_sprint(a) for a in args) + "\n"


def _kind(value: object) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def _eq(first: object, *others: object) -> bool:
    if not others:
        raise _FuncError("missing argument for comparison")
    if isinstance(first, list | tuple | dict):
        raise _FuncError("invalid type for comparison")
    for other in others:
        if _kind(first) != _kind(other):
            if first is not None and other is not None:
                raise _FuncError("incompatible types for comparison")
        elif first == other:
            return True
    return False


def _ne(a: object, b: object) -> bool:
    return not _eq(a, b)


def _lt(a: object, b: object) -> bool:
    kind = _kind(a)
    if kind not in ("int", "float", "string") or _kind(b) not in ("int", "float", "string"):
        raise _FuncError("invalid type for comparison")
    if kind != _kind(b):
        raise _FuncError("incompatible types for comparison")
    return a < b  # type: ignore[operator]


def _le(a: object, b: object) -> bool:
    return _lt(a, b) or _eq(a, b)


def _escape_args(args: tuple[object, ...]) -> str:
    return args[0] if len(args) == 1 and isinstance(args[0], str) else _sprint_args(*args)


def _html(*args: object) -> str:
    text = _escape_args(args)
    for raw, safe in (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;"),
                      ('"', "&#34;"), ("\0", "\ufffd")):
        text = text.replace(raw, safe)
    return text


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E",
       "&": "\\u0026", "=": "\\u003D"}


def _js(*args: object) -> str:
    return "".join(_JS.get(ch) or (ch if ch.isprintable() else f"\\u{ord(ch):04X}")
                   for ch in _escape_args(args))


def _urlquery(*args: object) -> str:
    out = []
    for byte in _escape_args(args).encode():
        ch = chr(byte)
        if ch.isascii() and (ch.isalnum() or ch in "-_.~"):
            out.append(ch)
        else:
            out.append("+" if ch == " " else f"%{byte:02X}")
    return "".join(out)


def _json(value: object) -> str:
    """Docker's ``json``: Go's encoder with HTML escaping off, as compact one-line JSON
    (maps with sorted keys, floats as Go writes them). A value Go cannot encode (NaN,
    infinities) gives an empty string, as Docker ignores the encoder's error."""
    out: list[str] = []
    try:
        _json_into(value, out)
    except ValueError:
        return ""
    return "".join(out).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _json_into(value: object, out: list[str]) -> None:
    if value is None or value is _MISSING:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"json: unsupported value: {_float(value, 'v')}")
        out.append(_float(value, "json"))
    elif isinstance(value, str):
        out.append(encode_basestring(value))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _json_into(item, out)
        out.append("]")
    else:
        if isinstance(value, dict):
            items = sorted(((str(k), v) for k, v in value.items()), key=lambda kv: kv[0])
        else:
            items = list(_struct(value).items())
        out.append("{")
        for i, (key, item) in enumerate(items):
            if i:
                out.append(",")
            out.append(encode_basestring(key))
            out.append(":")
            _json_into(item, out)
        out.append("}")


def _join(items: object, sep: object) -> str:
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise _ArgError(f"wrong type for value; expected []string; got {_go_type(items)}")
    return _want_str(sep).join(items)


def _split(text: object, sep: object) -> list[str]:
    text, sep = _want_str(text), _want_str(sep)
    return list(text) if sep == "" else text.split(sep)


def _title(text: object) -> str:
    # a letter after a separator (space, or ASCII other than letters, digits and _)
    # is upper-cased
    out = []
    prev = " "
    for ch in _want_str(text):
        if prev.isascii():
            sep = not (prev.isalnum() or prev == "_")
        else:
            sep = prev.isspace()
        out.append(ch.upper() if sep else ch)
        prev = ch
    return "".join(out)


def _pad_func(text: object, left: object, right: object) -> str:
    text, left, right = _want_str(text), _want_int(left), _want_int(right)
    if left < 0 or right < 0:
        raise _FuncError("strings: negative Repeat count")
    return " " * left + text + " " * right if text else text


def _truncate(text: object, length: object) -> str:
    text, length = _want_str(text), _want_int(length)
    data = text.encode()
    return text if len(data) < length else data[:length].decode(errors="ignore")


def _first(value: object, *_: object) -> Any:
    return value


# name -> (function, least arguments, most arguments or None); and/or have no function:
# the executor evaluates their arguments itself, as few as decide the answer
_FUNCS: dict[str, tuple[Callable[..., Any] | None, int, int | None]] = {
    "and": (None, 1, None),
    "or": (None, 1, None),
    "not": (lambda v: not _truth(v), 1, 1),
    "len": (_len, 1, 1),
    "index": (_index, 1, None),
    "slice": (_slice, 1, None),
    "print": (_sprint_args, 0, None),
    "printf": (lambda f, *a: _sprintf(_want_str(f), *a), 1, None),
    "println": (_println, 0, None),
    "eq": (_eq, 1, None),
    "ne": (_ne, 2, 2),
    "lt": (_lt, 2, 2),
    "le": (_le, 2, 2),
    "gt": (lambda a, b: not _le(a, b), 2, 2),
    "ge": (lambda a, b: not _lt(a, b), 2, 2),
    "html": (_html, 0, None),
    "js": (_js, 0, None),
    "urlquery": (_urlquery, 0, None),
    "json": (_json, 1, 1),
    "join": (_join, 2, 2),
    "split": (_split, 2, 2),
    "title": (_title, 1, 1),
    "lower": (lambda s: _want_str(s).lower(), 1, 1),
    "upper": (lambda s: _want_str(s).upper(), 1, 1),
    "pad": (_pad_func, 3, 3),
    "truncate": (_truncate, 2, 2),
}

# A table's header row keeps the column titles whole: these functions hand their first
# argument back (``pad`` still pads, so that the header lines up with its column).
_HEADER_FUNCS = {**_FUNCS, **{name: (_first, least, most) for name, (_, least, most)
                              in _FUNCS.items()
                              if name in ("json", "join", "split", "title", "lower",
                                          "upper", "truncate")}}
