"""Tests for aggregator.extract: seed pages, clutter rules, metadata, charsets, robustness."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml.html import HtmlElement

from aggregator.extract import _parse, extract_article
from aggregator.extract.clutter import (
    is_call_to_action,
    is_clutter_phrase,
    is_credit,
    is_date_line,
    is_empty_taxonomy,
    is_promo,
    is_related_heading,
    is_related_heading_shape,
)
from aggregator.extract.decode import decode_html
from aggregator.items import Article

SEED = Path(__file__).parent / "sites" / "seed"
SEED_URL = (
    "https://techfragments.example/2014/09/01/microsoft-continuing-fight-warrants-overseas-data/"
)
SEED_TITLE = "Microsoft is continuing its fight against warrants overseas data"
PARA1 = (
    "A US judge on Friday lifted a suspension on her order directing Microsoft to turn over a"
    " customer’s emails stored overseas to US prosecutors, but the software company said it would"
    " not release any emails while it appeals the ruling. Chief Judge Loretta Preska of the US"
    " District Court in Manhattan had on July 31 upheld a magistrate judge’s ruling on the emails,"
    " which have been held in a data center in Ireland. That prospect had drawn concern from"
    " technology companies – fearful of losing revenue from foreign customers worried that US law"
    " enforcement might win broad power to seize their data."
)
PARA2 = (
    "A search warrant commanding Microsoft to turn over certain customer email data that is"
    " currently stored overseas was unfrozen late this week. The company declined to comply. In a"
    " statement, Microsoft said that it “will not be turning over the email and plans to appeal.”"
    " This protest act by Microsoft, arguing that domestic warrants should not be able to command"
    " access to data stored abroad, has picked up support from other technology companies. Profits"
    " are at risk. Modern technology companies vend cloud-based services to a global user base —"
    " if any one country can use domestic warrants to command access to the data of all companies"
    " that are headquartered within its borders, regardless of where the information in question"
    " is physically stored, no company can protect the data of users who hail from other countries"
    " from its own government. That would harm the company’s ability to sell services to those"
    " potential international customers. More to the point, why a United States search warrant"
    " would apply to a datacenter in Ireland holding data of a person that may not be a United"
    " States citizen is somewhat suspect."
)
SEED_CLUTTER = (
    "In ,",
    "What do you think?",
    "Avatar of Connor Livingston",
    "Written by Connor Livingston",
    "is a tech blogger",
    "Find him on Twitter",
    "Leave a Reply",
    "Your email address will not be published",
    "Required fields are marked",
    "GIPHY App Key not set",
    "The FCC’s next CTO is an expert on net neutrality",
    "The Galaxy Note 4 has been spotted on Samsung’s website",
    "Share this",
    "Subscribe to our newsletter",
    "cookies",
    "Recent Posts",
)

BODY = (
    "<p>Rust 1.80 ships lazy cells in the standard library, which replaces a crate that almost"
    " every large project pulled in. The release also stabilises exclusive ranges in patterns.</p>"
    "<p>Upgrading is a matter of running rustup update. Projects that pinned once_cell can drop the"
    " dependency once their minimum supported version reaches the new release.</p>"
)


def page(head: str = "", body: str = BODY, lang: str = "en") -> str:
    """A minimal article page with the given head and article body."""
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{head}</head>'
        f"<body><header><a href='/'>Home</a></header><main><article><h1>Rust 1.80 is out</h1>"
        f"{body}</article></main><footer>© Example</footer></body></html>"
    )


def ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


# --- the seed pages: the acceptance test --------------------------------------------------------


@pytest.mark.parametrize("name", ["wordpress.html", "bare.html"])
@pytest.mark.parametrize("url", [SEED_URL, None])
def test_seed_page_gives_exactly_the_two_body_paragraphs(name: str, url: str | None) -> None:
    article = extract_article((SEED / name).read_bytes(), url=url)
    assert article is not None
    assert article.text == PARA1 + "\n\n" + PARA2
    assert article.authors == ["Connor Livingston"]
    assert article.title == SEED_TITLE


@pytest.mark.parametrize("name", ["wordpress.html", "bare.html"])
def test_seed_page_golden_must_not_contain(name: str) -> None:
    article = extract_article((SEED / name).read_text(encoding="utf-8"), url=SEED_URL)
    assert article is not None
    for must_contain in ("Loretta Preska", "somewhat suspect.", "plans to appeal.”"):
        assert must_contain in article.text
    for clutter in SEED_CLUTTER:
        assert clutter not in article.text, clutter
    assert not article.text.startswith(SEED_TITLE)


def test_wordpress_seed_metadata() -> None:
    article = extract_article((SEED / "wordpress.html").read_bytes(), url=SEED_URL)
    assert article is not None
    assert article.published == datetime(2014, 9, 1, 14, 32, 10, tzinfo=UTC)
    assert article.modified == datetime(2014, 9, 2, 8, 0, tzinfo=UTC)
    assert article.site_name == "Techfragments"
    assert article.language == "en"
    assert article.canonical_url == SEED_URL
    assert article.image_url is not None
    assert article.image_url.endswith("microsoft-building.jpg")


def test_bare_seed_date_from_url_and_title_without_site() -> None:
    article = extract_article((SEED / "bare.html").read_bytes(), url=SEED_URL)
    assert article is not None
    assert article.published == datetime(2014, 9, 1, tzinfo=UTC)
    assert article.canonical_url == SEED_URL


# --- clutter after extraction -------------------------------------------------------------------


def test_sentence_containing_clutter_words_is_kept() -> None:
    sentence = (
        "Readers who leave a reply under the announcement will be asked what do you think of the"
        " new release, and the team says it reads every one of them."
    )
    article = extract_article(page(body=BODY + f"<p>{sentence}</p><p>Leave a Reply</p>"))
    assert article is not None
    assert sentence in article.text
    assert "\n\nLeave a Reply" not in article.text


@pytest.mark.parametrize(
    "text",
    [
        "Leave a Reply",
        "Leave a Reply Cancel reply",
        "What do you think?",
        "Your email address will not be published. Required fields are marked *",
        "GIPHY App Key not set. Please check settings",
        "Share this:",
        "Like this:",
        "Related",
        "Post navigation",
        "Subscribe to our newsletter",
    ],
)
def test_clutter_phrases(text: str) -> None:
    assert is_clutter_phrase(text)


@pytest.mark.parametrize(
    "text",
    [
        "We asked readers what do you think about the change, and most of them liked it.",
        "Leave a reply is the label WordPress prints above its comment form by default.",
        "Related work on garbage collectors is summarised in the second section.",
    ],
)
def test_sentences_are_not_clutter_phrases(text: str) -> None:
    assert not is_clutter_phrase(text)


def test_empty_taxonomy_line() -> None:
    assert is_empty_taxonomy("In ,")
    assert is_empty_taxonomy("Filed under: ,")
    assert not is_empty_taxonomy("In 2014, Microsoft lost.")


def test_byline_in_text_gives_author_and_is_dropped() -> None:
    html = page(body="<p>By Jane Doe</p>" + BODY)
    article = extract_article(html)
    assert article is not None
    assert article.authors == ["Jane Doe"]
    assert "By Jane Doe" not in article.text


def test_trailing_titles_of_other_posts_are_dropped_but_not_sentences() -> None:
    nav = (
        "<p><a href='/2024/07/01/go-1-23/'>Go 1.23 adds range over functions</a></p>"
        "<p><a href='/2024/07/02/python-3-13/'>Python 3.13 gets a free-threaded build</a></p>"
    )
    article = extract_article(page(body=BODY + nav), url="https://blog.example/2024/07/25/rust/")
    assert article is not None
    assert "Go 1.23" not in article.text
    assert "Python 3.13" not in article.text
    assert article.text.endswith("reaches the new release.")


def test_trailing_short_line_that_is_not_a_link_is_kept() -> None:
    body = BODY + "<p>Update: the release notes have moved to the new site</p>"
    article = extract_article(page(body=body), url="https://blog.example/2024/07/25/rust/")
    assert article is not None
    assert article.text.endswith("the release notes have moved to the new site")


def test_headline_is_not_the_first_line() -> None:
    article = extract_article(page(body="<p>Rust 1.80 is out</p>" + BODY))
    assert article is not None
    assert article.title == "Rust 1.80 is out"
    assert not article.text.startswith("Rust 1.80 is out")


def test_paragraphs_are_separated_by_one_blank_line_and_whitespace_collapsed() -> None:
    body = "<p>First   paragraph\n with   spaces, long enough to count as a sentence.</p>" + BODY
    article = extract_article(page(body=body))
    assert article is not None
    assert article.text.startswith("First paragraph with spaces, long enough")
    assert "\n\n\n" not in article.text
    assert all(p.strip() == p and p for p in article.text.split("\n\n"))


def test_clutter_removed_by_selector() -> None:
    body = (
        BODY
        + "<div class='sharedaddy'><h3>Share on Mastodon now</h3></div>"
        + "<div class='saboxplugin-wrap'><p>Jane writes about compilers for a living.</p></div>"
        + "<div id='respond'><p>Comment policy: be kind to each other in here.</p></div>"
    )
    article = extract_article(page(body=body))
    assert article is not None
    for clutter in ("Mastodon", "compilers for a living", "Comment policy"):
        assert clutter not in article.text


# --- metadata -----------------------------------------------------------------------------------


def test_json_ld_graph_with_author_list_and_references() -> None:
    data = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Ferris Weekly"},
            {"@type": "Person", "@id": "#jane", "name": "Jane Doe"},
            {
                "@type": ["BlogPosting"],
                "headline": "Rust 1.80 is out",
                "author": [{"@id": "#jane"}, {"@type": "Person", "name": "John Roe"}, "Ann Lee"],
                "datePublished": "2024-07-25T09:30:00+02:00",
                "dateModified": "2024-07-26T10:00:00",
                "image": {"@type": "ImageObject", "url": "/img/rust.png"},
                "keywords": "rust, releases",
                "inLanguage": "en-GB",
            },
        ],
    }
    article = extract_article(page(head=ld(data)), url="https://ferris.example/rust-1-80/")
    assert article is not None
    assert article.authors == ["Jane Doe", "John Roe", "Ann Lee"]
    assert article.title == "Rust 1.80 is out"
    assert article.published == datetime(2024, 7, 25, 7, 30, tzinfo=UTC)
    assert article.modified == datetime(2024, 7, 26, 10, 0, tzinfo=UTC)
    assert article.image_url == "https://ferris.example/img/rust.png"
    assert article.tags == ["rust", "releases"]
    assert article.site_name == "Ferris Weekly"


@pytest.mark.parametrize(
    "kind", ["NewsArticle", "ReportageNews", "ReportageNewsArticle", "Article"]
)
def test_json_ld_article_types_and_string_author(kind: str) -> None:
    data = {"@type": kind, "headline": "Rust 1.80 is out", "author": "Jane Doe"}
    article = extract_article(page(head=ld(data)))
    assert article is not None
    assert article.authors == ["Jane Doe"]


def test_opengraph_and_meta_fallbacks() -> None:
    head = (
        "<title>Rust 1.80 is out | Ferris Weekly</title>"
        '<meta property="og:site_name" content="Ferris Weekly">'
        '<meta property="og:image" content="https://cdn.example/rust.png">'
        '<meta property="og:url" content="https://ferris.example/rust-1-80/">'
        '<meta property="article:published_time" content="2024-07-25T09:30:00-05:00">'
        '<meta property="article:modified_time" content="2024-07-25 18:00:00">'
        '<meta property="article:tag" content="Rust">'
        '<meta property="article:tag" content="Releases">'
        '<meta property="article:author" content="https://facebook.com/janedoe">'
        '<meta name="author" content="Jane Doe">'
        '<meta name="description" content="Lazy cells land in std.">'
    )
    article = extract_article(page(head=head, lang="en-US"))
    assert article is not None
    assert article.title == "Rust 1.80 is out"
    assert article.authors == ["Jane Doe"]
    assert article.site_name == "Ferris Weekly"
    assert article.image_url == "https://cdn.example/rust.png"
    assert article.canonical_url == "https://ferris.example/rust-1-80/"
    assert article.published == datetime(2024, 7, 25, 14, 30, tzinfo=UTC)
    assert article.modified == datetime(2024, 7, 25, 18, 0, tzinfo=UTC)
    assert article.tags == ["Rust", "Releases"]
    assert article.language == "en"
    assert article.description == "Lazy cells land in std."


def test_rel_author_time_element_and_canonical_link() -> None:
    body = (
        '<p class="meta"><a rel="author" href="/u/jane">Jane Doe</a>'
        ' <time datetime="2024-07-25T09:30:00Z">July 25</time></p>' + BODY
    )
    head = '<link rel="canonical" href="/rust-1-80/">'
    article = extract_article(page(head=head, body=body), url="https://ferris.example/x?utm=1")
    assert article is not None
    assert article.authors == ["Jane Doe"]
    assert article.published == datetime(2024, 7, 25, 9, 30, tzinfo=UTC)
    assert article.canonical_url == "https://ferris.example/rust-1-80/"


# --- charsets -----------------------------------------------------------------------------------

ACCENTED = "Café crème: naïve résumé — “quoted” text"


def accented_page(charset_meta: str = "") -> str:
    body = f"<p>{ACCENTED}. {BODY[3:]}"
    return page(head=charset_meta, body=body).replace('<meta charset="utf-8">', "")


def test_windows_1252_bytes_with_header_charset() -> None:
    data = accented_page().encode("windows-1252")
    article = extract_article(data, content_type="text/html; charset=ISO-8859-1")
    assert article is not None
    assert ACCENTED in article.text


def test_windows_1252_bytes_with_meta_charset() -> None:
    data = accented_page('<meta charset="windows-1252">').encode("windows-1252")
    article = extract_article(data)
    assert article is not None
    assert ACCENTED in article.text


def test_http_equiv_charset() -> None:
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    assert ACCENTED in decode_html(accented_page(meta).encode("windows-1252"))


def test_shift_jis_with_meta_charset() -> None:
    japanese = "新しいリリースでは、標準ライブラリに遅延セルが追加されました。"
    html = page(head='<meta charset="Shift_JIS">', body=f"<p>{japanese * 4}</p>{BODY}", lang="ja")
    data = html.replace('<meta charset="utf-8">', "").encode("shift_jis", "xmlcharrefreplace")
    article = extract_article(data)
    assert article is not None
    assert japanese in article.text
    assert article.language == "ja"


def test_utf16_with_bom() -> None:
    data = "\ufeff".encode("utf-16-le") + accented_page().encode("utf-16-le")
    article = extract_article(data, content_type="text/html; charset=utf-8")
    assert article is not None
    assert ACCENTED in article.text


def test_undeclared_utf8_and_wrong_header() -> None:
    data = accented_page().encode("utf-8")
    assert ACCENTED in decode_html(data)
    assert ACCENTED in decode_html(data, "text/html; charset=bogus-charset")


def test_xml_declaration_in_text_input() -> None:
    html = '<?xml version="1.0" encoding="utf-8"?>' + page()
    assert extract_article(html) is not None


# --- pages without an article -------------------------------------------------------------------


def test_listing_page_is_none() -> None:
    posts = "".join(
        f"<article><h2><a href='/post-{i}/'>Post number {i} about compilers</a></h2>"
        f"<p>A short teaser of post {i} that describes what the post is about…</p>"
        f"<a href='/post-{i}/'>Read more</a></article>"
        for i in range(8)
    )
    html = f"<html><head><title>Blog</title></head><body><main>{posts}</main></body></html>"
    assert extract_article(html, url="https://blog.example/") is None


def test_collection_page_json_ld_is_none() -> None:
    assert extract_article(page(head=ld({"@type": "CollectionPage", "name": "Archive"}))) is None


@pytest.mark.parametrize(
    "html",
    [
        "",
        b"",
        "   ",
        b"\x00\x01\x02\xff\xfe\x00garbage\x89PNG\r\n",
        bytes(range(256)) * 40,
        "<script>document.write('hello world, this is all there is');</script>",
        "<html><head><script>var x = 1;</script></head><body><script>run()</script></body></html>",
        "<html><body><p>Too short.</p></body></html>",
        "just some plain words",
        "<html><body>" + "<div>" * 10_000 + "</body></html>",
    ],
)
def test_no_article_is_none(html: str | bytes) -> None:
    assert extract_article(html) is None


def test_wrong_input_type_is_none() -> None:
    assert extract_article(None) is None  # type: ignore[arg-type]


def test_huge_page_still_yields_its_article() -> None:
    # Its speed is measured by `make bench-extract`, not here
    filler = "<div><a href='/tag/x'>tag</a> filler text of the sidebar</div>\n" * 160_000
    html = page(body=BODY + filler)
    assert len(html) > 10_000_000
    result = extract_article(html.encode("utf-8"))
    assert result is None or isinstance(result, Article)


def test_huge_script_before_article_is_skipped() -> None:
    head = "<script>" + "var x = 1;\n" * 1_000_000 + "</script>"
    article = extract_article(page(head=head))
    assert article is not None
    assert "lazy cells" in article.text


def test_deep_nesting_does_not_raise() -> None:
    html = "<html><body>" + "<div>" * 10_000 + BODY + "</div>" * 10_000 + "</body></html>"
    result = extract_article(html)
    assert result is None or isinstance(result, Article)


# --- property: never raises ---------------------------------------------------------------------

_TAGS = st.sampled_from(
    ["p", "div", "article", "h1", "script", "time", "a", "meta", "title", "span", "li", "ul"]
)
_FRAGMENT = st.one_of(
    st.text(max_size=80),
    _TAGS.map(lambda t: f"<{t}>"),
    _TAGS.map(lambda t: f"</{t}>"),
    st.just('<meta property="article:published_time" content="2024-99-99">'),
    st.just('<script type="application/ld+json">{"@type":"Article","author":[null,{}]}</script>'),
    st.just("<p>By Jane Doe</p>"),
    st.just("<p>Leave a Reply</p>"),
    st.just(BODY),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENT, max_size=30), st.sampled_from(["text", "bytes"]))
def test_random_html_never_raises(fragments: list[str], kind: str) -> None:
    html = "".join(fragments)
    data: str | bytes = html.encode("utf-8", "surrogatepass") if kind == "bytes" else html
    result = extract_article(data, url="https://x.example/2024/01/02/p/")
    assert result is None or isinstance(result, Article)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from([None, "text/html; charset=shift_jis", "x"]))
def test_random_bytes_never_raise(data: bytes, content_type: str | None) -> None:
    result = extract_article(data, content_type=content_type)
    assert result is None or isinstance(result, Article)


def test_commenter_bylines_are_not_the_author() -> None:
    comments = (
        "<div id='comments'><ol class='comment-list'><li class='comment'>"
        "<p>Posted by Troll Person</p><p>First comment, nice article about the release.</p>"
        "</li></ol></div>"
    )
    html = page(body=BODY + comments).replace("<body>", "<body class='single comments-open'>")
    html = html.replace("<h1>", "<p>By Jane Doe</p><h1>")
    article = extract_article(html)
    assert article is not None
    assert article.authors == ["Jane Doe"]
    assert "Troll" not in article.text


# --- body rules added for the benchmark (issue 3) -------------------------------------------


def test_related_cards_marked_up_as_articles_do_not_hide_the_post() -> None:
    cards = "".join(
        f"<article class='card'><h3><a href='/other-{i}/'>Another story {i}</a></h3>"
        f"<p>Teaser text of another story number {i}, shown under the post.</p></article>"
        for i in range(4)
    )
    html = page(body=BODY + "</article><aside><h2>More</h2>" + cards + "</aside><article>")
    article = extract_article(html, url="https://news.example/rust-1-80/")
    assert article is not None
    assert "lazy cells" in article.text and "rustup update" in article.text


def test_soft_hyphens_and_zero_widths_go_and_text_is_nfc() -> None:
    body = (
        "<p>Die Win\u00adzer aus St. Mag\u00adda\u00adle\u00adna schlos\u200bsen sich 1927 zu einer"
        " Schutz\u00adgemeinschaft zusammen und definierten so das Kerngebiet des Weins.</p>"
        "<p>Cafe\u0301 und Wein: das Anbaugebiet liegt an den sonnigen Hängen oberhalb Bozens,"
        " wo die Sorte seit dem Mittelalter wächst.</p>"
    )
    article = extract_article(page(body=body, lang="de"))
    assert article is not None
    assert "Winzer aus St. Magdalena schlossen" in article.text
    assert "Schutzgemeinschaft" in article.text
    assert "Caf\u00e9 und Wein" in article.text
    assert "\u00ad" not in article.text and "\u200b" not in article.text


def test_control_characters_in_the_page_do_not_lose_the_body() -> None:
    body = BODY.replace("lazy cells", "lazy\x0b cells").replace("rustup", "rust\x08up")
    article = extract_article(page(body=body))
    assert article is not None
    assert "lazy cells in the standard library" in article.text
    assert "running rustup update" in article.text


def test_post_inside_noscript_is_kept() -> None:
    html = (
        "<html><head><title>Security news</title></head><body><div class='post'>"
        "<h1>Safer browsing</h1><div class='post-body'><noscript>" + BODY + "</noscript></div>"
        "</div></body></html>"
    )
    article = extract_article(html)
    assert article is not None
    assert "lazy cells" in article.text


def test_closing_guillemets_and_german_quotes_end_sentences() -> None:
    body = "<p>„Ich weiß, ich sollte das vielleicht nicht sagen…“</p><p>– „Dann sag es nicht.“</p>"
    body += "<p>– „Ok.“</p>"
    article = extract_article(page(body=body, lang="de"))
    assert article is not None
    assert "„Dann sag es nicht.“" in article.text


@pytest.mark.parametrize(
    "text",
    [
        "Lea también: Impiden ingreso a Nicaragua a reportero",
        "READ MORE: Looted colonial art goes home",
        "VEA TAMBIÉN: Entre heces y guaricha",
        "Lesen Sie auch: Die Bahn streicht Verbindungen",
        "À lire aussi : la réforme des retraites",
        "DON’T MISS: The best deals of the week",
    ],
)
def test_promo_lines(text: str) -> None:
    assert is_promo(text)


@pytest.mark.parametrize(
    "text",
    [
        "Read more about the release in the changelog, which lists every stabilised API.",
        "More than 300 people attended: the hall was full by nine.",
        "Related work: " + "the compiler team measured the change on every crate. " * 6,
    ],
)
def test_sentences_are_not_promo_lines(text: str) -> None:
    assert not is_promo(text)


def test_promo_lines_inside_the_body_are_dropped() -> None:
    body = (
        BODY[: BODY.index("</p>") + 4]
        + "<p>Read also: Rust 1.79 brought inline const</p>"
        + BODY[BODY.index("</p>") + 4 :]
    )
    article = extract_article(page(body=body))
    assert article is not None
    assert "inline const" not in article.text
    assert "lazy cells" in article.text and "rustup update" in article.text


def test_related_stories_heading_ends_the_body() -> None:
    body = BODY + (
        "<h3>Related articles</h3>"
        "<p>Go 1.23 adds iterators to the language and the standard library</p>"
        "<p>Python 3.13 ships an experimental free-threaded build for testing</p>"
    )
    article = extract_article(page(body=body))
    assert article is not None
    assert "rustup update" in article.text
    assert "Related articles" not in article.text
    assert "Go 1.23" not in article.text and "Python 3.13" not in article.text
    assert is_related_heading("You may also like") and is_related_heading("NOTAS RELACIONADAS")
    assert not is_related_heading("Related work on lazy initialisation")


def test_a_box_of_related_links_late_in_the_body_does_not_end_it() -> None:
    later = (
        "Maintainers expect the next release to build on this work, and say the remaining"
        " pieces of the design will land over the coming months once the reviews are done, with"
        " a first preview for testers before the end of the year."
    )
    # the box comes after most of the text, where a "Related" heading usually ends the body
    body = (
        BODY
        + f"<p>{PARA1}</p><p>{PARA2}</p>"
        + (
            "<h3>Related articles</h3>"
            "<p>Go 1.23 adds iterators to the language and the standard library</p>"
            f"<p>{later}</p>"
        )
    )
    article = extract_article(page(body=body))
    assert article is not None
    assert "Related articles" not in article.text and later in article.text


def test_json_ld_article_body_with_markup_when_the_page_shows_too_little() -> None:
    text = (
        "<p>Rust 1.80 ships lazy cells in the standard library &amp; stabilises exclusive ranges"
        " in patterns.</p><p>Upgrading is a matter of running rustup update, and projects can"
        " drop the once_cell dependency once their minimum version reaches the release.</p>"
    )
    head = ld({"@type": "NewsArticle", "headline": "Rust 1.80 is out", "articleBody": text})
    article = extract_article(page(head=head, body="<p>Loading…</p>"))
    assert article is not None
    assert "standard library & stabilises" in article.text
    assert "<p>" not in article.text and "rustup update" in article.text


def test_a_home_page_of_teaser_cards_is_not_an_article() -> None:
    cards = "".join(
        f"<article class='teaser'><h2><a href='/news/story-{i}.html'>Story number {i} "
        f"about the release of version {i}</a></h2><p class='meta'>Jane Doe · 2 Nov</p>"
        f"<p>A short teaser of story {i}: the team shipped version {i} with faster builds "
        f"and a new plugin system.</p></article>"
        for i in range(6)
    )
    html = f"<html><head><title>News</title></head><body><main>{cards}</main></body></html>"
    assert extract_article(html, url="https://news.example/") is None


# --- Calls to action, disclosures, credits, date lines, related headings by shape ----------

CALLS_TO_ACTION = [
    # paywall and membership prompts
    "Subscribe now to our e-edition for the full story.",
    "To view the full story, please subscribe to The Daily Example.",
    "If you’re seeing this message but you’re already a subscriber, you can log in here.",
    "HAZTE MIEMBRO Y DISFRUTA DE BENEFICIOS EXCLUSIVOS",
    "Pour lire la suite et accéder à 3 articles par mois, créez votre compte",
    "If you enjoyed reading this post – would you consider supporting our work?",
    # newsletter sign-ups
    "Never miss the latest news by signing up to our newsletter today!",
    "Sign up for our weekly newsletter",
    "Zum Newsletter anmelden",
    # apps and social channels
    "For breaking news download the Example News apps for iOS and Android.",
    "Siguenos en Telegram, Instagram, Facebook y Twitter",
    "Follow The Example on Twitter @Example and on Facebook @ExampleNews.",
    # letters and feedback
    "We want to hear what you think about this article. Submit a letter to the editor.",
    "Sie sind aktuell nicht eingeloggt.",
    # reprint and copyright
    "© 2020 Example Corp. All Rights Reserved",
    "This article is the copyrighted property of Example News.",
    "Materiał chroniony prawem autorskim - zasady przedruków określa regulamin.",
    # disclosures
    "*Werbung. Dieser Beitrag enthält Werbung für eine Marke.",
    "Anzeige, enthält Affiliate Links",
    "This post contains references to products from one or more of our advertisers.",
    # blocked embeds and players
    "Klicken Sie auf den unteren Button, um den Inhalt von www.example.de zu laden.",
    "Video verfügbar bis 28.02.2021",
    # press contacts and "more information" lines
    "Pressesprecher*in Erika Mustermann",
    "Weitere Informationen zum Coronavirus in Thüringen:",
    "Weitere Infos unter www.example.de.",
    # category lines and comment counters
    "Kategorie: News",
    "News date : 04/21/2022 Category : Press Releases",
    "Keine Kommentare (Kommentare erscheinen erst nach unserer Freigabe)",
    "Kommentare insgesamt: 0",
]


@pytest.mark.parametrize("text", CALLS_TO_ACTION)
def test_calls_to_action(text: str) -> None:
    assert is_call_to_action(text)


@pytest.mark.parametrize(
    "text",
    [
        "Netflix said 2 million people subscribe each month, most of them for the full catalogue.",
        "The paper asked readers to sign up for a survey; the newsletter team ran it.",
        "Users can download the app for iOS and Android from today, the company said.",
        "She decided to follow the story on Twitter rather than in print.",
        "The label said all rights reserved by the estate would pass to the museum in 2030, "
        "a decision the family contested. " * 4,
        "Werbung im Fernsehen ist für viele Firmen zu teuer geworden.",
        "Anzeigen in Zeitungen bringen immer weniger Geld.",
        "Members who are already subscribers of the union get a discount.",
        "Weitere Informationen zum Verfahren will das Ministerium im Mai vorlegen.",
        "No comments were made by the minister after the vote.",
        "Die Kategorie: News ist für die Redaktion die wichtigste, sagt sie, weil sie am meisten "
        "gelesen wird.",
        "Der Pressesprecher des Ministeriums sagte, man prüfe den Fall.",
        "Pressesprecher Max Mustermann sagte, man prüfe den Fall.",
    ],
)
def test_sentences_are_not_calls_to_action(text: str) -> None:
    assert not is_call_to_action(text)


@pytest.mark.parametrize(
    "text",
    [
        "Foto: Jane Doe / dpa",
        "(Credit: Clayton Example / Grist)",
        "Titelbild: Geyres Christophe/ABACA/picture-alliance",
        "Crédits photos : Bestimage",
        "© Oli Scarff/Getty Images",
        "Quelle: Landesregierung Hessen",
        "Marco Odermatt, Ski-Star aus der Schweiz. © AFP / MARCO EXAMPLE",
        "Cristina Kirchner en el Congreso (Foto: Natacha Example/Pool via REUTERS).",
    ],
)
def test_credits(text: str) -> None:
    assert is_credit(text)


@pytest.mark.parametrize(
    "text",
    [
        "Photographers say the light in March is the best of the year.",
        "Bildung ist der Schlüssel: Das sagt die Ministerin seit Jahren.",
        "Quellen im Ministerium bestätigen den Bericht: Die Reform kommt 2025.",
        "Credit Suisse said: the merger closes in June.",
        "The image: a lone tree on a hill, which the photographer waited three days for. " * 2,
    ],
)
def test_sentences_are_not_credits(text: str) -> None:
    assert not is_credit(text)


@pytest.mark.parametrize(
    "text",
    [
        "23.10.2018",
        "Letzte Änderung 14.02.2019",
        "Aktualisiert am 17.01.2021.",
        "Last updated: March 3, 2022",
    ],
)
def test_date_lines(text: str) -> None:
    assert is_date_line(text)


@pytest.mark.parametrize(
    "text",
    ["Am 23.10.2018 trat das Gesetz in Kraft.", "Updated guidance was published in 2021."],
)
def test_sentences_are_not_date_lines(text: str) -> None:
    assert not is_date_line(text)


def test_related_heading_shapes() -> None:
    assert is_related_heading_shape("Weitere Beiträge aus der Kolumne:")
    assert is_related_heading_shape("Top-Themen bei FIT FOR FUN")
    assert is_related_heading_shape("More stories from our newsroom")
    assert not is_related_heading_shape("More stories were filed in 2021 than ever before.")
    assert not is_related_heading_shape("Weitere Tipps für den Garten")


@pytest.mark.parametrize(
    "line",
    [
        "Subscribe now to our e-edition for the full story.",
        "Never miss the latest news by signing up to our newsletter today!",
        "Siguenos en Telegram, Instagram, Facebook y Twitter",
        "Submit your letter to the editor via this form.",
        "© 2022 Example News. All rights reserved.",
        "*Werbung. Dieser Beitrag enthält Werbung für eine Marke.",
        "Foto: Jane Doe / dpa",
        "Letzte Änderung 14.02.2019",
        "Weitere Beiträge aus der Kolumne:",
        "Kontakt:",
        "Klicken Sie auf den unteren Button, um den Inhalt von www.example.de zu laden.",
        "Pressesprecher*in Erika Mustermann",
        "Kategorie: News",
        "(Alle Angaben ohne Gewähr)",
        "Lesen Sie hier: Spielabbruch in der Kreisliga",
    ],
)
def test_clutter_lines_inside_the_body_are_dropped(line: str) -> None:
    body = BODY[: BODY.index("</p>") + 4] + f"<p>{line}</p>" + BODY[BODY.index("</p>") + 4 :]
    article = extract_article(page(body=body))
    assert article is not None
    assert line not in article.text
    assert article.text.count("\n\n") == 1
    assert "lazy cells" in article.text and "rustup update" in article.text


def test_article_sentences_with_clutter_words_are_kept() -> None:
    sentence = (
        "Netflix said 2 million people subscribe each month, and the company will let users "
        "download the app for iOS and Android from today."
    )
    body = BODY + f"<p>{sentence}</p><p>Foto-Ausstellungen zeigen das Werk bis Mai, sagt sie.</p>"
    article = extract_article(page(body=body))
    assert article is not None
    assert sentence in article.text
    assert "Foto-Ausstellungen" in article.text


def test_post_whose_headline_links_elsewhere_is_not_a_teaser_card() -> None:
    # the post's own headline links to another URL (an old permalink) and short paragraphs
    # sit next to four linked cards: a card this long is the article, not a teaser
    long_body = "".join(
        f"<p>Paragraph {i} of the post explains one more detail of the release and how the "
        f"team measured it on real projects before shipping version {i}.</p>"
        for i in range(14)
    )
    cards = "".join(
        f"<div><h3><a href='/other-{i}/'>Another story {i}</a></h3></div>" for i in range(4)
    )
    html = (
        "<html><head><title>Rust 1.80 is out</title></head><body><main><div>"
        "<h1><a href='/2024/07/rust-1-80/'>Rust 1.80 is out</a></h1>"
        f"{long_body}</div><div>{cards}</div></main></body></html>"
    )
    article = extract_article(html, url="https://news.example/rust-1-80/")
    assert article is not None
    assert "Paragraph 0 of the post" in article.text and "Paragraph 13" in article.text


def test_trafilatura_fallbacks_run_only_when_its_fast_extraction_misses_the_prose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import aggregator.extract as extract_module

    calls: list[bool] = []
    real = extract_module.trafilatura.bare_extraction

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(bool(kwargs["fast"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(extract_module.trafilatura, "bare_extraction", counted)
    # a page of ordinary size whose prose trafilatura's fast extraction finds: one fast run
    filler = "".join(f"<li><a href='/tag/{n}/'>Tag {n}</a></li>" for n in range(30))
    body = BODY + f"<p>{PARA1}</p><p>{PARA2}</p>"
    html = page(body=body).replace("<footer>", f"<div class='tags'><ul>{filler}</ul></div><footer>")
    assert extract_article(html, "https://example.com/2026/rust-1-80/") is not None
    assert calls == [True]
    # a page whose features are unknown (too small to judge) gets the full extraction too
    calls.clear()
    assert extract_article(page(), "https://example.com/2026/rust-1-80/") is not None
    assert calls == [True, False]


def test_a_listing_whose_cards_are_wrapped_in_their_links_is_no_article() -> None:
    teaser = (
        "The maintainers explain what changed in this release and why it matters to the"
        " people who run it in production every day"
    )
    cards = "".join(
        f"<div class='card'><a href='/posts/story-{n}/'><h3>Story number {n} of the week</h3></a>"
        f"<p>{teaser}, part {n}</p></div>"
        for n in range(8)
    )
    html = (
        "<html><head><title>Latest stories</title></head><body><main><h1>Latest stories</h1>"
        f"{cards}</main></body></html>"
    )
    assert extract_article(html, "https://example.com/stories/") is None


def test_parsed_elements_are_plain_html_elements_with_their_methods() -> None:
    tree = _parse(b"<html><body><form><input name=q><label>Find</label></form></body></html>", None)
    assert tree is not None
    form = tree.find(".//form")
    # no per-element lookup in Python: forms and inputs are HtmlElement like the rest
    assert type(form) is HtmlElement and type(tree.find(".//input")) is HtmlElement
    assert form.text_content() == "Find" and tree.cssselect("input[name=q]")


def _news_page(lead_block: str) -> str:
    body = "".join(
        f"<p>Paragraph {i} of the report says what the council decided about the new bridge "
        f"and why the vote took so long this year.</p>"
        for i in range(6)
    )
    return (
        "<html><body><header><nav><a href='/'>Home</a></nav></header><main>"
        f"<div class='head'><h1>Council votes for the new bridge</h1>{lead_block}</div>"
        f"<div class='share'><a href='/s'>Share</a></div><article>{body}</article>"
        "</main><footer>Footer</footer></body></html>"
    )


def test_the_lead_between_headline_and_body_opens_the_text_once() -> None:
    lead = "The city council approved the bridge on Monday after a debate of seven hours."
    article = extract_article(
        _news_page(f"<div class='article-intro'><p>{lead}</p></div>"), "https://news.example/b"
    )
    assert article is not None
    assert article.text.startswith(lead) and article.text.count(lead) == 1
    assert "Paragraph 5 of the report" in article.text


def test_an_author_bio_named_like_a_lead_is_not_taken_as_the_lead() -> None:
    bio = "Anurag is an experienced journalist who has covered city politics for ten years."
    article = extract_article(
        _news_page(f"<div class='author-dek'>{bio}</div>"), "https://news.example/b"
    )
    assert article is not None and "experienced journalist" not in article.text
