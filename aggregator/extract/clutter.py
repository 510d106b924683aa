"""Clutter rules as data: selectors removed before extraction, phrases and patterns after it.

Adding a rule is adding one token to one tuple, with a comment saying which
site or platform needed it. Selectors match whole class tokens or ids (never
substrings of class names), so an ``article-share-count`` class does not take
the article with it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lxml.html import HtmlElement


class ClutterGroup(NamedTuple):
    """One kind of clutter removed before extraction, by CSS selector.

    Selectors are limited to what one pass over the tree can test cheaply:
    ``.class``, ``#id``, ``tag``, ``tag.class``, ``[attribute]`` and ``[attribute=value]``.
    """

    name: str
    selectors: tuple[str, ...]


CLUTTER_SELECTORS: tuple[ClutterGroup, ...] = (
    # WordPress core comment template and the common comment plugins (wpDiscuz, Disqus, Jetpack)
    ClutterGroup(
        "comments",
        (
            "#respond",
            ".comment-respond",
            "#comments",
            ".comments-area",
            ".comment-list",
            ".commentlist",
            "#commentform",
            ".comment-form",
            "#disqus_thread",
            "#wpdiscuz",
            ".wpdiscuz_top_clearing",
            ".fb-comments",
            "#jp-post-flair",
        ),
    ),
    # reaction and voting widgets ("What do you think?", emoji votes, star ratings)
    ClutterGroup(
        "reactions",
        (
            ".reaction-box",
            ".reactions",
            ".post-reactions",
            ".wpemoji-reactions",
            ".wp-reactions",
            ".zombify-reactions",
            ".boombox-reactions",
            ".newsy-reactions",
            ".post-ratings",
            ".kk-star-ratings",
            ".voting-box",
            ".vote-box",
            ".likebtn-wrapper",
            ".sd-like",
        ),
    ),
    # author boxes under the post: avatar, "Written by X", bio (Simple Author Box, Starbox, themes)
    ClutterGroup(
        "author_boxes",
        (
            ".author-box",
            ".about-author",
            ".author-bio",
            ".author-info",
            ".author-card",
            ".post-author-box",
            ".saboxplugin-wrap",
            ".abh_box",
            ".molongui-author-box",
            ".starbox",
            "#author-bio",
            "#author-box",
            ".entry-author",
        ),
    ),
    # share bars (Jetpack sharedaddy, AddToAny, Social Warfare, theme share buttons)
    ClutterGroup(
        "share_bars",
        (
            ".sharedaddy",
            ".sd-sharing-enabled",
            ".share-buttons",
            ".social-share",
            ".social-sharing",
            ".share-bar",
            ".sharing",
            ".addtoany_share_save_container",
            ".a2a_kit",
            ".swp_social_panel",
            ".shareaholic-canvas",
            ".post-share",
            ".entry-share",
        ),
    ),
    # related posts (Jetpack, YARPP, Contextual Related Posts, themes)
    ClutterGroup(
        "related_posts",
        (
            ".related-posts",
            ".related_posts",
            ".relatedposts",
            "#jp-relatedposts",
            ".jp-relatedposts",
            ".yarpp-related",
            ".crp_related",
            ".related-articles",
            ".you-may-also-like",
        ),
    ),
    # next/previous post navigation (WordPress the_post_navigation, themes)
    ClutterGroup(
        "post_navigation",
        (
            ".post-navigation",
            "nav.navigation",
            ".nav-links",
            ".single-post-nav",
            ".post-nav",
            ".prev-next",
            ".nav-previous",
            ".nav-next",
        ),
    ),
    # newsletter and subscription boxes (Mailchimp, Jetpack subscriptions, Substack embeds)
    ClutterGroup(
        "newsletter",
        (
            ".newsletter",
            ".newsletter-box",
            ".newsletter-widget",
            ".widget_newsletter",
            ".mc4wp-form",
            "#mc_embed_signup",
            ".jetpack_subscription_widget",
            ".subscribe-box",
            ".subscription-widget",
        ),
    ),
    # cookie and consent banners (Cookie Notice, CookieYes, GDPR plugins)
    ClutterGroup(
        "cookie_banners",
        (
            "#cookie-notice",
            ".cookie-notice",
            ".cookie-banner",
            ".cookie-consent",
            "#cookie-law-info-bar",
            ".cky-consent-container",
            ".gdpr-banner",
            "#onetrust-consent-sdk",
        ),
    ),
    # GIPHY and comment-helper plugins that print their own status messages
    ClutterGroup(
        "plugins",
        (
            ".giphy-comment-widget",
            ".giphy-error",
            ".giphy",
            ".wp-giphy",
        ),
    ),
    # advertising slots (AdSense, Ad Inserter, Advanced Ads)
    ClutterGroup(
        "ads",
        (
            "ins.adsbygoogle",
            ".adsbygoogle",
            ".advertisement",
            ".ad-container",
            ".ad-slot",
            ".advads-ad",
            ".sponsored-content",
        ),
    ),
    # elements that never hold article text
    ClutterGroup(
        "non_content",
        (
            "script",
            "style",
            "template",
            "svg",
            "iframe",
            "form",
            "button",
            "[hidden]",
            "[aria-hidden=true]",
        ),
    ),
)


class _Rules(NamedTuple):
    classes: frozenset[str]
    ids: frozenset[str]
    tags: frozenset[str]
    tag_classes: frozenset[tuple[str, str]]
    attributes: tuple[tuple[str, str | None], ...]


_SELECTOR_RE = re.compile(
    r"^(?:(?P<tag>[a-z][a-z0-9]*)?(?:\.(?P<cls>[\w-]+))?|#(?P<id>[\w-]+)"
    r"|\[(?P<attr>[\w-]+)(?:=(?P<value>[\w-]+))?\])$"
)


def _compile(groups: tuple[ClutterGroup, ...]) -> _Rules:
    """Sort the selectors of all groups into sets for a single pass over the tree."""
    classes, ids, tags, tag_classes = set(), set(), set(), set()
    attributes: list[tuple[str, str | None]] = []
    for group in groups:
        for selector in group.selectors:
            match = _SELECTOR_RE.match(selector)
            if not match or selector == "":
                raise ValueError(f"unsupported clutter selector {selector!r} in {group.name}")
            if match["id"]:
                ids.add(match["id"])
            elif match["attr"]:
                attributes.append((match["attr"], match["value"]))
            elif match["tag"] and match["cls"]:
                tag_classes.add((match["tag"], match["cls"]))
            elif match["cls"]:
                classes.add(match["cls"])
            else:
                tags.add(match["tag"])
    return _Rules(
        frozenset(classes),
        frozenset(ids),
        frozenset(tags),
        frozenset(tag_classes),
        tuple(attributes),
    )


_RULES = _compile(CLUTTER_SELECTORS)
# Elements removed however much text they hold.
# <noscript> is left to trafilatura: some platforms (Blogger) put the whole post inside one.
_ALWAYS_REMOVED = frozenset({"script", "style", "template", "svg"})

# A matched element holding more than this share of the page's text is not clutter:
# a theme that puts the whole post inside `.sharing` or `#comments` must not lose it.
MAX_CLUTTER_SHARE = 0.5


def _is_clutter(element: HtmlElement, tag: str) -> bool:
    if tag in _RULES.tags:
        return True
    element_id = element.get("id")
    if element_id and element_id.strip() in _RULES.ids:
        return True
    class_attr = element.get("class")
    if class_attr:
        tokens = class_attr.split()
        for token in tokens:
            if token in _RULES.classes or (tag, token) in _RULES.tag_classes:
                return True
    for attr, value in _RULES.attributes:
        actual = element.get(attr)
        if actual is not None and (value is None or actual.strip().lower() == value):
            return True
    return False


def remove_clutter(tree: HtmlElement) -> int:
    """Remove clutter elements from the tree in place; return how many were removed."""
    body = tree.find("body")
    root = body if body is not None else tree
    matched = []
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and element is not root and _is_clutter(element, tag):
            matched.append(element)
    if not matched:
        return 0
    total = len(root.text_content() or "")
    removed = 0
    for element in matched:
        parent = element.getparent()
        if parent is None:
            continue  # already gone with an ancestor
        if element.tag not in _ALWAYS_REMOVED and (
            total > 1000 and len(element.text_content() or "") > MAX_CLUTTER_SHARE * total
        ):
            continue
        # keep the tail text: it belongs to the parent, not to the removed element
        if element.tail and element.tail.strip():
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + element.tail
            else:
                parent.text = (parent.text or "") + element.tail
        parent.remove(element)
        removed += 1
    return removed


# --- After extraction: whole paragraphs that are clutter -------------------------------------

# Phrases compared with a whole paragraph after normalisation (lower case, punctuation and
# spacing collapsed). A paragraph made only of these phrases is dropped; a sentence that
# merely contains one of them is kept.
CLUTTER_PHRASES: tuple[str, ...] = (
    # WordPress comment form
    "leave a reply",
    "leave a comment",
    "leave a reply cancel reply",
    "cancel reply",
    "post comment",
    "your email address will not be published",
    "required fields are marked",
    "comment",
    "comments",
    "no comments",
    "no comments yet",
    "be the first to comment",
    "add comment",
    "join the discussion",
    "save my name email and website in this browser for the next time i comment",
    # reaction widgets ("What do you think?" on Newsy, Zombify and Boombox themes)
    "what do you think",
    "what s your reaction",
    "your reaction",
    # GIPHY comment plugin without an API key
    "giphy app key not set",
    "please check settings",
    # Jetpack sharing and likes
    "share this",
    "share",
    "share on facebook",
    "share on twitter",
    "like this",
    "like loading",
    "loading",
    "related",
    "related posts",
    "related articles",
    "you may also like",
    "more from",
    "read more",
    "continue reading",
    # post navigation
    "post navigation",
    "previous post",
    "next post",
    "previous article",
    "next article",
    # newsletter boxes
    "subscribe to our newsletter",
    "sign up for our newsletter",
    "subscribe",
    # cookie banners
    "we use cookies",
    "accept cookies",
    # advertising labels
    "advertisement",
    "sponsored",
)

# Bylines and author-box lines; group "name" is the author's name.
BYLINE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # "Written by Connor Livingston", "Posted by", "By Jane Doe"
    re.compile(
        r"^(?:(?:written|posted|published|authored|reported|words|story|article)\s+)?by[:\s]\s*"
        r"(?P<name>.+?)\s*$",
        re.IGNORECASE,
    ),
    # "Author: Jane Doe"
    re.compile(r"^(?:author|autor|auteur)\s*:\s*(?P<name>.+?)\s*$", re.IGNORECASE),
)

# Author-box lines that are no byline but never article text: "Avatar of X", "Photo of X".
AVATAR_PATTERN = re.compile(
    r"^(?:avatar|gravatar|profile (?:photo|picture)) (?:of|for) .{2,60}$", re.I
)

# Bio lines: "... Find him on Twitter, Facebook, and Pinterest." (checked with an author name)
SOCIAL_PATTERN = re.compile(
    r"\b(?:find|follow|reach|contact|connect with)\s+(?:him|her|them|me|us)\s+(?:on|at|via)\s+"
    r"(?:twitter|x|facebook|linkedin|instagram|mastodon|bluesky|pinterest|github|threads)\b",
    re.IGNORECASE,
)

# Category/tag lines whose terms are missing, e.g. "In ," left by an empty category list.
EMPTY_TAXONOMY_PATTERN = re.compile(
    r"^(?:in|posted in|filed under|categories|category|tags|tagged|topics)?\s*[:,;|/·•\s]*$",
    re.IGNORECASE,
)

_NORMALISE_RE = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower-case the text and reduce punctuation and spacing to single spaces."""
    return _NORMALISE_RE.sub(" ", text.lower()).strip()


