"""The OpenAPI 3.1 description of the JSON API under /api/."""

from __future__ import annotations

from typing import Any

from aggregator.store.articles import ARTICLE_SCHEMA

_STRING = {"type": "string"}
_ERROR = {
    "description": "The request cannot be answered, and why",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": _STRING},
            }
        }
    },
}


def _param(
    name: str, description: str, schema: dict[str, Any], required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


_LIMIT = _param("limit", "Results per page", {"type": "integer", "minimum": 1, "maximum": 100})
_OFFSET = _param(
    "offset",
    "Results to skip, up to 1000 (older clients); deeper pages: cursor",
    {"type": "integer", "minimum": 0},
)
_CURSOR = _param(
    "cursor", "The next_cursor of the previous page: the page after it, at any depth", _STRING
)
_NEXT_CURSOR = {
    "description": "Pass as cursor for the next page; null on the last page",
    "type": ["string", "null"],
}
_SINCE = _param("since", "Newer than: a duration (2d, 36h) or an ISO date", _STRING)
_SOURCE = _param("source", "Only this source", _STRING)

_ARTICLE = {
    "type": "object",
    "required": ["id", "url", "canonical_url", "source", "title", "authors", "published"],
    "properties": ARTICLE_SCHEMA,
}


def _ok(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _list_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [key],
        "properties": {key: {"type": "array", "items": item}},
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "techblog-aggregator",
        "version": "1",
        "description": "Read-only access to the stored articles, stories and sources.",
    },
    "paths": {
        "/api/articles": {
            "get": {
                "summary": "Stored articles, newest first (copies of other articles left out)",
                "parameters": [_SOURCE, _SINCE, _LIMIT, _CURSOR, _OFFSET],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": ["articles", "next_cursor"],
                            "properties": {
                                "articles": {"type": "array", "items": _ARTICLE},
                                "next_cursor": _NEXT_CURSOR,
                            },
                        }
                    ),
                    "400": _ERROR,
                },
            }
        },
        "/api/articles/{id}": {
            "get": {
                "summary": "One article with the URLs of its copies",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {"200": _ok(_ARTICLE), "404": _ERROR},
            }
        },
        "/api/search": {
            "get": {
                "summary": 'Full-text search: words, "phrases", prefix*, -excluded',
                "parameters": [
                    _param("q", "The query", _STRING, required=True),
                    _SOURCE,
                    _param("author", "Only articles by this author", _STRING),
                    _param("tag", "Only articles with this tag", _STRING),
                    _param(
                        "story",
                        "Only articles of this story",
                        {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    ),
                    _SINCE,
                    _param("until", "Older than: a duration or an ISO date", _STRING),
                    _param(
                        "order",
                        "relevance: articles with every word in the title first, then the "
                        "others, newest first within each; newest: newest first",
                        {"type": "string", "enum": ["relevance", "newest"]},
                    ),
                    _LIMIT,
                    _CURSOR,
                    _OFFSET,
                ],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": ["query", "results", "next_cursor"],
                            "properties": {
                                "query": _STRING,
                                "order": _STRING,
                                "results": {"type": "array", "items": _ARTICLE},
                                "next_cursor": _NEXT_CURSOR,
                            },
                        }
                    ),
                    "400": _ERROR,
                },
            }
        },
        "/api/stories": {
            "get": {
                "summary": "Stories of the last hours, most covered first",
                "parameters": [
                    _param(
                        "hours",
                        "Window in hours",
                        {"type": "integer", "minimum": 1, "maximum": 8760},
                    ),
                    _param(
                        "min_sources",
                        "At least this many outlets",
                        {"type": "integer", "minimum": 1, "maximum": 1000},
                    ),
                    _LIMIT,
                ],
                "responses": {"200": _ok(_list_of("stories", {"type": "object"})), "400": _ERROR},
            }
        },
        "/api/stories/{id}": {
            "get": {
                "summary": "One story with its articles and copies; a merged story's id "
                "redirects (301) to the story it joined",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {
                    "200": _ok({"type": "object"}),
                    "301": {"description": "The story was merged into the one at Location"},
                    "404": _ERROR,
                },
            }
        },
        "/api/sources": {
            "get": {
                "summary": "The sources and their article counts",
                "responses": {"200": _ok(_list_of("sources", {"type": "object"}))},
            }
        },
    },
}
