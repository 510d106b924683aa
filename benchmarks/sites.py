"""Generated WordPress-like blogs for the crawl benchmark: posts with comments, sidebars and
share bars, an RSS feed, a Yoast-style sitemap, robots.txt and a source.toml per blog, written
as folders that aggregator.demo.server.SiteGroup serves."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path


def _words(text: str) -> tuple[str, ...]:
    """Return the comma-separated entries of a word list, whitespace collapsed."""
    return tuple(" ".join(word.split()) for word in text.split(",") if word.strip())


SITE_NAMES = _words(
    """
    byteforge, stackjournal, kernelcraft, cloudnotes, devdispatch, bitstream, opsweekly,
    codepress
    """
)
COMPANIES = _words(
    """
    Mozilla, Canonical, Red Hat, Fastly, Cloudflare, GitLab, JetBrains, Raspberry Pi, Framework,
    Valve, Nvidia, Arm, SUSE, Docker, Grafana Labs, Tailscale, Fly.io, Sentry, Oxide, System76,
    Igalia, Collabora, DigitalOcean, Hetzner
    """
)
TECHS = _words(
    """
    Rust, WebAssembly, eBPF, Kubernetes, PostgreSQL, SQLite, RISC-V, HTTP/3, QUIC, io_uring,
    Wayland, passkeys, OpenTelemetry, LLVM, Zig, WebGPU, TLS 1.3, ZFS, Btrfs, NixOS, systemd,
    Python 3.14, Go, Kotlin, SwiftUI, Vulkan, CHERI, DuckDB
    """
)
THINGS = _words(
    """
    build pipeline, memory allocator, query planner, package manager, container runtime, garbage
    collector, edge network, task scheduler, file system, browser engine, compiler backend,
    monitoring stack, CI fleet, storage layer, laptop mainboard, firmware updater, JIT compiler,
    database driver, load balancer, text editor, search index, image decoder, DNS resolver,
    payment service
    """
)
VERBS = _words(
    """
    rewrote, open-sourced, replaced, benchmarked, shipped, deprecated, audited, ported,
    profiled, redesigned, sped up, simplified
    """
)
ADJECTIVES = _words(
    """
    faster, smaller, safer, cheaper, simpler, more predictable, more reliable, easier to debug
    """
)
METRICS = _words(
    """
    p99 latency, cold-start time, memory use, build time, binary size, the error rate, power
    draw, cost per request, tail latency, throughput, time to first byte, crash reports
    """
)
PROBLEMS = _words(
    """
    convincing the on-call rotation to trust it, migrating ten years of data without downtime,
    keeping the old API working for existing customers, finding a test suite that reflected real
    traffic, explaining the change to the finance team, coordinating three release trains at
    once, undoing assumptions baked into the monitoring, training the support staff on the new
    failure modes
    """
)
CAUSES = _words(
    """
    removing a global lock that nobody remembered adding, batching small writes into larger
    ones, caching parsed configuration instead of reading it on every call, dropping an
    abstraction layer that cost more than it saved, switching to a bump allocator for
    short-lived objects, moving hot data closer to the CPU that used it, deleting code paths
    that had not run in years, turning retries with no backoff into retries with jitter
    """
)
MISSING = _words(
    """
    a stable ABI, mature debugging tools, a long-term support policy, good documentation for
    newcomers, support on older hardware, a clear governance model, reproducible builds
    """
)
AUDIENCES = _words(
    """
    small teams, embedded developers, hosting providers, regulated industries, hobbyists, large
    enterprises, students
    """
)
HARDWARE = _words(
    """
    eight-core server, Raspberry Pi 5, two-socket machine, laptop from 2019, cloud VM with four
    vCPUs, ARM development board
    """
)
UNITS = _words(
    """
    regions, data centres, services, clusters, teams, customers, releases
    """
)
FEATURES = _words(
    """
    incremental compilation, structured logging, zero-copy parsing, a plugin API,
    hardware-backed keys, live migration, per-tenant quotas, a read-only replica mode, async I/O
    throughout, a new configuration format, better error messages, signed release artifacts
    """
)
FIRST_NAMES = _words(
    """
    Ada, Ben, Chiara, Dmitri, Elena, Farid, Grace, Hiro, Ines, Jonas, Kemi, Lars, Maya, Nils,
    Olu, Priya, Quinn, Rosa, Sven, Tariq, Uma, Viktor, Wen, Yara
    """
)
LAST_NAMES = _words(
    """
    Okafor, Lindqvist, Moreau, Tanaka, Petrov, Haddad, Nakamura, Fischer, Alvarez, Kowalski,
    Mensah, O'Brien, Rossi, Svensson, Chen, Dubois, Ivanova, Patel
    """
)
ROLES = _words(
    """
    a staff engineer, the project lead, a long-time maintainer, the CTO, a security researcher,
    an SRE, the release manager, a developer advocate
    """
)
CATEGORIES = _words(
    """
    Engineering, Open Source, Security, Performance, Hardware, Databases, Cloud, Programming
    Languages, DevOps, Web
    """
)
SENTENCES = (
    "{company} {verb} its {thing} in {tech}, and {metric} fell by {pct}% in the first {n} weeks.",
    "According to {person}, {role} at {company}, the hardest part was {problem}.",
    "The team measured {metric} across {n} {units} before and after the change.",
    "“We expected {tech} to be {adj}, but not by this much,” {person} said.",
    "Critics point out that {tech} still lacks {missing}, which matters for {audience}.",
    "The {thing} now handles {big:,} requests per second on a single {hardware}.",
    "That is {adj} than the old design, but it also means {audience} have to relearn a few habits.",
    "Version {major}.{minor} adds {feature}, and {feature2} is planned for the next release.",
    "Most of the gains came from {cause}.",
    "In the {ordinal} quarter, {company} moved {pct}% of its {thing} traffic to {tech}.",
    "Nobody expected {tech} to matter here, yet it turned out to be the {thing} that mattered.",
    "The change landed in {n} pull requests reviewed by {m} people over {k} months.",
    "{person} is careful not to oversell it: {metric} is only one number among many.",
    "Several {units} reported that {metric} stayed flat, which the authors attribute to {cause}.",
    "For {audience}, the practical upshot is a {thing} that is {adj} and {adj2}.",
    "The write-up includes flame graphs, a reproducible benchmark and a list of dead ends.",
    "An earlier attempt with {tech2} was abandoned after {k} months because of {missing}.",
    "{company} says it will keep the old {thing} around until at least {year}.",
    "Early adopters at {company2} describe the upgrade as uneventful, which is the point.",
    "The numbers come with caveats: the test ran on a {hardware} with {n} GB of memory.",
)
HEADINGS = (
    "Why {tech} mattered",
    "What changed in the {thing}",
    "The numbers",
    "What comes next for {company}",
    "Lessons for other teams",
    "How the migration worked",
    "Where {tech} still falls short",
    "Measuring {metric}",
)
TITLES = (
    "How {company} {verb} its {thing} with {tech}",
    "{company} {verb} the {thing}: {metric} down {pct}%",
    "Inside {company}'s move to {tech} for its {thing}",
    "{tech} {major}.{minor} lands with {feature}",
    "Why {company} bet its {thing} on {tech}",
    "A {thing} that is {adj}: what {company} learned from {tech}",
    "{company} and {company2} team up on {tech} {thing}",
)
CONFIG_KEYS = ("workers", "timeout", "cache_size", "retries", "max_connections")
COMMENT_TEXTS = (
    "Great write-up, thanks for sharing the numbers.",
    "We tried something similar last year and hit exactly the same wall with {tech}.",
    "Would love to see the benchmark repeated on {hardware} hardware.",
    "Is the {thing} code available anywhere, or is this internal only?",
    "The part about {cause} is the real lesson here.",
    "I am sceptical: {metric} alone does not tell the whole story.",
    "Finally someone explains {tech} without the hype.",
)


@dataclass
class Post:
    """One generated blog post and where it lives on its site."""

    site: str
    number: int
    post_id: int
    title: str
    slug: str
    path: str
    author: str
    published: datetime
    category: str
    tags: list[str]
    blocks: list[str] = field(default_factory=list)
    summary: str = ""


@dataclass
class Site:
    """One generated blog: its name, authors and posts."""

    name: str
    title: str
    tagline: str
    authors: list[str]
    posts: list[Post]
    css: str


def _slugify(text: str) -> str:
    """Return a WordPress-style slug of a title."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:70].strip("-")


