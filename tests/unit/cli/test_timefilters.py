"""``--since`` and ``--until`` (``logs``, ``events``) as docker's client sends them
(timetypes.GetTimestamp), the clock and the zone pinned."""

from __future__ import annotations

import pytest

from estiba.cli.docker.timefilters import TimestampError, timestamp

NOW = 1_796_420_093.75  # 2026-12-04 21:34:53.75 UTC


@pytest.mark.parametrize(("value", "offset", "expected"), [
    ("10m", 0, "1796419493"),  # a duration back from now, in whole seconds
    ("1h30m", 0, "1796414693"),
    ("-5m", 0, "1796420393"),
    ("0", 0, "0"),  # not a duration: a Unix time, passed on
    ("1700000000", 0, "1700000000"),
    ("1700000000.5", 0, "1700000000.5"),
    ("2026-12-04T00:00:00Z", 0, "1796342400.000000000"),
    ("2026-12-04T00:00:00.25Z", 0, "1796342400.250000000"),
    ("2026-12-04T01:00:00+01:00", 0, "1796342400.000000000"),
    ("2023-11-14T23:13:20.25+01:00", 0, "1700000000.250000000"),
    ("2026-12-04", 0, "1796342400.000000000"),
    ("2026-12-04", 3600, "1796338800.000000000"),  # a date in the local zone
    ("2023-11-14Z", 3600, "1699920000.000000000"),  # a date in the zone it names
    ("2026-12-04T01", 0, "1796346000.000000000"),
    ("2026-12-04T01:30", 0, "1796347800.000000000"),
    ("2026-12-04T01:30Z", 0, "1796347800.000000000"),
])
def test_since_until_as_docker_sends_them(value: str, offset: int, expected: str) -> None:
    assert timestamp(value, NOW, offset) == expected


def test_since_that_is_no_time() -> None:
    with pytest.raises(TimestampError) as err:
        timestamp("xyz", NOW, 0)
    assert str(err.value) == 'failed to parse value as time or duration: "xyz"'
    with pytest.raises(TimestampError, match='parsing time "2026-13-04"'):
        timestamp("2026-13-04", NOW, 0)
