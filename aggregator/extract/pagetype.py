"""Is this page an article? Page features and a small learned model over them.

The features are read from the parsed page before the main text is extracted (so a page
without an article costs a parse and one walk of the tree): what the page says it is
(schema.org types, og:type), what it shows (paragraphs of prose, teaser cards, prices and
cart buttons, posts of a thread, code and navigation of documentation, forms), the class
tokens of its <body>, the words of its class and id attributes (posts, users, products,
cards, documentation, calls to action), how much its text says "we" and "you", how many
years and phone numbers it shows, and, as a weak signal, the words of its URL path. The model is a
multinomial logistic regression over the page types of modern-devset, trained on half A of
the development sets by ``make train-extract`` (benchmarks/train_extract.py) and shipped
as ``pagetype.json``; a page is no article when the model gives "article" less than the
threshold chosen in training, and the most likely other type is the reason.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from lxml.html import HtmlElement

MODEL_PATH = Path(__file__).with_name("pagetype.json")

ARTICLE = "article"
# Page types of the model, with the reason given when one wins over "article"
REASONS = {
    "listing": "a listing of other pages (home, section, tag, category, author or archive)",
    "product": "a product or shop page",
    "forum": "a forum thread or questions and answers",
    "documentation": "documentation",
    "service": "a service, landing or company page",
}

# schema.org types, by what they say about the page
_LD_GROUPS: dict[str, frozenset[str]] = {
    "ld_news": frozenset(
        {"newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
         "reviewnewsarticle", "backgroundnewsarticle", "liveblogposting"}
    ),
    "ld_article": frozenset({"article", "blogposting", "report", "scholarlyarticle", "posting"}),
    "ld_product": frozenset(
        {"product", "productgroup", "offer", "aggregateoffer", "individualproduct", "car",
         "productmodel", "merchantreturnpolicy", "offershippingdetails"}
    ),
    "ld_forum": frozenset({"discussionforumposting", "qapage", "socialmediaposting"}),
    "ld_person": frozenset({"person"}),
}  # fmt: skip

# Words of the URL path (a weak signal: the model weighs them against everything else)
_URL_GROUPS: dict[str, frozenset[str]] = {
    "url_post": frozenset(
        {"blog", "blogs", "post", "posts", "article", "articles", "news", "story", "stories",
         "entry", "insights", "resources", "guides", "notes", "weblog", "archive"}
    ),
    "url_listing": frozenset(
        {"category", "categories", "tag", "tags", "topic", "topics", "author", "authors",
         "section", "sections", "collection", "collections", "c", "browse", "list", "lists",
         "page", "search"}
    ),
    "url_product": frozenset(
        {"product", "products", "shop", "store", "item", "itm", "dp", "buy", "app", "pdp"}
    ),
    "url_forum": frozenset(
        {"thread", "threads", "t", "forum", "forums", "community", "questions", "viewtopic",
         "showthread", "discussion", "discussions", "comments", "r"}
    ),
    "url_docs": frozenset(
        {"docs", "doc", "documentation", "reference", "api", "manual", "wiki", "learn",
         "tutorial", "library", "howto", "guide", "usersguide", "latest", "stable"}
    ),
    "url_service": frozenset(
        {"services", "service", "solutions", "solution", "pricing", "features", "programs",
         "program", "platform", "company", "industries", "consulting", "certificates"}
    ),
}  # fmt: skip

# Phrases of the visible text (lower case; spaces mark word edges), by the kind of page that
# shows them. Counted with str.count on the lower-cased text, which is cheap.
_TEXT_GROUPS: dict[str, tuple[str, ...]] = {
    "cart_words": (
        "add to cart", "add to bag", "add to basket", "add to wishlist", "buy now", "in stock",
        "out of stock", "free shipping", "add to list", "checkout", "quantity",
    ),
    "article_words": (
        "min read", "mins read", "minute read", "posted on", "posted by", "posted in",
        "published on", "published by", "written by", "updated on", "share this", "share on",
        "leave a comment", "leave a reply", "related posts", "related articles",
        "related stories", "filed under", "tags:", "tag:", " comment",
    ),
    "forum_words": (
        "joined", " replies", " reply", " quote", " posts", " messages", "reaction score",
        " likes", "upvote", "original poster", "thread starter", "solved", " views",
    ),
    "cta_words": (
        "get started", "contact us", "request a demo", "request a quote", "book a ", "book now",
        "book your", "sign up", "free trial", "free quote", "free consultation", "learn more",
        "schedule", "get a quote", "talk to", "try it free", "try free", "our services",
        "our team", "our clients", "our customers", "why choose", "call us", "call now",
        "enroll", "apply now",
    ),
    "docs_words": (
        "on this page", "edit this page", "edit on github", "table of contents", " previous",
        " next ", "api reference", "parameters", " returns", "example", "syntax", "version",
        "deprecated",
    ),
    "listing_words": (
        "read more", "load more", "view all", "see all", "show more", "next page",
        "older posts", "newer posts", "continue reading",
    ),
    "sentences": (". ", "! ", "? "),
}  # fmt: skip
# Tokens of class and id attributes, by the kind of block they name (generic words, no site)
_CLASS_GROUPS: dict[str, frozenset[str]] = {
    "class_post": frozenset(
        {"post", "posts", "message", "messages", "reply", "replies", "thread", "topic",
         "comment", "comments", "answer", "answers", "vote", "votes", "postbody", "bbcode",
         "quote", "reactions", "likes"}
    ),
    "class_user": frozenset(
        {"avatar", "user", "username", "member", "profile", "poster", "signature", "userinfo",
         "usertext", "rank", "joined"}
    ),
    "class_product": frozenset(
        {"product", "products", "price", "cart", "sku", "variant", "buy", "checkout", "rating",
         "stars", "shop", "basket", "qty", "quantity", "swatch"}
    ),
    "class_card": frozenset(
        {"card", "cards", "teaser", "teasers", "tile", "tiles", "grid", "item", "items",
         "listing", "feed", "excerpt", "summary", "thumb", "thumbnail", "loop", "river"}
    ),
    "class_docs": frozenset(
        {"sidebar", "toc", "docs", "doc", "api", "highlight", "code", "admonition", "tabs",
         "breadcrumb", "breadcrumbs", "sphinx", "markdown", "md", "docsearch", "version"}
    ),
    "class_article": frozenset(
        {"article", "entry", "story", "byline", "dateline", "headline", "published", "single",
         "prose", "author", "share", "social", "related", "tags", "meta", "postmeta"}
    ),
    "class_cta": frozenset(
        {"btn", "button", "cta", "hero", "banner", "testimonial", "testimonials", "pricing",
         "plan", "plans", "features", "feature", "contact", "form", "service", "services",
         "slider", "carousel", "logos", "clients", "partners"}
    ),
}  # fmt: skip
_LINK_TEXTS = etree.XPath(".//a//text()", smart_strings=False)
_CLASS_VALUES = etree.XPath("//@class | //@id", smart_strings=False)


_TOKEN_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Words of the visible text that say who speaks to whom (a service page: "we", "our", "you");
# not "I": personal blogs write in the first person as much as forum posts do
_PERSON_WORDS: dict[str, frozenset[str]] = {
    "we_rate": frozenset({"we", "our", "us", "ours", "we're", "we've"}),
    "you_rate": frozenset({"you", "your", "yours", "you're", "you'll"}),
}
# Years and relative dates in the text: a thread or a listing shows many, an article one or two
_YEAR_RE = re.compile(r"(?:19|20)[0-9][0-9]")
_PHONE_RE = re.compile(r"[0-9]{3}[). -]{1,2}[0-9]{3}[ .-][0-9]{4}")
_CURRENCY_RE = re.compile(r"[$€£¥] ?\d|\d(?:[.,]\d\d)? ?(?:€|eur|usd|gbp)\b")
# Text read for the phrases: the start of the page is enough to tell its kind
MAX_TEXT_CHARS = 60_000
# Headlines of articles: how-tos, questions, lists, guides
_HEADLINE_RE = re.compile(
    r"^(?:how|what|why|when|where|who|which|is|are|can|should|do|does)\b|\?$|\b\d+\b"
    r"|\b(?:best|top|guide|tips|ways|vs\.?|versus|review|explained|trends|introducing)\b",
    re.I,
)
_TOKEN_SPLIT_RE = re.compile(r"[\s_\-]+")
_PATH_WORD_RE = re.compile(r"[a-z]+")
_DATE_PATH_RE = re.compile(r"/(?:19|20)\d\d[/-](?:0?[1-9]|1[0-2])(?:[/-]|$)")
# A paragraph of prose: at least this many characters (a short one: SHORT_PROSE_CHARS)
PROSE_CHARS = 150
SHORT_PROSE_CHARS = 60
# Logarithms of character counts are divided by this, to keep the features near 0..1
PROSE_SCALE = 8
# The headline of an article sits at most this many levels above its paragraphs' container
HEADLINE_LEVELS = 4
# Elements counted as repeated siblings (cards, posts, products) by tag and class
_REPEATED = frozenset({"div", "li", "article", "section", "tr"})
_HEADINGS = frozenset({"h2", "h3", "h4"})
# A heading is a link when a link holds it at most this many levels up
LINK_LEVELS = 2
# Elements counted, one feature each
_COUNTED_TAGS = ("article", "time", "h2", "pre", "form", "input", "button", "nav", "li", "img",
                 "table", "blockquote", "aside", "select")  # fmt: skip
_WALKED_TAGS = tuple({*_COUNTED_TAGS, *_REPEATED, *_HEADINGS, "p", "h1"})


@dataclass(frozen=True)
class PageType:
    """What the model makes of a page: its most likely type, and the probability of article."""

    kind: str
    article_probability: float
    threshold: float

    @property
    def is_article(self) -> bool:
        """Whether the page holds an article."""
        return self.article_probability >= self.threshold

    @property
    def reason(self) -> str:
        """Why the page is no article (its most likely other type)."""
        return REASONS.get(self.kind, "not an article")


def _log(count: float) -> float:
    return math.log1p(max(count, 0.0))


def page_features(
    tree: HtmlElement,
    url: str | None,
    ld_types: Iterable[str] = (),
    og_type: str | None = None,
    has_published: bool = False,
    has_author: bool = False,
    shown_dates: int = 0,
    title: str | None = None,
) -> dict[str, float]:
    """The features of one parsed page (before clutter removal), by name.

    ld_types are its schema.org @types (lower case), og_type its og:type; has_published and
    has_author tell whether its metadata names a publication date and a person as author,
    shown_dates how many dates it shows around its headline, title is its headline.
    """
    features: dict[str, float] = {}
    types = set(ld_types)
    for name, group in _LD_GROUPS.items():
        features[name] = float(bool(types & group))
    og = (og_type or "").strip().lower()
    features["og_article"] = float(og == "article")
    features["og_product"] = float("product" in og)
    features["og_website"] = float(og == "website")
    features["og_none"] = float(not og)
    features["has_published"] = float(has_published)
    features["has_author"] = float(has_author)
    features["shown_date"] = float(shown_dates > 0)
    features["shown_dates"] = min(shown_dates, 3) / 3
    title_words = _PATH_WORD_RE.findall((title or "").lower())
    features["title_words"] = _log(len(title_words))
    features["title_headline"] = float(bool(_HEADLINE_RE.search(title or "")))

    body = tree.find("body")
    root = body if body is not None else tree
    counts: Counter[str] = Counter()
    prose = prose_chars = short_prose_chars = longest = linked_headings = 0
    # prose by container: the article's body is one container holding most of the prose;
    # by section (the container's parent), for bodies split in sections
    containers: Counter[HtmlElement] = Counter()
    sections: Counter[HtmlElement] = Counter()
    # repeated siblings (cards of a listing, posts of a thread, products of a shop)
    siblings: Counter[tuple[HtmlElement | None, str, str]] = Counter()
    for element in root.iter(*_WALKED_TAGS):
        tag = element.tag
        counts[tag] += 1
        if tag in _REPEATED:
            classes = element.get("class")
            if classes:
                siblings[element.getparent(), tag, classes] += 1
        elif tag == "p":
            length = len(" ".join(element.text_content().split()))
            if length >= SHORT_PROSE_CHARS:
                short_prose_chars += length
                parent = element.getparent()
                if parent is not None:
                    containers[parent] += length
                    grandparent = parent.getparent()
                    if grandparent is not None:
                        sections[grandparent] += length
                if length >= PROSE_CHARS:
                    prose += 1
                    prose_chars += length
                    longest = max(longest, length)
        elif tag in _HEADINGS and _is_linked(element):
            linked_headings += 1
    text = " ".join(root.text_content().split())
    text_chars = len(text)
    link_texts = _LINK_TEXTS(root)
    link_chars = sum(len(t.strip()) for t in link_texts) if isinstance(link_texts, list) else 0
    features["text_chars"] = _log(text_chars) / 10
    features["prose_paragraphs"] = _log(prose)
    features["prose_share"] = prose_chars / text_chars if text_chars else 0.0
    features["longest_paragraph"] = _log(longest) / 7
    features["link_density"] = min(link_chars / text_chars, 1.0) if text_chars else 1.0
    features["linked_headings"] = _log(linked_headings)
    ranked = containers.most_common(2)
    main = ranked[0][1] if ranked else 0
    features["main_prose"] = _log(main) / 8
    features["main_prose_share"] = main / text_chars if text_chars else 0.0
    features["prose_total"] = _log(short_prose_chars) / PROSE_SCALE
    features["main_of_prose"] = main / short_prose_chars if short_prose_chars else 0.0
    top_section = sections.most_common(1)
    features["section_of_prose"] = (
        top_section[0][1] / short_prose_chars if top_section and short_prose_chars else 0.0
    )
    features["second_prose_ratio"] = ranked[1][1] / main if len(ranked) > 1 else 0.0
    features["headline_over_main"] = float(bool(ranked) and _has_headline_above(ranked[0][0]))
    features["headings_per_prose"] = _log((counts["h2"] + counts["h3"]) / (prose_chars / 1000 + 1))
    features["repeated"] = _log(max(siblings.values(), default=0))
    for tag in _COUNTED_TAGS:
        features[f"n_{tag}"] = _log(counts[tag])
    elements = root.xpath("count(.//*)")
    features["elements"] = _log(elements if isinstance(elements, float) else 0.0) / 10
    lower = f" {text[:MAX_TEXT_CHARS].lower()} "
    for name, phrases in _TEXT_GROUPS.items():
        features[name] = _log(sum(lower.count(phrase) for phrase in phrases))
    features["currency"] = _log(len(_CURRENCY_RE.findall(lower)))
    features["dates_in_text"] = _log(len(_YEAR_RE.findall(lower)) + lower.count(" ago "))
    features["phones"] = _log(len(_PHONE_RE.findall(lower)))
    text_words = Counter(_TOKEN_RE.findall(lower))
    total_words = text_words.total()
    for name, group in _PERSON_WORDS.items():
        share = sum(text_words[w] for w in group) / total_words if total_words else 0.0
        features[name] = 100 * share
    features["n_h1"] = _log(counts["h1"])
    class_values = _CLASS_VALUES(tree)
    classes = " ".join(class_values if isinstance(class_values, list) else []).lower()
    class_tokens = Counter(_PATH_WORD_RE.findall(classes))
    for name, group in _CLASS_GROUPS.items():
        features[name] = _log(sum(class_tokens[w] for w in group))

    body_classes = (body.get("class") or "").lower().split() if body is not None else []
    body_words = {w for token in body_classes for w in (token, *_TOKEN_SPLIT_RE.split(token))}
    features["body_single"] = float(bool(body_words & {"single", "single-post", "postid"}))
    features["body_page"] = float(bool(body_words & {"page", "page-template-default"}))
    features["body_archive"] = float(bool(body_words & {"archive", "home", "blog", "category"}))

    path = urlsplit(url).path.lower() if url else ""
    segments = [s for s in path.split("/") if s]
    words = set(_PATH_WORD_RE.findall(" ".join(segments[:-1]))) | (
        {segments[0]} if len(segments) == 1 else set()
    )
    for name, group in _URL_GROUPS.items():
        features[name] = float(bool(words & group))
    last = segments[-1] if segments else ""
    features["url_root"] = float(not segments)
    features["url_depth"] = min(len(segments), 6) / 6
    features["url_date"] = float(bool(_DATE_PATH_RE.search(path)))
    features["url_slug_words"] = min(len(_PATH_WORD_RE.findall(last.rsplit(".", 1)[0])), 12) / 12
    return features


def _is_linked(heading: HtmlElement) -> bool:
    """Whether a heading is a link: it holds one, or a link holds it (a card's whole title)."""
    if next(heading.iter("a"), None) is not None:
        return True
    parent = heading.getparent()
    for _ in range(LINK_LEVELS):
        if parent is None:
            return False
        if parent.tag == "a":
            return True
        parent = parent.getparent()
    return False


def prose_chars(features: Mapping[str, float]) -> float:
    """The characters of the page's prose paragraphs (of at least SHORT_PROSE_CHARS each)."""
    return math.expm1(features.get("prose_total", 0.0) * PROSE_SCALE)


def _has_headline_above(container: HtmlElement) -> bool:
    """Whether an <h1> sits in the container or in one of its nearest ancestors."""
    element: HtmlElement | None = container
    for _ in range(HEADLINE_LEVELS):
        if element is None:
            return False
        if element.tag == "h1" or next(element.iter("h1"), None) is not None:
            return True
        element = element.getparent()
    return False


@dataclass(frozen=True)
class Model:
    """A multinomial logistic regression: per class, a bias and a weight per feature."""

    classes: tuple[str, ...]
    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[tuple[float, ...], ...]
    biases: tuple[float, ...]
    threshold: float

    def probabilities(self, features: Mapping[str, float]) -> dict[str, float]:
        """The probability of each class."""
        values = [
            (features.get(name, 0.0) - mean) / scale
            for name, mean, scale in zip(self.features, self.means, self.scales, strict=True)
        ]
        scores = [
            bias + sum(w * v for w, v in zip(row, values, strict=True))
            for row, bias in zip(self.weights, self.biases, strict=True)
        ]
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return {name: e / total for name, e in zip(self.classes, exps, strict=True)}

    def classify(self, features: Mapping[str, float]) -> PageType:
        """The page's most likely type other than article, and its probability of article."""
        probabilities = self.probabilities(features)
        article = probabilities.pop(ARTICLE, 0.0)
        kind = max(probabilities, key=probabilities.__getitem__) if probabilities else ARTICLE
        if article >= self.threshold:
            kind = ARTICLE
        return PageType(kind, article, self.threshold)

    def to_json(self) -> dict[str, Any]:
        """The model as JSON-ready data (what pagetype.json holds)."""
        return {
            "classes": list(self.classes),
            "features": list(self.features),
            "means": [round(m, 6) for m in self.means],
            "scales": [round(s, 6) for s in self.scales],
            "weights": [[round(w, 6) for w in row] for row in self.weights],
            "biases": [round(b, 6) for b in self.biases],
            "threshold": round(self.threshold, 6),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        """A model from what to_json gave."""
        return cls(
            classes=tuple(data["classes"]),
            features=tuple(data["features"]),
            means=tuple(data["means"]),
            scales=tuple(data["scales"]),
            weights=tuple(tuple(row) for row in data["weights"]),
            biases=tuple(data["biases"]),
            threshold=float(data["threshold"]),
        )


@cache
def load_model(path: Path = MODEL_PATH) -> Model | None:
    """The shipped model, or None when there is none (every page is then an article)."""
    try:
        return Model.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError):
        return None
