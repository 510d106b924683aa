"""The SQL store on SQLite and PostgreSQL: migrations, upserts, duplicates, crawl runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select

from aggregator.dedup.fingerprints import content_hash, minhash_signature
from aggregator.exceptions import StoreError
from aggregator.ingest import save_article, save_articles
from aggregator.items import Article as CleanArticle
from aggregator.items import PageItem
from aggregator.store import frontier
from aggregator.store.articles import SaveResult, copies_of, list_articles, raw_html, store_stats
from aggregator.store.db import (
    current_revision,
    head_revision,
    is_modelled,
    open_store,
    session_scope,
)
from aggregator.store.models import Article, Base, CrawlRun, Story
from aggregator.store.runs import finish_run, start_run

BODY = "First paragraph of a real enough article.\n\nSecond paragraph, with more words."


def page(url: str, text: str = BODY, title: str = "A title", source: str = "blog") -> PageItem:
    item = PageItem(url=url, source=source, body=b"<html><p>raw</p></html>")
    item.article = CleanArticle(
        title=title,
        text=text,
        authors=["Ada Lovelace"],
        published=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )
    item.canonical_url = url
    item.content_hash = content_hash(text)
    return item


# the listing order's expression indexes are not modelled (see UNMODELLED_NAMES)
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": is_modelled})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_open_store_twice_is_idempotent(db_url: str) -> None:
    first = open_store(db_url)
    second = open_store(db_url)
    assert current_revision(second) == head_revision()
    first.dispose()
    second.dispose()


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="not valid"):
        open_store("not a url at all")


def test_insert_then_unchanged_then_updated(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = save_article(session, page("https://blog.example/a"))
    assert first.status == "inserted"
    with session_scope(engine) as session:
        again = save_article(session, page("https://blog.example/a"))
    assert again == SaveResult("unchanged", first.article_id, None)
    with session_scope(engine) as session:
        created = session.get(Article, first.article_id)
        assert created is not None
        before = created.updated_at
    changed = page("https://blog.example/a", text=BODY + "\n\nA correction was added.")
    with session_scope(engine) as session:
        updated = save_article(session, changed)
    assert updated.status == "updated"
    with session_scope(engine) as session:
        stored = session.get(Article, first.article_id)
        assert stored is not None
        assert stored.text.endswith("A correction was added.")
        assert stored.updated_at > before
        assert session.scalar(select(func.count(Article.id))) == 1


def test_same_text_at_another_url_is_a_duplicate_of_the_first(engine: Engine) -> None:
    with session_scope(engine) as session:
        original = save_article(session, page("https://one.example/post"))
        copy = save_article(session, page("https://two.example/copy", source="other"))
    assert copy.status == "duplicate"
    assert copy.duplicate_of == original.article_id
    with session_scope(engine) as session:
        visible = list(list_articles(session, include_duplicates=False))
        everything = list(list_articles(session))
        assert [a.id for a in visible] == [original.article_id]
        assert len(everything) == 2
        assert [a.url for a in copies_of(session, original.article_id)] == [
            "https://two.example/copy"
        ]


def test_a_batch_places_its_originals_in_stories_after_writing_every_page(
    engine: Engine,
) -> None:
    other = "Ferries of the harbour now run on batteries.\n\nThe port paid for the chargers."
    title = "Harbour ferries switch to electric engines"
    later = page("https://one.example/later", text=other, title=title)
    earlier = page("https://two.example/earlier", text=other, title=title, source="other")
    assert earlier.article is not None
    earlier.article.published = datetime(2026, 11, 19, tzinfo=UTC)
    batch = [
        page("https://one.example/first"),
        page("https://two.example/its-copy", source="other"),  # a copy of the page before
        later,
        earlier,  # the same text, published a day before: it takes over as the original
    ]
    with session_scope(engine) as session:
        results = save_articles(session, batch)
    assert [r.status for r in results] == ["inserted", "duplicate", "inserted", "inserted"]
    with session_scope(engine) as session:
        rows = {a.url: a for a in session.scalars(select(Article))}
        first, copy = rows["https://one.example/first"], rows["https://two.example/its-copy"]
        took_over, now_copy = rows[earlier.url], rows[later.url]
        assert first.story_id is not None and copy.story_id == first.story_id
        assert copy.duplicate_of == first.id
        assert took_over.duplicate_of is None and now_copy.duplicate_of == took_over.id
        assert took_over.story_id is not None and now_copy.story_id == took_over.story_id
        assert took_over.story_id != first.story_id
        # each story counts its original once: the copies are not grouped as articles
        assert session.scalar(select(func.count(Story.id))) == 2


def test_dates_come_back_aware_utc(engine: Engine) -> None:
    with session_scope(engine) as session:
        result = save_article(session, page("https://blog.example/dated"))
    with session_scope(engine) as session:
        stored = session.get(Article, result.article_id)
        assert stored is not None
        assert stored.published == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
        assert stored.fetched_at.tzinfo is not None


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    naive = page("https://blog.example/naive")
    assert naive.article is not None
    naive.article.published = datetime(2026, 1, 1)
    with pytest.raises(Exception, match="naive datetime"), session_scope(engine) as session:
        save_article(session, naive)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count(Article.id))) == 0


def test_known_urls_matches_fetched_and_canonical_urls(engine: Engine) -> None:
    item = page("https://blog.example/canon")
    item.url = "https://blog.example/canon?utm_source=rss"
    with session_scope(engine) as session:
        save_article(session, item)
    with session_scope(engine) as session:
        found = frontier.known_urls(
            session,
            [
                "https://blog.example/canon",
                "https://blog.example/canon?utm_source=rss",
                "https://blog.example/other",
            ],
        )
    assert found == {
        "https://blog.example/canon",
        "https://blog.example/canon?utm_source=rss",
    }


def test_raw_html_is_compressed_and_restorable(engine: Engine) -> None:
    item = page("https://blog.example/raw")
    item.body = b"<html>" + b"<p>repeated words</p>" * 500 + b"</html>"
    with session_scope(engine) as session:
        result = save_article(session, item)
    with session_scope(engine) as session:
        stored = session.get(Article, result.article_id)
        assert stored is not None and stored.raw_html is not None
        assert len(stored.raw_html) < len(item.body) / 10
        assert raw_html(stored) == item.body


def test_failed_transaction_leaves_nothing_half_written(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        save_article(session, page("https://blog.example/lost"))
        raise RuntimeError("interrupted")
    with session_scope(engine) as session:
        assert session.scalar(select(func.count(Article.id))) == 0


def test_crawl_run_records_stats_and_errors(engine: Engine) -> None:
    with session_scope(engine) as session:
        run_id = start_run(session, ["blog"])
    with session_scope(engine) as session:
        finish_run(
            session,
            run_id,
            "finished",
            {"aggregator/pages_fetched": 7, "aggregator/store/inserted": 5},
            [("blog", "https://blog.example/x", "HTTP 500")],
        )
    with session_scope(engine) as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        assert (run.status, run.pages_fetched, run.articles_stored, run.error_count) == (
            "finished",
            7,
            5,
            1,
        )
        assert run.errors[0].reason == "HTTP 500"
        assert run.finished_at is not None and run.finished_at >= run.started_at


def test_list_articles_filters_by_source_and_since(engine: Engine) -> None:
    old = page("https://blog.example/old", text="Old text body.", source="a")
    assert old.article is not None
    old.article.published = datetime.now(UTC) - timedelta(days=10)
    new = page("https://blog.example/new", text="New text body.", source="b")
    assert new.article is not None
    new.article.published = datetime.now(UTC) - timedelta(hours=1)
    with session_scope(engine) as session:
        save_article(session, old)
        save_article(session, new)
    with session_scope(engine) as session:
        recent = list(list_articles(session, since=datetime.now(UTC) - timedelta(days=2)))
        assert [a.url for a in recent] == ["https://blog.example/new"]
        only_a = list(list_articles(session, source="a"))
        assert [a.url for a in only_a] == ["https://blog.example/old"]
        assert store_stats(session)["articles"] == 2


LONG = "\n\n".join(
    " ".join(f"Paragraph {p} sentence {s} explains the storage engine rewrite." for s in range(6))
    for p in range(6)
)


def fingerprinted(url: str, text: str, published: datetime, source: str = "blog") -> PageItem:
    item = page(url, text=text, source=source)
    assert item.article is not None
    item.article.published = published
    item.content_hash = content_hash(text)
    item.minhash = minhash_signature(text)
    return item


def test_near_duplicate_is_linked_to_the_earliest_copy(engine: Engine) -> None:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    edited = (
        LONG.replace("Paragraph 3 sentence 2", "Paragraph 3 sentence two")
        + "\n\nThis story originally appeared on Blog One."
    )
    other = LONG.replace("storage engine rewrite", "new query planner")
    with session_scope(engine) as session:
        first = save_article(session, fingerprinted("https://one.example/a", LONG, day))
        copy = save_article(
            session, fingerprinted("https://two.example/b", edited, day + timedelta(hours=3), "two")
        )
        unrelated = save_article(
            session, fingerprinted("https://one.example/c", other, day, "blog")
        )
    assert copy.status == "duplicate" and copy.duplicate_of == first.article_id
    assert unrelated.status == "inserted"


def test_a_copy_published_earlier_becomes_the_original(engine: Engine) -> None:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    with session_scope(engine) as session:
        later = save_article(
            session, fingerprinted("https://mirror.example/x", LONG, day + timedelta(days=1))
        )
        third = save_article(
            session,
            fingerprinted("https://mirror2.example/x", LONG + " Extra.", day + timedelta(days=2)),
        )
        earlier = save_article(session, fingerprinted("https://origin.example/x", LONG, day))
    assert third.duplicate_of == later.article_id
    assert earlier.status == "inserted" and earlier.duplicate_of is None
    with session_scope(engine) as session:
        rows = {a.id: a.duplicate_of for a in session.scalars(select(Article))}
    assert rows == {
        later.article_id: earlier.article_id,
        third.article_id: earlier.article_id,
        earlier.article_id: None,
    }
