"""A blog that publishes while it is served: posts appear on demand, its feed follows.

Used by the scheduler tests and the soak run: each post has its own text (so no two are
near-duplicates), a page with a byline and a date, and an entry at the top of the RSS feed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from aggregator.demo.server import SiteServer

_WORDS_TEXT = """
    kernel compiler cache latency throughput scheduler allocator database index query
    replica cluster container runtime package release version benchmark profile trace
    network socket protocol browser engine render shader driver firmware battery sensor
    storage volume snapshot backup encryption token session cookie header request response
    migration schema table column partition shard queue worker thread process signal
    developer maintainer contributor reviewer patch branch commit merge conflict pipeline
    deploy rollout canary outage incident postmortem metric alert dashboard budget quota
    model dataset training inference vector embedding prompt agent gateway proxy router
"""
_VERBS_TEXT = "ships adds drops speeds fixes breaks replaces rewrites trims doubles halves"
_WORDS, _VERBS = _WORDS_TEXT.split(), _VERBS_TEXT.split()


@dataclass(frozen=True)
class LivePost:
    """One published post."""

    number: int
    title: str
    path: str
    published: datetime


class LiveBlog:
    """A blog folder served by a SiteServer, to which posts can be added at any moment."""

    def __init__(
        self, root: Path, name: str = "liveblog", seed: int = 7, host: str = "127.0.0.1"
    ) -> None:
        self.root = Path(root)
        self.name = name
        self.rng = random.Random(seed)
        self.posts: list[LivePost] = []
        self.root.mkdir(parents=True, exist_ok=True)
        self.server = SiteServer(self.root, name, host=host)
        self._write_feed()

    def start(self) -> LiveBlog:
        """Serve the blog on its loopback address."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()

    @property
    def feed_url(self) -> str:
        """Return the URL of the blog's RSS feed."""
        return self.server.url("/feed.xml")

    def source_toml(self, interval: str | None = None, sitemap: bool = False) -> str:
        """Return the [[sources]] entry of this blog (with its sitemap of every post if asked)."""
        lines = ["[[sources]]", f'name = "{self.name}"', f'url = "{self.server.url("/")}"']
        lines.append(f'feeds = ["{self.feed_url}"]')
        if sitemap:
            lines.append(f'sitemaps = ["{self.server.url("/sitemap.xml")}"]')
        if interval:
            lines.append(f'interval = "{interval}"')
        return "\n".join(lines) + "\n"

    def publish(self) -> LivePost:
        """Add one post with its page and put it at the top of the feed."""
        number = len(self.posts) + 1
        words = self.rng.sample(_WORDS, 3)
        title = f"{words[0].capitalize()} {self.rng.choice(_VERBS)} {words[1]} {number}"
        post = LivePost(number, title, f"/posts/{number}/", datetime.now(UTC))
        page = self.root / "posts" / str(number) / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(self._page(post), encoding="utf-8")
        self.posts.append(post)
        self._write_feed()
        return post

    def _sentence(self) -> str:
        words = self.rng.sample(_WORDS, 9)
        return (
            f"The {words[0]} team {self.rng.choice(_VERBS)} the {words[1]} {words[2]} so that "
            f"every {words[3]} and {words[4]} keeps its {words[5]} while the {words[6]} "
            f"{words[7]} waits for the {words[8]}."
        )

    def _page(self, post: LivePost) -> str:
        paragraphs = "\n".join(
            f"<p>{' '.join(self._sentence() for _ in range(4))}</p>" for _ in range(4)
        )
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(post.title)} - {self.name}</title>
<meta property="article:published_time" content="{post.published.isoformat()}">
</head><body><header><a href="/">{self.name}</a></header>
<main><article><h1>{escape(post.title)}</h1>
<p class="byline">By Ada Writer</p>
{paragraphs}
</article></main><footer>Copyright {self.name}</footer></body></html>
"""

    def _write_feed(self) -> None:
        items = "".join(
            f"<item><title>{escape(p.title)}</title><link>{{{{BASE}}}}{p.path}</link>"
            f"<guid>{{{{BASE}}}}{p.path}</guid>"
            f"<pubDate>{p.published:%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>\n"
            for p in reversed(self.posts[-50:])
        )
        feed = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>{self.name}</title><link>{{{{BASE}}}}/</link><description>A live blog"
            f"</description>\n{items}</channel></rss>\n"
        )
        urls = "".join(f"<url><loc>{{{{BASE}}}}{p.path}</loc></url>\n" for p in self.posts)
        sitemap = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
        )
        # written whole and renamed, so a request never sees half a feed
        for name, text in (("feed.xml", feed), ("sitemap.xml", sitemap)):
            partial = self.root / f".{name}.tmp"
            partial.write_text(text, encoding="utf-8")
            partial.replace(self.root / name)
