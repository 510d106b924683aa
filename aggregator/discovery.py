"""Find article URLs in feeds, sitemaps and listing pages: pure functions over fetched bytes."""

from __future__ import annotations

import calendar
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urldefrag, urljoin, urlsplit, urlunsplit

import feedparser
import lxml.etree
import lxml.html

from aggregator.dedup.urls import same_site
from aggregator.extract.dates import parse_date

# ---------------------------------------------------------------------------------------------
# Feeds


@dataclass(frozen=True)
class EntryLink:
    """One entry of a feed: the article URL and what the feed says about it."""

    url: str
    title: str | None = None
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    summary: str | None = None


@dataclass
class FeedResult:
    """The entries of a feed, its kind and title, and why it was malformed if it was."""

    entries: list[EntryLink]
    kind: str
    title: str | None
    error: str | None = None
    ttl: timedelta | None = None


# The version URLs of JSON Feed 1.0 and 1.1; early feeds wrote them with http:
JSON_FEED_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
# feedparser's `version` prefixes mapped to FeedResult.kind; rss090 and rss10 are RDF.
FEED_KINDS = (("atom", "atom"), ("rss090", "rdf"), ("rss10", "rdf"), ("rss", "rss"))
JSON_FEED_TYPES = ("application/feed+json", "application/json")
# Elements whose text is not part of a summary.
_INVISIBLE_TAGS = ("script", "style", "template", "noscript")
_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
     "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
     "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul"}
)  # fmt: skip
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _media_type(content_type: str | None) -> str:
    """Return the lower-cased media type of a Content-Type value, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _strip_bom(body: bytes) -> bytes:
    """Return the body without a leading byte order mark and whitespace."""
    body = body.lstrip()
    for bom in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].lstrip()
    return body


def _clean_text(text: str | None) -> str | None:
    """Return text with whitespace collapsed, or None when nothing is left."""
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


def html_to_text(markup: str | None) -> str | None:
    """Return the visible text of an HTML fragment with whitespace collapsed."""
    if not markup or not markup.strip():
        return None
    if "<" not in markup and "&" not in markup:
        return _clean_text(markup)
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (lxml.etree.LxmlError, ValueError):
        return _clean_text(re.sub(r"<[^>]*>", " ", markup))
    for element in root.iter(*_INVISIBLE_TAGS):
        element.drop_tree()
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCK_TAGS:
            element.tail = " " + (element.tail or "")
    return _clean_text(root.text_content())


def _struct_to_datetime(value: Any) -> datetime | None:
    """Return feedparser's UTC struct_time as an aware datetime."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _http_url(value: Any, base: str) -> str | None:
    """Return value resolved against base when it is an http(s) URL, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    url = value.strip()
    try:
        if not url.lower().startswith(("http://", "https://")):
            url = urljoin(base, url)
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    """Return the non-empty values with whitespace collapsed, de-duplicated, in order."""
    seen: dict[str, None] = {}
    for value in values:
        text = _clean_text(value) if isinstance(value, str) else None
        if text:
            seen.setdefault(text, None)
    return tuple(seen)


def _person_names(people: Any) -> list[str | None]:
    """Return the names of a feed's list of person objects."""
    if not isinstance(people, list):
        return []
    return [p.get("name") for p in people if isinstance(p, dict)]


def _entry_url(entry: Any, base: str) -> str | None:
    """Return the article URL of a feedparser entry: the alternate link first."""
    links = entry.get("links") or []
    alternates = [link for link in links if link.get("rel", "alternate") == "alternate"]
    # An entry may link several alternates (e.g. a PDF); the HTML one is the article.
    alternates.sort(key=lambda link: "html" not in (link.get("type") or "text/html"))
    for link in alternates:
        if url := _http_url(link.get("href"), base):
            return url
    if url := _http_url(entry.get("link"), base):
        return url
    guid = entry.get("id")
    if entry.get("guidislink") or (isinstance(guid, str) and guid.startswith(("http:", "https:"))):
        return _http_url(guid, base)
    return None


