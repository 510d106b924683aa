"""Tests of canonical URLs."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator.dedup.urls import (
    TRACKING_PARAMS,
    canonical_url,
    registered_domain,
    same_site,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # scheme and host case, default ports, fragment
        ("HTTPS://Blog.Example.COM:443/Post/Path#section", "https://blog.example.com/Post/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://user:pw@example.com/a", "https://example.com/a"),
        # trailing slash of non-root paths, empty path and empty query
        ("https://example.com", "https://example.com/"),
        ("https://example.com/", "https://example.com/"),
        ("https://example.com/a/b/", "https://example.com/a/b"),
        ("https://example.com/a//", "https://example.com/a"),
        ("https://example.com/a?", "https://example.com/a"),
        ("https://example.com/a/?x=1", "https://example.com/a?x=1"),
        # tracking parameters, sorted remaining parameters
        (
            "https://example.com/p?utm_source=tw&utm_Medium=x&id=7&fbclid=abc&b=2&a=1",
            "https://example.com/p?a=1&b=2&id=7",
        ),
        (
            "https://example.com/p?UTM_CAMPAIGN=x&gclid=1&ref=hn&mc_cid=1&mc_eid=2",
            "https://example.com/p",
        ),
        (
            "https://example.com/p?_ga=1&igshid=2&yclid=3&spm=4&ocid=5&s_cid=6",
            "https://example.com/p",
        ),
        ("https://example.com/p?ref_src=twsrc&cmpid=1&dclid=2&msclkid=3", "https://example.com/p"),
        ("https://example.com/p?a=&b", "https://example.com/p?a=&b"),
        ("https://example.com/p?b=2&&a=1&", "https://example.com/p?a=1&b=2"),
        ("https://example.com/p?q=a+b&r=%2f", "https://example.com/p?q=a+b&r=%2F"),
        (
            "https://example.com/p?reference=1&preferred=2",
            "https://example.com/p?preferred=2&reference=1",
        ),
        # AMP variants
        ("https://example.com/2024/05/post/amp/", "https://example.com/2024/05/post"),
        ("https://example.com/2024/05/post/amp", "https://example.com/2024/05/post"),
        ("https://example.com/post?amp=1", "https://example.com/post"),
        ("https://example.com/post?amp", "https://example.com/post"),
        ("https://example.com/post?outputType=amp&x=1", "https://example.com/post?x=1"),
        ("https://example.com/post?outputType=html", "https://example.com/post?outputType=html"),
        ("https://amp.example.com/post", "https://example.com/post"),
        ("https://amp.dev/about", "https://amp.dev/about"),
        ("https://example.com/amplifier/", "https://example.com/amplifier"),
        ("https://example.com/amp-stories/x", "https://example.com/amp-stories/x"),
        # mobile hosts; www is kept
        ("https://m.example.com/post", "https://example.com/post"),
        ("https://m.blog.example.co.uk/post", "https://blog.example.co.uk/post"),
        ("https://m.m.example.com/post", "https://example.com/post"),
        ("https://m.co/post", "https://m.co/post"),
        ("https://www.example.com/post", "https://www.example.com/post"),
        ("https://mobile.example.com/post", "https://mobile.example.com/post"),
        # directory index documents
        ("https://example.com/blog/index.html", "https://example.com/blog"),
        ("https://example.com/index.php", "https://example.com/"),
        ("https://example.com/blog/index.htm?x=1", "https://example.com/blog?x=1"),
        ("https://example.com/blog/index.html/amp/", "https://example.com/blog"),
        ("https://example.com/my-index.html", "https://example.com/my-index.html"),
        # path case and meaningful characters kept; escapes normalised
        ("https://example.com/Blog/My-Post.HTML", "https://example.com/Blog/My-Post.HTML"),
        ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://example.com/a%2Db%7e", "https://example.com/a-b~"),
        ("https://example.com/a%2fb", "https://example.com/a%2Fb"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://example.com/a;b=c/d:e@f", "https://example.com/a;b=c/d:e@f"),
        # IPv6 and localhost
        ("http://[::1]:8000/a/", "http://[::1]:8000/a"),
        ("http://LOCALHOST:80/a", "http://localhost/a"),
        # not http(s), unparsable: unchanged
        ("ftp://example.com/a/", "ftp://example.com/a/"),
        ("mailto:a@example.com", "mailto:a@example.com"),
        ("/relative/path/", "/relative/path/"),
        ("  https://example.com/a/  ", "https://example.com/a"),
        ("http://[::1/a", "http://[::1/a"),
        ("http://example.com:99999/a", "http://example.com:99999/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected


def test_all_listed_tracking_parameters_are_dropped() -> None:
    query = "&".join(f"{name}=1" for name in sorted(TRACKING_PARAMS))
    assert canonical_url(f"https://example.com/a?{query}&keep=1") == "https://example.com/a?keep=1"


@pytest.mark.parametrize(
    ("url", "declared", "expected"),
    [
        # relative and absolute declared canonical URLs, normalised too
        ("https://example.com/a?utm_source=x", "/a/", "https://example.com/a"),
        (
            "https://example.com/2024/05/p/amp/",
            "https://example.com/2024/05/p/",
            "https://example.com/2024/05/p",
        ),
        ("https://m.example.com/p", "//www.example.com/p?ref=x", "https://www.example.com/p"),
        # another domain: syndicated copies point at the original
        ("https://dev.to/jane/post-123", "https://jane.blog/post", "https://jane.blog/post"),
        # ignored: not http(s), empty, unparsable
        ("https://example.com/a", "ftp://example.com/b", "https://example.com/a"),
        ("https://example.com/a", "javascript:alert(1)", "https://example.com/a"),
        ("https://example.com/a", "", "https://example.com/a"),
        ("https://example.com/a", "   ", "https://example.com/a"),
        ("https://example.com/a", "http://[::1", "https://example.com/a"),
        # ignored: the home page declared on an article (CMS misconfiguration)
        (
            "https://example.com/2024/05/post",
            "https://example.com/",
            "https://example.com/2024/05/post",
        ),
        ("https://example.com/2024/05/post", "/", "https://example.com/2024/05/post"),
        # honoured: the home page declared on the home page
        ("https://example.com/?utm_source=x", "https://example.com/", "https://example.com/"),
    ],
)
def test_canonical_url_declared(url: str, declared: str, expected: str) -> None:
    assert canonical_url(url, declared) == expected


def test_registered_domain_and_same_site() -> None:
    assert registered_domain("blog.example.co.uk") == "example.co.uk"
    assert registered_domain("Example.COM.") == "example.com"
    assert registered_domain("alice.github.io") == "alice.github.io"
    assert registered_domain("127.0.0.1") == "127.0.0.1"
    assert registered_domain("localhost") == "localhost"
    assert same_site("https://cdn.example.com/x", "https://www.example.com/")
    assert not same_site("https://alice.github.io/x", "https://bob.github.io/")
    assert not same_site("https://example.org/x", "https://example.com/")
    assert not same_site("/relative", "https://example.com/")
    assert not same_site("http://[::1/x", "https://example.com/")
    assert same_site("http://127.0.0.1:8001/a", "http://127.0.0.1:8000/")


# Properties

_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-_.~", min_size=1)
_host_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_hosts = st.builds(
    lambda sub, name, tld: ".".join([*sub, name, tld]),
    st.lists(st.sampled_from(["www", "m", "amp", "blog", "news", "x1"]) | _host_label, max_size=3),
    _host_label,
    st.sampled_from(["com", "co.uk", "org", "github.io", "dev"]),
)
_params = st.lists(
    st.tuples(
        st.sampled_from(["utm_source", "fbclid", "ref", "id", "page", "q", "amp", "outputType"])
        | st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789+%/ é", max_size=8),
    ),
    max_size=5,
)
_urls = st.builds(
    lambda scheme, host, port, segments, slash, params, fragment: (
        f"{scheme}://{host}{port}/{'/'.join(segments)}{slash}"
        + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "")
        + fragment
    ),
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    _hosts,
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.lists(_segment | st.sampled_from(["amp", "index.html", "AMP", "index.php"]), max_size=5),
    st.sampled_from(["", "/"]),
    _params,
    st.sampled_from(["", "#", "#frag", "#!/x"]),
)


@settings(max_examples=500, deadline=None)
@given(_urls)
@example("https://m.amp.m.example.com/a/amp/index.html/amp/?amp&amp=1")
@example("https://example.com/%zz%25%2e/")
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
@example("http://a@b@c/")
@example("http://./")
@example("http://\u0130.com/")
@example("http://x.com/\ud800")
def test_canonical_url_is_idempotent_on_any_text(text: str) -> None:
    once = canonical_url(text)
    assert canonical_url(once) == once
    assert canonical_url("http://example.com/" + text) == canonical_url(
        canonical_url("http://example.com/" + text)
    )


@settings(max_examples=300, deadline=None)
@given(_urls, st.text(max_size=30))
def test_canonical_url_with_declared_is_stable(url: str, declared: str) -> None:
    once = canonical_url(url, declared)
    assert canonical_url(once) == once


@settings(max_examples=500, deadline=None)
@given(_urls)
def test_canonical_url_keeps_host_and_meaningful_segments(url: str) -> None:
    result = urlsplit(canonical_url(url))
    original = urlsplit(url)
    host = original.hostname or ""
    # Only leading m./amp. labels may go, and only while they are a subdomain.
    assert result.hostname is not None
    assert host.endswith(result.hostname)
    dropped = host[: len(host) - len(result.hostname)].rstrip(".").split(".")
    assert dropped == [""] or all(label in ("m", "amp") for label in dropped)
    assert registered_domain(result.hostname) == registered_domain(host)
    # Path segments survive in order, except trailing AMP and index documents.
    segments = [s for s in original.path.split("/") if s]
    while segments and segments[-1].lower() in ("amp", "index.html", "index.php"):
        segments.pop()
    assert [s for s in result.path.split("/") if s] == segments
    assert result.scheme == original.scheme.lower()
    assert not result.fragment
