"""Stories in the SQL store, through the CLI: grouping on import, `stories`, `restory`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from click.testing import CliRunner
from sqlalchemy import Engine, event, inspect
from starlette.testclient import TestClient

from aggregator.cli import main
from aggregator.dedup.stories import StoryArticle, StoryState, assign_story
from aggregator.store.db import _alembic_config, open_store, session_scope
from aggregator.store.stories import SqlStoryStore, resolve_story
from aggregator.web import create_app
from tests.support import ACQUISITION, ACQUISITION_BRIDGE, EVENT, OTHER, PATCH_ONE, PATCH_TWO


def import_articles(db_url: str, tmp_path: Path) -> None:
    lines = []
    for n, (source, title, lead) in enumerate(EVENT + OTHER):
        text = f"{lead}\n\nAs reported: {title}."
        lines.append(
            json.dumps(
                {
                    "url": f"https://{source}.example/{n}",
                    "source": source,
                    "title": title,
                    "text": text,
                    "published": f"2026-11-2{n % 3}T10:00:00Z",
                }
            )
        )
    path = tmp_path / "event.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["--db", db_url, "import", str(path)])
    assert result.exit_code == 0, result.output


def stories(db_url: str, *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(
        main, ["--db", db_url, "stories", "--since", "2026-11-01", "--json", *args]
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_the_same_event_by_three_outlets_is_one_story(db_url: str, tmp_path: Path) -> None:
    import_articles(db_url, tmp_path)
    covered = stories(db_url, "--min-sources", "2")
    assert len(covered) == 1
    story = covered[0]
    assert story["source_count"] == 3 and story["article_count"] == 3
    assert {a["source"] for a in story["articles"]} == {"wire", "techpulse", "devwire"}  # type: ignore[union-attr]
    assert "Microsoft" in str(story["title"])
    assert len(stories(db_url)) == 3  # plus two single-source stories

    result = CliRunner().invoke(main, ["--db", db_url, "restory"])
    assert result.exit_code == 0 and "Regrouped 5 articles" in result.output
    assert [s["source_count"] for s in stories(db_url)] == [3, 1, 1]
    result = CliRunner().invoke(main, ["--db", db_url, "restory", "--since", "2026-11-21"])
    assert result.exit_code == 0, result.output
    assert [s["source_count"] for s in stories(db_url)] == [3, 1, 1]


def test_a_very_long_name_does_not_stop_the_article_being_stored(
    db_url: str, tmp_path: Path
) -> None:
    name = " ".join(f"Word{n}" for n in range(60))
    text = (
        f"{name} announced a new product today at the annual developer conference. "
        "The company said it would ship later this year to customers in every region."
    )
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"url": "https://x.example/1", "title": "News", "text": text}))
    result = CliRunner().invoke(main, ["--db", db_url, "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[-1])["inserted"] == 1


def _import_rows(
    db_url: str, tmp_path: Path, rows: list[tuple[str, str, str, str]], name: str
) -> dict[str, int]:
    """Import (key, source, title, lead) rows an hour apart; return each key's article id."""
    lines = [
        json.dumps(
            {
                "url": f"https://{source}.example/{key}",
                "source": source,
                "title": title,
                "text": f"{text}\n\nAs reported: {title}.",
                "published": f"2026-11-20T{hour:02d}:00:00Z",
            }
        )
        for hour, (key, source, title, text) in enumerate(rows)
    ]
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["--db", db_url, "import", str(path)])
    assert result.exit_code == 0, result.output
    articles = CliRunner().invoke(
        main, ["--db", db_url, "articles", "--with-duplicates", "--json", "--limit", "100"]
    )
    by_url = {row["url"]: row for row in map(json.loads, articles.output.splitlines())}
    return {key: by_url[f"https://{source}.example/{key}"]["id"] for key, source, *_ in rows}


def _story_ids(db_url: str) -> dict[int, int | None]:
    """Each article's story id, as `articles --json` shows it."""
    result = CliRunner().invoke(
        main, ["--db", db_url, "articles", "--with-duplicates", "--json", "--limit", "100"]
    )
    return {row["id"]: row["story_id"] for row in map(json.loads, result.output.splitlines())}


def test_a_story_holding_two_events_splits_and_its_articles_and_copies_move(
    db_url: str, tmp_path: Path
) -> None:
    rows = []
    for n, ((t1, x1), (t2, x2)) in enumerate(zip(PATCH_ONE, PATCH_TWO, strict=True)):
        rows += [(f"one{n}", f"one{n}", t1, x1), (f"two{n}", f"two{n}", t2, x2)]
    # a copy of the second patch's first article, republished by a mirror before the split
    rows.insert(2, ("copy", "mirror", PATCH_TWO[0][0], PATCH_TWO[0][1]))
    ids = _import_rows(db_url, tmp_path, rows, "patches")
    story_of = _story_ids(db_url)
    first = {story_of[ids[f"one{n}"]] for n in range(4)}
    second = {story_of[ids[f"two{n}"]] for n in range(4)}
    assert len(first) == 1 and len(second) == 1 and first != second
    assert story_of[ids["copy"]] == story_of[ids["two0"]]
    assert second == {ids["two0"]}  # the part that split off is named after its first article
    listed = stories(db_url)
    assert sorted((s["article_count"], s["copy_count"]) for s in listed) == [(4, 0), (4, 1)]