def _entry_title(entry: Any) -> str | None:
    """Return the plain-text title of a feedparser entry."""
    title = entry.get("title")
    if "html" in ((entry.get("title_detail") or {}).get("type") or ""):
        return html_to_text(title)
    return _clean_text(title)


def _feed_kind(version: str) -> str:
    """Return the FeedResult.kind of feedparser's version string."""
    for prefix, kind in FEED_KINDS:
        if version.startswith(prefix):
            return kind
    return "unknown"


def _parse_xml_feed(body: bytes, url: str, content_type: str | None) -> FeedResult:
    """Parse an RSS, Atom or RDF feed with feedparser."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # A stream, never bytes: feedparser opens a bytes argument as a file name if one exists.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    kind = _feed_kind(parsed.get("version") or "")
    feed = parsed.get("feed") or {}
    feed_authors = _person_names(feed.get("authors")) if kind == "atom" else []
    entries = []
    for entry in parsed.get("entries") or []:
        entry_url = _entry_url(entry, url)
        if entry_url is None:
            continue
        authors = _unique(_person_names(entry.get("authors"))) or _unique([entry.get("author")])
        entries.append(
            EntryLink(
                url=entry_url,
                title=_entry_title(entry),
                published=_struct_to_datetime(entry.get("published_parsed"))
                or _struct_to_datetime(entry.get("updated_parsed")),
                # Atom entries without an author inherit the feed's (RFC 4287, 4.2.1).
                authors=authors or _unique(feed_authors),
                summary=html_to_text(entry.get("summary")),
            )
        )
    error = None
    if parsed.get("bozo"):
        exception = parsed.get("bozo_exception")
        # Charset and media-type complaints do not make a parsed feed malformed.
        benign = isinstance(exception, feedparser.ThingsNobodyCaresAboutButMe)
        if not (benign and kind != "unknown"):
            error = str(exception) or type(exception).__name__
    if error is None and kind == "unknown" and not entries:
        error = "not a feed"
    ttl = None
    ttl_text = str(feed.get("ttl") or "").strip()
    if ttl_text.isdigit() and int(ttl_text) > 0:
        ttl = timedelta(minutes=int(ttl_text))
    return FeedResult(entries, kind, _clean_text(feed.get("title")), error, ttl)


def _string(value: Any) -> str | None:
    """Return value when it is a string, else None."""
    return value if isinstance(value, str) else None


def _parse_json_feed(body: bytes, url: str) -> FeedResult:
    """Parse a JSON Feed 1.0 or 1.1 document."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return FeedResult([], "unknown", None, f"invalid JSON: {exc}")
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        return FeedResult([], "unknown", None, "not a JSON Feed: no items list")
    version = document.get("version")
    error = None
    if not (isinstance(version, str) and version.startswith(JSON_FEED_PREFIXES)):
        error = f"not a JSON Feed version: {version!r}"
    feed_authors = [*_person_names(document.get("authors"))]
    if isinstance(document.get("author"), dict):
        feed_authors.append(document["author"].get("name"))
    entries = []
    for item in document["items"]:
        if not isinstance(item, dict):
            continue
        item_url = _http_url(item.get("url"), url) or _http_url(item.get("external_url"), url)
        if item_url is None:
            continue
        authors = [*_person_names(item.get("authors"))]
        if isinstance(item.get("author"), dict):
            authors.append(item["author"].get("name"))
        published = item.get("date_published") or item.get("date_modified")
        summary = item.get("summary") or item.get("content_text")
        entries.append(
            EntryLink(
                url=item_url,
                title=_clean_text(_string(item.get("title"))),
                published=parse_date(_string(published), need_year=True),
                # Items without authors inherit the feed's (JSON Feed 1.1, "authors").
                authors=_unique(authors) or _unique(feed_authors),
                summary=html_to_text(_string(summary)),
            )
        )
    return FeedResult(entries, "jsonfeed", _clean_text(_string(document.get("title"))), error)


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> FeedResult:
    """Parse an RSS, Atom, RDF or JSON feed; a malformed feed gives what parsed and an error."""
    start = _strip_bom(body)
    if start.startswith(b"{") or (
        _media_type(content_type) in JSON_FEED_TYPES and not start.startswith(b"<")
    ):
        return _parse_json_feed(body, url)
    try:
        return _parse_xml_feed(body, url, content_type)
    except Exception as exc:  # feedparser's loose parser can fail in many ways on garbage
        return FeedResult([], "unknown", None, f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------------------------
# Sitemaps


@dataclass(frozen=True)
class SitemapUrl:
    """One <url> or <sitemap> of a sitemap with its last modification time."""

    url: str
    lastmod: datetime | None = None


@dataclass
class SitemapResult:
    """The page URLs and child sitemaps of a sitemap, and why it was malformed if it was."""

    urls: list[SitemapUrl]
    sitemaps: list[SitemapUrl]
    error: str | None = None


# Sitemaps are capped at 50 MB uncompressed by the protocol; anything larger is a gzip bomb.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_BARE_AMPERSAND = re.compile(rb"&(?!#\d+;|#x[0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)")


def _gunzip(body: bytes, limit: int) -> tuple[bytes, str | None]:
    """Return the decompressed body, at most limit bytes, and an error if any."""
    out = bytearray()
    data = body
    while data:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += decompressor.decompress(data, limit + 1 - len(out))
        except zlib.error as exc:
            return bytes(out[:limit]), f"invalid gzip data: {exc}"
        if len(out) > limit:
            return bytes(out[:limit]), f"sitemap larger than {limit} bytes after decompression"
        if not decompressor.eof:
            return bytes(out), "truncated gzip data"
        # Concatenated gzip members are one stream (RFC 1952, 2.2).
        data = decompressor.unused_data
        if data and not data.startswith(GZIP_MAGIC):
            break
    return bytes(out), None


def _localname(element: Any) -> str:
    """Return the tag of an element without its namespace, or '' for comments and PIs."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2].lower()


def _child_text(element: Any, *path: str) -> str | None:
    """Return the stripped text of the first descendant along a path of local names."""
    for name in path:
        element = next((child for child in element if _localname(child) == name), None)
        if element is None:
            return None
    # Only the element's own text nodes: entity references (never resolved, XXE) are skipped.
    text = "".join(element.xpath("text()")).strip()
    return text or None


def _sitemap_loc(value: str | None, base: str) -> str | None:
    """Return an absolute or root-relative <loc> as an absolute http(s) URL."""
    # Locs must be absolute; root-relative ones are a common slip worth resolving, while
    # other relative text is what XML recovery made of a truncated document.
    if value is None or not value.startswith(("http://", "https://", "HTTP", "/")):
        return None
    return _http_url(value, base)


def _newest_first(items: list[SitemapUrl]) -> list[SitemapUrl]:
    """Return the items newest lastmod first, undated last, otherwise in document order."""
    return sorted(
        items, key=lambda item: (item.lastmod is None, -(item.lastmod or _EPOCH).timestamp())
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parse_text_sitemap(text: str, url: str) -> SitemapResult:
    """Parse a plain-text sitemap: one absolute URL a line."""
    urls: dict[str, SitemapUrl] = {}
    for line in text.splitlines():
        line_url = line.strip()
        if line_url.startswith(("http://", "https://")) and (found := _http_url(line_url, url)):
            urls.setdefault(found, SitemapUrl(found))
    error = None
    if not text.strip():
        error = "empty sitemap"
    elif not urls:
        error = "not a sitemap: no XML and no URLs"
    return SitemapResult(list(urls.values()), [], error)


# Words in the file name of a child sitemap that lists no posts: taxonomies, authors, static
# pages, products and media. WordPress core: wp-sitemap-taxonomies-category-1.xml,
# wp-sitemap-users-1.xml, wp-sitemap-posts-page-1.xml; Yoast and Rank Math: post_tag-sitemap.xml,
# category-sitemap.xml, author-sitemap.xml, page-sitemap.xml, product-sitemap.xml; Shopify:
# sitemap_products_1.xml, sitemap_collections_1.xml, sitemap_pages_1.xml.
NON_POST_SITEMAP_WORDS = frozenset(
    {"tag", "tags", "post_tag", "category", "categories", "taxonomies", "taxonomy", "author",
     "authors", "user", "users", "page", "pages", "product", "products", "product_cat",
     "product_tag", "collections", "attachment", "attachments", "media", "image", "images",
     "video", "videos", "topics", "labels", "series", "locations"}
)  # fmt: skip
_SITEMAP_NAME_SPLIT = re.compile(r"[-.]")
_SITEMAP_WORD_SPLIT = re.compile(r"[-._]")


def is_non_post_sitemap(url: str) -> bool:
    """Whether a child sitemap lists no posts, by its file name (see NON_POST_SITEMAP_WORDS)."""
    name = urlsplit(url).path.rstrip("/").rpartition("/")[2].lower()
    name = name.removesuffix(".gz").removesuffix(".xml")
    words = {*_SITEMAP_NAME_SPLIT.split(name), *_SITEMAP_WORD_SPLIT.split(name)}
    return bool(words & NON_POST_SITEMAP_WORDS)


def parse_sitemap(body: bytes, url: str) -> SitemapResult:
    """Parse an XML, gzip or plain-text sitemap or sitemap index, newest entries first."""
    error = None
    if body.startswith(GZIP_MAGIC):
        body, error = _gunzip(body, MAX_SITEMAP_BYTES)
    start = _strip_bom(body)
    if not start.startswith(b"<"):
        result = _parse_text_sitemap(start.decode("utf-8", "replace"), url)
        result.error = error or result.error
        return result
    # Bare "&" in query strings is the most common sitemap bug; escape it instead of losing it.
    start = _BARE_AMPERSAND.sub(b"&amp;", start)
    parser = lxml.etree.XMLParser(
        recover=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )
    try:
        root = lxml.etree.fromstring(start, parser)
    except lxml.etree.LxmlError as exc:
        return SitemapResult([], [], error or f"invalid XML: {exc}")
    if error is None:
        errors = [e for e in parser.error_log if e.level >= lxml.etree.ErrorLevels.ERROR]
        if errors:
            error = f"invalid XML: {errors[0].message} (line {errors[0].line})"
    if root is None:
        return SitemapResult([], [], error or "not a sitemap: empty document")
    urls: dict[str, SitemapUrl] = {}
    sitemaps: dict[str, SitemapUrl] = {}
    for element in root.iter():
        name = _localname(element)
        if name not in ("url", "sitemap"):
            continue
        loc = _sitemap_loc(_child_text(element, "loc"), url)
        if loc is None:
            continue
        lastmod = parse_date(_child_text(element, "lastmod"), need_year=True) or parse_date(
            _child_text(element, "news", "publication_date"), need_year=True
        )
        target = urls if name == "url" else sitemaps
        target.setdefault(loc, SitemapUrl(loc, lastmod))
    if (
        error is None
        and not urls
        and not sitemaps
        and _localname(root)
        not in (
            "urlset",
            "sitemapindex",
        )
    ):
        error = f"not a sitemap: root element <{_localname(root)}>"
    return SitemapResult(
        _newest_first(list(urls.values())), _newest_first(list(sitemaps.values())), error
    )


# ---------------------------------------------------------------------------------------------
# Listing pages

# The heuristic, as data. A link on a listing page is an article when it is on the source's
# site, passes the exclusions, and its score reaches POST_SCORE_THRESHOLD. The score is the
# best URL_SCORES pattern its URL matches plus the bonuses and penalties of its context.
# Excluded: asset extensions, any path segment in EXCLUDED_SEGMENTS, any query key in
# EXCLUDED_QUERY_KEYS, rel values in EXCLUDED_RELS, the listing and the home page.

ASSET_EXTENSIONS = frozenset(
    {"7z", "avi", "bmp", "css", "csv", "doc", "docx", "eot", "epub", "exe", "gif", "gz", "ico",
     "jpeg", "jpg", "js", "json", "m4a", "mov", "mp3", "mp4", "ogg", "otf", "pdf", "png", "ppt",
     "pptx", "rar", "rss", "svg", "tar", "tgz", "tif", "tiff", "ttf", "txt", "wav", "webm",
     "webp", "woff", "woff2", "xls", "xlsx", "xml", "zip"}
)  # fmt: skip
EXCLUDED_SEGMENTS = frozenset(
    {
        # taxonomies and archives of posts, not posts
        "tag", "tags", "category", "categories", "topic", "topics", "label", "labels",
        "author", "authors", "user", "users", "series",
        # pagination, search, feeds
        "page", "search", "feed", "feeds", "rss", "atom", "comments", "comment",
        # accounts and admin
        "login", "signin", "sign-in", "logout", "signup", "sign-up", "register", "account",
        "wp-admin", "wp-login.php", "wp-content", "wp-includes", "wp-json", "xmlrpc.php",
        "cdn-cgi",
        # site pages
        "about", "contact", "privacy", "privacy-policy", "terms", "terms-of-service",
        "terms-and-conditions", "cookie-policy", "imprint", "impressum", "subscribe",
        "newsletter", "share",
    }
)  # fmt: skip
EXCLUDED_QUERY_KEYS = frozenset(
    {"s", "q", "query", "search", "replytocom", "share", "page", "paged", "tag", "cat",
     "category", "author", "feed", "action", "redirect_to", "login"}
)  # fmt: skip
EXCLUDED_RELS = frozenset({"tag", "category", "author", "next", "prev", "license"})

_YEAR = r"(?:19|20)\d\d"
# Patterns of article URLs, by how sure they are. Matched on the path (or path?query).
URL_SCORES: tuple[tuple[re.Pattern[str], int], ...] = (
    # /2024/05/slug, /2024/05/14/slug, /2024-05-14-slug: a date, then a non-numeric slug
    (re.compile(rf"/{_YEAR}/(?:0?[1-9]|1[0-2])(?:/\d\d?)?/(?=[^/]*[^\d/])[^/]+/?$"), 3),
    (re.compile(rf"/{_YEAR}-\d\d-\d\d-[^/]+/?$"), 3),
    # /post/slug, /blog/slug, /articles/slug, /p/slug (Substack), ... directly below
    (
        re.compile(
            rf"/(?:posts?|blog|articles?|p|entry|entries|news|stories|story)/"
            rf"(?!{_YEAR}/?$)[^/]+/?$",
            re.IGNORECASE,
        ),
        2,
    ),
    # a slug of at least three words: /how-we-scaled-postgres, /why_rust.html
    (re.compile(r"/[^/]*[a-z0-9][-_][a-z0-9][^/]*[-_][a-z0-9][^/]*/?$", re.IGNORECASE), 2),
    # WordPress default permalinks: /?p=123
    (re.compile(r"^/?\?p=\d+$"), 2),
)
# Context of a link: its ancestors' tags and class/id tokens.
HEADING_TAGS = frozenset({"h1", "h2", "h3"})
HEADING_BONUS = 2
POST_TAGS = frozenset({"article"})
POST_CLASS_WORDS = ("post", "entry", "article")
POST_CONTEXT_BONUS = 1
CHROME_TAGS = frozenset({"nav", "aside"})
PAGE_CHROME_TAGS = frozenset({"header", "footer"})
SECTIONING_TAGS = frozenset({"main", "article", "section"})
CHROME_CLASS_WORDS = (
    "nav", "menu", "sidebar", "widget", "footer", "breadcrumb", "pagination", "comment",
    "share", "social",
)  # fmt: skip
CHROME_PENALTY = -2
POST_SCORE_THRESHOLD = 2

# Next-page links: class tokens of the link or its two nearest ancestors, and link texts
# (case-folded, arrows and spaces trimmed). WordPress's .nav-previous holds "Older posts".
NEXT_CLASSES = frozenset(
    {"next", "nav-previous", "next-page", "pagination-next", "older-posts", "older", "page-next"}
)
NEXT_TEXTS = frozenset(
    {"older posts", "older entries", "older", "next page", "next", "previous posts",
     "previous entries", "more posts", "load more", "»", "›", "→", ">", ">>"}
)  # fmt: skip
_ARROWS = " \t\n\r\xa0«»‹›←→<>"
_PAGE_PATH = re.compile(r"/page/(\d+)/?$")
PAGE_QUERY_KEYS = ("page", "paged")


@dataclass
class ListingResult:
    """Article links and next-page links found on a listing page."""

    article_urls: list[str]
    next_pages: list[str]


def _without_fragment(url: str) -> str:
    """Return the URL without its fragment."""
    return urlunsplit(urlsplit(url)._replace(fragment=""))


def _same_page(a: str, b: str) -> bool:
    """Return whether two URLs name the same page, ignoring fragment and trailing slash."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (
        pa.netloc.lower() == pb.netloc.lower()
        and pa.path.rstrip("/") == pb.path.rstrip("/")
        and pa.query == pb.query
    )


