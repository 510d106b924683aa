"""`aggregator serve`: a read-only site, JSON API and Atom feeds over the store (Starlette).

Stored text is untrusted: templates autoescape everything, snippets are escaped before their
match markers become <mark>, and every response carries a strict Content-Security-Policy
(no scripts at all, styles from this site only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator.export import atom_lines
from aggregator.humanize import parse_moment
from aggregator.store.articles import (
    MAX_ID,
    ArticlePage,
    article_to_dict,
    articles_page,
    copies_of,
    get_article,
    list_articles,
    source_counts,
    source_exists,
    story_neighbours,
)
from aggregator.store.db import open_existing_store, session_scope
from aggregator.store.models import Article
from aggregator.store.pages import CursorError
from aggregator.store.search import (
    ORDERS,
    SNIPPET_END,
    SNIPPET_START,
    Filters,
    SearchQueryError,
    hit_to_dict,
    search,
    search_page,
)
from aggregator.store.stories import get_story, list_stories, story_to_dict
from aggregator.web.openapi import OPENAPI

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
FRONT_PAGE_STORIES = 60
FEED_SIZE = 50
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """ASGI middleware adding the security headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def highlighted(snippet: str) -> Markup:
    """A snippet as safe HTML: the text escaped, its match markers turned into <mark>."""
    text = str(escape(snippet))
    return Markup(text.replace(SNIPPET_START, "<mark>").replace(SNIPPET_END, "</mark>"))


def paragraphs(text: str) -> list[str]:
    """The paragraphs of an article's clean text."""
    return [part.strip() for part in text.split("\n\n") if part.strip()]


class BadRequest(Exception):
    """A request parameter that cannot be used, with the reason."""


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return number


def _text(request: Request, name: str) -> str | None:
    """A text parameter; NUL characters (which PostgreSQL refuses in text) are a bad request."""
    value = request.query_params.get(name) or None
    if value is not None and "\x00" in value:
        raise BadRequest(f"{name} must not contain NUL characters")
    return value


def _cursor(request: Request) -> str | None:
    """The cursor a previous page handed out (next_cursor), read as given."""
    return _text(request, "cursor")


