"""Tests of aggregator.extract.paragraphs: clutter paragraphs dropped from the text."""

from __future__ import annotations

from lxml.html import fragment_fromstring

from aggregator.extract.paragraphs import SiteLinks, drop_clutter_paragraphs

PROSE = (
    "The release brings a new borrow checker and faster builds, and the maintainers say the"
    " change took two years of work."
)


def test_bylines_give_names_and_the_headline_bios_and_link_titles_go() -> None:
    paragraphs = [
        "Rust 1.80 is out",
        "By Jane Doe",
        PROSE,
        "Jane Doe is a writer who covers compilers.",
        "Another post on this site",
    ]
    kept, names = drop_clutter_paragraphs(
        paragraphs, "Rust 1.80 is out", [], {"another post on this site"}
    )
    assert kept == [PROSE]
    assert names == ["Jane Doe"]


def test_related_stories_heading_late_in_the_text_ends_it() -> None:
    kept, _ = drop_clutter_paragraphs(
        [PROSE, PROSE, PROSE, "Related stories", "Other story one", "Other story two"],
        "Title",
        [],
        set(),
    )
    assert kept == [PROSE, PROSE, PROSE]


def test_site_links_are_the_texts_of_links_to_other_pages_of_the_site() -> None:
    links = list(
        fragment_fromstring(
            "<div><a href='/other-post/'>Another Post!</a><a href='/this/'>This page</a>"
            "<a href='https://elsewhere.example/x'>Elsewhere</a><a href='#top'>Top</a>"
            "<a href='https://news.example/third'>Third post</a></div>"
        ).iter("a")
    )
    site_links = SiteLinks(links, "https://news.example/this/")
    assert "another post" in site_links
    assert "third post" in site_links
    assert "this page" not in site_links
    assert "elsewhere" not in site_links
    assert "top" not in site_links