def _person(rng: random.Random) -> str:
    """Return a random full name."""
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _fill(template: str, rng: random.Random) -> str:
    """Fill a sentence template with random but plausible words and numbers."""
    company, company2 = rng.sample(COMPANIES, 2)
    tech, tech2 = rng.sample(TECHS, 2)
    adj, adj2 = rng.sample(ADJECTIVES, 2)
    feature, feature2 = rng.sample(FEATURES, 2)
    return template.format(
        company=company,
        company2=company2,
        tech=tech,
        tech2=tech2,
        verb=rng.choice(VERBS),
        thing=rng.choice(THINGS),
        metric=rng.choice(METRICS),
        pct=rng.randint(7, 83),
        n=rng.randint(2, 64),
        m=rng.randint(2, 19),
        k=rng.randint(2, 18),
        big=rng.randint(2, 900) * 1000 + rng.randint(0, 999),
        person=_person(rng),
        role=rng.choice(ROLES),
        problem=rng.choice(PROBLEMS),
        adj=adj,
        adj2=adj2,
        missing=rng.choice(MISSING),
        audience=rng.choice(AUDIENCES),
        hardware=rng.choice(HARDWARE),
        units=rng.choice(UNITS),
        major=rng.randint(1, 9),
        minor=rng.randint(0, 30),
        feature=feature,
        feature2=feature2,
        cause=rng.choice(CAUSES),
        ordinal=rng.choice(("first", "second", "third", "fourth")),
        year=rng.randint(2027, 2031),
    )


