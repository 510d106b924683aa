"""Keyset pagination: the opaque cursor a page hands out to fetch the page after it.

A cursor names the last row of a page by its position in the order (never an offset), so
the next page costs the same however deep it is. It is URL-safe base64 of a small JSON
object; callers treat it as opaque, and a cursor that was tampered with is a CursorError.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aggregator.exceptions import AggregatorError

MAX_CURSOR_CHARS = 200
# Old clients may still skip rows with offset (or page=N on the site), up to this many rows
MAX_OFFSET = 1000


class CursorError(AggregatorError):
    """A pagination cursor that cannot be read, or an offset too deep to serve."""


def encode_cursor(kind: str, **position: Any) -> str:
    """The opaque cursor of a position in an order of the given kind."""
    raw = json.dumps({"k": kind, **position}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> dict[str, Any]:
    """The position a cursor names, or CursorError when it is not a cursor of that kind."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise CursorError("the cursor is too long: pass next_cursor as it was given")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        raise CursorError(f"not a cursor: {cursor[:40]!r}; pass next_cursor as given") from None
    if not isinstance(position, dict) or position.get("k") != kind:
        raise CursorError(f"this cursor is not one of {kind}: pass next_cursor as given")
    return position


def check_offset(offset: int) -> None:
    """Refuse an offset deeper than MAX_OFFSET, saying what to use instead."""
    if offset > MAX_OFFSET:
        raise CursorError(
            f"offset goes up to {MAX_OFFSET}: for deeper pages pass the previous page's "
            "next_cursor as cursor"
        )
