"""HTML -> Article: trafilatura's main text plus structured metadata and clutter rules.

The steps, in order:

1. decode: bytes to text (BOM, HTTP charset, <meta charset>, detection) -- ``decode.py``;
   parse once with lxml
2. read metadata (JSON-LD, OpenGraph, meta, <time>, the byline and date shown by the
   headline, URL) -- ``metadata.py``, with ``jsonld.py``, ``titles.py``, ``authors.py``,
   ``dates.py``
3. decide whether the page holds an article at all, from page features and a small learned
   model, before any extraction; a page without one returns the reason -- ``pagetype.py``
4. remove clutter elements by selector before extraction -- ``clutter.py``
5. trafilatura extracts the main text from the cleaned tree: its fast extraction, and its
   fallbacks (readability, justext) only when that misses much of the page's prose
   (the lead between the headline and the body is put back when the main text left it out)
6. drop clutter paragraphs after extraction: clutter phrases, bylines, author bios,
   empty category lines, the repeated headline, trailing titles of other posts
   -- ``paragraphs.py``
7. check the text is an article's (not a list of links or teasers -- ``listing.py`` --, not
   too short) and merge metadata (ours first, htmldate's date as the fallback)
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import unescape

import trafilatura
from htmldate import find_date
from lxml import etree
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
    document_fromstring,
)
from trafilatura.settings import Document, set_date_params

from aggregator.extract.authors import MAX_AUTHORS, find_byline
from aggregator.extract.clutter import normalise, remove_clutter
from aggregator.extract.dates import date_from_url, parse_date
from aggregator.extract.decode import decode_html
from aggregator.extract.listing import is_link_list, is_teaser_list, teaser_cards
from aggregator.extract.metadata import PageMetadata, extract_metadata
from aggregator.extract.pagetype import load_model, page_features, prose_chars
from aggregator.extract.paragraphs import SiteLinks, drop_clutter_paragraphs
from aggregator.extract.text import collapse, dedupe
from aggregator.extract.titles import clean_title
from aggregator.items import Article

__all__ = ["NoArticle", "extract", "extract_article", "page_type_features"]

logger = logging.getLogger(__name__)
# trafilatura warns about every page without an article; we log our own reason at DEBUG
logging.getLogger("trafilatura").setLevel(logging.ERROR)

# A page holds an article when its text has at least MIN_TEXT_CHARS characters, or at least
# MIN_SENTENCES sentences and MIN_SHORT_TEXT_CHARS characters (a short news brief).
MIN_TEXT_CHARS = 200
MIN_SENTENCES = 2
MIN_SHORT_TEXT_CHARS = 80
# The same rule, as a rejected page's reason states it
ARTICLE_MINIMUM = (
    f"an article needs at least {MIN_TEXT_CHARS} characters of text, "
    f"or {MIN_SENTENCES} sentences and {MIN_SHORT_TEXT_CHARS} characters"
)
# The article-or-not model judges pages of at least this many elements: a smaller one is no
# shop, forum or listing, and its features (counts, shares of the text) say little. Smaller
# pages get trafilatura's full extraction.
MIN_JUDGED_ELEMENTS = 40
# trafilatura's fast extraction is kept when it holds at least this share of the characters
# of the page's prose paragraphs and at least FAST_MIN_CHARS; else its fallbacks run too.
FAST_COVERAGE = 0.6
FAST_MIN_CHARS = 300
# Pages longer than this, once script and style code is emptied, are cut before parsing
# (the article sits near the top in practice); it keeps a 10 MB page within about a second.
MAX_HTML_CHARS = 1_000_000
# Pages with more elements than this skip trafilatura's second opinion (readability,
# justext), whose cost grows faster than linearly with the page.
MAX_FULL_EXTRACTION_ELEMENTS = 15_000
# htmldate's date search is the fallback only on pages with at most this many elements: its
# cost grows faster than linearly with the page.
MAX_FALLBACK_METADATA_ELEMENTS = MAX_FULL_EXTRACTION_ELEMENTS
# JSON-LD articleBody replaces trafilatura's text when it is this many times longer.
ARTICLE_BODY_RATIO = 2.0
# ... and when at least this share of its paragraphs is found in the page's own text.
ARTICLE_BODY_AGREEMENT = 0.8

_SENTENCE_END_RE = re.compile(r"[.!?…。！？]['\"‘’“”«»‹›)\]]*(?:\s|$)")
_HTML_BLOCK_TAG_RE = re.compile(
    r"</?(?:p|div|h[1-6]|li|ul|ol|br|blockquote|tr|section)\b[^>]*>", re.I
)
_HTML_TAG_RE = re.compile(r"<[^>]*>")
_CODE_OPEN_RE = re.compile(r"<(script|style)\b[^>]*>", re.I)
_CODE_CLOSE_RE = {tag: re.compile(f"</{tag}", re.I) for tag in ("script", "style")}
_XML_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
# Characters XML text cannot hold: lxml refuses them when trafilatura edits the tree, which
# makes trafilatura drop the whole page.
_XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# The lead (standfirst) of a news article often sits between the headline and the body, in a
# block trafilatura leaves out: a block named so, within LEAD_WINDOW elements of the <h1>
_LEAD_TOKENS = frozenset(
    {"lead", "intro", "teaser", "excerpt", "standfirst", "abstract", "dek", "deck", "subtitle",
     "subline", "lede", "perex"}
)  # fmt: skip
LEAD_WINDOW = 40
LEAD_MIN_CHARS, LEAD_MAX_CHARS = 60, 800
_LEAD_CANDIDATES = etree.XPath(f"following::*[position() <= {LEAD_WINDOW}][@class or @id]")
_CLASS_TOKEN_RE = re.compile(r"[a-z]+")
# "Anurag is an experienced journalist...": an author box's bio, no lead
_BIO_SHAPE_RE = re.compile(
    r"^[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){0,3}\s+(?:is|was|has been)\s+(?:a|an|the)\b"
)

_PARSER = HTMLParser(remove_comments=True, remove_pis=True, encoding="utf-8", no_network=True)
# Every element is a plain HtmlElement, chosen in C: lxml.html's own lookup is a Python call per
# element touched (it picks form and input classes nothing here uses), a tenth of the time of
# an extraction
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
    )
)


@dataclass(frozen=True)
class NoArticle:
    """What extract() returns for a page without an article: why ("a product or shop page")."""

    reason: str


def extract_article(
    html: str | bytes,
    url: str | None = None,
    content_type: str | None = None,
    content_selector: str | None = None,
    remove_selectors: Sequence[str] = (),
) -> Article | None:
    """Extract the article of an HTML page, or None when the page holds no article.

    content_selector and remove_selectors are a source's own rules (CSS), from sources.toml.
    """
    result = extract(html, url, content_type, content_selector, remove_selectors)
    return result if isinstance(result, Article) else None


def extract(
    html: str | bytes,
    url: str | None = None,
    content_type: str | None = None,
    content_selector: str | None = None,
    remove_selectors: Sequence[str] = (),
) -> Article | NoArticle:
    """Like extract_article, but a page without an article gives the reason why."""
    try:
        result = _extract(html, url, content_type, content_selector, remove_selectors)
    except Exception:
        # extraction must never take the crawl down; the page is simply skipped
        logger.warning("extraction failed for %s", url, exc_info=True)
        return NoArticle("extraction failed")
    if isinstance(result, str):
        logger.info("no article, %s: %s", result, url)
        return NoArticle(result)
    return result


def _extract(
    html: str | bytes,
    url: str | None,
    content_type: str | None,
    content_selector: str | None = None,
    remove_selectors: Sequence[str] = (),
) -> Article | str:
    """The page's article, or the reason it holds none: the steps of the module's docstring."""
    tree = _parse(html, content_type)
    if tree is None:
        return "no HTML in the page"
    meta = extract_metadata(tree, url)
    if meta.is_listing:
        return "a listing of other pages (its structured data says so)"
    elements = int(tree.xpath("count(//*)"))
    features = _page_features(tree, meta, url) if elements >= MIN_JUDGED_ELEMENTS else None
    not_an_article = _page_type_reason(features)
    if not_an_article:
        return not_an_article

    # links of the whole page, read before clutter goes (next/previous post boxes are clutter)
    links = tree.xpath("//a[@href]")
    markup_byline = [] if meta.authors else find_byline(tree)
    remove_clutter(tree)
    cards = teaser_cards(tree, url)
    _apply_site_rules(tree, content_selector, remove_selectors, url)

    paragraphs = _main_paragraphs(tree, url, meta, elements, features)
    # a list of links is told by the text as extracted, before any paragraph is dropped
    if is_link_list(paragraphs, cards):
        return "a list of links to other pages"

    title = clean_title(meta.title, meta.site_name, meta.h1, url or meta.canonical_url)
    authors = list(meta.authors)
    site_links = SiteLinks(links, url or meta.canonical_url)
    paragraphs, byline_names = drop_clutter_paragraphs(paragraphs, title, authors, site_links)

    text = "\n\n".join(paragraphs)
    if not _is_article_text(text):
        return f"too little text ({len(text)} characters; {ARTICLE_MINIMUM})"
    if is_teaser_list(paragraphs):
        return "a list of teasers"
    return Article(
        title=title,
        text=text,
        authors=dedupe(authors or byline_names or markup_byline, MAX_AUTHORS),
        published=_published(tree, url, meta, elements),
        modified=meta.modified,
        image_url=meta.image_url,
        tags=meta.tags,
        language=meta.language,
        canonical_url=meta.canonical_url,
        site_name=meta.site_name,
        description=meta.description,
    )


def _page_type_reason(features: dict[str, float] | None) -> str | None:
    """Why the article-or-not model says the page holds no article, or None (no model, a page
    too small to judge, or an article)."""
    model = load_model()
    if model is None or features is None:
        return None
    page_type = model.classify(features)
    if page_type.is_article:
        return None
    return f"{page_type.reason} (article probability {page_type.article_probability:.2f})"


def _main_paragraphs(
    tree: HtmlElement,
    url: str | None,
    meta: PageMetadata,
    elements: int,
    features: dict[str, float] | None,
) -> list[str]:
    """The main text's paragraphs: trafilatura's, its JSON-LD articleBody's when that is much
    richer, and the lead put back when the main text left it out."""
    # trafilatura's second opinion (readability, justext) only when its main extractor missed
    # much of the page's prose, and only on pages small enough for it
    paragraphs = _main_text(tree, url, fast=True)
    if elements <= MAX_FULL_EXTRACTION_ELEMENTS and not _covers_prose(paragraphs, features):
        paragraphs = _main_text(tree, url, fast=False)
    if meta.article_body and _body_is_richer(meta.article_body, paragraphs):
        structured = _article_body_paragraphs(meta.article_body)
        if not _is_article_text("\n\n".join(paragraphs)) or _agrees_with_page(structured, tree):
            paragraphs = structured
    lead = _lead(tree, paragraphs)
    return [lead, *paragraphs] if lead else paragraphs


def _published(
    tree: HtmlElement, url: str | None, meta: PageMetadata, elements: int
) -> datetime | None:
    """The publication date: the metadata's, else htmldate's (on pages small enough), else
    the URL's."""
    return (
        meta.published
        or (_trafilatura_date(tree, url) if elements <= MAX_FALLBACK_METADATA_ELEMENTS else None)
        or date_from_url(url)
        or date_from_url(meta.canonical_url)
    )


