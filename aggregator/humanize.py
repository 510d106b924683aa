"""Times, durations and counts as people write and read them, the same in every command."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# Times for people: UTC, marked as such (JSON keeps ISO 8601)
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"
# Log lines: level, logger, message; the scheduler's and its workers' start with the time,
# in the same form to the second
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
LOG_TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
# Durations: a number and a unit, repeated ("1h30m")
_DURATION_RE = re.compile(r"(\d+)([smhdw])")
_DURATIONS_RE = re.compile(r"(?:\d+[smhdw])+")
_DURATION_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def human_time(value: datetime | str | None) -> str:
    """A moment as "2026-11-20 10:00 UTC" (an ISO 8601 string is read first); "-" for none."""
    if value is None or value == "":
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def plural(count: int, word: str, words: str | None = None) -> str:
    """ "1 source", "2 sources"; words is the plural when it is not word + "s"."""
    return f"{count} {word if count == 1 else words or word + 's'}"


def parse_duration(text: str) -> timedelta:
    """Parse a compact duration such as "45s", "30m", "2h", "1d" or "1h30m"."""
    compact = text.strip().lower() if isinstance(text, str) else ""
    pos = 0
    seconds = 0
    for match in _DURATION_RE.finditer(compact):
        if match.start() != pos:
            break
        seconds += int(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not compact or pos != len(compact):
        raise ValueError(
            f"invalid duration {text!r}: expected a number and a unit "
            "(s, m, h, d or w), like '45s', '30m', '2h', '1d' or '1h30m'"
        )
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be longer than zero")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"invalid duration {text!r}: too long") from None


def parse_moment(value: str) -> datetime:
    """A duration back from now ("2d", "36h") or an ISO 8601 date, as an aware UTC datetime."""
    if _DURATIONS_RE.fullmatch(value.strip().lower()):
        try:
            return datetime.now(UTC) - parse_duration(value)
        except OverflowError:
            raise ValueError(f"{value!r} reaches back before the year 1") from None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a duration (30m, 2h, 2d) nor an ISO 8601 date"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_duration(value: timedelta) -> str:
    """Render a timedelta in the compact form parse_duration reads ("1h30m")."""
    seconds = int(value.total_seconds())
    if seconds <= 0 or seconds != value.total_seconds():
        raise ValueError(f"cannot render {value!r}: only whole, positive seconds are supported")
    parts = []
    for unit, size in _DURATION_UNITS.items():
        if unit == "w":
            # Weeks read oddly in a crawl interval ("1w3d"); days say the same thing plainly
            continue
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
