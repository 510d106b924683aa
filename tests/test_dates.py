"""Tests of aggregator.extract.dates: the date parser and dates in URLs."""

from __future__ import annotations

from datetime import UTC, datetime

from aggregator.extract.dates import date_from_url, parse_date


def test_dates_are_aware_utc() -> None:
    for value in ("2024-05-17", "2024-05-17T10:00:00+09:00", "May 17, 2024 10:00"):
        parsed = parse_date(value)
        assert parsed is not None
        assert parsed.tzinfo is UTC
    assert parse_date("2024-05-17T10:00:00+09:00") == datetime(2024, 5, 17, 1, tzinfo=UTC)
    assert parse_date("not a date") is None
    assert parse_date("0001-01-01") is None
    assert date_from_url("https://x.example/2024/05/17/slug/") == datetime(2024, 5, 17, tzinfo=UTC)
    assert date_from_url("https://x.example/2024/13/17/slug/") is None


def test_time_zone_abbreviations_and_double_z() -> None:
    assert parse_date("2025-01-02 10:00 CET") == datetime(2025, 1, 2, 9, tzinfo=UTC)
    assert parse_date("2025-01-02 10:00 PST") == datetime(2025, 1, 2, 18, tzinfo=UTC)
    assert parse_date("2025-01-02T10:00:00ZZ") == datetime(2025, 1, 2, 10, tzinfo=UTC)
    # an unknown abbreviation is read as UTC, never an error
    assert parse_date("2025-01-02 10:00 XYZT") == datetime(2025, 1, 2, 10, tzinfo=UTC)