def _lead(tree: HtmlElement, paragraphs: list[str]) -> str | None:
    """The article's lead when the main text left it out: a block after the <h1> whose class
    or id names a lead, of prose (not links), before the text's first paragraph."""
    heading = next(tree.iter("h1"), None)
    if heading is None or not paragraphs:
        return None
    found = normalise(" ".join(paragraphs[:3]))
    candidates = _LEAD_CANDIDATES(heading)
    for element in candidates if isinstance(candidates, list) else []:
        names = f"{element.get('class', '')} {element.get('id', '')}".lower()
        if not _LEAD_TOKENS.intersection(_CLASS_TOKEN_RE.findall(names)):
            continue
        text = collapse(element.text_content())
        if not LEAD_MIN_CHARS <= len(text) <= LEAD_MAX_CHARS or not _SENTENCE_END_RE.search(text):
            return None
        links = sum(len(collapse(a.text_content())) for a in element.iter("a"))
        if links > len(text) / 3 or normalise(text) in found or _BIO_SHAPE_RE.match(text):
            return None
        return text
    return None


def _main_text(tree: HtmlElement, url: str | None, *, fast: bool) -> list[str]:
    """trafilatura's main text of the page (the tree is left as it is), as paragraphs."""
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=fast,
        with_metadata=False,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
    )
    body = document.body if isinstance(document, Document) else None
    return _paragraphs(body) if body is not None else []