def _tokens(element: Any) -> list[str]:
    """Return the lower-cased class and id tokens of an element."""
    return f"{element.get('class') or ''} {element.get('id') or ''}".lower().split()


def _context_score(anchor: Any) -> int:
    """Return the bonus or penalty of where a link sits in the page."""
    heading = post = chrome = False
    ancestors = list(anchor.iterancestors())
    for index, element in enumerate(ancestors):
        tag = element.tag if isinstance(element.tag, str) else ""
        tokens = _tokens(element)
        heading = heading or tag in HEADING_TAGS
        if (
            tag in CHROME_TAGS
            or any(word in token for token in tokens for word in CHROME_CLASS_WORDS)
            or (
                # A <header>/<footer> inside <main>, <article> or <section> belongs to it.
                tag in PAGE_CHROME_TAGS
                and not any(a.tag in SECTIONING_TAGS for a in ancestors[index + 1 :])
            )
        ):
            # "post-navigation", "widget_recent_posts": chrome wins over the word "post".
            chrome = True
        elif tag in POST_TAGS or any(w in t for t in tokens for w in POST_CLASS_WORDS):
            # Inside a post block, the chrome seen so far is the post's own (its byline).
            post = True
            break
    score = HEADING_BONUS * heading + POST_CONTEXT_BONUS * post
    return score + (CHROME_PENALTY if chrome and not post else 0)


