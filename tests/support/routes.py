"""Fault routes for the test sites: fixed answers, errors, slow answers, redirects, resets.

A route answers one exact path of a SiteServer (aggregator.demo.server) in place of its folder.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler

from aggregator.demo.server import Route, respond


def bytes_route(
    body: bytes | str,
    content_type: str = "text/html; charset=utf-8",
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Route:
    """Return a route that answers with these bytes, status and extra headers."""
    data = body.encode() if isinstance(body, str) else body

    def route(handler: BaseHTTPRequestHandler) -> None:
        respond(handler, status, data, content_type, headers)

    return route


def status_route(code: int, body: bytes | str = b"") -> Route:
    """Return a route that answers with this HTTP status and body."""
    return bytes_route(body, "text/html; charset=utf-8", status=code)


def slow_route(
    seconds: float,
    body: bytes | str = b"<html><body><p>Finally.</p></body></html>",
    content_type: str = "text/html; charset=utf-8",
) -> Route:
    """Return a route that waits before answering; other requests are served meanwhile."""
    answer = bytes_route(body, content_type)

    def route(handler: BaseHTTPRequestHandler) -> None:
        stopping = getattr(handler.server, "stopping", None)
        if isinstance(stopping, threading.Event):
            # Wake up early when the server stops, so stop() never waits on a sleeper
            if stopping.wait(seconds):
                return
        else:
            time.sleep(seconds)
        answer(handler)

    return route


def redirect_route(location: str, status: int = 301) -> Route:
    """Return a route that redirects to location (absolute URL or path)."""
    return bytes_route(
        b"", "text/html; charset=utf-8", status=status, headers={"Location": location}
    )


def reset_route() -> Route:
    """Return a route that drops the connection with a TCP reset and no response."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        # SO_LINGER with a zero timeout turns close() into an RST instead of a FIN
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
        handler.close_connection = True

    return route
