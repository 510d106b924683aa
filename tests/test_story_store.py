"""Stories in the SQL store, through the CLI: grouping on import, `stories`, `restory`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from aggregator.cli import main

EVENT = [
    (
        "wire",
        "Microsoft refuses to hand over emails stored in Ireland",
        "Microsoft said on Friday it would not hand over emails stored in a data center in "
        "Ireland to US prosecutors, despite a court order by Judge Loretta Preska, and will "
        "appeal the warrant ruling.",
    ),
    (
        "techpulse",
        "Microsoft defies judge over overseas email warrant",
        "A US judge lifted a suspension on her order directing Microsoft to turn over a "
        "customer's emails held in Ireland; Microsoft will not release the emails while it "
        "appeals the warrant, the company said.",
    ),
    (
        "devwire",
        "Judge Preska orders Microsoft to release Ireland emails; company appeals",
        "Chief Judge Loretta Preska ordered Microsoft to give US prosecutors emails stored in "
        "Ireland. Microsoft declined to comply with the warrant and plans to appeal.",
    ),
]
OTHER = [
    (
        "wire",
        "Samsung shows the Galaxy Note 4 on its website",
        "Samsung published a product page for the Galaxy Note 4 ahead of its launch event, "
        "showing a larger screen, a metal frame and an improved stylus.",
    ),
    (
        "devwire",
        "Open hardware laptop mainboard released by RISC-V startup",
        "A hardware startup released schematics and board layouts of a RISC-V laptop mainboard "
        "under an open hardware licence, with boot firmware.",
    ),
]


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