def _url_score(url: str) -> int:
    """Return how much an URL by itself looks like an article."""
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    return max((score for pattern, score in URL_SCORES if pattern.search(target)), default=0)


def never_an_article(url: str) -> bool:
    """Return whether a same-site URL can never be an article (a listing, sitemap or feed
    link to a tag, category or author page, a site page, an asset; see EXCLUDED_SEGMENTS)."""
    parts = urlsplit(url)
    segments = [s.lower() for s in parts.path.split("/") if s]
    if not segments and not parts.query:
        return True
    if any(s in EXCLUDED_SEGMENTS for s in segments):
        return True
    if segments and segments[-1].rpartition(".")[2] in ASSET_EXTENSIONS and "." in segments[-1]:
        return True
    keys = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    return bool(keys & EXCLUDED_QUERY_KEYS)


def _document(body: bytes, url: str) -> Any:
    """Return the lxml.html document of a page, or None when there is none."""
    if not body.strip():
        return None
    parser = None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # Valid UTF-8 is UTF-8 whatever the page declares; without a declaration lxml
        # would read it as Latin-1.
        parser = lxml.html.HTMLParser(encoding="utf-8")
    try:
        return lxml.html.document_fromstring(body, parser=parser, base_url=url)
    except (lxml.etree.LxmlError, ValueError):
        return None