def test_merged_stories_keep_their_old_id_as_a_link_to_the_survivor(
    db_url: str, tmp_path: Path
) -> None:
    both = ACQUISITION + ACQUISITION_BRIDGE
    rows = [(f"deal{n}", f"deal{n}", t, x) for n, (t, x) in enumerate(both)]
    ids = _import_rows(db_url, tmp_path, rows, "deal")
    story_of = _story_ids(db_url)
    assert set(story_of.values()) == {ids["deal0"]}
    listed = stories(db_url)
    assert [(s["id"], s["article_count"], s["source_count"]) for s in listed] == [
        (ids["deal0"], 8, 8)
    ]
    old = ids["deal1"]  # the regulator's side started a story of its own, then merged
    with TestClient(create_app(db_url)) as client:
        moved = client.get(f"/api/stories/{old}", follow_redirects=False)
        assert moved.status_code == 301
        assert moved.headers["location"] == f"/api/stories/{ids['deal0']}"
        assert client.get(f"/api/stories/{old}").json()["id"] == ids["deal0"]
    found = CliRunner().invoke(
        main, ["--db", db_url, "search", "Brussels", "--story", str(old), "--json"]
    )
    assert found.exit_code == 0, found.output
    assert {json.loads(line)["story_id"] for line in found.output.splitlines()} == {ids["deal0"]}
    assert len(found.output.splitlines()) == 6


def test_restory_reports_progress_and_keeps_old_story_ids_working(
    db_url: str, tmp_path: Path
) -> None:
    # The later article arrives first and names the story; regrouped in publication order,
    # the story is named after the earlier one, and the old id must still lead to it
    rows = [(f"deal{n}", f"deal{n}", t, x) for n, (t, x) in enumerate(ACQUISITION)]
    late_first = [rows[2], rows[0]]
    lines = [
        json.dumps(
            {
                "url": f"https://{source}.example/{key}",
                "source": source,
                "title": title,
                "text": f"{text}\n\nAs reported: {title}.",
                "published": f"2026-11-20T{10 if key == 'deal2' else 8:02d}:00:00Z",
            }
        )
        for key, source, title, text in late_first
    ]
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert CliRunner().invoke(main, ["--db", db_url, "import", str(path)]).exit_code == 0
    before = _story_ids(db_url)
    assert len(set(before.values())) == 1
    old = next(iter(before.values()))
    result = CliRunner().invoke(main, ["--db", db_url, "restory", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"articles": 2, "stories": 1, "redirected": 1}
    assert "2/2 articles regrouped" in result.stderr
    after = _story_ids(db_url)
    assert len(set(after.values())) == 1 and set(after.values()) != {old}
    with TestClient(create_app(db_url)) as client:
        assert client.get(f"/api/stories/{old}").json()["id"] == next(iter(after.values()))


def test_story_merges_migrate_up_and_down(engine: Engine) -> None:
    config = _alembic_config(engine)
    command.downgrade(config, "0005")
    assert "merged_into" not in {c["name"] for c in inspect(engine).get_columns("stories")}
    command.upgrade(config, "head")
    assert "merged_into" in {c["name"] for c in inspect(engine).get_columns("stories")}


def test_a_story_changed_by_another_process_is_read_as_it_is_now(engine: Engine) -> None:
    # Candidate stories are decoded once and reused while their row is unchanged: a story
    # changed through another connection must come back changed
    published = datetime(2026, 11, 1, tzinfo=UTC)
    story = StoryState(
        id="7",
        headline="Rust 2.0 released",
        first_seen=published,
        last_seen=published,
        article_count=1,
        sources=("wire",),
        centroid={"rust": 1.0},
        titles=("Rust 2.0 released",),
        keys=("rust",),
    )
    since = published - timedelta(days=1)
    with session_scope(engine) as session:
        SqlStoryStore(session).save_story(story)
    with session_scope(engine) as session:
        [read] = SqlStoryStore(session).candidate_stories(["rust"], since, 8)
    assert read.sources == ("wire",) and read.centroid == {"rust": 1.0}
    grown = replace(story, article_count=2, sources=("wire", "devwire"), centroid={"rust": 2.0})
    other = open_store(str(engine.url.render_as_string(hide_password=False)))
    with session_scope(other) as session:
        SqlStoryStore(session).save_story(grown)
    other.dispose()
    with session_scope(engine) as session:
        [read] = SqlStoryStore(session).candidate_stories(["rust"], since, 8)
    assert read.article_count == 2 and read.sources == ("wire", "devwire")
    assert read.centroid == {"rust": 2.0}


def test_a_save_looks_story_candidates_up_once_even_when_stories_merge(engine: Engine) -> None:
    """One candidate query per article: the merge pass reuses what the article's lookup read."""
    lookups: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM story_keys" in statement and statement.lstrip().upper().startswith("SELECT"):
            lookups.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    decisions = []
    try:
        both = ACQUISITION + ACQUISITION_BRIDGE
        for n, (title, text) in enumerate(both):
            with session_scope(engine) as session:
                lookups.clear()
                store = SqlStoryStore(session)
                store.lock()
                published = datetime(2026, 11, 20, n, tzinfo=UTC)
                article = StoryArticle(str(n + 1), f"outlet{n}", title, text, published)
                decisions.append(assign_story(store, article))
                assert len(lookups) == 1
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [decision.merged for decision in decisions if decision.merged] == [("2",)]
    with session_scope(engine) as session:
        assert resolve_story(session, 2) == 1
        found = SqlStoryStore(session).candidate_stories(["nvidia"], published, 32)
        assert [story.id for story in found] == ["1"]
        assert found[0].article_count == len(both)
