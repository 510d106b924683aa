"""Canonical URLs: one identity per article across tracking, AMP, mobile and canonical links."""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

import tldextract

# Query parameters that only say where a click came from; dropped by exact (lower-cased) name.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",  # Facebook
        "gclid",  # Google Ads
        "gclsrc",
        "gbraid",
        "wbraid",
        "dclid",  # Google Display
        "_gl",  # Google cross-domain linker
        "_ga",
        "msclkid",  # Microsoft Ads
        "mc_cid",  # Mailchimp
        "mc_eid",
        "ref",  # Ghost, Product Hunt, many newsletters
        "ref_src",  # Twitter
        "ref_url",
        "cmpid",  # Adobe campaigns
        "s_cid",
        "ocid",  # Microsoft/MSN
        "igshid",  # Instagram
        "yclid",  # Yandex
        "spm",  # Alibaba
        "twclid",  # Twitter Ads
        "ttclid",  # TikTok Ads
        "li_fat_id",  # LinkedIn
        "mkt_tok",  # Marketo
        "_hsenc",  # HubSpot
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "vero_id",  # Vero
        "oly_anon_id",  # Omeda
        "oly_enc_id",
        "rb_clickid",
        "wt_mc",  # Webtrekk
        "amp",  # ?amp / ?amp=1 AMP variants
    }
)
# Query parameters dropped by prefix of their lower-cased name.
TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "hsa_")
# Parameters dropped only with this exact (lower-cased) value: AMP switches of some CMSs.
AMP_PARAMS = frozenset({("outputtype", "amp"), ("output", "amp")})
# First host labels of mobile and AMP mirrors, stripped while they are a subdomain label.
MIRROR_HOST_LABELS = ("m", "amp")
# Trailing path segments of AMP mirrors.
AMP_PATH_SEGMENTS = ("amp",)
# Directory index documents: "/blog/index.html" is "/blog".
INDEX_DOCUMENTS = ("index.html", "index.htm", "index.php")
DEFAULT_PORTS = {"http": 80, "https": 443}

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = _UNRESERVED | frozenset("!$'()*+,;=:@/?")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")

# The bundled Public Suffix List snapshot: no network and no cache files. Private suffixes
# count, so alice.github.io and bob.github.io are different sites.
_EXTRACT = tldextract.TLDExtract(
    cache_dir=None, suffix_list_urls=(), include_psl_private_domains=True
)


@functools.lru_cache(maxsize=4096)
def registered_domain(host: str) -> str:
    """Return the registrable domain of a host (example.co.uk), or the host itself for IPs."""
    host = host.lower().rstrip(".")
    return _EXTRACT.extract_str(host).top_domain_under_public_suffix or host


def same_site(url: str, site_url: str) -> bool:
    """Return whether two URLs are on the same registered domain."""
    try:
        host, site_host = urlsplit(url).hostname, urlsplit(site_url).hostname
    except ValueError:
        return False
    if not host or not site_host:
        return False
    return registered_domain(host) == registered_domain(site_host)


def _normalise_escapes(text: str, safe: frozenset[str]) -> str:
    """Return text with unreserved escapes decoded, others upper-cased, unsafe bytes escaped."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%" and _ESCAPE.match(text, i):
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else text[i : i + 3].upper())
            i += 3
            continue
        if char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _is_tracking(param: str) -> bool:
    """Return whether one raw query parameter ("key=value") is tracking or an AMP switch."""
    key, _, value = param.partition("=")
    key = unquote_plus(key).strip().lower()
    if key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
        return True
    return (key, unquote_plus(value).strip().lower()) in AMP_PARAMS


def _clean_query(query: str, *, sort: bool) -> str:
    """Return the query without tracking parameters, escapes normalised, optionally sorted."""
    params = [_normalise_escapes(p, _QUERY_SAFE) for p in query.split("&") if p]
    kept = [p for p in params if not _is_tracking(p)]
    return "&".join(sorted(kept) if sort else kept)


def _clean_host(host: str) -> str:
    """Return the host without mobile/AMP mirror labels."""
    while True:
        label, dot, rest = host.partition(".")
        if not dot or label not in MIRROR_HOST_LABELS:
            return host
        if not _EXTRACT.extract_str(host).subdomain:
            # The label is the registered name itself (m.co, amp.dev): keep it.
            return host
        host = rest


def _clean_path(path: str) -> str:
    """Return the path without AMP suffix, index document and trailing slash."""
    while True:
        before = path
        head, _, last = path.rstrip("/").rpartition("/")
        if last.lower() in AMP_PATH_SEGMENTS or last.lower() in INDEX_DOCUMENTS:
            path = head + "/"
        if len(path) > 1:
            # Most servers answer "/post" and "/post/" alike and feeds, sitemaps and
            # canonical links disagree on it; one form is needed for identity.
            path = path.rstrip("/") or "/"
        if path == before:
            return path


def _is_root(url: str) -> bool:
    """Return whether a URL is the home page of its site."""
    parts = urlsplit(url)
    return parts.path.strip("/") == "" and not parts.query


def canonical_url(url: str, declared: str | None = None) -> str:
    """Return the canonical form of a URL, preferring the page's declared canonical URL.

    The declared URL (rel=canonical or og:url) wins when it resolves to an absolute http(s)
    URL on any domain (syndicated copies point at the original), unless it is a site's home
    page while the URL is not: CMSs that stamp the home page on every page would otherwise
    merge all articles. Non-http(s) and unparsable URLs are returned stripped, unchanged.
    """
    url = url.strip()
    if declared and declared.strip():
        try:
            resolved = urljoin(url, declared.strip())
            parts = urlsplit(resolved)
            if (
                parts.scheme.lower() in DEFAULT_PORTS
                and parts.hostname
                and not (_is_root(resolved) and not _is_root(url))
            ):
                url = resolved
        except ValueError:
            pass
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        return url
    if scheme not in DEFAULT_PORTS or not host:
        return url
    host = _clean_host(host.rstrip("."))
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _clean_path(_normalise_escapes(parts.path or "/", _PATH_SAFE))
    return urlunsplit((scheme, netloc, path, _clean_query(parts.query, sort=True), ""))