def _links(document: Any, base: str) -> Iterator[tuple[Any, str]]:
    """Yield each <a href> and <link href> element with its absolute http(s) URL."""
    for element in document.iter("a", "link", "area"):
        href = element.get("href")
        if not href or href.strip().startswith("#"):
            continue
        if (url := _http_url(href, base)) is not None:
            yield element, _without_fragment(url)


def _page_number(url: str) -> int:
    """Return the page number a listing URL names, 1 when it names none."""
    parts = urlsplit(url)
    if match := _PAGE_PATH.search(parts.path):
        return int(match.group(1))
    for key, value in parse_qsl(parts.query):
        if key.lower() in PAGE_QUERY_KEYS and value.isdigit():
            return int(value)
    return 1


def _listing_key(url: str) -> tuple[str, ...]:
    """Return what stays the same across the pages of one listing: host, path and query."""
    parts = urlsplit(url)
    path = _PAGE_PATH.sub("", parts.path).rstrip("/")
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in PAGE_QUERY_KEYS
    )
    return (parts.netloc.lower(), path, *(f"{k}={v}" for k, v in query))


def _is_next_link(element: Any, url: str, next_number: int, listing_key: tuple[str, ...]) -> bool:
    """Return whether a link points to the next page of a listing."""
    rels = (element.get("rel") or "").lower().split()
    if "next" in rels:
        return True
    if element.tag != "a":
        return False
    if _page_number(url) == next_number and _listing_key(url) == listing_key:
        return True
    classes = set(_tokens(element))
    for ancestor in list(element.iterancestors())[:2]:
        classes.update(_tokens(ancestor))
    if classes & NEXT_CLASSES:
        return True
    text = " ".join(element.text_content().split()).casefold()
    return text in NEXT_TEXTS or text.strip(_ARROWS) in NEXT_TEXTS