def _covers_prose(paragraphs: list[str], features: dict[str, float] | None) -> bool:
    """Whether a main text holds most of the prose paragraphs of the page (FAST_COVERAGE)."""
    if features is None:
        return False
    found = sum(len(p) for p in paragraphs)
    return found >= FAST_MIN_CHARS and found >= FAST_COVERAGE * prose_chars(features)


def page_type_features(
    html: str | bytes, url: str | None = None, content_type: str | None = None
) -> dict[str, float] | None:
    """The features the article-or-not model reads from a page (to train it), None for no HTML."""
    tree = _parse(html, content_type)
    if tree is None:
        return None
    return _page_features(tree, extract_metadata(tree, url), url)


def _page_features(tree: HtmlElement, meta: PageMetadata, url: str | None) -> dict[str, float]:
    return page_features(
        tree,
        url,
        meta.types,
        meta.og_type,
        has_published=meta.published is not None,
        has_author=bool(meta.authors),
        shown_dates=meta.shown_dates,
        title=meta.title,
    )


def _apply_site_rules(
    tree: HtmlElement, content: str | None, remove: Sequence[str], url: str | None
) -> None:
    """Apply a source's own rules: drop what `remove` matches, keep only what `content` matches."""
    for selector in remove:
        for element in tree.cssselect(selector):
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
    if not content:
        return
    kept = tree.cssselect(content)
    body = tree.find("body")
    if not kept or body is None:
        logger.info("content selector %r matches nothing in %s", content, url)
        return
    for child in list(body):
        body.remove(child)
    body.extend(kept)


