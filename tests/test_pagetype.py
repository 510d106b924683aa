"""Tests of the article-or-not model: page features, the shipped model, its reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.extract import NoArticle, extract, page_type_features
from aggregator.extract.pagetype import MODEL_PATH, Model, load_model

SITE = Path(__file__).resolve().parent / "sites" / "mixedblog"
BASE = "http://127.0.0.1:8000"


def site_page(path: str) -> tuple[str, str]:
    """The HTML and URL of a page of the mixed blog."""
    html = (SITE / path / "index.html").read_text(encoding="utf-8").replace("{{BASE}}", BASE)
    return html, f"{BASE}/{path}/"


def test_features_tell_a_product_page_from_a_post() -> None:
    product = page_type_features(*site_page("shop/ceramic-mug"))
    post = page_type_features(*site_page("storage-engine-rewrite"))
    assert product is not None and post is not None
    assert product["ld_product"] == product["og_product"] == 1.0
    assert product["cart_words"] > 0 and product["currency"] > 0
    assert post["ld_article"] == post["og_article"] == post["has_published"] == 1.0
    assert post["main_prose"] > product["main_prose"]
    assert post["headline_over_main"] == 1.0


def test_shipped_model_is_small_and_keeps_posts() -> None:
    assert MODEL_PATH.stat().st_size <= 1_000_000
    model = load_model()
    assert model is not None and model.classes[0] == "article"
    for path in ("storage-engine-rewrite", "keyboard-firmware-split", "small-isp-ipv6"):
        features = page_type_features(*site_page(path))
        assert features is not None
        assert model.classify(features).is_article, path


@pytest.mark.parametrize(
    ("path", "reason"),
    [("shop/ceramic-mug", "a product or shop page"), ("tag/storage", "")],
)
def test_pages_without_an_article_come_back_with_the_reason(path: str, reason: str) -> None:
    result = extract(*site_page(path))
    assert isinstance(result, NoArticle)
    assert reason in result.reason and "article probability" in result.reason


def test_model_decides_on_the_article_probability_and_names_the_likeliest_other_type() -> None:
    model = Model(
        classes=("article", "product", "forum"),
        features=("price",),
        means=(0.0,),
        scales=(1.0,),
        weights=((-1.0,), (2.0,), (0.0,)),
        biases=(0.0, 0.0, 0.0),
        threshold=0.3,
    )
    shop = model.classify({"price": 3.0})
    assert not shop.is_article and shop.kind == "product" and "product" in shop.reason
    plain = model.classify({})  # a missing feature counts as 0: all three equally likely
    assert plain.is_article and plain.kind == "article"
    assert plain.article_probability == pytest.approx(1 / 3)
    assert Model.from_json(model.to_json()) == model


def test_no_model_file_means_no_model(tmp_path: Path) -> None:
    assert load_model(tmp_path / "missing.json") is None
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    assert load_model(tmp_path / "broken.json") is None


def _thread_page() -> str:
    posts = "".join(
        f'<div class="message"><div class="user-avatar"></div><span class="username">user{i}'
        f"</span><time>Mar {i + 1}, 2025</time><p>Reply number {i} to the question.</p></div>"
        for i in range(8)
    )
    return f"<html><body><h1>How do I flash the firmware?</h1>{posts}</body></html>"


def test_features_count_posts_users_and_dates_of_a_thread() -> None:
    thread = page_type_features(_thread_page(), "https://forum.example/threads/flash.123/")
    post = page_type_features(*site_page("storage-engine-rewrite"))
    assert thread is not None and post is not None
    assert thread["class_post"] > post["class_post"]
    assert thread["class_user"] > post["class_user"]
    assert thread["dates_in_text"] > post["dates_in_text"] > 0


def test_features_tell_who_speaks_to_whom() -> None:
    html = (
        "<html><body><h1>Moving services</h1><p>We move your home. Our team packs your boxes "
        "and we carry them; call us at (555) 123-4567 for your free quote.</p></body></html>"
    )
    service = page_type_features(html, "https://movers.example/services/")
    post = page_type_features(*site_page("storage-engine-rewrite"))
    assert service is not None and post is not None
    assert service["we_rate"] > post["we_rate"] and service["you_rate"] > post["you_rate"]
    assert service["phones"] > 0 == post["phones"]