def _paragraph(rng: random.Random) -> str:
    """Return a paragraph of three to seven generated sentences."""
    sentences = [_fill(rng.choice(SENTENCES), rng) for _ in range(rng.randint(3, 7))]
    return " ".join(sentences)


def _body_blocks(rng: random.Random) -> list[str]:
    """Return the HTML blocks of a post body: paragraphs, headings, a list, a quote, code."""
    blocks: list[str] = []
    for index in range(rng.randint(9, 20)):
        if index and index % rng.randint(3, 5) == 0:
            blocks.append(
                f'<h2 class="wp-block-heading">{escape(_fill(rng.choice(HEADINGS), rng))}</h2>'
            )
        blocks.append(f"<p>{escape(_paragraph(rng))}</p>")
        if index == 4 and rng.random() < 0.7:
            items = "".join(
                f"<li>{escape(f)}</li>" for f in rng.sample(FEATURES, rng.randint(3, 6))
            )
            blocks.append(f'<ul class="wp-block-list">{items}</ul>')
        if index == 6 and rng.random() < 0.5:
            quote = escape(_fill(SENTENCES[3], rng))
            blocks.append(
                f'<blockquote class="wp-block-quote"><p>{quote}</p>'
                f"<cite>{escape(_person(rng))}</cite></blockquote>"
            )
        if index == 7 and rng.random() < 0.4:
            lines = "\n".join(
                f"{rng.choice(CONFIG_KEYS)} = {rng.randint(1, 512)}"
                for _ in range(rng.randint(3, 8))
            )
            blocks.append(f'<pre class="wp-block-code"><code>{escape(lines)}</code></pre>')
    return blocks


def _site_css(rng: random.Random) -> str:
    """Return a theme's inline global styles, as WordPress block themes print them."""
    names = ("button", "group", "columns", "cover", "image", "gallery", "navigation", "quote")
    rules = [
        f".wp-block-{rng.choice(names)}.is-style-{i}{{margin:0 0 {rng.randint(4, 48)}px;"
        f"color:#{rng.randrange(16**6):06x};font-size:{rng.randint(12, 32)}px}}"
        for i in range(110)
    ]
    variables = "".join(
        f"--wp--preset--color--c{i}:#{rng.randrange(16**6):06x};" for i in range(40)
    )
    return f"body{{{variables}}}" + "".join(rules)