def _parse(html: str | bytes, content_type: str | None) -> HtmlElement | None:
    """Decode and parse the page once with lxml; None for input that holds no HTML."""
    if isinstance(html, bytes | bytearray):
        if not html.strip():
            return None
        html = decode_html(bytes(html), content_type)
    if not isinstance(html, str) or not html.strip():
        return None
    html = _empty_code_blocks(html)
    if len(html) > MAX_HTML_CHARS:
        logger.debug("page of %d chars cut to %d", len(html), MAX_HTML_CHARS)
        html = html[:MAX_HTML_CHARS]
    html = _XML_INVALID_RE.sub("", _XML_DECLARATION_RE.sub("", html, count=1))
    try:
        tree = document_fromstring(html.encode("utf-8", "replace"), parser=_PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    if tree is None or not isinstance(tree, HtmlElement):
        return None
    return tree


def _empty_code_blocks(html: str) -> str:
    """Empty <script> (except JSON-LD) and <style> elements in one linear scan of the text."""
    pieces: list[str] = []
    position = 0
    while opening := _CODE_OPEN_RE.search(html, position):
        closing = _CODE_CLOSE_RE[opening[1].lower()].search(html, opening.end())
        if closing is None:
            break
        keep = "ld+json" in opening[0].lower()
        pieces.append(html[position : closing.start() if keep else opening.end()])
        position = closing.start()
    pieces.append(html[position:])
    return "".join(pieces)


def _trafilatura_date(tree: HtmlElement, url: str | None) -> datetime | None:
    """htmldate's date, without its extensive search (which guesses from other posts' links)."""
    return parse_date(find_date(tree, url=url, **set_date_params(extensive=False)))


def _paragraphs(body: etree._Element) -> list[str]:
    """Text blocks of trafilatura's output tree: one per paragraph, heading, list item, row."""
    blocks: list[str] = []
    for line_break in body.iter("lb"):
        # a line break inside a paragraph separates words: "RECORD<br>(Pescasseroli"
        line_break.tail = " " + (line_break.tail or "")
    for element in body:
        _collect_blocks(element, blocks)
    return [c for c in (_clean_block(b) for b in blocks) if c]


def _clean_block(block: str) -> str:
    """NFC-normalise a block and drop invisible characters (soft hyphens, zero widths)."""
    if not block.isprintable():
        # like trafilatura's own output: format and control characters go, line breaks stay
        block = "".join(c for c in block if c.isprintable() or c.isspace()).strip()
    return unicodedata.normalize("NFC", block)


# trafilatura output elements that start a new text block
_BLOCK_TAGS = frozenset({"p", "list", "table", "code", "head", "div", "quote"})


def _collect_blocks(element: etree._Element, blocks: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag == "list":
        for item in element.iterchildren("item"):
            nested = [child for child in item if child.tag == "list"]
            for child in nested:
                item.remove(child)
            blocks.append(collapse("".join(item.itertext())))
            for child in nested:
                _collect_blocks(child, blocks)
    elif tag == "table":
        for row in element.iter("row"):
            cells = [collapse("".join(cell.itertext())) for cell in row.iterchildren("cell")]
            blocks.append(" | ".join(c for c in cells if c))
    elif tag == "code":
        # code keeps its lines; blank lines would read as paragraph breaks, so they go
        lines = "".join(element.itertext()).splitlines()
        blocks.append("\n".join(line.rstrip() for line in lines if line.strip()))
    elif tag in ("div", "quote") and any(child.tag in _BLOCK_TAGS for child in element):
        if element.text and element.text.strip():
            blocks.append(collapse(element.text))
        for child in element:
            _collect_blocks(child, blocks)
            if child.tail and child.tail.strip():
                blocks.append(collapse(child.tail))
    else:
        blocks.append(collapse("".join(element.itertext())))


def _article_body_paragraphs(article_body: str) -> list[str]:
    """Paragraphs of a JSON-LD articleBody, which may hold HTML markup and entities."""
    if "<" in article_body:
        article_body = _HTML_TAG_RE.sub(" ", _HTML_BLOCK_TAG_RE.sub("\n", article_body))
    lines = (_clean_block(collapse(unescape(line))) for line in article_body.splitlines())
    return [p for p in lines if p]


def _agrees_with_page(paragraphs: list[str], tree: HtmlElement) -> bool:
    """Most of the structured body's text is visible on the page (not a stale or other text)."""
    body = tree.find("body")
    page = normalise((body if body is not None else tree).text_content())
    long = [normalise(p) for p in paragraphs if len(p) >= 40]
    if not long:
        return False
    found = sum(len(p) for p in long if p in page)
    return found >= ARTICLE_BODY_AGREEMENT * sum(len(p) for p in long)


def _body_is_richer(article_body: str, paragraphs: list[str]) -> bool:
    """JSON-LD articleBody holds much more text than trafilatura found (a split body)."""
    found = sum(len(p) for p in paragraphs)
    return len(article_body) >= MIN_TEXT_CHARS and len(article_body) > ARTICLE_BODY_RATIO * found


def _is_article_text(text: str) -> bool:
    """Long enough to be an article: see MIN_TEXT_CHARS and MIN_SENTENCES."""
    if len(text) >= MIN_TEXT_CHARS:
        return True
    sentences = len(_SENTENCE_END_RE.findall(text))
    return sentences >= MIN_SENTENCES and len(text) >= MIN_SHORT_TEXT_CHARS
