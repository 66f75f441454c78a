"""The rating-vs-ranking page in headless Chromium against a live production-mode gateway with scripted-judge
workers: agreement with its interval, the 3×3 matrix and the disagreeing items, reached by keyboard from its form;
axe-core clean and no sideways scroll at 375 px."""

from __future__ import annotations

import pytest

from tests.ui.browser_support import (  # noqa: F401  (api is a fixture)
    api, check_accessibility, check_narrow, open_with_key, shoot, submit, wait_completed,
)
from tests.ui.conftest import BROWSER

pytestmark = BROWSER
# item → (X's score, Y's score, X longer by): the scripted judge scores by marker and prefers the longer response
PLAN = [(5, 3, 10)] * 3 + [(2, 4, 10)] * 2 + [(3, 3, 0)]


def texts(i: int) -> tuple[str, str]:
    score_x, score_y, longer = PLAN[i]
    return (f"<<scripted:{score_x}=1>> " + "x" * (30 + max(longer, 0)),
            f"<<scripted:{score_y}=1>> " + "y" * (30 + max(-longer, 0)))


@pytest.fixture(scope="module")
def triple(api):
    ids = [f"r{i}" for i in range(len(PLAN))]
    x = submit(api, {"protocol": "rating", "judge": "scripted", "model": "model-x", "items": [
        {"id": key, "prompt": f"question {i}", "response": texts(i)[0]} for i, key in enumerate(ids)]})
    y = submit(api, {"protocol": "rating", "judge": "scripted", "model": "model-y", "items": [
        {"id": key, "prompt": f"question {i}", "response": texts(i)[1]} for i, key in enumerate(ids)]})
    pair = submit(api, {"protocol": "pairwise", "judge": "scripted", "model": "model-x", "baseline_model": "model-y",
                        "items": [{"id": key, "prompt": f"question {i}", "response_a": texts(i)[0],
                                   "response_b": texts(i)[1]} for i, key in enumerate(ids)]})
    for evaluation_id in (x, y, pair):
        wait_completed(api, evaluation_id)
    return x, y, pair


def test_the_rating_vs_ranking_page(page, live, api, triple, tmp_path):
    x, y, pair = triple
    report = api.post("/v1/analyses/rating-vs-ranking", json={
        "rating_x_evaluation_id": x, "rating_y_evaluation_id": y, "pairwise_evaluation_id": pair}).json()
    assert (report["n_items"], report["n_agree"]) == (6, 4)

    open_with_key(page, live, "/ui/analyses/rating-vs-ranking")
    page.get_by_label("Evaluation scoring model X's responses").fill(x)
    page.get_by_label("Evaluation scoring model Y's responses").fill(y)
    page.get_by_label("Evaluation comparing X (A) with Y (B)").fill(pair)
    page.get_by_label("Evaluation comparing X (A) with Y (B)").press("Enter")
    page.wait_for_url(f"**/ui/analyses/rating-vs-ranking?rating_x={x}&rating_y={y}&comparison={pair}")

    rate = page.locator("#agreement-rate")
    rate.wait_for()
    low, high = report["agreement_rate_ci95"]
    assert rate.inner_text() == f"{report['agreement_rate']:.3f}"
    assert f"[{low:.3f}, {high:.3f}]" in page.locator("#agreement").inner_text()
    assert page.locator("h1").inner_text() == "Rating vs ranking: model-x and model-y"
    for row, cols in report["matrix"].items():
        for col, count in cols.items():
            assert page.locator(f'[data-cell="{row}-{col}"]').inner_text() == str(count)
    rows = page.locator("#disagreements tbody tr")
    assert rows.count() == 2 and sorted(rows.nth(i).get_attribute("data-item") for i in range(2)) == ["r3", "r4"]
    first = rows.first.inner_text()
    assert "Y (model-y)" in first and "X (model-x)" in first  # the scores imply Y, the verdict says X
    shoot(page, tmp_path, "rating-vs-ranking")
    check_accessibility(page, "rating-vs-ranking page")
    check_narrow(page, tmp_path, "rating-vs-ranking")

    # a disagreeing item's verdict link is the API's verdict of that one item
    href = rows.first.get_by_role("link", name="verdict (JSON)").get_attribute("href")
    verdict = api.get(href).json()["data"]
    assert [v["item_id"] for v in verdict] == [rows.first.get_attribute("data-item")]
