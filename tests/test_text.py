"""Tests of aggregator.extract.text: clean metadata values."""

from __future__ import annotations

from aggregator.extract.text import clean_text


def test_entities_left_encoded_are_decoded() -> None:
    assert clean_text("Tools &#038; Platforms") == "Tools & Platforms"
    assert clean_text("Rock &amp;amp; Roll") == "Rock & Roll"
    assert clean_text("Traveler&#8217;s\u200b Guide") == "Traveler’s Guide"
    assert clean_text("AT&T and R&D") == "AT&T and R&D"
