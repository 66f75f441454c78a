"""The evaluation page shows a self-reference verdict's judge answer and critiques (details.self_reference)."""

from __future__ import annotations

from tests.ui.browser_support import api, check_accessibility, open_with_key, shoot, submit, wait_completed  # noqa: F401
from tests.ui.conftest import BROWSER

pytestmark = BROWSER


def test_the_item_shows_the_judges_own_answer_and_its_critiques(page, live, api, tmp_path):
    items = [{"id": "own", "prompt": 'Capital of France? <<scripted-json:{"answer": "Paris, on the Seine."}>>',
              "response_a": "Paris", "response_b": "Lyon is"},
             {"id": "referenced", "prompt": "Largest planet?", "reference": "Jupiter",
              "response_a": "Jupiter", "response_b": "Saturn"}]
    evaluation_id = submit(api, {"protocol": "pairwise", "judge": "scripted", "model": "self-ref-model",
                                 "items": items, "options": {"self_reference": True}})
    wait_completed(api, evaluation_id)
    open_with_key(page, live, f"/ui/evaluations/{evaluation_id}")
    row = page.locator('#items-table tr[data-item="own"]')
    row.wait_for()
    row.get_by_text("Judge's own answer and critiques").click()
    text = row.inner_text()
    assert "Paris, on the Seine." in text
    assert "Critique, Order A→B sample 1\nScripted rationale." in text
    assert "Critique, Order B→A sample 1\nScripted rationale." in text
    assert "Own answer skipped" in page.locator('#items-table tr[data-item="referenced"]').inner_text()
    shoot(page, tmp_path, "self-reference")
    check_accessibility(page, "evaluation with self-reference")
