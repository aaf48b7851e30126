"""Docker's ``filters`` query argument (pure): JSON of ``{"key": ["value", ...]}``, or
the old form ``{"key": {"value": true}}`` that clients before API 1.22 send."""

from __future__ import annotations

from estiba.errors import InvalidArgument

Filters = dict[str, list[str]]


def parse(text: str, allowed: tuple[str, ...] | frozenset[str],
          ignore_unknown: bool = False) -> Filters:
    """The filters ``text`` gives; InvalidArgument for bad JSON, a value that is not a
    list of strings (or the old object), or a key not in ``allowed`` (Docker's
    "invalid filter 'k'"; left out instead with ``ignore_unknown``, as Docker's events
    do)."""
    if not text:
        return {}
    from estiba.oci.json_codec import loads

    try:
        raw = loads(text)
    except ValueError as err:
        raise InvalidArgument(f"invalid filters: {err}") from err
    if not isinstance(raw, dict):
        raise InvalidArgument("invalid filters: an object is expected")
    out: Filters = {}
    for key, values in raw.items():
        if key not in allowed:
            if ignore_unknown:
                continue
            raise InvalidArgument(f"invalid filter '{key}'")
        if isinstance(values, dict):
            values = [v for v, on in values.items() if on]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidArgument(f"invalid filter '{key}': a list of strings is expected")
        if values:
            out[key] = values
    return out


def boolean(filters: Filters, key: str) -> bool | None:
    """The filter's one boolean value (``dangling=true``), None when not given."""
    values = filters.get(key)
    if not values:
        return None
    wanted = {v.lower() for v in values}
    if wanted - {"true", "false", "1", "0"} or len(wanted) > 1:
        raise InvalidArgument(f"invalid filter '{key}={values[0]}'")
    return wanted.pop() in ("true", "1")


def labels_pass(labels: dict[str, str], wanted: Filters) -> bool:
    """Whether ``labels`` pass the ``label`` and ``label!`` filters of ``wanted``."""
    if "label" in wanted and not labels_match(labels, wanted["label"]):
        return False
    return not ("label!" in wanted and labels_match(labels, wanted["label!"]))


def labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    """Whether ``labels`` hold every ``key`` or ``key=value`` of ``wanted``."""
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def parse_until(text: str, now: float) -> float:
    """An ``until=`` value: seconds since the epoch, a duration before now (``10m``,
    ``2h30m``) or an RFC 3339 time."""
    import re

    from estiba.engine.inspect import parse_time

    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text)
    if parts and "".join(n + u for n, u in parts) == text:
        return now - sum(float(n) * units[u] for n, u in parts)
    try:
        return parse_time(text)
    except ValueError as err:
        raise InvalidArgument(f"invalid filter 'until={text}'") from err