def _make_site(name: str, posts: int, seed: int) -> Site:
    """Generate one site's posts (metadata and body blocks)."""
    rng = random.Random(f"{seed}-{name}")
    authors = [_person(rng) for _ in range(rng.randint(4, 7))]
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC) - timedelta(minutes=rng.randint(0, 600))
    made: list[Post] = []
    slugs: set[str] = set()
    for number in range(posts):
        title = _fill(rng.choice(TITLES), rng)
        slug = _slugify(title)
        while slug in slugs:
            slug = f"{slug}-{rng.randint(2, 99)}"
        slugs.add(slug)
        published = start - timedelta(hours=number * 5, minutes=rng.randint(0, 240))
        blocks = _body_blocks(rng)
        first = re.sub(r"<[^>]+>", "", blocks[0] if blocks[0].startswith("<p>") else blocks[1])
        made.append(
            Post(
                site=name,
                number=number,
                post_id=1000 + number * 7 + rng.randint(0, 6),
                title=title,
                slug=slug,
                path=f"/{published:%Y/%m/%d}/{slug}/",
                author=rng.choice(authors),
                published=published,
                category=rng.choice(CATEGORIES),
                tags=rng.sample(TECHS, rng.randint(2, 5)),
                blocks=blocks,
                summary=first[:280].rsplit(" ", 1)[0] + " [&#8230;]",
            )
        )
    return Site(
        name=name,
        title=name.capitalize(),
        tagline=f"{rng.choice(ADJECTIVES).capitalize()} notes on {rng.choice(TECHS)} and friends",
        authors=authors,
        posts=made,
        css=_site_css(rng),
    )


def _link_list(site: Site, posts: Sequence[Post]) -> str:
    """Return <li> links to these posts."""
    return "".join(f'<li><a href="{{{{BASE}}}}{p.path}">{escape(p.title)}</a></li>' for p in posts)


def _nav(site: Site) -> str:
    """Return the theme's mega menu: every category with a few sub-links."""
    items = []
    for category in CATEGORIES:
        slug = _slugify(category)
        subs = "".join(
            f'<li class="menu-item"><a href="{{{{BASE}}}}/tag/{_slugify(t)}/">{escape(t)}</a></li>'
            for t in TECHS[len(slug) % 7 :: 5]
        )
        items.append(
            f'<li class="menu-item menu-item-has-children"><a href="{{{{BASE}}}}/category/{slug}/">'
            f'{escape(category)}</a><ul class="sub-menu">{subs}</ul></li>'
        )
    return (
        '<nav id="site-navigation" class="main-navigation"><button class="menu-toggle" '
        'aria-controls="primary-menu" aria-expanded="false">Menu</button>'
        f'<ul id="primary-menu" class="menu">{"".join(items)}</ul></nav>'
    )


def _comments(post: Post, rng: random.Random) -> str:
    """Return the comment list (a few readers' comments) and the WordPress comment form."""
    comments = []
    for number in range(rng.randint(0, 9)):
        name = _person(rng)
        when = post.published + timedelta(hours=rng.randint(1, 90))
        text = escape(_fill(rng.choice(COMMENT_TEXTS), rng))
        comments.append(
            f'<li id="comment-{post.post_id}{number}" class="comment even thread-even depth-1">'
            f'<article class="comment-body"><footer class="comment-meta">'
            f'<div class="comment-author vcard"><img alt="" '
            f'src="https://secure.gravatar.com/avatar/{rng.randrange(10**8)}?s=56&amp;d=mm" '
            f'class="avatar avatar-56 photo" height="56" width="56" loading="lazy">'
            f'<b class="fn">{escape(name)}</b> <span class="says">says:</span></div>'
            f'<div class="comment-metadata"><a href="{{{{BASE}}}}{post.path}#comment-{number}">'
            f'<time datetime="{when.isoformat()}">{when:%B %d, %Y at %H:%M}</time></a></div>'
            f'</footer><div class="comment-content"><p>{text}</p></div><div class="reply">'
            f'<a rel="nofollow" class="comment-reply-link" href="{{{{BASE}}}}{post.path}'
            f'?replytocom={number}#respond">Reply</a></div></article></li>'
        )
    listing = (
        f'<h2 class="comments-title">{len(comments)} thoughts on “{escape(post.title)}”</h2>'
        f'<ol class="comment-list">{"".join(comments)}</ol>'
        if comments
        else ""
    )
    return f"""<div id="comments" class="comments-area">{listing}
<div id="respond" class="comment-respond">
<h3 id="reply-title" class="comment-reply-title">Leave a Reply</h3>
<form action="{{{{BASE}}}}/wp-comments-post.php" method="post" id="commentform" class="comment-form"
novalidate>
<p class="comment-notes"><span id="email-notes">Your email address will not be published.</span>
<span class="required-field-message">Required fields are marked <span
class="required">*</span></span></p>
<p class="comment-form-comment"><label for="comment">Comment <span class="required">*</span></label>
<textarea id="comment" name="comment" cols="45" rows="8" maxlength="65525" required></textarea></p>
<p class="comment-form-author"><label for="author">Name <span class="required">*</span></label>
<input id="author" name="author" type="text" value="" size="30" maxlength="245" autocomplete="name"
required></p>
<p class="comment-form-email"><label for="email">Email <span class="required">*</span></label>
<input id="email" name="email" type="email" value="" size="30" maxlength="100" autocomplete="email"
required></p>
<p class="comment-form-url"><label for="url">Website</label> <input id="url" name="url" type="url"
value="" size="30" maxlength="200" autocomplete="url"></p>
<p class="comment-form-cookies-consent"><input id="wp-comment-cookies-consent"
name="wp-comment-cookies-consent" type="checkbox" value="yes"> <label
for="wp-comment-cookies-consent">Save my name, email, and website in this browser for the next time
I comment.</label></p>
<p class="form-submit"><input name="submit" type="submit" id="submit" class="submit"
value="Post Comment"> <input type="hidden" name="comment_post_ID" value="{post.post_id}"
id="comment_post_ID"></p>
</form></div></div>"""


