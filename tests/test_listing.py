"""Tests of aggregator.extract.listing: teaser cards and lists of teasers."""

from __future__ import annotations

from lxml.html import document_fromstring

from aggregator.extract.listing import is_link_list, is_teaser_list, teaser_cards

TEASER = "The maintainers explain what changed in this release and why it matters"


def _cards_page(count: int) -> str:
    cards = "".join(
        f"<div class='card'><h3><a href='/posts/story-{n}/'>Story {n} of the week</a></h3>"
        f"<p>{TEASER}, part {n}</p></div>"
        for n in range(count)
    )
    return f"<html><body><main>{cards}</main></body></html>"


def test_teaser_cards_and_a_text_made_of_them_is_a_link_list() -> None:
    tree = document_fromstring(_cards_page(5))
    cards = teaser_cards(tree, "https://example.com/stories/")
    assert len(cards) == 5
    paragraphs = [p for n in range(5) for p in (f"Story {n} of the week", f"{TEASER}, part {n}")]
    assert is_link_list(paragraphs, cards)
    # a long paragraph is an article's, whatever the cards
    assert not is_link_list([*paragraphs, "x" * 400], cards)


def test_too_few_linked_headings_are_no_cards() -> None:
    tree = document_fromstring(_cards_page(3))
    assert teaser_cards(tree, "https://example.com/stories/") == []
    assert not is_link_list(["Story 0 of the week"], [])


def test_teaser_list() -> None:
    assert is_teaser_list(["One …", "Two...", "Read more about three", "A sentence."])
    assert not is_teaser_list(["One …", "Two...", "A sentence.", "Another.", "And one more."])
    assert not is_teaser_list(["One …", "Two..."])
