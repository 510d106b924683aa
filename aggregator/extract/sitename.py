"""Site names: whether a title part or an author names the site (its name or its domain)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# A title part is the site's name when it starts a label of the host and has this many letters.
MIN_SITE_PREFIX_CHARS = 4

_WORD_RE = re.compile(r"\w+")
# Words that site names add to the domain name ("Rust Blog", "The Verge News").
_SITE_WORDS = frozenset({"the", "blog", "news", "magazine", "official", "online", "site", "home"})


def site_key(text: str) -> str:
    """A name reduced to its lower-case letters and digits, to compare names."""
    return re.sub(r"[\W_]+", "", text.casefold())


def site_keys(url: str | None, *names: str | None) -> set[str]:
    """The keys of a site: of its host's labels, of its domain, and of the names given."""
    return _host_keys(url) | {site_key(name) for name in names if name}


def _host_keys(url: str | None) -> set[str]:
    host = (urlsplit(url).hostname or "") if url else ""
    labels = [label for label in host.split(".") if label not in ("www", "blog", "m")]
    keys = {site_key(label) for label in labels[:-1]}
    if len(labels) >= 2:
        keys.add(site_key("".join(labels[-2:])))
    keys.discard("")
    return keys


def is_site_name(part: str, keys: set[str]) -> bool:
    """Whether a title part names the site: its name, or its domain ("Rust Blog", rust-lang.org)."""
    key = site_key(part)
    if key in keys:
        return True
    # "Rust Blog" on rust-lang.org: the part without words such as "blog" starts a host label
    words = [w for w in _WORD_RE.findall(part.casefold()) if w not in _SITE_WORDS]
    key = "".join(words)
    return len(key) >= MIN_SITE_PREFIX_CHARS and any(site.startswith(key) for site in keys if site)