_PHRASES_RE = re.compile(
    r"^(?:(?:"
    + "|".join(
        re.escape(p) for p in sorted({normalise(p) for p in CLUTTER_PHRASES}, key=len, reverse=True)
    )
    + r")\s*)+$"
)


def is_clutter_phrase(text: str) -> bool:
    """Tell whether a paragraph consists only of known clutter phrases."""
    norm = normalise(text)
    return bool(norm) and len(norm) < 200 and _PHRASES_RE.match(norm) is not None


def is_empty_taxonomy(text: str) -> bool:
    """Tell whether a paragraph is a category or tag line with no terms ("In ,")."""
    return len(text) < 40 and EMPTY_TAXONOMY_PATTERN.match(text) is not None and text.strip() != ""


# Promo lines inside the body: a "see also" label and a colon, then the title of another
# story ("Lea también: ...", "READ MORE: ...", "Lesen Sie auch: ..."), on news sites in
# every language. Only short paragraphs that start with the label and a colon are dropped.
PROMO_LABELS: tuple[str, ...] = (
    # English
    "read more",
    "read also",
    "also read",
    "read next",
    "see also",
    "related",
    "related story",
    "related article",
    "recommended",
    "don t miss",
    "must read",
    "watch",
    "more",
    # Spanish and Portuguese
    "lea también",
    "lea tambien",
    "lea más",
    "lea",
    "vea también",
    "vea",
    "mira",
    "mire",
    "le puede interesar",
    "te puede interesar",
    "puede interesarte",
    "puedes ver",
    "leia também",
    "leia mais",
    "veja também",
    # German
    "lesen sie auch",
    "auch lesen",
    "lesen sie mehr",
    "mehr zum thema",
    "mehr dazu",
    "zum weiterlesen",
    "weiterlesen",
    "auch interessant",
    "das könnte sie auch interessieren",
    "schon gelesen",
    # French and Italian
    "à lire aussi",
    "a lire aussi",
    "lire aussi",
    "voir aussi",
    "leggi anche",
    # Polish
    "czytaj też",
    "czytaj także",
    "czytaj więcej",
)

