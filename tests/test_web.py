"""`aggregator serve`: pages, JSON API, Atom feeds, escaping, and a real Chromium session."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
import schemathesis
import uvicorn
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from aggregator.cli import main
from aggregator.web import CONTENT_SECURITY_POLICY, create_app
from tests.support import EVENT, OTHER

CHROMIUM = "/usr/bin/chromium"
# generated requests per API operation (AGGREGATOR_API_EXAMPLES for a longer hunt)
EXAMPLES = int(os.environ.get("AGGREGATOR_API_EXAMPLES", "40"))
HOSTILE_TITLE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned=2">Evil'
HOSTILE_TEXT = (
    '<script>window.pwned = 3</script> The <b>bold</b> claim about compilers & "quotes" '
    "that a page must show as text. " + " ".join(f"hostile{i}" for i in range(40))
)


def _import(db_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    lines = []
    rows = [*EVENT, *OTHER, ("evil", HOSTILE_TITLE, HOSTILE_TEXT)]
    for n, (source, title, lead) in enumerate(rows):
        lines.append(
            json.dumps(
                {
                    "url": f"https://{source}.example/{n}",
                    "source": source,
                    "title": title,
                    "text": f"{lead}\n\nAs reported: {title}.",
                    "authors": [f"Writer {n}"],
                    "published": (now - timedelta(hours=n + 1)).isoformat(),
                }
            )
        )
    # a copy of the first article, republished elsewhere
    first = json.loads(lines[0])
    lines.append(json.dumps({**first, "url": "https://mirror.example/copy", "source": "mirror"}))
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["--db", db_url, "import", str(path)])
    assert result.exit_code == 0, result.output


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    _import(db_url, tmp_path)
    with TestClient(create_app(db_url)) as test_client:
        yield test_client


def test_front_page_ranks_stories_by_sources(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    html = page.text
    assert "Stories of the last 24 hours" in html
    # every outlet of the event, the mirror's copy of the first article among them, marked
    event = html.index("4 sources · 3 articles · 1 copy")
    assert event < html.index("Samsung shows the Galaxy Note 4")  # most covered first
    story = html[event : html.index("</li>\n</ol>", event) if "</li>\n</ol>" in html else None]
    coverage = story[: story.index("</ul>")]
    assert coverage.count("<li") == 4
    mirror = coverage[coverage.index('<span class="source">mirror</span>') :]
    assert mirror.index('<span class="copy-mark">copy</span>') < mirror.index("</li>")
    assert coverage.count('class="copy-mark"') == 1
    assert "<script>window.pwned" not in html
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html


def test_search_page_highlights_and_escapes(client: TestClient) -> None:
    page = client.get("/search", params={"q": "microsoft ireland"})
    assert page.status_code == 200
    assert page.text.count('class="result"') == 3  # the copy is hidden
    assert "<mark>" in page.text
    hostile = client.get("/search", params={"q": "compilers"})
    # never markup; PostgreSQL's ts_headline drops tag-like text from snippets, SQLite keeps it
    assert "<b>bold</b>" not in hostile.text and "bold" in hostile.text
    bad = client.get("/search", params={"q": '"unclosed'})
    assert bad.status_code == 400 and "unbalanced quote" in bad.text


def test_article_page_shows_copies_and_story(client: TestClient) -> None:
    found = client.get("/api/search", params={"q": "Preska"}).json()["results"]
    lead = next(r for r in found if r["source"] == "wire")
    page = client.get(f"/articles/{lead['id']}")
    assert page.status_code == 200
    assert "Also published at" in page.text and "https://mirror.example/copy" in page.text
    assert "More on this story" in page.text
    assert page.text.count("/articles/") >= 2
    assert client.get("/articles/999999").status_code == 404
    assert client.get("/articles/abc").status_code == 404
    assert client.get("/articles/2147483648").status_code == 404  # beyond the id column
    assert client.get("/api/articles/99999999999999").status_code == 404


def test_source_pages_and_pagination(client: TestClient) -> None:
    sources = client.get("/sources")
    assert sources.status_code == 200 and "devwire" in sources.text
    page = client.get("/sources/devwire")
    assert "Open hardware laptop mainboard" in page.text
    assert client.get("/sources/nosuch").status_code == 404
    assert client.get("/sources/devwire", params={"page": "x"}).status_code == 400


def test_json_api(client: TestClient) -> None:
    articles = client.get("/api/articles", params={"limit": 2}).json()
    assert len(articles["articles"]) == 2 and articles["limit"] == 2
    every = client.get("/api/articles", params={"limit": 100}).json()["articles"]
    assert all(a["duplicate_of"] is None for a in every)
    one = client.get(f"/api/articles/{every[0]['id']}").json()
    assert one["id"] == every[0]["id"] and "also_published_at" in one
    results = client.get("/api/search", params={"q": "ireland", "source": "devwire"}).json()
    assert [r["source"] for r in results["results"]] == ["devwire"]
    start, end = results["results"][0]["highlights"][0]
    assert results["results"][0]["snippet"][start:end].lower() == "ireland"
    stories = client.get("/api/stories").json()["stories"]
    assert stories[0]["source_count"] == 4 and stories[0]["article_count"] == 3
    copies = [a for a in stories[0]["articles"] if a["copy_of"] is not None]
    assert [a["source"] for a in copies] == ["mirror"]
    assert client.get(f"/api/stories/{stories[0]['id']}").json() == stories[0]
    assert client.get("/api/stories/999999").status_code == 404
    assert {s["name"] for s in client.get("/api/sources").json()["sources"]} >= {"wire", "evil"}
    error = client.get("/api/search", params={"q": "-only"})
    assert error.status_code == 400 and "nothing to search for" in error.json()["error"]
    assert client.get("/api/articles", params={"limit": 0}).status_code == 400
    assert client.get("/api/articles", params={"source": "a\x00b"}).status_code == 400
    assert client.get("/sources/a%00b").status_code == 404
    spec = client.get("/api/openapi.json").json()
    assert set(spec["paths"]) >= {"/api/articles", "/api/search", "/api/stories", "/api/sources"}


def test_atom_feeds_parse(client: TestClient) -> None:
    for url in ("/feed.atom", "/sources/evil/feed.atom", "/search/feed.atom?q=microsoft"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("application/atom+xml")
        feed = feedparser.parse(response.text)
        assert not feed.bozo, (url, feed.get("bozo_exception"))
        assert feed.entries, url
    evil = feedparser.parse(client.get("/sources/evil/feed.atom").text)
    assert evil.entries[0].title == HOSTILE_TITLE
    assert client.get("/search/feed.atom", params={"q": '"x'}).status_code == 400


@pytest.mark.parametrize(
    ("path", "since"),
    [
        ("/api/search?q=rust", "999999999d"),
        ("/api/articles?", "99999999999w"),
        ("/search?q=x", "9999999999999d"),
    ],
)
def test_huge_durations_are_a_bad_request(client: TestClient, path: str, since: str) -> None:
    response = client.get(f"{path}&since={since}")
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert "since" in response.json()["error"]


# -- no 500 on any request the OpenAPI description allows -------------------------------


def test_api_never_answers_500(db_url: str, tmp_path: Path) -> None:
    _import(db_url, tmp_path)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(db_url))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case: Any) -> None:
            response = case.call()
            assert response.status_code < 500, (case.path, case.query, response.text[:300])

        no_server_error()


# -- a real browser ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_site(db_url: str, tmp_path: Path) -> Iterator[str]:
    _import(db_url, tmp_path)
    port = _free_port()
    config = uvicorn.Config(create_app(db_url), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the web server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_browser_front_page_search_article_and_story(
    live_site: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    output = Path(request.config.rootpath) / "test-output"
    output.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            blocked: list[str] = []
            page.on("console", lambda message: blocked.append(message.text))
            page.goto(live_site + "/")
            assert page.locator("h1").inner_text() == "Stories of the last 24 hours"
            assert page.locator("li.story").count() >= 3
            assert page.evaluate("window.pwned") is None  # hostile markup stayed text
            assert page.get_by_text("<script>window.pwned = 1</script>", exact=False).count()
            page.screenshot(path=str(output / "front.png"), full_page=True)

            page.fill("input[name=q]", "warrant")
            page.click("button[type=submit]")
            page.wait_for_url("**/search?q=warrant")
            assert page.locator("li.result").count() >= 1
            assert page.locator("li.result mark").first.inner_text().lower() == "warrant"
            page.screenshot(path=str(output / "search.png"), full_page=True)

            page.locator("li.result h2 a").first.click()
            page.wait_for_url("**/articles/*")
            assert page.locator("section.story-others li").count() >= 1
            title = page.locator("section.story-others li a").first.inner_text()
            page.locator("section.story-others li a").first.click()
            page.wait_for_url("**/articles/*")
            assert page.locator("h1").inner_text() == title
            page.screenshot(path=str(output / "article.png"), full_page=True)

            page.goto(live_site + "/sources/evil")
            page.locator("ol.results a").first.click()
            assert page.evaluate("window.pwned") is None
            assert "<b>bold</b>" in page.locator("div.text").inner_text()
        finally:
            browser.close()
    assert (output / "front.png").stat().st_size > 10_000