def parse_listing(body: bytes, url: str, site_url: str) -> ListingResult:
    """Return the article links and next-page links of a blog listing page, in page order."""
    document = _document(body, url)
    if document is None:
        return ListingResult([], [])
    base = url
    base_href = document.find(".//base[@href]")
    if base_href is not None and (resolved := _http_url(base_href.get("href"), url)):
        base = resolved
    next_number = _page_number(url) + 1
    listing_key = _listing_key(url)
    articles: dict[str, None] = {}
    next_pages: dict[str, None] = {}
    for element, link in _links(document, base):
        if not same_site(link, site_url) or _same_page(link, url):
            continue
        if _is_next_link(element, link, next_number, listing_key):
            next_pages.setdefault(link, None)
            continue
        if element.tag != "a" or link in articles or never_an_article(link):
            continue
        rels = set((element.get("rel") or "").lower().split())
        if rels & EXCLUDED_RELS or _same_page(link, site_url):
            continue
        if _url_score(link) + _context_score(element) >= POST_SCORE_THRESHOLD:
            articles[link] = None
    return ListingResult(list(articles), list(next_pages))


# ---------------------------------------------------------------------------------------------
# Content sniffing

HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Media types that say nothing; the body decides.
GENERIC_MEDIA_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/unknown", "text/plain",
     "application/x-unknown", "unknown/unknown"}
)  # fmt: skip
# Magic numbers of bodies that are never HTML, whatever the server says.
MAGIC_NUMBERS: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"ftyp", 4, "video/mp4"),
    (b"OggS", 0, "audio/ogg"),
    (b"ID3", 0, "audio/mpeg"),
    (b"wOFF", 0, "font/woff"),
    (b"wOF2", 0, "font/woff2"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon"),
)
# Openings of an HTML document (WHATWG MIME sniffing, "identify an unknown MIME type").
_HTML_START = re.compile(
    rb"<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p"
    rb"|!--|meta|link|article|main|section|header|nav)[\s>/]",
    re.IGNORECASE,
)


def _sniff_magic(body: bytes) -> str | None:
    """Return the media type a body's magic number reveals, if any."""
    for magic, offset, media_type in MAGIC_NUMBERS:
        if body[offset : offset + len(magic)] == magic:
            return media_type
    return None


def _starts_like_html(body: bytes) -> bool:
    """Return whether a body opens like an HTML document."""
    return bool(_HTML_START.match(_strip_bom(body[:4096])))


def non_html_reason(content_type: str | None, body: bytes) -> str | None:
    """Return why a response is not an HTML page, or None when it is one."""
    if not body.strip():
        return "empty body"
    if (magic := _sniff_magic(body)) is not None:
        return f"{magic} is not HTML (sniffed from the body)"
    media_type = _media_type(content_type)
    if media_type in HTML_MEDIA_TYPES:
        return None
    if _starts_like_html(body):
        return None
    if media_type in GENERIC_MEDIA_TYPES:
        return "body does not look like HTML" if not media_type else f"{media_type} is not HTML"
    return f"{media_type} is not HTML"


# --- Finding feeds: the links a page announces, the usual paths, and telling a feed apart --

COMMON_FEED_PATHS = ("/feed", "/rss", "/atom.xml", "/feed.xml", "/index.xml", "/rss.xml")
FEED_LINK_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json",
        "application/rdf+xml",
    }
)
_ATOM_NAMESPACES = frozenset({"http://www.w3.org/2005/Atom", "http://purl.org/atom/ns#"})
_RDF_NAMESPACE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
# A feed's root element is in its first bytes
_SNIFF_BYTES = 64 * 1024


