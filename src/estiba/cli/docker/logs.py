"""``estiba logs CONTAINER``: a container's output as docker's ``container logs``
prints it, its stdout on stdout and its stderr on stderr (one stream with a terminal).

``--since`` and ``--until`` are turned into the API's ``seconds.nanoseconds`` on this
side, as docker's client does (its ``timetypes.GetTimestamp``): a Go duration counts
back from now (whole seconds), an RFC 3339 time or date (in the local zone when it
names none) is converted, a Unix timestamp is passed on as it is."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from estiba.cli.docker.context import Context

FLAGS = (Flag("details", help="Show the extra details the log driver keeps"),
         Flag("follow", "f", help="Follow log output until the container stops"),
         Flag("since", help='Show logs since a time (e.g. "2013-01-02T13:23:37Z") or '
                            'a duration ago (e.g. "42m")', kind="string"),
         Flag("tail", "n", help='Number of lines to show from the end (default "all")',
              kind="string"),
         Flag("timestamps", "t", help="Show timestamps"),
         Flag("until", help='Show logs before a time (e.g. "2013-01-02T13:23:37Z") or '
                            'a duration ago (e.g. "42m")', kind="string"))
FLAGS_OF = {"logs": FLAGS}


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


def write_bytes(stream: TextIO, data: bytes) -> None:
    """Bytes to a text stream's buffer, as they came (text streams without one, in
    tests, get them decoded)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode("utf-8", "replace"))


def logs(ctx: Context, argv: list[str]) -> int:
    import time

    from estiba.cli.docker.lifecycle import arity

    opts, args = parse(argv, FLAGS)
    arity("logs", args, 1, 1)
    found = ctx.client.inspect_container(args[0])
    now = time.time()
    offset = time.localtime(now).tm_gmtoff
    window = {}
    for key in ("since", "until"):
        if opts[key]:
            try:
                window[key] = timestamp(str(opts[key]), now, offset)
            except TimestampError as err:
                ctx.err.write(f'invalid value for "{key}": {err}\n')
                return 1
    tty = bool((found.get("Config") or {}).get("Tty"))
    pieces = ctx.client.logs(found["Id"], follow=bool(opts["follow"]),
                             tail=str(opts["tail"] or "all"),
                             timestamps=bool(opts["timestamps"]), tty=tty,
                             **window)  # type: ignore[arg-type]
    try:
        for stream, data in pieces:
            write_bytes(ctx.err if stream == 2 else ctx.out, data)
    except KeyboardInterrupt:
        return 130
    return 0
