"""JSON through the interpreter's C codec, without importing the ``json`` package.

Why: ``import json`` pulls in ``re`` and ``enum`` (~6 ms, a fifth of the runtime's
start-up budget) for the few regular expressions its pure-Python fallbacks use. The C
scanner and encoder underneath (``_json``) need none of it. On malformed input the
``json`` package is loaded after all, to produce its precise error message.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Context:
    # The attributes the C scanner reads from its context.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None
    memo: dict = {}


_scanner = _json.make_scanner(_Context())
_encode = _json.make_encoder(
    None, None, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
)
_WHITESPACE = " \t\n\r"


def scan(text: str, index: int) -> tuple[Any, int]:
    """The JSON value of ``text`` at ``index`` and where it ends; StopIteration or
    ValueError when there is none there."""
    try:
        return _scanner(text, index)
    finally:
        _Context.memo.clear()


def loads(data: bytes | str) -> Any:
    """Decode one JSON document; raise ``ValueError`` (json's JSONDecodeError) if it is
    not one."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = scan(text, start)
    except Exception:  # noqa: BLE001 - the slow path below says what is wrong
        value, end = None, -1
    if end < 0 or text[end:].strip(_WHITESPACE):
        import json

        return json.loads(text)  # raises with the position of the problem
    return value


def dumps(value: Any) -> str:
    """Encode compactly (``", "`` and ``": "`` separators, ASCII only)."""
    return "".join(_encode(value, 0))