def _share_bar(post: Post, where: str) -> str:
    """Return a share bar with the usual networks."""
    links = "".join(
        f'<li><a class="share-{net}" href="{{{{BASE}}}}{post.path}?share={net}" target="_blank" '
        f'rel="nofollow noopener">{net.capitalize()}</a></li>'
        for net in ("twitter", "facebook", "linkedin", "reddit", "mastodon", "email")
    )
    return (
        f'<div class="share-bar share-{where}"><span class="share-label">Share</span>'
        f"<ul>{links}</ul></div>"
    )


def _sidebar(site: Site, post: Post, rng: random.Random) -> str:
    """Return the widget area: search, recent and popular posts, categories, tags, archives."""
    recent = site.posts[:10]
    popular = rng.sample(site.posts, min(6, len(site.posts)))
    categories = "".join(
        f'<li class="cat-item"><a href="{{{{BASE}}}}/category/{_slugify(c)}/">{escape(c)}</a> '
        f"({rng.randint(3, 240)})</li>"
        for c in CATEGORIES
    )
    tags = " ".join(
        f'<a href="{{{{BASE}}}}/tag/{_slugify(t)}/" class="tag-cloud-link" '
        f'style="font-size: {rng.randint(8, 22)}pt;" aria-label="{escape(t)} '
        f'({rng.randint(1, 90)} items)">{escape(t)}</a>'
        for t in TECHS
    )
    months = sorted({p.published.strftime("%Y/%m") for p in site.posts}, reverse=True)[:24]
    archives = "".join(
        f'<li><a href="{{{{BASE}}}}/{m}/">{datetime.strptime(m, "%Y/%m"):%B %Y}</a></li>'
        for m in months
    )
    popular_items = "".join(
        f'<li class="popular-post"><a href="{{{{BASE}}}}{p.path}"><img width="80" height="80" '
        f'src="{{{{BASE}}}}/wp-content/uploads/thumbs/{p.slug}-80x80.jpg" alt="" loading="lazy">'
        f'<span class="popular-title">{escape(p.title)}</span></a> '
        f'<span class="views">{rng.randint(1, 99)}.{rng.randint(0, 9)}K views</span></li>'
        for p in popular
    )
    return f"""<aside id="secondary" class="widget-area">
<section id="search-2" class="widget widget_search"><form role="search" method="get"
class="search-form" action="{{{{BASE}}}}/"><label><span class="screen-reader-text">Search
for:</span><input type="search" class="search-field" placeholder="Search &hellip;" value=""
name="s"></label><input type="submit" class="search-submit" value="Search"></form></section>
<section id="recent-posts-2" class="widget widget_recent_entries"><h2 class="widget-title">Recent
Posts</h2><ul>{_link_list(site, recent)}</ul></section>
<section id="popular-3" class="widget widget_popular"><h2 class="widget-title">Popular this
week</h2><ol>{popular_items}</ol></section>
<section id="newsletter-3" class="widget widget_newsletter newsletter-widget"><h2
class="widget-title">Subscribe to our newsletter</h2><p>Get the week’s best posts from
{escape(site.title)} in your inbox. No spam, unsubscribe at any time.</p><form
class="newsletter-form" action="{{{{BASE}}}}/newsletter/" method="post"><input type="email"
name="ne" placeholder="Your email"><input type="submit" value="Subscribe"></form></section>
<section id="categories-2" class="widget widget_categories"><h2
class="widget-title">Categories</h2><ul>{categories}</ul></section>
<section id="tag_cloud-2" class="widget widget_tag_cloud"><h2 class="widget-title">Tags</h2><div
class="tagcloud">{tags}</div></section>
<section id="archives-2" class="widget widget_archive"><h2
class="widget-title">Archives</h2><ul>{archives}</ul></section>
<section id="ad-1" class="widget widget_ad"><div class="ad-slot" data-slot="sidebar-300x250"><span
class="ad-label">Advertisement</span></div></section>
</aside>"""


