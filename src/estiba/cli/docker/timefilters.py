"""docker's ``--since`` and ``--until`` (``logs``, ``events``) as the API's values,
converted on this side as docker's client converts them (its
``timetypes.GetTimestamp``): a Go duration counts back from now (whole seconds), an
RFC 3339 time or date (in the local zone when it names none) becomes
``seconds.nanoseconds``, a Unix timestamp is passed on as it is. Pure: the clock and
the zone are parameters."""

from __future__ import annotations


class TimestampError(ValueError):
    """The value is neither a time nor a duration; ``str()`` is docker's wording."""


def _is_unix_timestamp(value: str) -> bool:
    # timetypes.ParseTimestamps: seconds, then optional nanoseconds after a dot
    sec, dot, nanos = value.partition(".")
    try:
        int(sec)
        if dot:
            int(nanos)
    except ValueError:
        return False
    return True


def timestamp(value: str, now: float, utc_offset: int) -> str:
    """GetTimestamp: ``value`` as the API's ``since``/``until``; ``now`` the clock (Unix
    seconds), ``utc_offset`` the local zone's offset in seconds east of UTC."""
    from datetime import UTC, datetime, timedelta, timezone

    from estiba.units import parse_duration

    if value != "0":
        try:
            return str(int((now * 1e9 - parse_duration(value)) // 1_000_000_000))
        except ValueError:
            pass
    local = not any(c in value for c in "zZ+") and value.count("-") != 3
    text = value
    if not local:
        text = text.replace("z", "Z")
    if "T" in text:
        date, _, clock = text.partition("T")
        colons = clock.count(":")
        if not local and "Z" not in text and colons > 0:
            colons -= 1  # the zone's own colon
        if colons < 2:  # 2006-01-02T15 or T15:04: seconds filled in
            zone = ""
            for mark in ("Z", "+", "-"):
                if mark in clock:
                    at = clock.index(mark)
                    clock, zone = clock[:at], clock[at:]
                    break
            clock += ":00" * (2 - colons)
            text = f"{date}T{clock}{zone}"
    elif not local:  # 2006-01-02Z07:00
        text = text[:10] + "T00:00:00" + text[10:]
    else:
        text += "T00:00:00"
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        if "-" in value:  # an RFC 3339-like time the parser did not take
            raise TimestampError(f'parsing time "{value}": cannot parse') from None
        if not _is_unix_timestamp(value):
            raise TimestampError("failed to parse value as time or duration: "
                                 f'"{value}"') from None
        return value
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone(timedelta(seconds=utc_offset)))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    delta = when - epoch
    seconds = delta.days * 86400 + delta.seconds
    return f"{seconds}.{delta.microseconds * 1000:09d}"
