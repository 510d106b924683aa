"""Tests of story grouping on small hand-made articles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator.dedup.stories import (
    InMemoryStoryStore,
    StoryArticle,
    StoryParams,
    assign_story,
    representative_title,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

BACKGROUND = [
    ("City council approves new bike lanes downtown", "The council voted for lanes on Main St."),
    ("Local bakery wins national bread award", "The family bakery took first prize in Chicago."),
    ("Storm knocks out power to thousands", "Heavy winds downed lines across the county."),
    ("Museum opens exhibit on ancient Egypt", "Artifacts from the Nile valley go on display."),
    ("School district hires new superintendent", "The board picked a former teacher to lead."),
    ("Airline adds direct flights to Lisbon", "Three weekly flights start in the summer."),
]


def _article(
    article_id: str, source: str, title: str, text: str, hours: float = 0.0
) -> StoryArticle:
    """Return an article published some hours after T0."""
    return StoryArticle(article_id, source, title, text, T0 + timedelta(hours=hours))


def _store_with_background() -> InMemoryStoryStore:
    """Return a store that already holds a few unrelated stories, so IDF means something."""
    store = InMemoryStoryStore()
    for number, (title, text) in enumerate(BACKGROUND):
        assign_story(store, _article(f"bg-{number}", f"local-{number}", title, text, -10))
    return store


def test_same_event_by_three_outlets_is_one_story() -> None:
    store = _store_with_background()
    first = assign_story(
        store,
        _article(
            "a1",
            "left.example",
            "Nvidia buys Arm from SoftBank for $40 billion",
            "Nvidia agreed to acquire chip designer Arm from SoftBank in a $40 billion deal.",
        ),
    )
    second = assign_story(
        store,
        _article(
            "a2",
            "centre.example",
            "SoftBank sells Arm to Nvidia in $40 billion chip deal",
            "SoftBank said it will sell Arm to Nvidia, the largest chip deal ever.",
            2,
        ),
    )
    third = assign_story(
        store,
        _article(
            "a3",
            "right.example",
            "Regulators eye Nvidia's $40 billion Arm takeover",
            "The Nvidia purchase of Arm from SoftBank faces scrutiny from regulators.",
            5,
        ),
    )
    assert first.is_new
    assert not second.is_new and second.story_id == first.story_id
    assert not third.is_new and third.story_id == first.story_id
    story = third.story
    assert story.article_count == 3
    assert story.source_count == 3
    assert story.first_seen == T0
    assert story.last_seen == T0 + timedelta(hours=5)


def test_different_events_sharing_a_topic_word_are_different_stories() -> None:
    store = _store_with_background()
    outage = assign_story(
        store,
        _article(
            "b1",
            "one.example",
            "Cloudflare outage takes down thousands of websites",
            "A configuration error at Cloudflare caused a global outage for two hours.",
        ),
    )
    funding = assign_story(
        store,
        _article(
            "b2",
            "two.example",
            "Cloudflare rival Fastly raises prices for startups",
            "Fastly will charge small customers more from April, its chief executive wrote.",
            1,
        ),
    )
    assert funding.is_new
    assert funding.story_id != outage.story_id


def test_window_is_respected() -> None:
    store = _store_with_background()
    title = "Python 3.15 released with a new JIT compiler"
    text = "The Python Software Foundation released Python 3.15, which ships a JIT compiler."
    first = assign_story(store, _article("c1", "one.example", title, text))
    later = assign_story(store, _article("c2", "two.example", title, text, 5 * 24))
    assert later.is_new
    assert later.story_id != first.story_id
    soon = assign_story(store, _article("c3", "three.example", title, text, 5 * 24 + 1))
    assert soon.story_id == later.story_id


def test_window_is_configurable() -> None:
    store = _store_with_background()
    params = StoryParams(window=timedelta(days=7))
    title = "Python 3.15 released with a new JIT compiler"
    text = "The Python Software Foundation released Python 3.15, which ships a JIT compiler."
    first = assign_story(store, _article("d1", "one.example", title, text), params)
    later = assign_story(store, _article("d2", "two.example", title, text, 5 * 24), params)
    assert later.story_id == first.story_id


def test_representative_title_is_the_one_closest_to_the_story() -> None:
    centroid = {"nvidia": 1.0, "arm": 1.0, "softbank": 0.8, "40": 0.5, "billion": 0.5}
    titles = [
        "What this means for the chip industry",
        "Nvidia buys Arm from SoftBank for $40 billion",
        "Regulators worried",
    ]
    assert representative_title(titles, centroid) == titles[1]


def test_story_headline_follows_the_most_representative_title() -> None:
    store = _store_with_background()
    texts = "Nvidia agreed to buy Arm from SoftBank for $40 billion, a record chip deal."
    titles = [
        "Why the chip deal of the year matters to Nvidia",
        "Nvidia buys Arm from SoftBank for $40 billion",
        "SoftBank sells Arm to Nvidia for $40 billion",
    ]
    decision = None
    for number, title in enumerate(titles):
        decision = assign_story(store, _article(f"e{number}", f"s{number}", title, texts, number))
    assert decision is not None and decision.story.article_count == 3
    assert decision.story.headline in titles[1:]


def test_candidate_lookup_reads_only_recent_postings_of_the_keys() -> None:
    store = InMemoryStoryStore()
    params = StoryParams()
    # Many old stories share the key "kubernetes"; none of them may be read for a new article.
    for number in range(300):
        assign_story(
            store,
            _article(
                f"old-{number}",
                f"blog-{number}",
                f"Kubernetes release {number} notes",
                f"Kubernetes {number} ships fixes for cluster number {number}.",
                -24 * 60 + number,
            ),
            params,
        )
    store.postings_read = 0
    assign_story(
        store,
        _article("new", "blog-x", "Kubernetes 2.0 announced", "Kubernetes 2.0 is out today."),
        params,
    )
    # An indexed lookup stops at the first out-of-window posting of each key.
    assert store.postings_read <= params.article_keys
    busiest = max(store.postings, key=lambda key: len(store.postings[key]))
    assert len(store.postings[busiest]) > 100
    store.postings_read = 0
    stories = store.candidate_stories([busiest], T0 - timedelta(days=365), per_key=5)
    assert [story.id for story in stories] == ["new", "old-299", "old-298", "old-297", "old-296"]
    assert store.postings_read == 5


def test_document_frequencies_are_incremental() -> None:
    store = InMemoryStoryStore()
    store.add_document_terms(["arm", "nvidia"])
    store.add_document_terms(["arm", "arm"])
    assert store.doc_count() == 2
    assert store.document_frequencies(["arm", "nvidia", "zig"]) == {"arm": 2, "nvidia": 1}