def discover_feed_links(html: str | bytes, base_url: str) -> list[str]:
    """Return the feed URLs a page announces with `<link rel="alternate">`, in document order."""
    data = html.encode("utf-8") if isinstance(html, str) else html
    if not data.strip():
        return []
    parser = lxml.etree.HTMLParser(encoding="utf-8" if isinstance(html, str) else None)
    root = lxml.etree.fromstring(data, parser)
    if root is None:
        return []
    base = base_url
    for base_href in root.iterfind(".//base[@href]"):
        base = urljoin(base_url, base_href.get("href", "").strip())
        break
    found: list[str] = []
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        link_type = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" not in rel or link_type not in FEED_LINK_TYPES or not href:
            continue
        title = link.get("title") or ""
        if "comments" in href.lower() or "comments" in title.lower():
            continue
        url = urldefrag(urljoin(base, href)).url
        # WordPress announces its REST API as application/json on every page; it is no feed
        if link_type == "application/json" and "/wp-json/" in urlsplit(url).path:
            continue
        if urlsplit(url).scheme in {"http", "https"} and url not in found:
            found.append(url)
    return found


def candidate_feed_urls(home_url: str) -> list[str]:
    """Return the usual feed locations (COMMON_FEED_PATHS) at the root of a site."""
    return [urljoin(home_url, path) for path in COMMON_FEED_PATHS]


def looks_like_feed(body: bytes, content_type: str | None) -> bool:
    """Tell whether a response body is an RSS, Atom or RDF document or a JSON Feed."""
    return feed_type(body, content_type) is not None


def feed_type(body: bytes, content_type: str | None) -> str | None:
    """Return "RSS", "Atom", "RDF" or "JSON Feed" for a feed body, None for anything else."""
    main_type = (content_type or "").split("/")[0].strip().lower()
    if main_type in {"image", "audio", "video", "font"}:
        return None
    head = body.removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"{"):
        try:
            document = json.loads(head)
        except ValueError:
            return None
        version = document.get("version") if isinstance(document, dict) else None
        if isinstance(version, str) and version.startswith(JSON_FEED_PREFIXES):
            return "JSON Feed"
        return None
    root_tag = _xml_root_tag(head if head.startswith(b"<") else body)
    if root_tag is None:
        return None
    namespace, _, local = root_tag.rpartition("}")
    namespace = namespace.lstrip("{")
    if local == "rss" and not namespace:
        return "RSS"
    if local == "feed" and namespace in _ATOM_NAMESPACES:
        return "Atom"
    if local == "RDF" and namespace == _RDF_NAMESPACE:
        return "RDF"
    return None


def _xml_root_tag(body: bytes) -> str | None:
    """Return the root element tag of an XML document, reading only its head."""
    parser = lxml.etree.XMLPullParser(
        events=("start",), resolve_entities=False, no_network=True, load_dtd=False
    )
    head = body[:_SNIFF_BYTES]
    for offset in range(0, len(head), 4096):
        try:
            parser.feed(head[offset : offset + 4096])
        except lxml.etree.XMLSyntaxError:
            pass
        try:
            for _event, element in parser.read_events():
                tag = element.tag
                return tag if isinstance(tag, str) else None
        except lxml.etree.XMLSyntaxError:
            return None
    return None
