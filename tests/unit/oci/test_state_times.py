"""RFC 3339 times with nanoseconds, written and read (``oci.state``): what runc writes,
what the shim's log and the core's events hold, what Docker shows."""

from __future__ import annotations

from estiba.oci.state import parse_timestamp, timestamp

T0 = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
NOW = 1_796_405_967_563_875_583


def test_written_with_nine_fraction_digits() -> None:
    assert timestamp(T0 + 42) == "2026-01-01T00:00:00.000000042Z"
    assert parse_timestamp(timestamp()) is not None


def test_read_with_any_fraction_and_offset() -> None:
    assert parse_timestamp("2026-01-01T00:00:00Z") == T0
    assert parse_timestamp("2026-01-01T01:00:00.5+01:00") == T0 + 500_000_000
    assert parse_timestamp("2025-12-31T23:59:59.000000001-00:00") == T0 - 999_999_999
    assert parse_timestamp("2026-12-04T17:39:27.563875583Z") == NOW
    assert parse_timestamp("2026-12-04T18:39:27.563875583+01:00") == NOW
    assert parse_timestamp("2026-12-04T17:39:27Z") == NOW - 563875583
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp("soon") is None
    assert parse_timestamp("") is None
