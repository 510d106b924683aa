"""Tests of aggregator.extract.jsonld: the nodes of a page's JSON-LD and their values."""

from __future__ import annotations

import json

from lxml.html import document_fromstring

from aggregator.extract.jsonld import (
    JsonLd,
    image_value,
    keywords_value,
    read_json_ld,
    text_value,
)


def _read(*blocks: object) -> JsonLd:
    scripts = "".join(
        f'<script type="Application/LD+JSON">{json.dumps(block)}</script>' for block in blocks
    )
    return read_json_ld(document_fromstring(f"<html><head>{scripts}</head><body></body></html>"))


def test_article_page_and_site_nodes_types_and_references() -> None:
    ld = _read(
        {
            "@graph": [
                {"@type": "WebSite", "@id": "#site", "name": "Ferris Weekly"},
                {"@type": "WebPage", "@id": "#page", "datePublished": "2024-07-25"},
                {"@type": "Person", "@id": "#jane", "name": "Jane Doe"},
                {"@type": "NewsArticle", "headline": "Short", "articleBody": "a"},
                {
                    "@type": ["BlogPosting"],
                    "headline": "Long",
                    "articleBody": "a longer body",
                    "author": [{"@id": "#jane"}, {"@id": "#unknown"}, {"name": "Bo"}],
                },
            ]
        },
        "not JSON at all",
    )
    assert ld.article["headline"] == "Long"  # the article node with the longest body
    assert ld.page["@id"] == "#page"
    assert ld.site["name"] == "Ferris Weekly"
    assert {"website", "webpage", "person", "newsarticle", "blogposting"} <= ld.types
    assert ld.resolve(ld.article["author"], 10) == [
        {"@type": "Person", "@id": "#jane", "name": "Jane Doe"},
        {"@id": "#unknown"},
        {"name": "Bo"},
    ]
    assert len(ld.resolve(ld.article["author"], 1)) == 1


def test_a_page_without_json_ld_gives_empty_nodes() -> None:
    assert _read() == JsonLd({}, {}, {}, set(), {})


def test_values() -> None:
    assert text_value(["  Jane &amp; Bo ", "x"]) == "Jane & Bo"
    assert text_value(2024) == "2024"
    assert text_value(True) is None
    assert text_value({"name": "x"}) is None
    assert image_value([{"url": "https://x.example/a.png"}]) == "https://x.example/a.png"
    assert image_value({"contentUrl": "https://x.example/b.png"}) == "https://x.example/b.png"
    assert keywords_value("rust, ,  release ") == ["rust", "release"]
    assert keywords_value(["rust", 3, " go "]) == ["rust", "go"]
    assert keywords_value(None) == []
