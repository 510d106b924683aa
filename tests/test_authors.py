"""Tests of aggregator.extract.authors: names, bylines and author markup."""

from __future__ import annotations

import pytest
from cssselect import GenericTranslator
from lxml import etree
from lxml.html import document_fromstring

from aggregator.extract.authors import (
    AUTHOR_SELECTORS,
    _author_elements,
    byline_author,
    clean_author_names,
    find_byline,
)


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("Written by Connor Livingston", ["Connor Livingston"]),
        ("By Jane Doe", ["Jane Doe"]),
        ("By Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("by Jane Doe on May 17, 2024", ["Jane Doe"]),
        ("Posted by Ludwig van Beethoven | 4 min read", ["Ludwig van Beethoven"]),
        ("By the way, the release is late.", []),
        ("Written by hand in a notebook", []),
    ],
)
def test_byline_author(line: str, names: list[str]) -> None:
    assert byline_author(line) == names


def test_author_names_with_entities_labels_and_roles() -> None:
    assert clean_author_names("Maria &amp; Katerina") == ["Maria", "Katerina"]
    assert clean_author_names("Author Isaiah Shelton") == ["Isaiah Shelton"]
    assert clean_author_names("Author: Isaiah Shelton") == ["Isaiah Shelton"]
    assert clean_author_names("David Jackson - FullStack Editorial Team") == ["David Jackson"]
    assert clean_author_names("Craig McCarthy Last updated") == ["Craig McCarthy"]


def test_placeholders_dates_and_handles_are_not_names() -> None:
    for value in ("The Author", "admin", "Dec", "August", "andrew.keaveney", "Paperium.net"):
        assert clean_author_names(value) == [], value


def test_byline_label_and_name_in_separate_elements() -> None:
    tree = document_fromstring(
        "<html><body><h1>T</h1><div class='meta'><span>Written by</span></div>"
        "<div><a href='/a/edzel'>Edzel Tabing</a></div><p>Text.</p></body></html>"
    )
    assert find_byline(tree) == ["Edzel Tabing"]
    tree = document_fromstring(
        "<html><body><div><span>By</span></div>"
        "<div>the way, this is a sentence.</div></body></html>"
    )
    assert find_byline(tree) == []


def test_byline_name_ends_where_its_date_begins() -> None:
    tree = document_fromstring(
        "<html><body><h1>T</h1><p class='meta'><span>By</span> <a href='/p/sofia'>Sofia Gonzalez"
        "</a> <span>December 2, 2025</span></p><p>Text.</p></body></html>"
    )
    assert find_byline(tree) == ["Sofia Gonzalez"]
    tree = document_fromstring(
        "<html><body><h1>T</h1><div><span>Published August 7, 2023</span> "
        "<span>by Nicole Burke</span></div></body></html>"
    )
    assert find_byline(tree) == ["Nicole Burke"]


def test_author_elements_are_those_the_author_selectors_match_in_document_order() -> None:
    tree = document_fromstring(
        "<html><body><span class='author'>Not in a byline</span>"
        "<div class='byline'><span class='author'>Jane Doe</span></div>"
        "<div itemprop='author'><span itemprop='name'>Ann Lee</span></div>"
        "<a rel='author external' href='/me'>Bo</a><a rel='authorship'>No</a>"
        "<p class='author vcard'><b class='fn'>Cy</b><i class='fnx'>No</i></p>"
        "<span class='post-author-box'>No</span><span class='post-author'>Di</span></body></html>"
    )
    union = etree.XPath(
        " | ".join(
            GenericTranslator().css_to_xpath(s, prefix="descendant-or-self::")
            for s in AUTHOR_SELECTORS
        )
    )
    found = _author_elements(tree)
    assert found == union(tree)
    assert [e.text_content() for e in found if not len(e)] == [
        "Jane Doe",
        "Ann Lee",
        "Bo",
        "Cy",
        "Di",
    ]