def _order(request: Request) -> str:
    order = request.query_params.get("order") or ORDERS[0]
    if order not in ORDERS:
        raise BadRequest(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    return order


def _page_offset(request: Request) -> int:
    """The rows an old `?page=N` link skips (pages past MAX_OFFSET rows are a clear 400)."""
    page = _int(request, "page", 1, 1, 10**6)
    return (page - 1) * PAGE_SIZE


def _moment(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return parse_moment(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def _filters(request: Request) -> Filters:
    return Filters(
        source=_text(request, "source"),
        author=_text(request, "author"),
        tag=_text(request, "tag"),
        story=_int(request, "story", 0, 0, MAX_ID) or None,
        since=_moment(request, "since"),
        until=_moment(request, "until"),
    )


def create_app(db_url: str) -> Starlette:
    """Build the web application over the existing store at db_url (it creates nothing)."""
    engine = open_existing_store(db_url)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["highlighted"] = highlighted
    templates.env.filters["paragraphs"] = paragraphs
    templates.env.globals["now"] = lambda: datetime.now(UTC)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        engine.dispose()

    def db(work: Callable[[Session], Any]) -> Any:
        with session_scope(engine) as session:
            return work(session)

    async def read(work: Callable[[Session], Any]) -> Any:
        return await run_in_threadpool(db, work)

    def page_links(request: Request, next_cursor: str | None) -> dict[str, str | None]:
        """Links to the first page (from a later one) and to the next one (keyset, by cursor)."""

        def link(cursor: str | None) -> str:
            params = {k: v for k, v in request.query_params.items() if k not in ("cursor", "page")}
            if cursor:
                params["cursor"] = cursor
            return f"{request.url.path}?{urlencode(params)}" if params else request.url.path

        later = "cursor" in request.query_params or "page" in request.query_params
        return {
            "first": link(None) if later else None,
            "next": link(next_cursor) if next_cursor else None,
        }

    def render(request: Request, template: str, code: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(request, template, context, status_code=code)

    # -- pages --------------------------------------------------------------------------

    async def front(request: Request) -> Response:
        hours = _int(request, "hours", 24, 1, 24 * 30)
        since = datetime.now(UTC) - timedelta(hours=hours)
        stories = await read(lambda s: _stories(s, since, 1, FRONT_PAGE_STORIES))
        latest = not stories
        if latest:  # a quiet day: the latest stories rather than an empty page
            stories = await read(lambda s: _stories(s, None, 1, FRONT_PAGE_STORIES))
        return render(request, "front.html", stories=stories, hours=hours, latest=latest)

    async def search_page(request: Request) -> Response:
        query = (_text(request, "q") or "").strip()
        if not query:
            return render(request, "search.html", query="", hits=[], error=None, links={})
        try:
            filters, order = _filters(request), _order(request)
            cursor, offset = _cursor(request), _page_offset(request)
            hits, next_cursor = await read(
                lambda s: _hits(s, query, filters, PAGE_SIZE, cursor, order, offset)
            )
        except (SearchQueryError, BadRequest, CursorError) as exc:
            return render(request, "search.html", 400, query=query, hits=[], error=str(exc))
        links = page_links(request, next_cursor)
        feed = f"/search/feed.atom?{urlencode({'q': query})}"
        return render(
            request, "search.html", query=query, hits=hits, error=None, links=links, feed=feed,
            order=order,
        )  # fmt: skip

    async def article_page(request: Request) -> Response:
        article_id = _path_id(request)
        found = await read(lambda s: _article_view(s, article_id))
        if found is None:
            raise HTTPException(404, f"no article {article_id}")
        return render(request, "article.html", **found)

    async def sources_page(request: Request) -> Response:
        sources = await read(source_counts)
        return render(request, "sources.html", sources=sources)

    async def source_page(request: Request) -> Response:
        name = request.path_params["name"]
        cursor, offset = _cursor(request), _page_offset(request)
        found = await read(lambda s: _source_articles(s, name, PAGE_SIZE, cursor, offset))
        if found is None:
            raise HTTPException(404, f"no source {name!r}")
        links = page_links(request, found.next_cursor)
        return render(request, "source.html", name=name, articles=found.articles, links=links)

    # -- feeds --------------------------------------------------------------------------

    def atom(title: str, work: Callable[[Session], list[Article]], request: Request) -> Response:
        def lines() -> Iterator[str]:
            with session_scope(engine) as session:
                articles = work(session)
                yield from atom_lines(articles, title, str(request.url), str(request.url))

        return StreamingResponse(
            iterate_in_threadpool(lines()), media_type="application/atom+xml; charset=utf-8"
        )

    async def latest_feed(request: Request) -> Response:
        return atom("Latest articles", lambda s: _latest(s, None, FEED_SIZE), request)

    async def source_feed(request: Request) -> Response:
        name = request.path_params["name"]
        if not await read(lambda s: source_exists(s, name)):
            raise HTTPException(404, f"no source {name!r}")
        return atom(f"Articles of {name}", lambda s: _latest(s, name, FEED_SIZE), request)

    async def search_feed(request: Request) -> Response:
        query = _text(request, "q") or ""
        filters = _filters(request)
        # parse now, so a bad query is a 400 and not a broken stream
        await read(lambda s: _hits(s, query, filters, 1))
        # a feed reader wants what is new: the newest matches, not the best ranked
        return atom(
            f"Search: {query}",
            lambda s: [
                hit.article for hit in search(s, query, filters, limit=FEED_SIZE, order="newest")
            ],
            request,
        )

    # -- JSON API -----------------------------------------------------------------------

    async def api_articles(request: Request) -> Response:
        limit = _int(request, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
        offset = _int(request, "offset", 0, 0, 10**9)
        source = _text(request, "source")
        since = _moment(request, "since")
        cursor = _cursor(request)
        rows, next_cursor = await read(
            lambda s: _api_articles(s, source, since, limit, cursor, offset)
        )
        return JSONResponse(
            {"articles": rows, "limit": limit, "offset": offset, "next_cursor": next_cursor}
        )

    async def api_article(request: Request) -> Response:
        article_id = _path_id(request)
        found = await read(lambda s: _article_view(s, article_id))
        if found is None:
            raise HTTPException(404, f"no article {article_id}")
        return JSONResponse(article_to_dict(found["article"], copies=found["copies"]))

    async def api_search(request: Request) -> Response:
        query = _text(request, "q") or ""
        limit = _int(request, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
        offset = _int(request, "offset", 0, 0, 10**9)
        filters, order, cursor = _filters(request), _order(request), _cursor(request)
        hits, next_cursor = await read(
            lambda s: _hits(s, query, filters, limit, cursor, order, offset)
        )
        return JSONResponse(
            {
                "query": query,
                "order": order,
                "results": [hit["data"] for hit in hits],
                "limit": limit,
                "offset": offset,
                "next_cursor": next_cursor,
            }
        )

    async def api_stories(request: Request) -> Response:
        hours = _int(request, "hours", 24, 1, 24 * 365)
        min_sources = _int(request, "min_sources", 1, 1, 1000)
        limit = _int(request, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
        since = datetime.now(UTC) - timedelta(hours=hours)
        stories = await read(lambda s: _stories(s, since, min_sources, limit))
        return JSONResponse({"stories": stories})

    async def api_story(request: Request) -> Response:
        story_id = _path_id(request, "story")
        found = await read(lambda s: _story(s, story_id))
        if found is None:
            raise HTTPException(404, f"no story {story_id}")
        if found["id"] != story_id:  # merged into another story since: it lives on there
            return RedirectResponse(f"/api/stories/{found['id']}", status_code=301)
        return JSONResponse(found)

    async def api_sources(request: Request) -> Response:
        return JSONResponse({"sources": await read(source_counts)})

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    # -- errors -------------------------------------------------------------------------

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    async def bad_request(request: Request, exc: Exception) -> Response:
        if wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=400)
        return render(request, "error.html", 400, status=400, message=str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if wants_json(request):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return render(
            request, "error.html", exc.status_code, status=exc.status_code, message=exc.detail
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        if wants_json(request):
            return JSONResponse({"error": "internal error"}, status_code=500)
        return HTMLResponse("<h1>Internal error</h1>", status_code=500)

    routes = [
        Route("/", front),
        Route("/search", search_page),
        Route("/search/feed.atom", search_feed),
        Route("/articles/{id}", article_page),
        Route("/sources", sources_page),
        Route("/sources/{name}", source_page),
        Route("/sources/{name}/feed.atom", source_feed),
        Route("/feed.atom", latest_feed),
        Route("/api/articles", api_articles),
        Route("/api/articles/{id}", api_article),
        Route("/api/search", api_search),
        Route("/api/stories", api_stories),
        Route("/api/stories/{id}", api_story),
        Route("/api/sources", api_sources),
        Route("/api/openapi.json", openapi),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            BadRequest: bad_request,
            SearchQueryError: bad_request,
            CursorError: bad_request,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )


def _path_id(request: Request, kind: str = "article") -> int:
    value = str(request.path_params["id"])
    if not value.isdigit() or len(value) > 10 or int(value) > MAX_ID:
        raise HTTPException(404, f"no {kind} {value!r}")
    return int(value)


def _story(session: Session, story_id: int) -> dict[str, Any] | None:
    found = get_story(session, story_id)
    return story_to_dict(*found) if found is not None else None


def _stories(
    session: Session, since: datetime | None, min_sources: int, limit: int
) -> list[dict[str, Any]]:
    found = list_stories(session, since, min_sources, limit)
    return [story_to_dict(story, members) for story, members in found if members]


def _hits(
    session: Session,
    query: str,
    filters: Filters,
    limit: int,
    cursor: str | None = None,
    order: str = ORDERS[0],
    offset: int = 0,
) -> tuple[list[dict[str, Any]], str | None]:
    found = search_page(session, query, filters, limit, cursor, order, offset)
    hits = [
        {
            "article": hit.article,
            "source": hit.article.source.name,
            "data": hit_to_dict(hit),
            "snippet": hit.snippet,
        }
        for hit in found.hits
    ]
    return hits, found.next_cursor


def _article_view(session: Session, article_id: int) -> dict[str, Any] | None:
    article = get_article(session, article_id)
    if article is None:
        return None
    original = get_article(session, article.duplicate_of) if article.duplicate_of else None
    return {
        "article": article,
        "copies": copies_of(session, article.id),
        "original": original,
        "story": story_neighbours(session, article),
    }


def _source_articles(
    session: Session, name: str, limit: int, cursor: str | None, offset: int
) -> ArticlePage | None:
    if not source_exists(session, name):
        return None
    return articles_page(session, name, None, False, limit, cursor, offset)


def _latest(session: Session, source: str | None, limit: int) -> list[Article]:
    return list(list_articles(session, source, None, include_duplicates=False, limit=limit))


def _api_articles(
    session: Session,
    source: str | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
    offset: int,
) -> tuple[list[dict[str, Any]], str | None]:
    found = articles_page(session, source, since, False, limit, cursor, offset)
    return [article_to_dict(a) for a in found.articles], found.next_cursor
