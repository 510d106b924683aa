"""Dates of pages: parsing their date strings, and the dates a page shows (URL, <time>, text).

Date strings of a page's markup (and htmldate's fallback), of feeds and of sitemaps go
through ``parse_date``;
``shown_date`` then picks the date the page presents as its article's from its markup's dates
and those written around the headline.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from dateutil import parser as date_parser
from lxml.html import HtmlElement

from aggregator.extract.text import in_comments, text_nodes

# Dates outside this range are parsing accidents ("0001-01-01", "9999-12-31").
MIN_YEAR = 1990
# A date written in the text is looked for in this many text nodes under the headline,
# each at most this long (longer ones are paragraphs, whose dates are about something else).
MAX_DATE_TEXT_NODES = 40
MAX_DATE_TEXT_CHARS = 200
# Dates read under the headline: enough for "Published ... Updated ..." and a date in a byline
MAX_WRITTEN_DATES = 3
# Dates often sit just above the headline ("Last updated: May 2, 2025" over the <h1>)
MAX_DATE_NODES_BEFORE = 12

# Time-zone abbreviations seen in page dates, in hours east of UTC; others are taken as UTC.
TIMEZONE_ABBREVIATIONS: dict[str, float] = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2,
    "MET": 1, "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "IST": 5.5, "SGT": 8, "HKT": 8,
    "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13, "EST": -5,
    "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
}  # fmt: skip
_YEAR_RE = re.compile(r"\b(?:19|20)\d\d\b")
_DOUBLE_Z_RE = re.compile(r"(?<=\d)Z{2,}$", re.I)

_TEXT_AFTER = text_nodes("following")
_TEXT_BEFORE = text_nodes("preceding")
_TEXT_IN = text_nodes("descendant")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# A month's name or its abbreviation ("May", "Sept.")
MONTH_PATTERN = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
# "May 2, 2025", "2 May 2025", "2nd of May, 2025", "2025-05-02", "2025.05.02", "02.05.2025"
# (a dotted date with the year last is day first, as it is written in Europe)
_WRITTEN_DATE_RE = re.compile(
    rf"\b(?:(?P<month1>{MONTH_PATTERN})\s+(?P<day1>\d{{1,2}})(?:st|nd|rd|th)?,?"
    rf"|(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month2>{MONTH_PATTERN}),?)"
    rf"\s+(?P<year>(?:19|20)\d{{2}})\b"
    r"|\b(?P<iso_year>(?:19|20)\d{2})(?P<sep>[-./])(?P<iso_month>[01]\d)(?P=sep)(?P<iso_day>[0-3]\d)\b"
    r"|\b(?P<eu_day>[0-3]?\d)\.(?P<eu_month>[01]?\d)\.(?P<eu_year>(?:19|20)\d{2})\b",
    re.I,
)
_URL_DATE_RE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|-|$|\.html?)"
)


def parse_date(
    value: Any, *, keep_offset: bool = False, need_year: bool = False
) -> datetime | None:
    """Parse a date string into an aware datetime (naive times are taken as UTC).

    The one date parser of pages, feeds and sitemaps. The result is in UTC unless
    ``keep_offset``: then it keeps the page's own UTC offset, so its calendar date is the day
    the publisher wrote (the store converts to UTC on write). A date without a year ("May 5")
    is of this year, unless ``need_year`` (a feed's dates are complete, or wrong).
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = _DOUBLE_Z_RE.sub("Z", value.strip()[:64])
    try:
        parsed = date_parser.isoparse(text)
    except Exception:
        if need_year and not _YEAR_RE.search(text):
            return None
        try:
            parsed = date_parser.parse(text, tzinfos=_tz_offset)
        except Exception:
            return None
    try:
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            parsed = parsed.replace(tzinfo=UTC)
        elif not keep_offset:
            parsed = parsed.astimezone(UTC)
        else:
            offset = parsed.utcoffset()
            parsed = parsed.replace(tzinfo=UTC if not offset else timezone(offset))
    except (OverflowError, ValueError):
        return None
    if not MIN_YEAR <= parsed.year <= datetime.now(UTC).year + 1:
        return None
    return parsed


def _tz_offset(name: str | None, offset: int | None) -> int | None:
    """dateutil's tzinfos: known abbreviations ("CET", "EST") to seconds; unknown ones naive."""
    if offset is not None:
        return offset
    hours = TIMEZONE_ABBREVIATIONS.get((name or "").upper())
    return None if hours is None else int(hours * 3600)


def date_from_url(url: str | None) -> datetime | None:
    """Return the date written in a URL path such as /2024/05/17/, as UTC midnight."""
    if not url:
        return None
    match = _URL_DATE_RE.search(urlsplit(url).path)
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        return None


def on_day(moment: datetime, day: datetime) -> datetime:
    """The same instant in the whole-hour UTC offset nearest zero that puts it on ``day``'s
    calendar date; unchanged when it is already on it or more than a day away."""
    if moment.date() == day.date():
        return moment
    instant = moment.astimezone(UTC)
    for hours in sorted(range(-12, 15), key=abs):
        local = instant.astimezone(timezone(timedelta(hours=hours)))
        if local.date() == day.date():
            return local
    return moment


def shown_date(
    written: list[datetime], published: datetime | None, modified: datetime | None
) -> datetime | None:
    """The date a page presents as its article's: its markup's, unless it shows another.

    A page that shows only its "Updated" date under the headline presents that date as the
    article's; a page whose markup has no date gets the first date it shows.
    """
    if published is None or (modified is not None and modified < published):
        # no date, or dates that contradict each other (modified before published)
        return written[0] if written else published
    for day in written:
        if _same_day(day, published):
            return on_day(published, day)
    if modified is None:
        return published
    return next((on_day(modified, day) for day in written if _same_day(day, modified)), published)


def _same_day(written: datetime, moment: datetime) -> bool:
    """Whether a written day (midnight UTC) is the day of a moment, in any time zone."""
    return abs((moment.replace(tzinfo=moment.tzinfo or UTC) - written).total_seconds()) < 36 * 3600


def written_dates(tree: HtmlElement) -> list[datetime]:
    """The dates written around the headline ("Posted on May 2, 2025").

    It reads a bounded number of text nodes after the first <h1>, then the few just before
    it (or from the top of the body), so its cost does not grow with the page.
    """
    heading = next(tree.iter("h1"), None)
    if heading is not None:
        nodes = (
            _TEXT_AFTER(heading, MAX_DATE_TEXT_NODES)
            + _TEXT_BEFORE(heading, MAX_DATE_NODES_BEFORE)[::-1]
        )
    else:
        body = tree.find("body")
        nodes = _TEXT_IN(body, MAX_DATE_TEXT_NODES) if body is not None else []
    today = datetime.now(UTC)
    dates: list[datetime] = []
    for text in nodes:
        if len(text) > MAX_DATE_TEXT_CHARS:
            continue
        for match in _WRITTEN_DATE_RE.finditer(text):
            moment = _written_match_date(match)
            if moment is not None and moment.year >= MIN_YEAR and moment <= today:
                dates.append(moment)
                if len(dates) == MAX_WRITTEN_DATES:
                    return dates
    return dates


def _written_match_date(match: re.Match[str]) -> datetime | None:
    try:
        if match["iso_year"]:
            return datetime(
                int(match["iso_year"]), int(match["iso_month"]), int(match["iso_day"]), tzinfo=UTC
            )
        if match["eu_year"]:
            return datetime(
                int(match["eu_year"]), int(match["eu_month"]), int(match["eu_day"]), tzinfo=UTC
            )
        month = _MONTHS[(match["month1"] or match["month2"]).casefold()[:3]]
        day = int(match["day1"] or match["day2"])
        return datetime(int(match["year"]), month, day, tzinfo=UTC)
    except (KeyError, ValueError):
        return None


def time_element(tree: HtmlElement) -> datetime | None:
    """The publication date of the first suitable <time datetime> outside comments."""
    candidates = tree.xpath("//time[@datetime]")[:50]
    preferred = [
        t
        for t in candidates
        if t.get("pubdate") is not None
        or t.get("itemprop", "").lower() == "datepublished"
        or "published" in t.get("class", "")
    ]
    for element in preferred + candidates:
        if in_comments(element):
            continue
        parsed = parse_date(element.get("datetime"), keep_offset=True)
        if parsed:
            return parsed
    return None
