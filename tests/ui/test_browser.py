"""The /ui/ pages in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a live
production-mode gateway (uvicorn) with real scripted-judge workers: the leaderboard's rows and interval
chart, live progress of a running evaluation, and a review recorded in the page changing the metric.

Every page is also checked with axe-core (WCAG 2 A/AA rules, bundled offline by axe-playwright-python),
by keyboard, and on a 375 px wide screen. Screenshots go into each test's tmp_path.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests.support import REPO, settings_env, wait_for
from tests.ui.browser_support import (  # noqa: F401  (api is a fixture)
    api, check_accessibility, check_narrow, open_with_key, shoot, submit, wait_completed, wait_in_page,
)
from tests.ui.conftest import BROWSER

pytestmark = BROWSER  # the live gateway, the browser and the tab (`live`, `page`) come from tests/ui/conftest.py
SUITE = "ui-chat"
N_SUITE_ITEMS = 12
# the scripted "longer" judge prefers the longer response; suite baseline i has 20 + i characters
MODELS = {
    "long-writer": lambda i: "a" * (40 + i) if i else "a" * 20,
    "same-writer": lambda i: "a" * (20 + i),
    "short-writer": lambda i: "a" * 5 if i % 3 else "a" * (20 + i),
}


# ---------------------------------------------------------------- data through the REST API


def make_suite(api) -> None:
    if api.get(f"/v1/suites/{SUITE}").status_code == 200:
        return
    items = [{"id": f"q{i}", "prompt": f"Question {i}: write something useful.", "category": "writing",
              "baseline_response": "b" * (20 + i)} for i in range(N_SUITE_ITEMS)]
    created = api.post("/v1/suites", json={"name": SUITE, "baseline_model": "ref-model", "items": items})
    assert created.status_code == 201, created.text


def evaluate_on_suite(api, model: str, responses) -> str:
    evaluation_id = submit(api, {"protocol": "pairwise", "judge": "scripted", "model": model, "suite": SUITE,
                                 "items": [{"id": f"q{i}", "response": responses(i)} for i in range(N_SUITE_ITEMS)]})
    wait_completed(api, evaluation_id)
    return evaluation_id


def leaderboard_rows(api) -> list[dict]:
    response = api.get(f"/v1/leaderboards/{SUITE}", params={"protocol": "pairwise", "judge": "scripted"})
    return response.json()["rows"] if response.status_code == 200 else []


# ---------------------------------------------------------------- tests


def test_ui_routes_need_no_key_and_api_calls_do(live):
    page = httpx.get(f"{live.url}/ui/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(f"{live.url}/v1/suites", timeout=10).status_code == 401


def test_leaderboard_renders_rows_chart_sorting_and_polls_with_etag(page, live, api, tmp_path):
    make_suite(api)
    ids = {model: evaluate_on_suite(api, model, responses) for model, responses in MODELS.items()}
    wait_for(lambda: len(leaderboard_rows(api)) == 3, timeout=60, interval=0.3)
    expected = leaderboard_rows(api)

    conditional: list[tuple[str | None, int]] = []
    page.on("response", lambda r: conditional.append((r.request.headers.get("if-none-match"), r.status))
            if "/v1/leaderboards/" in r.url else None)
    # the home page lists the suite; its form (protocol and judge) leads to the leaderboard
    open_with_key(page, live, "/ui/")
    page.locator("#suites-table tbody th", has_text=SUITE).wait_for()
    page.locator("#judges-table tbody th", has_text="scripted-first").wait_for()
    # the recent evaluations, newest first, each linked to its page (the list API is called with the key)
    recent = page.locator("#evaluations-table tbody tr")
    recent.first.wait_for()
    assert recent.count() == len(ids)
    newest_model = list(ids)[-1]
    link = page.locator("#evaluations-table tbody tr").first.get_by_role("link", name=newest_model, exact=True)
    assert link.get_attribute("href") == f"/ui/evaluations/{ids[newest_model]}"
    assert "completed" in recent.first.inner_text() and "Win rate" in recent.first.inner_text()
    check_accessibility(page, "home")
    shoot(page, tmp_path, "home")
    page.get_by_label("Suite", exact=True).select_option(SUITE)
    page.get_by_label("Protocol", exact=True).select_option("pairwise")
    page.get_by_label("Judge", exact=True).select_option("scripted")
    page.get_by_role("button", name="Show leaderboard").click()
    page.wait_for_url(f"**/ui/leaderboards/{SUITE}?protocol=pairwise&judge=scripted")
    table = page.locator("#leaderboard-table")
    rows = table.locator("tbody tr")
    rows.nth(2).wait_for()
    assert rows.count() == 3
    # rank order, each row with its metric, interval, Elo and LC columns
    assert [rows.nth(i).get_attribute("data-model") for i in range(3)] == [r["model"] for r in expected]
    headers = table.locator("thead th").all_inner_texts()
    assert any("Win rate" in h for h in headers) and any("Elo" in h for h in headers)
    assert any("Length-controlled win rate" in h for h in headers)  # the protocol's leaderboard column
    top = expected[0]
    assert f"{top['value']:.3f}" in rows.nth(0).inner_text()
    assert f"[{top['ci95'][0]:.3f}, {top['ci95'][1]:.3f}]" in rows.nth(0).inner_text()

    # the chart: one row per model, a dot and an interval bar with caps
    chart = page.locator("#chart svg")
    assert chart.get_attribute("role") == "img" and chart.get_attribute("data-rows") == "3"
    for model in MODELS:
        group = chart.locator(f'g.model-row[data-model="{model}"]')
        assert group.locator("circle.point").count() == 1
        assert group.locator("line.interval").count() == 3
    xs = {m: float(chart.locator(f'g.model-row[data-model="{m}"] circle').get_attribute("cx")) for m in MODELS}
    assert xs["long-writer"] > xs["same-writer"] > xs["short-writer"]
    shoot(page, tmp_path, "leaderboard")

    # sorting by keyboard: Model ascending, then the metric ascending
    model_sort = table.get_by_role("button", name="Model")
    model_sort.focus()
    page.keyboard.press("Enter")
    assert [rows.nth(i).get_attribute("data-model") for i in range(3)] == sorted(MODELS)
    assert table.locator("th", has=page.locator('button[data-key="model"]')).get_attribute("aria-sort") == "ascending"
    metric_sort = table.locator('button[data-key="value"]')
    metric_sort.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    assert [rows.nth(i).get_attribute("data-model") for i in range(3)] == [r["model"] for r in reversed(expected)]

    check_accessibility(page, "leaderboard")
    check_narrow(page, tmp_path, "leaderboard")

    # polling with If-None-Match: unchanged polls are 304s; a new model appears without a reload
    wait_in_page(page, lambda: any(tag and status == 304 for tag, status in conditional), timeout=20)
    evaluate_on_suite(api, "longest-writer", lambda i: "a" * (80 + i))
    rows.nth(3).wait_for(timeout=60_000)
    assert rows.nth(0).get_attribute("data-model") in ("longest-writer", "same-writer", "long-writer", "short-writer")
    assert page.locator('#chart g.model-row[data-model="longest-writer"]').count() == 1
    assert any(tag and status == 200 for tag, status in conditional), "the changed board came after an ETag poll"

    # each row links to its evaluation's page
    page.get_by_role("link", name="Evaluation of short-writer").click()
    page.wait_for_url(f"**/ui/evaluations/{ids['short-writer']}")
    page.locator("#eval-status", has_text="completed").wait_for()
    assert page.locator("#headline .value").inner_text() == f"{[r for r in expected if r['model'] == 'short-writer'][0]['value']:.3f}"


def test_progress_bar_advances_on_a_running_evaluation(page, live, api, tmp_path):
    n_items = 20
    items = [{"id": f"slow-{i}", "prompt": f"Prompt {i}", "response_a": "x" * (10 + i), "response_b": "y" * 15,
              "category": "even" if i % 2 == 0 else "odd"} for i in range(n_items)]
    evaluation_id = submit(api, {"protocol": "pairwise", "judge": "scripted-slow", "model": "slow-model",
                                 "items": items, "options": {"chunk_size": 1}})
    open_with_key(page, live, f"/ui/evaluations/{evaluation_id}")
    progress = page.locator("#progress")
    page.locator("#eval-status", has_text="queued").wait_for()
    assert progress.get_attribute("max") == str(n_items) and float(progress.get_attribute("value")) == 0

    # a long-running worker for the slow judge (0.5 s per chunk of one item)
    log = (tmp_path / "worker-scripted-slow.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--judge", "scripted-slow"],
                              env=settings_env(live.settings), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        seen: list[int] = []
        shot = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            value = int(float(progress.get_attribute("value")))
            if not seen or value != seen[-1]:
                seen.append(value)
            if not shot and 0 < value < n_items:
                assert page.locator("#eval-status").inner_text() == "running"
                shoot(page, tmp_path, "evaluation-running")
                shot = True
            if value == n_items and page.locator("#eval-status").inner_text() == "completed":
                break
            page.wait_for_timeout(100)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert seen[-1] == n_items, seen
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    partial = [v for v in seen if 0 < v < n_items]
    assert len(partial) >= 3, f"the bar should advance in steps while running, saw {seen}"
    assert shot

    # completed: summary with interval, reliability, items with both orders side by side
    evaluation = api.get(f"/v1/evaluations/{evaluation_id}").json()
    page.locator("#items-table tbody tr[data-item]").nth(n_items - 1).wait_for()
    assert page.locator("#headline .value").inner_text() == f"{evaluation['summary']['win_rate']:.3f}"
    low, high = evaluation["summary"]["win_rate_ci95"]
    assert f"[{low:.3f}, {high:.3f}]" in page.locator("#headline").inner_text()
    assert "Position consistency" in page.locator("#reliability").inner_text()
    headers = page.locator("#items-table thead th").all_inner_texts()
    assert any("Order A→B" in h for h in headers) and any("Order B→A" in h for h in headers)
    row = page.locator('#items-table tr[data-item="slow-19"]')
    assert row.locator("td").nth(2).locator(".call").count() == 1 and row.locator("td").nth(3).locator(".call").count() == 1
    assert "Response 1 = A" in row.locator("td").nth(2).inner_text() or "tie" in row.locator("td").nth(2).inner_text()
    assert row.locator(".probs").count() == 2  # label probabilities of both orders
    # the filter: by id, then by verdict
    page.get_by_label("Item id or text").fill("slow-1")
    assert page.locator("#items-table tbody tr[data-item]").count() == 11  # slow-1, slow-10..19
    page.get_by_label("Item id or text").fill("")
    page.get_by_label("Verdict").select_option("b")
    outcomes = {v["outcome"] for v in api.get(f"/v1/evaluations/{evaluation_id}/verdicts", params={"limit": 100}).json()["data"]}
    assert "b" in outcomes
    shown = page.locator("#items-table tbody tr[data-item]")
    expected_b = sum(1 for v in api.get(f"/v1/evaluations/{evaluation_id}/verdicts", params={"limit": 100}).json()["data"]
                     if v["outcome"] == "b")
    assert shown.count() == expected_b
    page.get_by_label("Verdict").select_option("")
    shoot(page, tmp_path, "evaluation-completed")
    check_accessibility(page, "evaluation")
    check_narrow(page, tmp_path, "evaluation")


def test_a_review_recorded_in_the_page_changes_the_metric(page, live, api, tmp_path):
    # the position-biased judge with two samples per order: every item has BPDE > 0, the top quarter is flagged
    items = [{"id": f"rev-{i}", "prompt": f"Which answer to question {i} is better?", "response_a": f"Answer A{i}",
              "response_b": f"Answer B{i} (longer)", "human_label": "a" if i % 2 else "b"} for i in range(12)]
    evaluation_id = submit(api, {"protocol": "pairwise", "judge": "scripted-first", "model": "reviewed-model",
                                 "items": items, "options": {"samples": 2, "review_fraction": 0.25, "seed": 1}})
    before = wait_completed(api, evaluation_id)
    assert before["reviews"]["open"] == 3, before["reviews"]
    open_reviews = api.get("/v1/reviews", params={"evaluation_id": evaluation_id}).json()["data"]
    first = open_reviews[0]

    open_with_key(page, live, f"/ui/reviews?evaluation_id={evaluation_id}")
    value = page.locator("#headline .value")
    value.wait_for()
    assert value.inner_text() == f"{before['summary']['win_rate']:.3f}"
    articles = page.locator("article.review")
    articles.nth(2).wait_for()
    assert articles.count() == 3
    article = page.locator(f'article[data-review="{first["id"]}"]')
    # the prompt once, then both orders as the judge saw them, each with its calls and probabilities
    assert first["item"]["prompt"] in article.inner_text()
    ab, ba = article.locator('section[data-order="ab"]'), article.locator('section[data-order="ba"]')
    ab_blocks, ba_blocks = ab.locator(".text-block").all_inner_texts(), ba.locator(".text-block").all_inner_texts()
    assert ab_blocks[:2] == [first["item"]["response_a"], first["item"]["response_b"]]
    assert ba_blocks[:2] == [first["item"]["response_b"], first["item"]["response_a"]]
    assert ab.locator(".call").count() == 2 and ba.locator(".call").count() == 2
    assert ab.locator(".probs").count() == 2
    check_accessibility(page, "review queue")
    check_narrow(page, tmp_path, "reviews")
    shoot(page, tmp_path, "reviews-before")

    # a label needs a reviewer name; then A is chosen by keyboard
    a_button = article.get_by_role("button", name="A is better")
    a_button.click()
    assert page.locator("#error").inner_text().startswith("Enter your name")
    page.get_by_label("Your name (recorded with each label)").fill("ui-tester")
    a_button.focus()
    page.keyboard.press("Enter")
    article.locator(".review-result", has_text="Labelled a by ui-tester").wait_for()
    after = api.get(f"/v1/evaluations/{evaluation_id}").json()
    assert after["summary"]["n_reviewed"] == 1 and after["reviews"] == {"open": 2, "done": 1}
    assert after["summary"]["win_rate"] != before["summary"]["win_rate"]
    page.locator("#headline .value", has_text=f"{after['summary']['win_rate']:.3f}").wait_for()
    assert "1 reviewed, 2 open" in page.locator("#headline").inner_text()
    assert a_button.get_attribute("aria-pressed") == "true"
    review = api.get(f"/v1/reviews/{first['id']}").json()
    assert review["status"] == "done" and review["label"] == {"label": "a"} and review["reviewer"] == "ui-tester"
    shoot(page, tmp_path, "reviews-after")

    # the evaluation page shows the reviewed item, the BPDE histogram and agreement with the human labels
    page.get_by_role("link", name="Evaluation of reviewed-model: details").click()
    page.locator("#eval-status", has_text="completed").wait_for()
    bars = page.locator("#bpde-chart svg rect.bar")
    assert bars.count() == len(after["reliability"]["bpde_histogram"])
    assert "Agreement with human labels" in page.locator("#agreement").inner_text()
    assert "After human review" in page.locator("#agreement").inner_text()
    page.locator(f'#items-table tr[data-item="{first["item_id"]}"] .badge', has_text="reviewed").wait_for()
    shoot(page, tmp_path, "evaluation-reviewed")
    check_accessibility(page, "evaluation with human labels")


PROTOCOL_CASES = {
    # protocol: (items, the label buttons the page offers); two seeded samples per item disagree on some items
    "rating": ([{"id": f"rate-{i}", "prompt": f"Rate answer {i}", "response": f"Answer {i} <<scripted:2=0.5,4=0.5>>"}
                for i in range(8)], ["Score 1", "Score 5"]),
    "answer_matching": ([{"id": f"match-{i}", "question": f"What is {i} + {i}?", "reference_answers": [str(2 * i)],
                          "response": f"Maybe {2 * i + 1} <<scripted:yes=0.5,no=0.5>>"} for i in range(8)],
                        ["Matches the reference", "Does not match"]),
    "goal_success": ([{"id": f"goal-{i}", "goals": [{"id": "taxi", "description": "book a taxi"}],
                       "conversation": [{"role": "user", "content": f"Find a taxi {i} <<scripted:A=0.5,B=0.5>>"},
                                        {"role": "assistant", "content": "Booked."}]} for i in range(8)],
                     ["Record goal labels"]),
}


@pytest.mark.parametrize("protocol", list(PROTOCOL_CASES))
def test_review_buttons_of_the_other_protocols_record_labels(page, live, api, tmp_path, protocol):
    items, buttons = PROTOCOL_CASES[protocol]
    evaluation_id = submit(api, {"protocol": protocol, "judge": "scripted", "model": f"{protocol}-model", "items": items,
                                 "options": {"samples": 2, "temperature": 0.7, "seed": 3, "review_fraction": 0.5}})
    before = wait_completed(api, evaluation_id)
    metric = before["summary"]["metric"]
    first = api.get("/v1/reviews", params={"evaluation_id": evaluation_id}).json()["data"][0]

    open_with_key(page, live, f"/ui/reviews?evaluation_id={evaluation_id}")
    page.get_by_label("Your name (recorded with each label)").fill("ui-tester")
    article = page.locator(f'article[data-review="{first["id"]}"]')
    article.wait_for()
    for name in buttons:
        assert article.get_by_role("button", name=name).count() == 1, name
    if protocol == "rating":
        judge_score = first["verdict"]["score"]
        article.get_by_role("button", name="Score 1" if judge_score > 3 else "Score 5").click()
    elif protocol == "answer_matching":
        opposite = "Does not match" if first["verdict"]["outcome"] == "match" else "Matches the reference"
        article.get_by_role("button", name=opposite).click()
    else:
        achieved = article.get_by_role("checkbox", name="achieved")
        achieved.set_checked(not achieved.is_checked())  # the opposite of the judge's verdict
        article.get_by_role("button", name="Record goal labels").click()
    article.locator(".review-result", has_text="by ui-tester").wait_for()
    after = api.get(f"/v1/evaluations/{evaluation_id}").json()
    assert after["summary"]["n_reviewed"] == 1
    assert after["summary"][metric] != before["summary"][metric]
    page.locator("#headline .value", has_text=f"{after['summary'][metric]:.3f}").wait_for()
    shoot(page, tmp_path, f"reviews-{protocol}")
    check_accessibility(page, f"{protocol} review queue")

    page.goto(f"{live.url}/ui/evaluations/{evaluation_id}")  # same tab: the key is still in sessionStorage
    page.locator("#eval-status", has_text="completed").wait_for()
    page.locator("#items-table tbody tr[data-item]").nth(len(items) - 1).wait_for()
    assert page.locator("#headline .value").inner_text() == f"{after['summary'][metric]:.3f}"
    shoot(page, tmp_path, f"evaluation-{protocol}")
    check_accessibility(page, f"{protocol} evaluation")
