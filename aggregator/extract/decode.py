"""Bytes to text for HTML pages: BOM, HTTP charset, <meta charset>, then detection."""

from __future__ import annotations

import codecs
import logging
import re

from bs4.dammit import EncodingDetector, UnicodeDammit

logger = logging.getLogger(__name__)

# Byte order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels that browsers read as a wider encoding (WHATWG Encoding Standard).
ENCODING_ALIASES = {
    "iso-8859-1": "windows-1252",
    "latin-1": "windows-1252",
    "latin1": "windows-1252",
    "ascii": "windows-1252",
    "us-ascii": "windows-1252",
    "iso-8859-9": "windows-1254",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "sjis": "shift_jis",
}
# Charset detection reads only this many bytes, so a 10 MB page decodes in milliseconds.
DETECTION_BYTES = 64 * 1024

_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)


def normalise_encoding(label: str | None) -> str | None:
    """Return the Python codec name for a charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = ENCODING_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, as a codec name."""
    match = _CHARSET_RE.search(content_type or "")
    return normalise_encoding(match[1]) if match else None


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """Decode an HTML page: BOM, then HTTP charset, then declared charset, then detection."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, "replace")
    candidates: list[str] = []
    header = charset_from_content_type(content_type)
    if header:
        candidates.append(header)
    declared = normalise_encoding(
        EncodingDetector.find_declared_encoding(data[:DETECTION_BYTES], is_html=True)
    )
    # a page saved as UTF-16 cannot declare itself in ASCII bytes; such a label is wrong
    if declared and not declared.startswith("utf-16") and not declared.startswith("utf-32"):
        candidates.append(declared)
    candidates.append("utf-8")
    for encoding in dict.fromkeys(candidates):
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            logger.debug("page is not valid %s", encoding)
    # nothing declared fits: let bs4 guess from the start of the page
    dammit = UnicodeDammit(data[:DETECTION_BYTES], is_html=True)
    guessed = normalise_encoding(dammit.original_encoding) or "windows-1252"
    logger.debug("detected encoding %s", guessed)
    return data.decode(guessed, "replace")