_PROMO_RE = re.compile(
    r"^(?:"
    + "|".join(
        re.escape(p).replace(r"\ ", r"\W+") for p in sorted(PROMO_LABELS, key=len, reverse=True)
    )
    + r")\s*[:：|»>]"
)
# A promo line is at most this long; a longer paragraph is article text with a colon.
MAX_PROMO_CHARS = 250


def is_promo(text: str) -> bool:
    """Tell whether a paragraph is a "see also" promo: a known label, a colon, a title."""
    if len(text) > MAX_PROMO_CHARS:
        return False
    return _PROMO_RE.match(text.strip().lower().replace("’", " ").replace("'", " ")) is not None


# Headings that open a block of other stories; what follows them is not the article.
RELATED_HEADINGS: tuple[str, ...] = (
    "related",
    "related posts",
    "related articles",
    "related stories",
    "related content",
    "more stories",
    "more from",
    "more articles",
    "recommended",
    "recommended for you",
    "you may also like",
    "you might also like",
    "read next",
    "further reading",
    "other stories",
    "trending",
    "most popular",
    "most read",
    "notas relacionadas",
    "contenido relacionado",
    "artículos relacionados",
    "noticias relacionadas",
    "te puede interesar",
    "le puede interesar",
    "weitere themen",
    "mehr themen",
    "weitere beiträge",
    "weitere artikel",
    "ähnliche beiträge",
    "ähnliche artikel",
    "empfohlene beiträge",
    "das könnte sie auch interessieren",
    "das könnte dich auch interessieren",
    "lesen sie auch die folgenden beiträge",
    "auch interessant",
    "mehr zum thema",
    "à lire aussi",
    "sur le même sujet",
    "articles similaires",
    "leggi anche",
    "articoli correlati",
    "czytaj też",
    "leia também",
)
_RELATED_HEADINGS = frozenset(normalise(h) for h in RELATED_HEADINGS)


def is_related_heading(text: str) -> bool:
    """Tell whether a paragraph is a heading that opens a list of other stories."""
    return len(text) < 60 and normalise(text) in _RELATED_HEADINGS
