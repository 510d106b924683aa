"""Tests of aggregator.extract.metadata: the title, authors and dates a whole page gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from lxml.html import document_fromstring

from aggregator.extract.dates import on_day, parse_date
from aggregator.extract.metadata import extract_metadata
from aggregator.extract.titles import clean_title


def _meta(head: str, body: str = "", url: str = "https://blog.example.com/post/") -> object:
    html = f"<html><head>{head}</head><body>{body}</body></html>"
    return extract_metadata(document_fromstring(html), url)


# --- title ------------------------------------------------------------------------------


def test_title_entities_and_straight_quotes_are_cleaned() -> None:
    meta = _meta('<meta property="og:title" content="&quot;Git &amp;#038; You&quot;">')
    assert meta.title == "Git & You"
    # typographic quotes are part of a headline that quotes someone
    assert clean_title("“New Ways to Corrupt LLMs”", None, None, None) == (
        "“New Ways to Corrupt LLMs”"
    )


# --- authors ----------------------------------------------------------------------------


def test_organisation_author_gives_way_to_a_person_in_the_markup() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "Article", "headline": "T",'
        ' "author": {"@type": "Person", "name": "British Heart Foundation"},'
        ' "publisher": {"@type": "Organization", "name": "British Heart Foundation"}}</script>'
    )
    meta = _meta(head, '<span class="author-name">Tracy Parker</span>')
    assert meta.authors == ["Tracy Parker"]
    # with no person anywhere, the organisation credited as author is kept
    assert _meta(head).authors == ["British Heart Foundation"]


def test_organisation_typed_author_and_site_named_author_are_demoted() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "Article", "headline": "T",'
        ' "author": [{"@type": "Person", "name": "Manoj Jain"},'
        ' {"@type": "Organization", "name": "Instructables"}]}</script>'
    )
    assert _meta(head).authors == ["Manoj Jain"]
    head = (
        '<script type="application/ld+json">{"@type": "Article", "headline": "T",'
        ' "author": {"@type": "Person", "name": "Manoj Jain and Ann Lee, The Appeal"},'
        ' "publisher": {"@type": "Organization", "name": "The Appeal"}}</script>'
    )
    assert _meta(head).authors == ["Manoj Jain", "Ann Lee"]


def test_citation_authors_are_turned_round() -> None:
    head = (
        '<meta name="citation_author" content="Roy, Aniruddha">'
        '<meta name="citation_author" content="Patel, Jyoti">'
    )
    assert _meta(head).authors == ["Aniruddha Roy", "Jyoti Patel"]


# --- dates ------------------------------------------------------------------------------


def test_page_dates_keep_their_offset() -> None:
    parsed = parse_date("2020-04-12T20:00:00-05:00", keep_offset=True)
    assert parsed is not None
    assert parsed.date().isoformat() == "2020-04-12"
    assert parsed == datetime(2020, 4, 13, 1, tzinfo=UTC)
    meta = _meta('<meta property="article:published_time" content="2025-06-25T20:57:54-04:00">')
    assert meta.published is not None
    assert meta.published.date().isoformat() == "2025-06-25"
    assert meta.published.utcoffset() == timedelta(hours=-4)


def test_url_day_decides_the_calendar_day_of_a_utc_time() -> None:
    moment = datetime(2025, 12, 19, 2, 41, tzinfo=UTC)
    local = on_day(moment, datetime(2025, 12, 18, tzinfo=UTC))
    assert local == moment
    assert local.date().isoformat() == "2025-12-18"
    assert local.utcoffset() == timezone(timedelta(hours=-3)).utcoffset(None)
    # more than a day away: a different date, left alone
    assert on_day(moment, datetime(2025, 12, 1, tzinfo=UTC)) is moment
    meta = _meta(
        '<meta property="article:published_time" content="2025-12-19T02:41:41+00:00">',
        url="https://whatever.example/2025/12/18/post/",
    )
    assert meta.published is not None
    assert meta.published.date().isoformat() == "2025-12-18"


def test_date_written_under_the_headline_when_markup_has_none() -> None:
    body = (
        "<header><h1>Scaling Go tests</h1><p>Essay - Published: 2025.12.17 | 5 min</p></header>"
        "<p>In 2019 we had 12 tests; on May 2, 2019 we had more.</p>"
    )
    meta = _meta("", body, url="https://example.com/blog/go-tests")
    assert meta.published == datetime(2025, 12, 17, tzinfo=UTC)
    for written, expected in (
        ("Posted on December 15, 2025", datetime(2025, 12, 15, tzinfo=UTC)),
        ("2nd of May, 2024", datetime(2024, 5, 2, tzinfo=UTC)),
        ("23.07.2025", datetime(2025, 7, 23, tzinfo=UTC)),
        ("Sept. 3 2024", datetime(2024, 9, 3, tzinfo=UTC)),
    ):
        meta = _meta("", f"<h1>T</h1><span>{written}</span>", url="https://example.com/a")
        assert meta.published == expected, written


def test_written_date_is_not_taken_from_long_paragraphs_or_the_future() -> None:
    long_text = "Since it was invented on May 2, 2007, the phone " + "changed a lot. " * 20
    assert _meta("", f"<h1>T</h1><p>{long_text}</p>").published is None
    assert _meta("", "<h1>T</h1><span>January 1, 2099</span>").published is None
    # a date in markup wins over one in the text
    head = '<meta property="article:published_time" content="2024-01-05T10:00:00+00:00">'
    assert _meta(head, "<h1>T</h1><span>May 2, 2025</span>").published == datetime(
        2024, 1, 5, 10, tzinfo=UTC
    )


def test_date_shown_just_above_the_headline() -> None:
    body = "<div><p>Last updated:</p><p>Dec 12, 2025</p></div><h1>Top SEO agencies</h1><p>Text.</p>"
    assert _meta("", body, url="https://example.com/a").published == datetime(
        2025, 12, 12, tzinfo=UTC
    )


def test_page_showing_only_its_updated_date_presents_that_date() -> None:
    head = (
        '<meta property="article:published_time" content="2015-04-06T13:52:00-04:00">'
        '<meta property="article:modified_time" content="2025-09-28T06:58:21-04:00">'
    )
    shown = "<h1>Digital marketing</h1><div>Updated September 28, 2025</div>"
    assert _meta(head, shown).published == datetime(2025, 9, 28, 6, 58, 21, tzinfo=_offset(-4))
    # shown with the publication date: the publication date stays
    both = "<h1>Digital marketing</h1><div>Published April 6, 2015 · Updated Sept 28, 2025</div>"
    assert _meta(head, both).published == datetime(2015, 4, 6, 13, 52, tzinfo=_offset(-4))
    # a date in the text that is neither of the page's dates changes nothing
    other = "<h1>Digital marketing</h1><div>Webinar on March 3, 2026</div>"
    assert _meta(head, other).published == datetime(2015, 4, 6, 13, 52, tzinfo=_offset(-4))


def test_markup_dates_that_contradict_each_other_give_way_to_the_shown_date() -> None:
    head = (
        '<meta property="article:published_time" content="2025-08-21T00:00:00+00:00">'
        '<meta property="article:modified_time" content="2025-08-20T00:00:00+00:00">'
    )
    body = "<h1>Top contractors</h1><div>Published Apr 26, 2023</div>"
    assert _meta(head, body).published == datetime(2023, 4, 26, tzinfo=UTC)


def test_published_meta_written_in_words() -> None:
    meta = _meta('<meta name="published" content="July 17, 2025">')
    assert meta.published is not None
    assert meta.published.date().isoformat() == "2025-07-17"


def test_author_box_name_without_other_author_markup() -> None:
    body = (
        "<h1>T</h1><p>Text.</p><div class='blog_author-wrapper'><img alt=''>"
        "<div>Lauren Vetter</div><div>Lauren Vetter is a marketer who writes.</div></div>"
        "<ul><li><span class='author'>Someone Else</span> on another post</li></ul>"
    )
    assert _meta("", body).authors == ["Lauren Vetter"]
    # initials in an avatar and lists of other posts' authors are not the byline
    body = (
        "<h1>T</h1><span class='author-avatar'>NB</span>"
        "<ul><li><span class='author'>Someone Else</span></li></ul>"
    )
    assert _meta("", body).authors == []


def _offset(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def test_the_byline_by_the_headline_wins_over_markup_naming_someone_else() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "Article", "author": "Luke Daigle"}</script>'
    )
    body = (
        "<h1>Legal challenges in fitness</h1><div class='by'><p>By: Paul Fenaroli</p></div>"
        "<p>Gyms face new rules this year, and owners should read them closely.</p>"
    )
    assert _meta(head, body).authors == ["Paul Fenaroli"]  # type: ignore[attr-defined]
    # the same person, named in full by the markup: the markup's name stays
    same = body.replace("Paul Fenaroli", "Paul")
    head_same = head.replace("Luke Daigle", "Paul Fenaroli")
    assert _meta(head_same, same).authors == ["Paul Fenaroli"]  # type: ignore[attr-defined]
    # a "by" far from the headline (a photo credit in the body) changes nothing
    far = "<h1>Legal challenges</h1>" + "<p>Text of the article goes on.</p>" * 40
    far += "<p>Photo by Jane Smith</p>"
    assert _meta(head, far).authors == ["Luke Daigle"]  # type: ignore[attr-defined]
    # the site's own name in a byline is no author
    site = body.replace("Paul Fenaroli", "Blog Example")
    assert _meta(head, site).authors == ["Luke Daigle"]  # type: ignore[attr-defined]
