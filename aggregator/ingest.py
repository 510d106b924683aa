"""The clean and fingerprint steps, shared by the pipelines and `aggregator import`."""

from __future__ import annotations

from aggregator.dedup.fingerprints import content_hash
from aggregator.dedup.urls import canonical_url
from aggregator.discovery import non_html_reason
from aggregator.exceptions import RejectedPage
from aggregator.extract import extract_article
from aggregator.items import PageItem


def clean_page(page: PageItem) -> PageItem:
    """Extract the article of a page, completed with its feed metadata; reject non-articles."""
    content_type = page.headers.get("content-type")
    reason = non_html_reason(content_type, page.body)
    if reason:
        raise RejectedPage(f"{page.url}: {reason}")
    article = extract_article(page.body, page.url, content_type)
    if article is None:
        raise RejectedPage(f"{page.url}: no article found in the page")
    if not article.title and page.feed_title:
        article.title = page.feed_title
    if not article.authors and page.feed_authors:
        article.authors = list(page.feed_authors)
    if article.published is None and page.feed_published is not None:
        article.published = page.feed_published
    if not article.title:
        # No headline anywhere: name the article after its opening words
        words = article.text.split()
        article.title = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
    page.article = article
    return page


def fingerprint_page(page: PageItem) -> PageItem:
    """Set the canonical URL and the content hash of a cleaned page."""
    if page.article is None:
        raise RejectedPage(f"{page.url}: page was not cleaned")
    page.canonical_url = canonical_url(page.url, page.article.canonical_url)
    page.content_hash = content_hash(page.article.text)
    return page
