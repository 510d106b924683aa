"""Per-source extraction rules from sources.toml: a content selector and remove selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.exceptions import SourcesError
from aggregator.extract import extract_article
from aggregator.ingest import clean_page
from aggregator.items import PageItem
from aggregator.sources import Source, load_sources

STORY = (
    "The city council approved the new transit budget after a long debate about bus lanes, "
    "and the mayor promised that the first routes would open before the summer holidays."
)
MORE = (
    "Opponents argued that the plan favoured the centre over the suburbs, but the final vote "
    "was comfortable, and the transit agency will publish a detailed timetable next month."
)
PROMO = "Get our app for the fastest news alerts and exclusive offers from our partners today."
SIDEBAR = (
    "Readers also enjoyed a long essay about the history of the tramway, which ran through "
    "the old town until the nineteen-sixties, when buses replaced it on every line of the city."
)
PAGE = f"""<html><head><title>Council approves transit budget</title></head><body>
<div class="wrap"><div class="col"><div class="story"><h1>Council approves transit budget</h1>
<p>{STORY}</p><div class="app-box"><p>{PROMO}</p></div><p>{MORE}</p></div>
<div class="col2"><p>{SIDEBAR}</p><p>{SIDEBAR.replace("tramway", "railway")}</p></div></div></div>
</body></html>"""


def test_remove_and_content_selectors_shape_the_text() -> None:
    plain = extract_article(PAGE, "https://news.example/budget")
    assert plain is not None and PROMO in plain.text  # no heuristic can tell this promo apart
    ruled = extract_article(
        PAGE,
        "https://news.example/budget",
        content_selector="div.story",
        remove_selectors=[".app-box"],
    )
    assert ruled is not None
    assert ruled.text == f"{STORY}\n\n{MORE}"
    assert ruled.title == "Council approves transit budget"


def test_a_content_selector_that_matches_nothing_leaves_the_page_whole() -> None:
    article = extract_article(PAGE, None, content_selector="article.never-there")
    assert article is not None and STORY in article.text


def test_clean_page_applies_the_source_rules() -> None:
    page = PageItem(url="https://news.example/budget", source="news", body=PAGE.encode())
    source = Source(
        name="news", url="https://news.example/", content=".story", remove=(".app-box",)
    )
    cleaned = clean_page(page, source=source)
    assert cleaned.article is not None and PROMO not in cleaned.article.text


def test_sources_file_rules_are_validated_and_loaded(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[[sources]]\nname = "news"\nurl = "https://news.example/"\n'
        'content = "div.story"\nremove = [".app-box", "#promo"]\n'
    )
    (source,) = load_sources(good)
    assert (source.content, source.remove) == ("div.story", (".app-box", "#promo"))
    assert load_sources_text(tmp_path, source.to_toml()) == [source]
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[sources]]\nname = "news"\nurl = "https://news.example/"\n'
        'content = "div..story"\nremove = ["[unclosed"]\n'
    )
    with pytest.raises(SourcesError) as error:
        load_sources(bad)
    message = str(error.value)
    assert str(bad) in message and "'news'" in message
    assert "key 'content'" in message and "key 'remove'" in message


def load_sources_text(tmp_path: Path, text: str) -> list[Source]:
    path = tmp_path / "round.toml"
    path.write_text(text)
    return load_sources(path)


def test_import_applies_the_sources_file_rules(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from aggregator.cli import main

    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[sources]]\nname = "news"\nurl = "https://news.example/"\n'
        'content = "div.story"\nremove = [".app-box"]\n',
        encoding="utf-8",
    )
    lines = tmp_path / "import.jsonl"
    line = {"url": "https://news.example/budget", "source": "news", "html": PAGE}
    lines.write_text(json.dumps(line) + "\n", encoding="utf-8")
    db = ["--db", f"sqlite:///{tmp_path / 's.db'}", "--sources", str(sources)]
    assert CliRunner().invoke(main, [*db, "import", str(lines)]).exit_code == 0
    shown = CliRunner().invoke(main, [*db, "articles", "--json"])
    article = json.loads(shown.stdout.splitlines()[0])
    shown = CliRunner().invoke(main, [*db, "show", str(article["id"]), "--json"])
    text = json.loads(shown.stdout)["text"]
    assert text == f"{STORY}\n\n{MORE}"
