"""`aggregator demo` as a newcomer runs it: bundled blogs crawled into a fresh SQLite file."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import CLUTTER_LINES, ROOT


def test_demo_prints_every_blog_clean_and_the_republished_post_once() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aggregator", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for blog in ("[techpulse]", "[kernelnotes]", "[devwire]"):
        assert blog in out
    for clutter in CLUTTER_LINES:
        assert clutter not in out
    assert out.count("Microsoft is continuing its fight against warrants overseas data") == 1
    assert "Recognised" in out and "as a copy of" in out
    assert out.count("right-to-repair rules now") == 1
    assert "sources 3/3" in result.stderr


def test_demo_json_lists_every_stored_article_and_the_global_db_receives_them(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "aggregator", "--db", db, "demo", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {row["source"] for row in rows} == {"techpulse", "kernelnotes", "devwire"}
    assert sum(1 for row in rows if row["duplicate_of"] is not None) == 1
    assert all(row["text"] and row["title"] for row in rows)

    stored = subprocess.run(
        [sys.executable, "-m", "aggregator", "articles", "--with-duplicates", "--json", "--db", db],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert sorted(json.loads(line)["id"] for line in stored.stdout.splitlines()) == sorted(
        row["id"] for row in rows
    )


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_serve_stops_on_ctrl_c_and_sigterm(tmp_path: Path, stop: signal.Signals) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "demo", "--serve", "--db", db],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "Ctrl-C stops" in line:
                break
        blog = re.search(r"sources file: (\S+)\. Ctrl-C", line)
        assert blog, line
        time.sleep(0.5)
        process.send_signal(stop)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / "demo.db").exists()  # the --db given after the command was used
