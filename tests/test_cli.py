"""The `aggregator` command through click's CliRunner, on a real database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from aggregator.cli import main
from aggregator.sources import slug_from_url
from aggregator.store.db import head_revision, open_store, session_scope
from aggregator.store.models import Article
from tests.support import ROOT, invoke

PARAGRAPH = (
    "The storage team rewrote the compaction scheduler so that large tenants no longer "
    "starve small ones, and the change cut tail latency by a third in production. "
)
ARTICLE_TEXT = f"{PARAGRAPH * 3}\n\n{PARAGRAPH * 2}Engineers plan to publish the design notes."


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", all_commands(main), ids=lambda p: " ".join(p) or "aggregator")
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "aggregator" in result.output.split("Example", 1)[1]


def write_import(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "import.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_reports_bad_lines_and_imports_the_rest(db_url: str, tmp_path: Path) -> None:
    good = {
        "url": "https://blog.example/2026/11/compaction/?utm_source=rss",
        "source": "example",
        "title": "Compaction without starvation",
        "text": ARTICLE_TEXT,
        "authors": ["Grace Hopper"],
        "published": "2026-11-20T10:00:00Z",
    }
    copy = {**good, "url": "https://mirror.example/compaction", "source": "mirror"}
    path = write_import(
        tmp_path,
        [
            json.dumps(good),
            "{not json",
            json.dumps({"title": "no url", "text": ARTICLE_TEXT}),
            json.dumps({"url": "https://blog.example/x", "published": "yesterday", "text": "t"}),
            json.dumps(copy),
        ],
    )
    result = CliRunner().invoke(main, ["--db", db_url, "import", str(path), "--json"])
    assert result.exit_code == 1, result.output  # the rest is imported, and the exit says so
    assert json.loads(result.stderr.splitlines()[-1]) == {
        "error": f"3 of 5 lines of {path} not imported"
    }
    assert f"{path}:2: not JSON" in result.stderr
    assert f"{path}:3: url is required" in result.stderr
    assert f"{path}:4: published 'yesterday'" in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"lines": 5, "inserted": 1, "duplicate": 1, "errors": 3}

    listed = invoke(db_url, "articles", "--json", "--with-duplicates")
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert len(rows) == 2
    keys = {
        "id",
        "url",
        "canonical_url",
        "source",
        "title",
        "text",
        "authors",
        "published",
        "fetched_at",
        "duplicate_of",
        "story_id",
    }
    assert all(keys <= set(row) for row in rows)
    original = next(r for r in rows if r["duplicate_of"] is None)
    assert original["canonical_url"] == "https://blog.example/2026/11/compaction"
    assert original["title"] == "Compaction without starvation"
    assert original["authors"] == ["Grace Hopper"]
    assert original["published"].startswith("2026-11-20T10:00:00")
    assert original["text"].split("\n\n")[0].startswith("The storage team")
    copy_row = next(r for r in rows if r["duplicate_of"] is not None)
    assert original["story_id"] == original["id"]  # a story is named after its first article
    assert copy_row["story_id"] == original["story_id"]

    shown = invoke(db_url, "show", str(original["id"]))
    assert "also published at https://mirror.example/compaction" in shown.output
    # copies are hidden unless asked for
    assert invoke(db_url, "articles").output.count("\n") == 1
    assert len(invoke(db_url, "articles", "--json").output.splitlines()) == 1
    assert invoke(db_url, "articles", "--with-duplicates").output.count("\n") == 2
    stats = json.loads(invoke(db_url, "stats", "--json").output)
    assert (stats["articles"], stats["duplicates"]) == (2, 1)


def test_show_unknown_article_is_a_clean_error(tmp_path: Path) -> None:
    invoke(f"sqlite:///{tmp_path / 's.db'}", "db", "upgrade")
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{tmp_path / 's.db'}", "show", "999"])
    assert result.exit_code == 1
    assert "no stored article has the id or URL '999'" in result.output
    assert "Traceback" not in result.output


def test_crawl_with_a_bad_sources_file_names_file_source_and_key(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[sources]]\nname = "x"\nurl = "https://x.example/"\nintervl = "5m"\n')
    result = CliRunner().invoke(
        main, ["--db", f"sqlite:///{tmp_path / 's.db'}", "--sources", str(sources), "crawl"]
    )
    assert result.exit_code == 1
    assert str(sources) in result.output and "x" in result.output and "intervl" in result.output
    assert "Traceback" not in result.output


def test_sources_list(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[sources]]\nname = "one"\nurl = "https://one.example/"\nfeeds = ["https://one.example/feed"]\n'
        '[[sources]]\nname = "two"\nurl = "https://two.example/"\nenabled = false\n'
    )
    result = invoke(f"sqlite:///{tmp_path / 's.db'}", "sources", "list", "--json", sources=sources)
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["source"], r["enabled"]) for r in rows] == [("one", True), ("two", False)]
    assert rows[0]["feeds"] == ["https://one.example/feed"]


def test_since_accepts_durations_and_dates_and_rejects_the_rest(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    invoke(db, "db", "upgrade")
    assert invoke(db, "articles", "--since", "2d").exit_code == 0
    assert invoke(db, "articles", "--since", "2026-11-01").exit_code == 0
    bad = CliRunner().invoke(main, ["--db", db, "articles", "--since", "soon"])
    assert bad.exit_code == 2
    assert "'soon' is neither a duration" in bad.output


def test_db_upgrade_reports_the_revision(tmp_path: Path) -> None:
    result = invoke(f"sqlite:///{tmp_path / 'fresh.db'}", "db", "upgrade")
    assert result.exit_code == 0
    assert f"is at revision {head_revision()}" in result.output
    assert head_revision() == "0007"


def test_reextract_rewrites_articles_whose_extraction_changed(db_url: str, tmp_path: Path) -> None:
    from sqlalchemy import select, update

    from aggregator.store.db import open_store, session_scope
    from aggregator.store.models import Article

    seed = (Path(__file__).parent / "sites" / "seed" / "wordpress.html").read_text()
    lines = [
        json.dumps({"url": "https://seed.example/a", "source": "seed", "html": seed}),
        json.dumps({"url": "https://other.example/b", "source": "other", "text": ARTICLE_TEXT}),
    ]
    path = write_import(tmp_path, lines)
    assert invoke(db_url, "import", str(path)).exit_code == 0
    engine = open_store(db_url)
    with session_scope(engine) as session:
        # As an older extractor would have stored it: clutter left in the text
        session.execute(
            update(Article)
            .where(Article.source.has(name="seed"))
            .values(text="Leave a Reply\n\nGIPHY App Key not set. Please check settings")
        )
    result = invoke(db_url, "reextract", "--json")
    assert json.loads(result.output) == {"articles": 2, "changed": 1, "updated": 1, "unchanged": 1}
    shown = invoke(db_url, "reextract")
    # progress off a terminal: whole lines, no carriage return, a final newline
    assert shown.stderr == "2/2 articles re-extracted\n"
    assert shown.stdout == "0 of 2 articles changed; 2 unchanged\n"
    with session_scope(engine) as session:
        texts = {a.source.name: a.text for a in session.scalars(select(Article))}
    assert texts["seed"].startswith("A US judge on Friday")
    assert "GIPHY" not in texts["seed"]
    only_other = invoke(db_url, "reextract", "--source", "other", "--json")
    assert json.loads(only_other.output)["articles"] == 1
    engine.dispose()


def test_show_finds_an_article_by_its_url_with_tracking_parameters(
    db_url: str, tmp_path: Path
) -> None:
    line = {"url": "https://blog.example/2026/11/compaction/", "text": ARTICLE_TEXT, "title": "C"}
    assert invoke(db_url, "import", str(write_import(tmp_path, [json.dumps(line)]))).exit_code == 0
    for url in (
        "https://blog.example/2026/11/compaction/?utm_source=x&utm_medium=social",
        "https://BLOG.example/2026/11/compaction#comments",
    ):
        shown = invoke(db_url, "show", url, "--json")
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["url"] == "https://blog.example/2026/11/compaction/"
    assert invoke(db_url, "show", "https://blog.example/2026/11/other/").exit_code == 1


def test_import_of_a_short_text_says_what_the_minimum_is(db_url: str, tmp_path: Path) -> None:
    short = {"url": "https://blog.example/short", "text": "Too short to be an article."}
    result = invoke(db_url, "import", str(write_import(tmp_path, [json.dumps(short)])))
    assert "no article found in the page" in result.stderr
    assert "at least 200 characters of text, or 2 sentences and 80 characters" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("articles", "--since", "999999999d"), "reaches back before the year 1"),
        (("search", "rust", "--since", "99999999999w"), "too long"),
        (("stories", "--since", "99999999999999s"), "too long"),
        (("export", "--since", "999999999d"), "reaches back before the year 1"),
    ],
)
def test_huge_durations_are_a_usage_error(db_url: str, args: tuple[str, ...], message: str) -> None:
    assert invoke(db_url, "db", "upgrade").exit_code == 0
    result = CliRunner().invoke(main, ["--db", db_url, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_scheduler_durations_too_long_for_a_date_are_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--db", f"sqlite:///{tmp_path / 's.db'}", "schedule", "--max-backoff", "999999999d"]
    )
    assert result.exit_code == 2
    assert "'999999999d' is too long: at most 36500d" in result.output


READ_ONLY_COMMANDS = [
    ("articles",),
    ("search", "rust"),
    ("show", "1"),
    ("export",),
    ("stats",),
    ("status",),
    ("frontier",),
    ("stories",),
    ("runs",),
]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=lambda c: c[0])
def test_read_only_commands_create_no_database(
    db_url: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    from sqlalchemy import create_engine, inspect

    sources = tmp_path / "sources.toml"
    sources.write_text('[[sources]]\nname = "one"\nurl = "https://one.example/"\n')
    result = CliRunner().invoke(main, ["--db", db_url, "--sources", str(sources), *command])
    assert result.exit_code == 1, result.output
    assert "no aggregator database at" in result.output
    assert "run `aggregator db upgrade`" in result.output
    if db_url.startswith("sqlite"):
        assert not (tmp_path / "store.db").exists()
    else:
        engine = create_engine(db_url)
        assert inspect(engine).get_table_names() == []
        engine.dispose()


def test_serve_without_a_store_stops_at_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'store.db'}"
    command = [sys.executable, "-m", "aggregator", "--db", url, "serve", "--port", "0"]
    # a timeout, not a hang, if it ever serves a store it should not have made
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "no aggregator database at" in result.stderr
    assert not (tmp_path / "store.db").exists()


def test_a_file_that_is_no_database_is_a_clean_error(tmp_path: Path) -> None:
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n" * 50)
    for command in (("articles",), ("db", "upgrade")):
        result = CliRunner().invoke(main, ["--db", f"sqlite:///{text}", *command])
        assert result.exit_code == 1, result.output
        assert "file is not a database" in result.output
        assert "Traceback" not in result.output
    assert text.read_text().startswith("root:x:0:0")


def test_a_missing_folder_is_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'x.db'}"
    for command in (["db", "upgrade"], ["crawl", "--url", "http://127.0.0.1:9/post"]):
        result = CliRunner().invoke(main, ["--db", url, *command])
        assert result.exit_code == 1
        assert f"there is no folder {tmp_path / 'missing'}" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://user@127.0.0.1/news", "mysql is not supported; use SQLite (sqlite:///"),
        ("oracle://user@127.0.0.1/news", "oracle is not supported"),
        ("no url at all", "is not valid"),
    ],
)
def test_unsupported_database_urls_say_what_is_supported(url: str, message: str) -> None:
    result = CliRunner().invoke(main, ["--db", url, "db", "upgrade"])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_urls_without_a_driver_use_psycopg(db_url: str) -> None:
    for scheme in ("postgres://", "postgresql://"):
        url = scheme + db_url.split("://", 1)[1]
        result = CliRunner().invoke(main, ["--db", url, "db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "postgresql+psycopg://" in result.output


def test_a_missing_psycopg_names_the_postgres_extra(tmp_path: Path) -> None:
    import subprocess
    import sys

    # psycopg made unimportable in a fresh interpreter, as on an install without the extra
    code = "import sys; sys.modules['psycopg'] = None; from aggregator.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "--db", "postgresql://u@127.0.0.1/x", "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "pip install 'techblog-aggregator[postgres]'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("command", "setting", "message"),
    [
        ("crawl", "DOWNLOAD_DELAY=abc", "DOWNLOAD_DELAY='abc' is not valid: expected a number"),
        ("crawl", "ROBOTSTXT_OBEY=maybe", "expected true or false"),
        ("crawl", "AGGREGATOR_RETRY_BACKOFF=soon", "expected a duration like 90s"),
        ("crawl", "NOEQUALS", "'NOEQUALS' is not NAME=VALUE"),
        ("schedule", "CONCURRENT_REQUESTS=x", "CONCURRENT_REQUESTS='x' is not valid"),
    ],
)
def test_a_bad_setting_value_is_a_usage_error_naming_it(
    tmp_path: Path, command: str, setting: str, message: str
) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[sources]]\nname = "one"\nurl = "http://127.0.0.1:9/"\n')
    db = f"sqlite:///{tmp_path / 's.db'}"
    result = CliRunner().invoke(
        main, ["--db", db, "--sources", str(sources), command, "-s", setting]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "AGGREGATOR_ARTICLE_LIMIT",
            "abc",
            "AGGREGATOR_ARTICLE_LIMIT='abc' is not valid: expected a whole number",
        ),
        ("AGGREGATOR_PROGRESS_INTERVAL", "often", "expected a number"),
        ("AGGREGATOR_KEEP_RAW_HTML", "maybe", "AGGREGATOR_KEEP_RAW_HTML='maybe' is not valid"),
        (
            "AGGREGATOR_GRACE_PERIOD",
            "soon",
            "AGGREGATOR_GRACE_PERIOD='soon' is not valid: expected a duration",
        ),
    ],
)
def test_a_bad_environment_variable_is_a_clear_error_in_every_command(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, variable: value, "AGGREGATOR_DB_URL": f"sqlite:///{tmp_path / 's.db'}"}
    for command in (["articles"], ["db", "upgrade"]):
        result = subprocess.run(
            [sys.executable, "-m", "aggregator", *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_global_options_work_after_the_command_too(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'late.db'}"
    line = {"url": "https://blog.example/late", "text": ARTICLE_TEXT, "title": "Late options"}
    path = write_import(tmp_path, [json.dumps(line)])
    upgraded = CliRunner().invoke(main, ["db", "upgrade", "--db", db, "-v"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"INFO aggregator.store.db: Database {db} is at revision" in upgraded.stderr
    assert CliRunner().invoke(main, ["import", str(path), "--db", db]).exit_code == 0
    listed = CliRunner().invoke(main, ["articles", "--db", db])
    assert "Late options" in listed.output
    sources = tmp_path / "mine.toml"
    sources.write_text('[[sources]]\nname = "mine"\nurl = "https://mine.example/"\n')
    shown = CliRunner().invoke(main, ["sources", "list", "--sources", str(sources)])
    assert shown.output.startswith("mine ")
    # after the command, it wins over the one before it
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert (
        "Late options" in CliRunner().invoke(main, ["--db", other, "articles", "--db", db]).output
    )


def test_every_command_takes_the_global_options() -> None:
    leaves = []
    for path in all_commands(main):
        command: click.Command = main
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        if not isinstance(command, click.Group):
            leaves.append(command)
    assert len(leaves) > 15
    for command in leaves:
        names = {option for param in command.params for option in param.opts}
        assert {"--db", "--sources", "-v"} <= names, command.name


def _keys(value: object) -> set[str]:
    """Every key of a JSON value, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_json_speaks_one_vocabulary(db_url: str, tmp_path: Path) -> None:
    from aggregator.store.db import open_store, session_scope
    from aggregator.store.runs import finish_run, start_run

    line = {"url": "https://blog.example/one", "source": "blog", "text": ARTICLE_TEXT}
    path = write_import(tmp_path, [json.dumps(line), "{bad"])
    imported = CliRunner().invoke(main, ["--db", db_url, "import", str(path), "--json"])
    engine = open_store(db_url)
    with session_scope(engine) as session:
        run = start_run(session, ["blog"])
        finish_run(session, run, "finished", {"aggregator/pages_fetched": 2})
    engine.dispose()
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[sources]]\nname = "blog"\nurl = "https://blog.example/"\ninterval = "1h"\n'
    )
    outputs = [
        json.loads(imported.stdout.splitlines()[-1]),
        json.loads(invoke(db_url, "stats", "--json").output),
        json.loads(invoke(db_url, "sources", "list", "--json", sources=sources).output),
        json.loads(invoke(db_url, "status", "--json", sources=sources).output),
        json.loads(invoke(db_url, "articles", "--json").output),
    ]
    keys = set().union(*(_keys(output) for output in outputs))
    assert {"source", "errors", "interval_seconds", "duration_seconds"} <= keys
    assert not keys & {"name", "error", "seconds", "interval", "run"}
    assert outputs[0]["errors"] == 1
    assert outputs[1]["sources"][0]["source"] == "blog"
    assert outputs[1]["recent_runs"][0]["pages_fetched"] == 2
    assert outputs[2]["interval_seconds"] == 3600


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("articles", "--json"), 1, "no aggregator database at"),
        (("search", "x", "--json", "--since", "soon"), 2, "'--since': 'soon' is neither"),
        (("sources", "list", "--json"), 1, "sources file not found"),
        (("crawl", "--json", "--url", "notaurl"), 2, "notaurl"),
    ],
)
def test_errors_under_json_are_json_on_stderr(
    tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"
    sources = str(tmp_path / "none.toml")
    result = CliRunner().invoke(main, ["--db", db, "--sources", sources, *args])
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    error = json.loads(result.stderr)
    assert list(error) == ["error"] and message in error["error"]


@pytest.mark.parametrize("url", ["notaurl", "ftp://example.com/x", "https://", "http://a b/"])
def test_crawl_of_a_bad_url_stops_before_starting(tmp_path: Path, url: str) -> None:
    db = tmp_path / "s.db"
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "crawl", "--url", url])
    assert result.exit_code == 2
    assert f"Invalid value for '--url': {url!r}" in result.output
    assert "Traceback" not in result.output
    assert not db.exists()


def test_an_empty_answer_says_why(db_url: str, tmp_path: Path) -> None:
    assert invoke(db_url, "db", "upgrade").exit_code == 0
    empty = invoke(db_url, "articles")
    assert empty.stderr == "No articles stored yet. Run `aggregator crawl` first.\n"
    line = {"url": "https://blog.example/a", "source": "blog", "text": ARTICLE_TEXT}
    assert invoke(db_url, "import", str(write_import(tmp_path, [json.dumps(line)]))).exit_code == 0
    future = invoke(db_url, "articles", "--since", "2030-01-01")
    assert future.exit_code == 0
    assert future.stderr == "No articles since 2030-01-01 00:00 UTC.\n"
    both = invoke(db_url, "articles", "--source", "blog", "--since", "2030-01-01")
    assert both.stderr == "No articles of blog since 2030-01-01 00:00 UTC.\n"
    for command in (["articles"], ["search", "x"], ["export"]):
        unknown = CliRunner().invoke(main, ["--db", db_url, *command, "--source", "blgo"])
        assert unknown.exit_code == 1
        assert "no source 'blgo' in the store (did you mean 'blog'?)" in unknown.stderr


def test_times_are_utc_in_one_form_and_counts_agree_with_their_words(
    db_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from aggregator.store.db import open_store, session_scope
    from aggregator.store.schedule import save_schedule

    line = {
        "url": "https://blog.example/a",
        "source": "blog",
        "title": "Compaction",
        "text": ARTICLE_TEXT,
        "published": "2026-11-20T12:00:00+02:00",
    }
    imported = invoke(db_url, "import", str(write_import(tmp_path, [json.dumps(line)])))
    assert imported.stdout == f"Imported {tmp_path / 'import.jsonl'}: 1 inserted\n"
    assert "2026-11-20 10:00 UTC" in invoke(db_url, "articles").output
    assert "published 2026-11-20 10:00 UTC" in invoke(db_url, "show", "1").output
    assert "2026-11-20 10:00 UTC" in invoke(db_url, "search", "compaction").output
    stats = invoke(db_url, "stats").output
    assert stats.startswith("1 article (0 more are copies) from 1 source, 0 crawl runs\n")
    assert re.search(r"last fetched \d{4}-\d\d-\d\d \d\d:\d\d UTC", stats)
    stories = invoke(db_url, "stories", "--since", "2026-11-01").output
    story = re.search(r"story (\d+) \(search --story \1\): 1 source, 1 article, ", stories)
    assert story, stories
    assert "2026-11-20 10:00 UTC to 2026-11-20 10:00 UTC" in stories
    found = invoke(db_url, "search", "compaction", "--story", story.group(1), "--json")
    assert json.loads(found.output)["title"] == "Compaction"
    engine = open_store(db_url)
    with session_scope(engine) as session:
        save_schedule(
            session,
            "blog",
            interval_seconds=3600,
            consecutive_errors=1,
            next_run_at=datetime(2026, 11, 21, 8, 30, tzinfo=UTC),
            last_run_at=datetime(2026, 11, 21, 7, 30, tzinfo=UTC),
            last_status="failed",
            last_articles=0,
        )
    engine.dispose()
    sources = tmp_path / "sources.toml"
    sources.write_text('[[sources]]\nname = "blog"\nurl = "https://blog.example/"\n')
    status = invoke(db_url, "status", sources=sources).output
    assert "next 2026-11-21 08:30 UTC  last 2026-11-21 07:30 UTC failed" in status
    assert "1 failure in a row" in status


def test_runs_and_status_show_why_crawls_failed(db_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from aggregator.store.db import open_store, session_scope
    from aggregator.store.runs import finish_run, record_run, start_run
    from aggregator.store.schedule import save_schedule

    engine = open_store(db_url)
    started = datetime.now(UTC) - timedelta(hours=1)
    with session_scope(engine) as session:
        manual = start_run(session, ["my_blog", "other"])
        stats = {"aggregator/sources/my_blog/inserted": 2, "aggregator/store/inserted": 2}
        errors = [("other", "https://other.example/feed", "HTTP 500")]
        finish_run(session, manual, "finished", stats, errors)
        lookalike = record_run(session, ["myxblog"], started, "finished", {})
        crashed = record_run(session, ["my_blog"], started, "crashed", {}, [], "worker exit -9")
        save_schedule(
            session,
            "my_blog",
            interval_seconds=600,
            consecutive_errors=1,
            last_run_at=started,
            last_run_id=crashed,
            last_status="crashed",
            last_articles=0,
        )
    engine.dispose()

    def run_ids(*args: str) -> list[int]:
        result = invoke(db_url, "runs", "--json", *args)
        assert result.exit_code == 0, result.output
        return [json.loads(line)["id"] for line in result.output.splitlines()]

    assert run_ids() == [crashed, lookalike, manual]
    assert run_ids("--source", "my_blog") == [crashed, manual]
    assert run_ids("--source", "other") == [manual]
    assert run_ids("--failed") == [crashed, manual]
    assert run_ids("--failed", "--source", "my_blog") == [crashed]
    text = invoke(db_url, "runs", "--failed").output
    assert f"run {crashed}  " in text and "crashed in" in text and "    | worker exit -9" in text
    assert "    other: https://other.example/feed: HTTP 500" in text
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[sources]]\nname = "my_blog"\nurl = "https://blog.example/"\n'
        '[[sources]]\nname = "other"\nurl = "https://other.example/"\n'
    )
    rows = {
        row["source"]: row
        for row in map(
            json.loads, invoke(db_url, "status", "--json", sources=sources).output.split("\n")[:-1]
        )
    }
    # the manual crawl counts: the last run of "other" is it, with its error
    assert rows["other"]["last_run_id"] == manual and rows["other"]["last_status"] == "finished"
    assert rows["other"]["last_error"]["reason"] == "HTTP 500"
    assert rows["my_blog"]["last_run_id"] == crashed and rows["my_blog"]["last_status"] == "crashed"
    status = invoke(db_url, "status", sources=sources).output
    assert "    last error " in status and "https://other.example/feed: HTTP 500" in status


# -- the README's quick start and the deploy/ units ---------------------------------------


def _quick_start() -> list[str]:
    """The command lines of the README's quick start, comments dropped."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_quick_start_works_verbatim_against_a_local_blog(tmp_path: Path) -> None:
    import os
    import shlex
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from aggregator.demo.run import SITES
    from aggregator.demo.server import SiteGroup

    lines = _quick_start()
    # the first line makes the .venv these tests already run in
    assert lines[0] == "make install && . .venv/bin/activate"
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    with SiteGroup(SITES, names=["kernelnotes"]) as group:
        blog = group.servers["kernelnotes"].base_url + "/"
        outputs = {}
        for line in lines[1:]:
            args = shlex.split(line.replace("https://blog.example.com/", blog))
            assert args[0] == "aggregator", line
            if args[1] == "serve":
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", 0))
                    port = sock.getsockname()[1]
                server = subprocess.Popen(
                    [*args, "--port", str(port)], cwd=tmp_path, env=env, stderr=subprocess.PIPE
                )
                try:
                    for _ in range(100):
                        try:
                            page = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/articles")
                            break
                        except OSError:
                            time.sleep(0.2)
                    served = json.load(page)
                finally:
                    server.send_signal(signal.SIGINT)
                    server.wait(timeout=30)
                continue
            result = subprocess.run(
                args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
            )
            assert result.returncode == 0, (line, result.stdout, result.stderr[-3000:])
            outputs[args[1]] = result.stdout
    assert (tmp_path / "sources.toml").exists()
    assert f"Database: sqlite:///{tmp_path / 'aggregator.db'}" in outputs["crawl"]
    listed = outputs["articles"].splitlines()
    assert listed and len(served["articles"]) == len(listed)


def test_crawl_help_examples_name_sources_of_the_default_file() -> None:
    from aggregator.sources import load_sources, select_sources

    default = load_sources(ROOT / "aggregator" / "default_sources.toml")
    text = CliRunner().invoke(main, ["crawl", "--help"]).output
    for line in text.split("Example:", 1)[1].splitlines():
        words = line.split("#", 1)[0].split()
        if words[:2] == ["aggregator", "crawl"]:
            names = [w for w in words[2:] if not w.startswith("-") and not w.isdigit()]
            names = [n for n in names if "=" not in n and "://" not in n]
            select_sources(default, names)  # raises on an unknown name


@pytest.mark.parametrize("unit", ["aggregator-schedule.service", "aggregator-serve.service"])
def test_deploy_units_run_commands_that_exist(unit: str) -> None:
    import configparser
    import shlex

    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(ROOT / "deploy" / unit)
    command = shlex.split(parser["Service"]["ExecStart"])
    assert command[0].endswith("/.venv/bin/aggregator")
    # every option the unit gives exists: the command's help accepts them
    assert CliRunner().invoke(main, [*command[1:], "--help"]).exit_code == 0
    assert parser["Service"]["EnvironmentFile"] == "/etc/aggregator/aggregator.env"
    environment = (ROOT / "deploy" / "aggregator.env").read_text()
    assert "AGGREGATOR_DB_URL=postgresql+psycopg://" in environment
    if "schedule" in command:
        grace = int(command[command.index("--grace") + 1].rstrip("s"))
        assert int(parser["Service"]["TimeoutStopSec"]) > grace


def test_an_imported_page_without_a_source_is_named_as_sources_add_names_its_site(
    db_url: str, tmp_path: Path
) -> None:
    line = {"url": "https://www.kernelnotes.example.com/a", "text": ARTICLE_TEXT}
    assert invoke(db_url, "import", str(write_import(tmp_path, [json.dumps(line)]))).exit_code == 0
    listed = json.loads(invoke(db_url, "articles", "--json").stdout.splitlines()[0])
    assert listed["source"] == slug_from_url(line["url"]) == "kernelnotes-example"


def test_keep_raw_html_no_in_the_environment_keeps_no_raw_html(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path / 's.db'}"
    line = {"url": "https://blog.example/a", "source": "blog", "html": f"<p>{ARTICLE_TEXT}</p>"}
    lines = write_import(tmp_path, [json.dumps(line)])
    imported = subprocess.run(
        [sys.executable, "-m", "aggregator", "--db", db, "import", str(lines)],
        capture_output=True,
        text=True,
        env={**os.environ, "AGGREGATOR_KEEP_RAW_HTML": "no"},
        timeout=120,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    engine = open_store(db)
    with session_scope(engine) as session:
        assert session.scalars(select(Article.raw_html)).all() == [None]
    engine.dispose()


def test_stats_and_the_web_sources_page_count_a_source_alike(db_url: str, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from aggregator.web import create_app

    good = {"url": "https://blog.example/a", "source": "example", "text": ARTICLE_TEXT}
    copy = {**good, "url": "https://mirror.example/a", "source": "mirror"}
    path = write_import(tmp_path, [json.dumps(good), json.dumps(copy)])
    assert invoke(db_url, "import", str(path)).exit_code == 0
    stats = json.loads(invoke(db_url, "stats", "--json").stdout)
    counted = {row["source"]: (row["articles"], row["copies"]) for row in stats["sources"]}
    assert counted == {"example": (1, 0), "mirror": (0, 1)}
    with TestClient(create_app(db_url)) as client:
        listed = client.get("/api/sources").json()["sources"]
    assert {row["name"]: (row["articles"], row["copies"]) for row in listed} == counted
    assert stats["visible_articles"] == sum(row["articles"] for row in listed)
