"""Text normalisation, exact content hashes and MinHash signatures of article text."""

from __future__ import annotations

import hashlib
import unicodedata
import zlib

import numpy as np
from datasketch import MinHash

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
    return normalised_hash(normalise_text(text))


def normalised_hash(normalised: str) -> str:
    """Return the content hash of a text already normalised by normalise_text."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


# Near-duplicates: MinHash over word shingles, with LSH bands to find candidates by index.
SHINGLE_WORDS = 5
NUM_PERM = 120
# 40 bands of 3 rows: a pair with Jaccard 0.5 shares a band with probability 0.995, one
# with 0.2 with probability 0.28; candidates are then confirmed by their estimate.
LSH_BANDS = 40
LSH_ROWS = NUM_PERM // LSH_BANDS
# Texts shorter than this many words have no MinHash: exact hashes cover them
MIN_SHINGLE_WORDS = 20
_MINHASH_SEED = 1
_TEMPLATE_MINHASH = MinHash(num_perm=NUM_PERM, seed=_MINHASH_SEED, hashfunc=zlib.crc32)


def _shingles(words: list[str], size: int = SHINGLE_WORDS) -> set[bytes]:
    """The word shingles of a list of normalised words, as bytes."""
    if len(words) < size:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def minhash_signature(text: str) -> bytes | None:
    """The MinHash signature of a text (NUM_PERM uint32, little-endian), or None if too short."""
    return words_minhash(normalise_text(text).split())


def words_minhash(words: list[str]) -> bytes | None:
    """The MinHash signature of a text given as its normalised words, or None if too short."""
    if len(words) < MIN_SHINGLE_WORDS:
        return None
    minhash = _TEMPLATE_MINHASH.copy()
    minhash.update_batch(_shingles(words))
    return minhash.hashvalues.astype("<u4").tobytes()


def estimated_jaccard(first: bytes, second: bytes) -> float:
    """The Jaccard similarity of two texts estimated from their signatures."""
    a = np.frombuffer(first, dtype="<u4")
    b = np.frombuffer(second, dtype="<u4")
    return float(np.count_nonzero(a == b)) / len(a)


def lsh_bands(signature: bytes) -> list[int]:
    """One signed 64-bit key per LSH band of a signature (band index included)."""
    width = LSH_ROWS * 4
    keys = []
    for band in range(LSH_BANDS):
        digest = hashlib.blake2b(
            signature[band * width : (band + 1) * width], digest_size=8, person=b"band%04d" % band
        ).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys
