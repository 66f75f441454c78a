"""The pages for decisions in headless Chromium against a live production-mode gateway with scripted-judge
workers: the comparison of two runs (gate decision, changed items side by side, category filter), the
filtered and paged evaluation list, the leaderboard's judge/protocol pickers (no 422 dead end), rank
ranges and CSV download, and the evaluation page's reliability warnings.

Each page is checked with axe-core, driven by keyboard, and on a 375 px wide screen; screenshots go
into each test's tmp_path.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from service.core.rank_ranges import rank_ranges
from service.core.reliability_warnings import reliability_warnings
from tests.support import wait_for
from tests.ui.browser_support import (  # noqa: F401  (api is a fixture)
    api, check_accessibility, check_narrow, open_with_key, shoot, submit, wait_completed,
)
from tests.ui.conftest import BROWSER

pytestmark = BROWSER
SUITE = "ui-decide"
N_ITEMS = 12
IMPROVED = {f"d{i:02d}" for i in range(N_ITEMS) if i % 3 == 0}
REGRESSED = {f"d{i:02d}" for i in range(N_ITEMS) if i % 3 == 1}


def tie(i):  # as long as the suite's baseline response: the scripted "longer" judge calls it a tie
    return "a" * (20 + i)


def mixed(i):  # longer on i % 3 == 0 (improved), shorter on i % 3 == 1 (regressed), a tie on the rest
    return {0: f"longer answer {i} " + "c" * (30 + i), 1: f"short {i}", 2: "c" * (20 + i)}[i % 3]


def on_suite(api, model, responses, judge="scripted") -> str:
    return submit(api, {"protocol": "pairwise", "judge": judge, "model": model, "suite": SUITE,
                        "items": [{"id": f"d{i:02d}", "response": responses(i)} for i in range(N_ITEMS)]})


@pytest.fixture(scope="module")
def runs(api):
    """A suite with writing and math items; a steady run, a run that changed 8 items, and a run by a second judge."""
    items = [{"id": f"d{i:02d}", "prompt": f"Question {i}: explain something.", "baseline_response": "b" * (20 + i),
              "category": "writing" if i % 2 else "math"} for i in range(N_ITEMS)]
    created = api.post("/v1/suites", json={"name": SUITE, "baseline_model": "ref-model", "items": items})
    assert created.status_code == 201, created.text
    ids = {"steady": on_suite(api, "steady", tie), "changed": on_suite(api, "changed", mixed),
           "other-judge": on_suite(api, "steady", tie, judge="scripted-first")}
    for evaluation_id in ids.values():
        wait_completed(api, evaluation_id)
    return ids


def test_the_comparison_page_shows_the_decision_and_the_changed_items(page, live, api, runs, tmp_path):
    gate = api.post("/v1/comparisons", json={"baseline_evaluation_id": runs["steady"],
                                             "candidate_evaluation_id": runs["changed"]}).json()
    assert (gate["n_changed"], gate["n_improved"], gate["n_regressed"]) == (8, 4, 4)

    # the home page's form leads there, by keyboard
    open_with_key(page, live, "/ui/")
    page.get_by_label("Baseline evaluation id").fill(runs["steady"])
    page.get_by_label("Candidate evaluation id").fill(runs["changed"])
    page.get_by_label("Candidate evaluation id").press("Enter")
    page.wait_for_url(f"**/ui/compare?baseline={runs['steady']}&candidate={runs['changed']}&margin=0&alpha=0.05")

    decision = page.locator("#gate-decision")
    decision.wait_for()
    assert decision.inner_text() == ("Gate passed" if gate["decision"] == "pass" else "Gate failed")
    headline = page.locator("#decision").inner_text()
    low, high = gate["difference_ci95"]
    p_value = gate["p_value"]
    assert f"[{low:.3f}, {high:.3f}]" in headline
    assert f"p = {int(p_value) if p_value == int(p_value) else f'{p_value:.4f}'}" in headline
    facts = page.locator("#gate").inner_text()
    assert "8 (4 improved, 4 regressed)" in facts and str(gate["n_shared"]) in facts
    assert page.locator("h1").inner_text() == "Compare changed with steady"

    rows = page.locator("#changed-table tbody tr[data-item]")
    rows.nth(7).wait_for()
    assert rows.count() == 8
    shown = {rows.nth(i).get_attribute("data-item"): rows.nth(i).get_attribute("data-change") for i in range(8)}
    assert {k for k, v in shown.items() if v == "improved"} == IMPROVED
    assert {k for k, v in shown.items() if v == "regressed"} == REGRESSED
    # both runs' responses side by side, under each run's model
    headers = page.locator("#changed-table thead th").all_inner_texts()
    assert headers == ["Item", "Change", "Baseline: steady", "Candidate: changed"]
    row = page.locator('#changed-table tr[data-item="d04"]')
    cells = row.locator("td")
    assert cells.nth(1).locator(".text-block").inner_text() == tie(4)
    assert cells.nth(2).locator(".text-block").inner_text() == mixed(4)
    assert "math" in row.locator("th").inner_text()
    row.locator("summary", has_text="Item").click()  # the item's context: its prompt
    assert "Question 4: explain something." in row.locator("th").inner_text()
    check_accessibility(page, "comparison")
    shoot(page, tmp_path, "compare")

    # filters by keyboard: the category (with its count), then only regressions
    category = page.get_by_label("Category", exact=True)
    category.focus()
    category.select_option(label="math (4)")
    expect(rows).to_have_count(4)
    assert {rows.nth(i).get_attribute("data-item") for i in range(4)} == {"d00", "d04", "d06", "d10"}
    page.get_by_label("Change", exact=True).select_option("regressed")
    expect(rows).to_have_count(2)
    assert {rows.nth(i).get_attribute("data-item") for i in range(2)} == {"d04", "d10"}
    assert "Showing 2 of 2 changed item(s)" in page.locator("#changed-count").inner_text()
    check_narrow(page, tmp_path, "compare")

    # runs that cannot be compared: the gate's own message (the browser logs the 422 response)
    page.expected_errors = ["status of 422"]
    page.goto(f"{live.url}/ui/compare?baseline={runs['steady']}&candidate={runs['other-judge']}")
    page.locator("#error", has_text="judge differs").wait_for()
    check_accessibility(page, "comparison refused")


def test_the_evaluation_list_filters_by_status_model_and_tag_and_pages(page, live, api, runs, tmp_path):
    # 23 queued evaluations of one model for a judge no worker serves: they stay queued
    tagged = [submit(api, {"protocol": "pairwise", "judge": "unserved", "model": "paged-model",
                           "tags": {"batch": "paging", **({"branch": "main"} if i % 4 == 0 else {})},
                           "items": [{"id": "x", "prompt": "p", "response_a": "a", "response_b": "b"}]})
              for i in range(23)]
    open_with_key(page, live, "/ui/")
    rows = page.locator("#evaluations-table tbody tr[data-evaluation]")
    rows.first.wait_for()
    assert rows.count() == 20  # one page
    page.get_by_label("Status", exact=True).select_option("queued")
    page.get_by_label("Model", exact=True).fill("paged-model")
    page.get_by_label("Tags", exact=True).fill("batch=paging")
    page.get_by_label("Tags", exact=True).press("Enter")
    page.locator("#ev-page", has_text="Page 1: 20 evaluation(s)").wait_for()
    assert [rows.nth(i).get_attribute("data-evaluation") for i in range(20)] == tagged[::-1][:20]
    assert "batch=paging" in rows.first.inner_text()
    assert "status=queued" in page.url and "tag=batch%3Dpaging" in page.url
    check_accessibility(page, "home, filtered")

    # the next page by keyboard, then back
    next_button = page.get_by_role("button", name="Next page")
    next_button.focus()
    page.keyboard.press("Enter")
    page.locator("#ev-page", has_text="Page 2: 3 evaluation(s)").wait_for()
    assert [rows.nth(i).get_attribute("data-evaluation") for i in range(3)] == tagged[::-1][20:]
    assert next_button.is_disabled()
    assert page.evaluate("document.activeElement.id") == "ev-prev"  # the focus stays on a usable button
    page.keyboard.press("Enter")
    page.locator("#ev-page", has_text="Page 1: 20 evaluation(s)").wait_for()
    shoot(page, tmp_path, "home-filtered")

    # two tags must both match; a tag key alone matches any value; the URL brings the filters back
    page.get_by_label("Tags", exact=True).fill("batch=paging, branch=main")
    page.get_by_role("button", name="Filter").click()
    page.locator("#ev-page", has_text="Page 1: 6 evaluation(s)").wait_for()
    assert {rows.nth(i).get_attribute("data-evaluation") for i in range(6)} == set(tagged[::4])
    page.goto(f"{live.url}/ui/?model=paged-model&tag=branch")
    page.locator("#ev-page", has_text="Page 1: 6 evaluation(s)").wait_for()
    assert page.get_by_label("Tags", exact=True).input_value() == "branch"
    page.get_by_label("Status", exact=True).select_option("completed")
    page.get_by_role("button", name="Filter").click()
    page.locator("#evaluations-table tbody td", has_text="No evaluations match these filters.").wait_for()
    check_narrow(page, tmp_path, "home-filtered")


def test_the_leaderboard_offers_judges_instead_of_a_422_and_shows_rank_ranges(page, live, api, runs, tmp_path):
    # two judges have a pairwise leaderboard on the suite: the API asks which
    assert api.get(f"/v1/leaderboards/{SUITE}", params={"protocol": "pairwise"}).status_code == 422
    wait_for(lambda: len(api.get(f"/v1/leaderboards/{SUITE}", params={"protocol": "pairwise", "judge": "scripted"})
                     .json().get("rows", [])) == 2, timeout=60, interval=0.3)

    open_with_key(page, live, f"/ui/leaderboards/{SUITE}?protocol=pairwise")
    note = page.locator("#pickers-note")
    note.wait_for()
    assert "Several judges" in note.inner_text() and "scripted, scripted-first" in note.inner_text()
    assert page.locator("#error").is_hidden()
    judge = page.get_by_label("Judge", exact=True)
    assert page.evaluate("document.activeElement.id") == "board-judge"  # the picker has the focus
    assert judge.locator("option").all_inner_texts() == ["choose a judge", "scripted", "scripted-first"]
    assert "pairwise (2 judges)" in page.get_by_label("Protocol", exact=True).locator("option").all_inner_texts()
    check_accessibility(page, "leaderboard pickers")
    shoot(page, tmp_path, "leaderboard-pickers")
    judge.select_option("scripted")
    page.keyboard.press("Tab")  # Runs
    page.keyboard.press("Tab")  # Show
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/leaderboards/{SUITE}?protocol=pairwise&judge=scripted&runs=latest")

    board = api.get(f"/v1/leaderboards/{SUITE}", params={"protocol": "pairwise", "judge": "scripted"}).json()
    table = page.locator("#leaderboard-table")
    table.locator("tbody tr").nth(1).wait_for()
    elo = all(r["elo_ci95"] and None not in r["elo_ci95"] for r in board["rows"])
    expected = rank_ranges([tuple(r["elo_ci95"] if elo else r["ci95"]) for r in board["rows"]])
    for row, (best, worst) in zip(board["rows"], expected):
        assert (row["rank_best"], row["rank_worst"]) == (best, worst)
        cells = table.locator(f'tbody tr[data-model="{row["model"]}"] td')
        assert cells.nth(1).inner_text() == (str(best) if best == worst else f"{best}–{worst}")
    assert "Rank range" in table.locator("thead").inner_text()
    check_accessibility(page, "leaderboard with rank ranges")
    check_narrow(page, tmp_path, "leaderboard-ranks")

    # the CSV download: fetched with the key, saved as a file
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"{SUITE}-pairwise-scripted.csv"
    text = open(download.path(), encoding="utf-8").read()
    api_csv = api.get(f"/v1/leaderboards/{SUITE}", params={"protocol": "pairwise", "judge": "scripted"},
                      headers={"Accept": "text/csv"})
    assert api_csv.headers["content-type"].startswith("text/csv"), "the leaderboard API serves CSV"
    assert text == api_csv.text and "steady" in text and "changed" in text


def test_the_evaluation_page_warns_when_the_judge_is_unreliable(page, live, api, runs, tmp_path):
    # the position-biased judge (picks the first-shown response 90% of the time) on both orders
    items = [{"id": f"bias-{i}", "prompt": f"Which is better {i}?", "response_a": f"A{i}", "response_b": f"B{i} longer"}
             for i in range(10)]
    biased = wait_completed(api, submit(api, {"protocol": "pairwise", "judge": "scripted-first", "model": "biased-judged",
                                              "items": items}))
    expected = [w.as_dict() for w in reliability_warnings(biased["reliability"], biased["summary"])]
    assert biased["warnings"] == expected and "low_position_consistency" in {w["code"] for w in expected}

    open_with_key(page, live, f"/ui/evaluations/{biased['id']}")
    box = page.get_by_role("alert").filter(has_text="The judge's reliability is poor")
    box.wait_for()
    for warning in expected:
        text = box.locator(f'li[data-code="{warning["code"]}"]').inner_text()
        measured = warning["measured"]
        assert text == f"{measured[0].upper()}{measured[1:]}. What it means: {warning['meaning']}."
    check_accessibility(page, "evaluation with warnings")
    shoot(page, tmp_path, "evaluation-warnings")
    check_narrow(page, tmp_path, "evaluation-warnings")

    # a sound judge: no warning box
    sound = api.get(f"/v1/evaluations/{runs['steady']}").json()
    assert sound["warnings"] == []
    page.goto(f"{live.url}/ui/evaluations/{runs['steady']}")
    page.locator("#eval-status", has_text="completed").wait_for()
    assert page.locator("#warnings").is_hidden()

    # the evaluation page leads to a comparison with this run as the candidate
    page.get_by_role("link", name="with a baseline run").click()
    page.wait_for_url(f"**/ui/compare?candidate={runs['steady']}")
    assert page.get_by_label("Candidate evaluation id").input_value() == runs["steady"]
    page.locator("#status", has_text="Enter the ids of two completed evaluations").wait_for()
    check_accessibility(page, "comparison form")
    page.get_by_label("Baseline evaluation id").fill(runs["changed"])
    page.get_by_label("Baseline evaluation id").press("Enter")
    page.locator("#gate-decision").wait_for()
    assert page.locator("h1").inner_text() == "Compare steady with changed"
