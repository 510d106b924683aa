"""HTML -> Article: trafilatura's main text plus structured metadata and clutter rules.

The layers, in order:

1. decode: bytes to text (BOM, HTTP charset, <meta charset>, detection) -- ``decode.py``
2. parse once with lxml; read metadata (JSON-LD, OpenGraph, meta, <time>, the byline and
   date shown by the headline, URL) -- ``metadata.py``, with ``jsonld.py``, ``titles.py``,
   ``authors.py``, ``dates.py``
3. decide whether the page holds an article at all, from page features and a small learned
   model, before any extraction; a page without one returns the reason -- ``pagetype.py``
4. remove clutter elements by selector before extraction -- ``clutter.py``
5. trafilatura extracts the main text from the cleaned tree: its fast extraction, and its
   fallbacks (readability, justext) only when that misses much of the page's prose
   (the lead between the headline and the body is put back when the main text left it out)
6. drop clutter paragraphs after extraction: clutter phrases, bylines, author bios,
   empty category lines, the repeated headline, trailing titles of other posts
7. check the text is an article's (not a list of links or teasers, not too short) and
   merge metadata (ours first, htmldate's date as the fallback)
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import unescape
from itertools import islice
from urllib.parse import urljoin, urlsplit

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

from aggregator.extract.authors import byline_author, find_byline
from aggregator.extract.clutter import (
    AVATAR_PATTERN,
    SOCIAL_PATTERN,
    is_call_to_action,
    is_clutter_phrase,
    is_credit,
    is_date_line,
    is_empty_taxonomy,
    is_promo,
    is_related_heading,
    is_related_heading_shape,
    normalise,
    remove_clutter,
)
from aggregator.extract.dates import date_from_url, parse_date
from aggregator.extract.decode import decode_html
from aggregator.extract.metadata import PageMetadata, extract_metadata
from aggregator.extract.pagetype import load_model, page_features, prose_chars
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
# A trailing paragraph that repeats the text of a link to another page of the same site is
# the title of another post (next/previous navigation) when it is at most this long.
MAX_LINK_TITLE_CHARS = 160
# A leading paragraph this similar to the headline is the headline repeated.
TITLE_SIMILARITY = 0.9
# JSON-LD articleBody replaces trafilatura's text when it is this many times longer.
ARTICLE_BODY_RATIO = 2.0
# ... and when at least this share of its paragraphs is found in the page's own text.
ARTICLE_BODY_AGREEMENT = 0.8
# A "Related stories" heading after this share of the text ends the article; earlier, only
# the heading itself goes (a box of links in the middle of the body).
RELATED_CUT_SHARE = 0.7
# ... unless a paragraph of prose this long comes after it (a box of links inside the body)
MIN_PROSE_AFTER_RELATED = 200
# Listing pages: at least this many paragraphs that are teasers ("…", "Read more").
LISTING_MIN_TEASERS = 3
# Listing pages: at least LISTING_MIN_CARDS teaser cards (a heading linking to another page
# with its teaser, up to LISTING_CARD_DEPTH levels around it) hold this share of the text
LISTING_MIN_CARDS = 4
LISTING_CARD_SHARE = 0.8
LISTING_CARD_DEPTH = 3
# ... and no paragraph is as long as an article's usually are
LISTING_MAX_TEASER_CHARS = 400
# A "card" with more text than this is no teaser: it holds the article itself (a post whose
# headline links to its own permalink, or a body with a linked heading inside it).
LISTING_MAX_CARD_CHARS = 1500

_SENTENCE_END_RE = re.compile(r"[.!?…。！？]['\"‘’“”«»‹›)\]]*(?:\s|$)")
_TERMINAL_PUNCTUATION = tuple(".!?…:;。！？\"'”’)")
_TEASER_RE = re.compile(
    r"(?:\.\.\.|…|\[…\]|\[\.\.\.\])\s*$|^(?:read more|continue reading)\b", re.I
)
_BIO_VERB_RE = r"\s+(?:is|was|has been|writes|covers|joined|lives)\b"
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
    """The page's article, or the reason it holds none."""
    tree = _parse(html, content_type)
    if tree is None:
        return "no HTML in the page"
    meta = extract_metadata(tree, url)
    if meta.is_listing:
        return "a listing of other pages (its structured data says so)"
    elements = int(tree.xpath("count(//*)"))
    features = _page_features(tree, meta, url) if elements >= MIN_JUDGED_ELEMENTS else None
    model = load_model()
    if model is not None and features is not None:
        page_type = model.classify(features)
        if not page_type.is_article:
            return f"{page_type.reason} (article probability {page_type.article_probability:.2f})"
    # links of the whole page, read before clutter goes (next/previous post boxes are clutter)
    links = tree.xpath("//a[@href]")
    markup_byline = [] if meta.authors else find_byline(tree)

    remove_clutter(tree)
    cards = _teaser_cards(tree, url)
    _apply_site_rules(tree, content_selector, remove_selectors, url)
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
    if lead:
        paragraphs = [lead, *paragraphs]

    title = clean_title(meta.title, meta.site_name, meta.h1, url or meta.canonical_url)
    authors = list(meta.authors)
    if _is_link_list(paragraphs, cards):
        return "a list of links to other pages"
    site_links = _SiteLinks(links, url or meta.canonical_url)
    paragraphs, byline_names = _drop_clutter_paragraphs(paragraphs, title, authors, site_links)
    text = "\n\n".join(paragraphs)
    if not _is_article_text(text):
        return f"too little text ({len(text)} characters; {ARTICLE_MINIMUM})"
    if len(paragraphs) >= LISTING_MIN_TEASERS and _is_teaser_list(paragraphs):
        return "a list of teasers"

    if not authors:
        authors = byline_names or markup_byline
    # htmldate's date rules as the last resort, on pages small enough
    published = (
        meta.published
        or (_trafilatura_date(tree, url) if elements <= MAX_FALLBACK_METADATA_ELEMENTS else None)
        or date_from_url(url)
        or date_from_url(meta.canonical_url)
    )
    return Article(
        title=title,
        text=text,
        authors=dedupe(authors, 10),
        published=published,
        modified=meta.modified,
        image_url=meta.image_url,
        tags=meta.tags,
        language=meta.language,
        canonical_url=meta.canonical_url,
        site_name=meta.site_name,
        description=meta.description,
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


class _SiteLinks:
    """The normalised texts of links to other pages of the same site (titles of other posts),
    worked out on the first question only: most pages never ask."""

    def __init__(self, links: list[HtmlElement], url: str | None) -> None:
        self.links = links
        self.url = url
        self.texts: set[str] | None = None

    def __contains__(self, text: object) -> bool:
        if self.texts is None:
            self.texts = _same_site_link_texts(self.links, self.url)
        return text in self.texts


def _same_site_link_texts(links: Iterable[HtmlElement], url: str | None) -> set[str]:
    """Normalised texts of links to other pages of the same site (titles of other posts)."""
    host = urlsplit(url).hostname if url else None
    path = urlsplit(url).path.rstrip("/") if url else None
    texts: set[str] = set()
    for link in links:
        href = (link.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        if "://" in href[:12] or href.startswith("//"):
            try:
                target = urlsplit(href)
            except ValueError:
                continue
            if target.hostname and host and target.hostname != host:
                continue
            target_path = target.path
        else:
            # A relative link stays on the same site: no need to resolve it fully
            target_path = href.split("?", 1)[0].split("#", 1)[0]
            if url and not target_path.startswith("/"):
                target_path = urlsplit(urljoin(url, target_path)).path
        if path is not None and target_path.rstrip("/") == path:
            continue
        text = collapse(link.text_content())
        if 0 < len(text) <= MAX_LINK_TITLE_CHARS:
            texts.add(normalise(text))
        if len(texts) > 5000:
            break
    return texts


def _trafilatura_date(tree: HtmlElement, url: str | None) -> datetime | None:
    """htmldate's date, without its extensive search (which guesses from other posts' links)."""
    return parse_date(find_date(tree, url=url, **set_date_params(extensive=False)))


def _teaser_cards(tree: HtmlElement, url: str | None) -> list[str]:
    """Normalised texts of teaser cards: the largest block around each heading that links to
    another page and holds no other such heading (the items of a listing)."""
    here = urlsplit(url).path.rstrip("/") if url else None
    linked: list[HtmlElement] = []
    for heading in tree.iter("h1", "h2", "h3", "h4"):
        # a link inside the heading, or one around it (a card whose whole title is a link)
        wrapping = [a for a in islice(heading.iterancestors(), 2) if a.tag == "a"]
        for link in list(heading.iter("a")) or wrapping:
            href = (link.get("href") or "").strip()
            if href and not href.startswith(("#", "javascript:", "mailto:")):
                try:
                    target = urlsplit(urljoin(url, href) if url else href).path.rstrip("/")
                except ValueError:
                    continue
                if target != here:
                    linked.append(heading)
                    break
    if len(linked) < LISTING_MIN_CARDS:
        return []
    headings = set(linked)
    cards = []
    for heading in linked:
        card = heading
        for _ in range(LISTING_CARD_DEPTH):
            parent = card.getparent()
            if parent is None or parent.tag in ("body", "html"):
                break
            if sum(1 for h in parent.iter("h1", "h2", "h3", "h4") if h in headings) > 1:
                break
            card = parent
        # Spaces left out: extraction may glue a card's heading to its teaser
        text = normalise(card.text_content()).replace(" ", "")
        if len(text) <= LISTING_MAX_CARD_CHARS:
            cards.append(text)
    return cards


def _is_link_list(paragraphs: list[str], cards: list[str]) -> bool:
    """A home, section or tag page: most of the text sits in teaser cards."""
    if len(cards) < LISTING_MIN_CARDS or not paragraphs:
        return False
    if max(len(p) for p in paragraphs) >= LISTING_MAX_TEASER_CHARS:
        return False
    total = sum(len(p) for p in paragraphs)
    in_cards = 0
    for paragraph in paragraphs:
        key = normalise(paragraph).replace(" ", "")
        # Start or end is enough: extraction may drop a date between heading and teaser
        if any(key[:40] in card or key[-40:] in card for card in cards):
            in_cards += len(paragraph)
    return in_cards >= LISTING_CARD_SHARE * total


def _is_teaser_list(paragraphs: list[str]) -> bool:
    teasers = sum(1 for p in paragraphs if _TEASER_RE.search(p))
    return teasers >= LISTING_MIN_TEASERS and teasers * 2 >= len(paragraphs)


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


def _drop_clutter_paragraphs(
    paragraphs: list[str], title: str, authors: list[str], site_links: Container[str]
) -> tuple[list[str], list[str]]:
    """Remove clutter paragraphs; return the kept ones and the names found in dropped bylines."""
    byline_names: list[str] = []
    kept: list[str] = []
    for paragraph in _cut_related_stories(paragraphs):
        names = byline_author(paragraph)
        if names:
            byline_names.extend(names)
            continue
        if is_clutter_phrase(paragraph) or is_empty_taxonomy(paragraph):
            continue
        if AVATAR_PATTERN.match(paragraph) or is_promo(paragraph):
            continue
        if is_call_to_action(paragraph) or is_credit(paragraph) or is_date_line(paragraph):
            continue
        if is_related_heading_shape(paragraph):
            continue
        kept.append(paragraph)

    known_authors = dedupe(authors + byline_names, 10)
    kept = [p for p in kept if not _is_author_bio(p, known_authors)]

    # the headline (and empty meta lines) repeated at the top of the text
    title_norm = normalise(title)
    while kept and title_norm and _similar(normalise(kept[0]), title_norm):
        kept.pop(0)

    # titles of other posts after the body: short, no sentence end, linked elsewhere on the site
    while kept and _is_link_title(kept[-1], site_links):
        kept.pop()
    return kept, byline_names


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


def _cut_related_stories(paragraphs: list[str]) -> list[str]:
    """Drop a "Related stories" heading and the list after it, once the body is behind it."""
    total = sum(len(p) for p in paragraphs)
    seen = 0
    for index, paragraph in enumerate(paragraphs):
        if is_related_heading(paragraph):
            if seen >= RELATED_CUT_SHARE * total and not _prose_follows(paragraphs[index + 1 :]):
                return paragraphs[:index]
            paragraphs = paragraphs[:index] + paragraphs[index + 1 :]
            return paragraphs[:index] + _cut_related_stories(paragraphs[index:])
        seen += len(paragraph)
    return paragraphs


def _prose_follows(paragraphs: list[str]) -> bool:
    """Whether the article goes on after a box of related links: a paragraph of prose follows."""
    return any(
        len(p) >= MIN_PROSE_AFTER_RELATED and p.rstrip().endswith(_TERMINAL_PUNCTUATION)
        for p in paragraphs
    )


def _is_author_bio(paragraph: str, authors: Iterable[str]) -> bool:
    """An author-box bio: "<author> is a ... who ...", or a short one naming social profiles."""
    for name in authors:
        if re.match(re.escape(name) + _BIO_VERB_RE, paragraph):
            return True
    return (
        len(paragraph) < 600
        and SOCIAL_PATTERN.search(paragraph) is not None
        and bool(re.match(r"^[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){0,3}" + _BIO_VERB_RE, paragraph))
    )


def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    if not a or not b or abs(len(a) - len(b)) > 0.2 * max(len(a), len(b)):
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= TITLE_SIMILARITY


def _is_link_title(paragraph: str, site_links: Container[str]) -> bool:
    return (
        len(paragraph) <= MAX_LINK_TITLE_CHARS
        and not paragraph.rstrip().endswith(_TERMINAL_PUNCTUATION)
        and normalise(paragraph) in site_links
    )


def _is_article_text(text: str) -> bool:
    """Long enough to be an article: see MIN_TEXT_CHARS and MIN_SENTENCES."""
    if len(text) >= MIN_TEXT_CHARS:
        return True
    sentences = len(_SENTENCE_END_RE.findall(text))
    return sentences >= MIN_SENTENCES and len(text) >= MIN_SHORT_TEXT_CHARS
