"""Text normalisation and exact content hashes of article text."""

from __future__ import annotations

import hashlib
import unicodedata

# Typographic variants folded to one ASCII form before punctuation is dropped, so that
# apostrophes vanish inside words ("don’t" == "don't" == "dont") instead of splitting them.
APOSTROPHES = "'\u2018\u2019\u201a\u201b\u2032\u02bc\uff07`\u00b4"
DOUBLE_QUOTES = '"\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\uff02'
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"

_FOLD = str.maketrans(
    {
        **dict.fromkeys(APOSTROPHES[1:], "'"),
        **dict.fromkeys(DOUBLE_QUOTES[1:], '"'),
        **dict.fromkeys(DASHES[1:], "-"),
    }
)


def _fold_char(char: str) -> str:
    """Return what one character of folded text becomes: itself, a space or nothing."""
    if char == "'":
        return ""
    category = unicodedata.category(char)
    if category == "Cf":
        # Zero-width spaces, soft hyphens and BOMs are invisible artefacts of scraping.
        return ""
    if category[0] == "P" or category == "Cc":
        return " "
    return char


class _FoldTable(dict[int, str]):
    """A str.translate table that works out each code point once, on first sight."""

    def __missing__(self, codepoint: int) -> str:
        self[codepoint] = folded = _fold_char(chr(codepoint))
        return folded


_FOLD_CHARS = _FoldTable()


def normalise_text(text: str) -> str:
    """Return text in NFKC, case-folded, without punctuation, with single spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    # Case folding can leave text outside NFKC; normalising again keeps the result stable.
    folded = unicodedata.normalize("NFKC", folded)
    return " ".join(folded.translate(_FOLD_CHARS).split())


def content_hash(text: str) -> str:
    """Return the SHA-256 hex digest of the normalised text."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()
