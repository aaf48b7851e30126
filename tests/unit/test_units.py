"""Go's duration syntax (time.ParseDuration), as the docker CLI and runc read
``--interval``, ``--health-interval``, ``--since 10m`` ...; go-units' BytesSize."""

from __future__ import annotations

import pytest

from estiba.units import bytes_size, parse_duration


@pytest.mark.parametrize(("text", "ns"), [
    ("0", 0), ("5s", 5_000_000_000), ("100ms", 100_000_000), ("1h30m", 5_400_000_000_000),
    ("-1.5s", -1_500_000_000), ("+2m3s", 123_000_000_000), ("1.5us", 1500), ("7µs", 7000),
    ("3ns", 3), (".5s", 500_000_000),
])
def test_go_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(("text", "message"), [
    ("", 'time: invalid duration ""'), ("x", 'time: invalid duration "x"'),
    ("5", 'time: missing unit in duration "5"'),
    ("5x", 'time: unknown unit "x" in duration "5x"'),
    ("1.2.3s", 'time: invalid duration "1.2.3s"'),
    ("-", 'time: invalid duration "-"'),
])
def test_bad_durations_say_what_go_says(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(("size", "text"), [
    (0, "0B"), (512, "512B"), (1023, "1023B"), (131072, "128KiB"),
    (25276071936, "23.54GiB"),
])
def test_bytes_size_is_binary_with_four_digits(size: int, text: str) -> None:
    assert bytes_size(size) == text
