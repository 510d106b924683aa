"""Times and counts as people read them, the same in every command and log line."""

from __future__ import annotations

from datetime import UTC, datetime

# Times for people: UTC, marked as such (JSON keeps ISO 8601)
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"
# Log lines: level, logger, message; the scheduler's and its workers' start with the time,
# in the same form to the second
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
LOG_TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


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
