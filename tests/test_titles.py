"""Tests of aggregator.extract.titles: the headline and the site name stripped from it."""

from __future__ import annotations

import pytest

from aggregator.extract.titles import choose_title, clean_title


@pytest.mark.parametrize(
    ("title", "site", "expected"),
    [
        ("Rust 1.80 is out | Ferris Weekly", "Ferris Weekly", "Rust 1.80 is out"),
        ("Rust 1.80 is out - Ferris Weekly", None, "Rust 1.80 is out"),
        ("Ferris Weekly » Rust 1.80 is out", "Ferris Weekly", "Rust 1.80 is out"),
        ("Python 3.13 - what is new", None, "Python 3.13 - what is new"),
    ],
)
def test_clean_title(title: str, site: str | None, expected: str) -> None:
    assert clean_title(title, site, None, "https://ferrisweekly.example/a") == expected


def test_title_markdown_heading_marks_are_dropped() -> None:
    assert clean_title("## Martian Concrete", None, None, None) == "Martian Concrete"


def test_h1_with_the_words_of_the_metadata_title_is_the_headline() -> None:
    title = choose_title(
        "Health And Nutrition Trends For 2026 - Tastewise",
        ["Top 10 Health and Nutrition Trends to Watch"],
        "Tastewise",
        "https://tastewise.example/blog/trends",
    )
    assert title == "Top 10 Health and Nutrition Trends to Watch"


def test_h1_about_something_else_is_not_the_headline() -> None:
    for heading in ("Home", "Our Blog", "Houstonia Magazine", "{{ navItem.title }} Overview"):
        title = choose_title(
            "New Restaurants to Visit This Month | Houstonia Magazine",
            [heading],
            "Houstonia Magazine",
            "https://www.houstoniamag.example/eat",
        )
        assert title == "New Restaurants to Visit This Month", heading


def test_h1_holding_the_title_plus_a_date_or_count_is_not_the_headline() -> None:
    for heading in (
        "Dec 18 2025 Preparing a transition",
        "Preparing a transition (example.com) 87",
        "Preparing a transition Posted on July 1 by jdoe",
    ):
        assert choose_title("Preparing a transition", [heading], None, None) == (
            "Preparing a transition"
        )
    # a longer headline without such extras is the headline
    assert choose_title(
        "Plumbing Tips: 11 Upgrades", ["Plumbing Tips: 11 Upgrades to Make"], None, None
    ) == ("Plumbing Tips: 11 Upgrades to Make")


def test_h1_with_same_words_gives_its_punctuation() -> None:
    title = choose_title("Mobile UX - The Guide", ["Mobile UX: The Guide"], None, None)
    assert title == "Mobile UX: The Guide"


def test_h1_naming_the_site_after_the_separator_is_stripped_from_the_title() -> None:
    assert clean_title("A brief intro to git • Cory Doe", None, "Cory Doe", None) == (
        "A brief intro to git"
    )


def test_site_name_from_domain_is_stripped() -> None:
    url = "https://blog.rust-lang.org/2025/12/19/love/"
    assert clean_title("What do people love about Rust? | Rust Blog", None, None, url) == (
        "What do people love about Rust?"
    )
    url = "https://developers.slashdot.org/story/1"
    assert clean_title("Grads Find No Jobs - Slashdot", None, None, url) == "Grads Find No Jobs"
    # a subtitle is no site name
    assert clean_title("Insurance - Consulting or Career?", None, None, url) == (
        "Insurance - Consulting or Career?"
    )


def test_cut_off_headline_is_completed_from_another_title() -> None:
    title = choose_title(
        "Fix It Friday: We Help 4 Readers (Including",
        [],
        "Emily Doe",
        None,
        alternatives=("Fix It Friday: We Help 4 Readers (Including One Trick) - Emily Doe",),
    )
    assert title == "Fix It Friday: We Help 4 Readers (Including One Trick)"