def _post_html(site: Site, post: Post) -> str:
    """Return the full page of one post, as a WordPress theme with the usual plugins renders it."""
    rng = random.Random(f"page-{site.name}-{post.number}")
    url = f"{{{{BASE}}}}{post.path}"
    iso = post.published.isoformat()
    description = escape(post.summary.replace(" [&#8230;]", "…"), quote=True)
    tags_links = ", ".join(
        f'<a href="{{{{BASE}}}}/tag/{_slugify(t)}/" rel="tag">{escape(t)}</a>' for t in post.tags
    )
    author_slug = _slugify(post.author)
    neighbours = site.posts[max(0, post.number - 1) : post.number + 2]
    related = rng.sample(site.posts, min(6, len(site.posts)))
    related_items = "".join(
        f'<div class="related-post"><a href="{{{{BASE}}}}{p.path}">'
        f'<img src="{{{{BASE}}}}/wp-content/uploads/thumbs/{p.slug}-300x200.jpg" width="300" '
        f'height="200" alt="" loading="lazy"><h4 class="related-title">{escape(p.title)}</h4></a>'
        f'<time datetime="{p.published.isoformat()}">'
        f"{p.published:%B %d, %Y}</time></div>"
        for p in related
        if p is not post
    )
    schema = json.dumps(
        {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebSite", "@id": "{{BASE}}/#website", "name": site.title},
                {
                    "@type": "Article",
                    "@id": f"{url}#article",
                    "headline": post.title,
                    "datePublished": iso,
                    "dateModified": iso,
                    "author": {"@type": "Person", "name": post.author},
                    "articleSection": post.category,
                    "keywords": ", ".join(post.tags),
                    "publisher": {"@type": "Organization", "name": site.title},
                },
            ],
        }
    )
    emoji = json.dumps(
        {
            "baseUrl": "https://s.w.org/images/core/emoji/15.0.3/72x72/",
            "ext": ".png",
            "svgUrl": "https://s.w.org/images/core/emoji/15.0.3/svg/",
            "svgExt": ".svg",
            "source": {"concatemoji": "{{BASE}}/wp-includes/js/wp-emoji-release.min.js?ver=6.7.1"},
        }
    )
    previous = next((p for p in neighbours if p.number == post.number + 1), None)
    following = next((p for p in neighbours if p.number == post.number - 1), None)
    nav_links = "".join(
        f'<div class="nav-{kind}"><a href="{{{{BASE}}}}{p.path}" rel="{rel}">'
        f'<span class="nav-subtitle">{label}</span> '
        f'<span class="nav-title">{escape(p.title)}</span></a></div>'
        for kind, rel, label, p in (
            ("previous", "prev", "Previous", previous),
            ("next", "next", "Next", following),
        )
        if p is not None
    )
    body = "\n".join(post.blocks)
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(post.title)} - {escape(site.title)}</title>
<link rel="alternate" type="application/rss+xml" title="{escape(site.title)} &raquo; Feed"
href="{{{{BASE}}}}/feed/">
<link rel="stylesheet" id="theme-style-css"
href="{{{{BASE}}}}/wp-content/themes/{site.name}/style.css?ver=6.7" type="text/css" media="all">
<meta name="generator" content="WordPress 6.7.1">
<link rel="canonical" href="{url}">
<link rel="shortlink" href="{{{{BASE}}}}/?p={post.post_id}">
<meta name="description" content="{description}">
<meta property="og:locale" content="en_US">
<meta property="og:type" content="article">
<meta property="og:title" content="{escape(post.title, quote=True)}">
<meta property="og:url" content="{url}">
<meta property="og:site_name" content="{escape(site.title)}">
<meta property="og:image"
content="{{{{BASE}}}}/wp-content/uploads/{post.published:%Y/%m}/{post.slug}.jpg">
<meta property="article:published_time" content="{iso}">
<meta property="article:section" content="{escape(post.category)}">
<meta name="author" content="{escape(post.author)}">
<script type="application/ld+json" class="yoast-schema-graph">{schema}</script>
<script>window._wpemojiSettings = {emoji};</script>
<style id="global-styles-inline-css">{site.css}</style>
</head>
<body class="post-template-default single single-post postid-{post.post_id} single-format-standard">
<div id="page" class="site">
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<div class="top-bar"><span class="top-bar-date">{escape(site.tagline)}</span> <a
href="{{{{BASE}}}}/newsletter/">Get the newsletter</a></div>
<header id="masthead" class="site-header">
<div class="site-branding"><p class="site-title"><a href="{{{{BASE}}}}/"
rel="home">{escape(site.title)}</a></p><p class="site-description">{escape(site.tagline)}</p></div>
{_nav(site)}
</header>
<div id="content" class="site-content">
<div id="primary" class="content-area">
<main id="main" class="site-main">
<nav class="breadcrumbs"><a href="{{{{BASE}}}}/">Home</a> » <a
href="{{{{BASE}}}}/category/{_slugify(post.category)}/">{escape(post.category)}</a> »
<span>{escape(post.title)}</span></nav>
<article id="post-{post.post_id}"
class="post-{post.post_id} post type-post status-publish format-standard has-post-thumbnail
hentry category-{_slugify(post.category)}">
<header class="entry-header">
<div class="entry-categories">In <a href="{{{{BASE}}}}/category/{_slugify(post.category)}/"
rel="category tag">{escape(post.category)}</a></div>
<h1 class="entry-title">{escape(post.title)}</h1>
<div class="entry-meta"><span class="byline">by <span class="author vcard"><a class="url fn n"
href="{{{{BASE}}}}/author/{author_slug}/">{escape(post.author)}</a></span></span> <span
class="posted-on"><a href="{url}" rel="bookmark"><time class="entry-date published updated"
datetime="{iso}">{post.published:%B %d, %Y}</time></a></span> <span
class="reading-time">{max(1, len(body) // 1500)} min read</span></div>
</header>
<div class="post-thumbnail"><img width="1200" height="675"
src="{{{{BASE}}}}/wp-content/uploads/{post.published:%Y/%m}/{post.slug}.jpg"
class="attachment-post-thumbnail wp-post-image" alt="" decoding="async"></div>
{_share_bar(post, "top")}
<div class="entry-content">
{body}
</div>
{_share_bar(post, "bottom")}
<div class="reaction-box" data-post-id="{post.post_id}"><h3 class="reaction-title">What do you
think?</h3><div class="reaction-items"><button class="reaction-item" data-reaction="love"><span
class="count">{rng.randint(0, 40)}</span> Love</button><button class="reaction-item"
data-reaction="lol"><span class="count">{rng.randint(0, 40)}</span> LOL</button><button
class="reaction-item" data-reaction="angry"><span class="count">{rng.randint(0, 9)}</span>
Angry</button></div></div>
<footer class="entry-footer"><span class="tags-links">Tagged {tags_links}</span>
<div class="author-box"><div class="author-avatar"><img alt="Avatar of {escape(post.author)}"
src="https://secure.gravatar.com/avatar/{author_slug}?s=96&amp;d=mm" class="avatar avatar-96 photo"
height="96" width="96" loading="lazy"></div><div class="author-info"><h4
class="author-title">Written by <a
href="{{{{BASE}}}}/author/{author_slug}/">{escape(post.author)}</a></h4><p
class="author-description">{escape(post.author)} writes about {escape(rng.choice(TECHS))} and
{escape(rng.choice(THINGS))}s for {escape(site.title)}.</p></div></div>
</footer>
</article>
<section class="related-posts"><h3 class="related-heading">You might also like</h3><div
class="related-grid">{related_items}</div></section>
{_comments(post, rng)}
<nav class="navigation post-navigation" aria-label="Posts"><h2 class="screen-reader-text">Post
navigation</h2><div class="nav-links">{nav_links}</div></nav>
</main>
</div>
{_sidebar(site, post, rng)}
</div>
<footer id="colophon" class="site-footer">
<div class="footer-widgets"><section class="widget"><h2 class="widget-title">About
{escape(site.title)}</h2><p>{escape(site.title)} is an independent blog about
{escape(site.tagline.lower())}. Written by {escape(", ".join(site.authors))}.</p></section><section
class="widget"><h2
class="widget-title">Latest</h2><ul>{_link_list(site, site.posts[:5])}</ul></section></div>
<nav class="footer-navigation"><ul><li><a href="{{{{BASE}}}}/about/">About</a></li><li><a
href="{{{{BASE}}}}/about/#contact">Contact</a></li><li><a href="{{{{BASE}}}}/about/#privacy">Privacy
Policy</a></li></ul></nav>
<div class="site-info">© 2026 {escape(site.title)}. Proudly powered by <a
href="https://wordpress.org/">WordPress</a>.</div>
</footer>
</div>
<div id="cookie-notice" class="cookie-banner" role="dialog">We use cookies to ensure that we give
you the best experience on our website. <a href="#" class="cn-accept">Ok</a></div>
<script src="{{{{BASE}}}}/wp-includes/js/comment-reply.min.js?ver=6.7.1" id="comment-reply-js" async
data-wp-strategy="async"></script>
<script src="{{{{BASE}}}}/wp-content/themes/{site.name}/js/navigation.js?ver=6.7"
id="theme-navigation-js"></script>
</body>
</html>
"""


def _feed_xml(site: Site) -> str:
    """Return the site's RSS 2.0 feed listing every post."""
    items = "".join(
        f"""<item><title>{escape(p.title)}</title><link>{{{{BASE}}}}{p.path}</link>
<dc:creator><![CDATA[{p.author}]]></dc:creator>
<pubDate>{p.published:%a, %d %b %Y %H:%M:%S +0000}</pubDate>
<category><![CDATA[{p.category}]]></category><guid
isPermaLink="false">{{{{BASE}}}}/?p={p.post_id}</guid>
<description><![CDATA[{p.summary}]]></description></item>
"""
        for p in site.posts
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>{escape(site.title)}</title><atom:link href="{{{{BASE}}}}/feed/" rel="self"
type="application/rss+xml"/>
<link>{{{{BASE}}}}/</link><description>{escape(site.tagline)}</description><language>en-US</language>
{items}</channel></rss>
"""


def _sitemap_files(site: Site) -> dict[str, str]:
    """Return a Yoast-style sitemap index and its post sitemap."""
    urls = "".join(
        f"<url><loc>{{{{BASE}}}}{p.path}</loc><lastmod>{p.published.isoformat()}</lastmod></url>\n"
        for p in site.posts
    )
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    return {
        "sitemap_index.xml": f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex {ns}>'
        "<sitemap><loc>{{BASE}}/post-sitemap.xml</loc></sitemap></sitemapindex>\n",
        "post-sitemap.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {ns}>\n{urls}</urlset>\n'
        ),
    }


def generate_sites(root: Path, sites: int, posts: int, seed: int = 1) -> list[Site]:
    """Write N generated blogs under root, one folder each, ready for SiteGroup."""
    made = []
    for number in range(sites):
        name = SITE_NAMES[number % len(SITE_NAMES)]
        if number >= len(SITE_NAMES):
            name = f"{name}{number // len(SITE_NAMES) + 1}"
        site = _make_site(name, posts, seed)
        folder = root / name
        for post in site.posts:
            page = folder / post.path.strip("/") / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(_post_html(site, post), encoding="utf-8")
        (folder / "feed").mkdir(parents=True, exist_ok=True)
        (folder / "feed" / "index.xml").write_text(_feed_xml(site), encoding="utf-8")
        for file, text in _sitemap_files(site).items():
            (folder / file).write_text(text, encoding="utf-8")
        (folder / "robots.txt").write_text(
            "User-agent: *\nDisallow: /wp-admin/\n\nSitemap: {{BASE}}/sitemap_index.xml\n",
            encoding="utf-8",
        )
        (folder / "source.toml").write_text(
            f'name = "{name}"\nurl = "{{{{BASE}}}}/"\nfeeds = ["{{{{BASE}}}}/feed/"]\n'
            'sitemaps = ["{{BASE}}/sitemap_index.xml"]\n',
            encoding="utf-8",
        )
        for post in site.posts:
            post.blocks = []  # the pages are on disk now; keep the generator's memory small
        made.append(site)
    return made
