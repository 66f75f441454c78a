"""The bias report recovers a known length bias, through the API, a real worker process and Postgres.

A scripted judge prefers the longer response with p = 0.8 per call (``policy: length_bias``, drawn from
each call's seed). With both orders an item's two calls agree (longer: p 0.64, shorter: 0.04) or
disagree (a tie, 0.32), so the item-level share with ties as ½ is 0.8 in expectation. The humans
prefer the longer response on 11 of every 20 items and tie on 2 (share 0.6). The judge's configured
model is the evaluated model, so a self_preference row appears. ``judgeserve status`` prints the lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from service.cli.remote import print_evaluation
from service.client.models import Evaluation
from tests.conftest import SCRIPTED_JUDGES
from tests.support import api_client, run_worker

N_ITEMS = 400
JUDGE = "scripted-length-bias"
JUDGE_MODEL = "biased-judge-model"
HUMAN_CYCLE = ["longer"] * 11 + ["tie"] * 2 + ["shorter"] * 7  # 11 + 1 of 20: share 0.6


@pytest.fixture
def judges_file(tmp_path: Path) -> Path:
    """The shared scripted judges plus one with a known length bias."""
    path = tmp_path / "judges.yaml"
    biased = {"name": JUDGE, "backend": "scripted", "model": JUDGE_MODEL,
              "engine": {"policy": "length_bias", "bias": 0.8}}
    path.write_text(yaml.safe_dump([*SCRIPTED_JUDGES, biased]), encoding="utf-8")
    return path


def item(i: int) -> dict:
    short = f"Answer {i}: a short reply."
    long_ = f"Answer {i}: a much longer reply that keeps going with detail after detail, well past twice the length."
    a_longer = i % 2 == 0
    response_a, response_b = (long_, short) if a_longer else (short, long_)
    human = HUMAN_CYCLE[i % len(HUMAN_CYCLE)]
    label = "tie" if human == "tie" else "a" if (human == "longer") == a_longer else "b"
    return {"id": f"q{i}", "prompt": f"Question {i}?", "response_a": response_a, "response_b": response_b,
            "human_label": label}


@pytest.fixture
def evaluation(prod_settings):
    body = {"protocol": "pairwise", "judge": JUDGE, "model": JUDGE_MODEL, "options": {"seed": 7},
            "items": [item(i) for i in range(N_ITEMS)]}
    with api_client(prod_settings) as client:
        created = client.post("/v1/evaluations", json=body)
        assert created.status_code == 202, created.text
        worker = run_worker(prod_settings, JUDGE)
        assert worker.returncode == 0, worker.stderr[-2000:]
        done = client.get(created.headers["location"]).json()
    assert done["status"] == "completed", done
    return done


def test_the_report_recovers_the_judges_length_bias_beside_the_humans(evaluation):
    rows = {r["factor"]: r for r in evaluation["reliability"]["bias_factors"]["rows"]}
    length = rows["longer"]
    judge, humans = length["judge"], length["humans"]
    assert judge["n"] == N_ITEMS and 0 < judge["n_ties"] < N_ITEMS
    low, high = judge["ci95"]
    assert low < 0.8 < high and high - low < 0.1, judge
    assert humans["n"] == N_ITEMS and humans["rate"] == pytest.approx(0.6) and humans["n_ties"] == N_ITEMS // 10
    assert humans["ci95"][0] < 0.6 < humans["ci95"][1]
    assert length["judge_same_items"] == judge
    assert length["difference"] == pytest.approx(judge["rate"] - 0.6)
    # no markdown anywhere; the first position is not favoured by a length-only judge
    assert rows["more_markdown"]["judge"]["n"] == 0
    assert rows["first_position"]["judge"]["n"] == 2 * N_ITEMS
    assert rows["first_position"]["judge"]["rate"] == evaluation["reliability"]["first_position_win_rate"]
    first_low, first_high = rows["first_position"]["judge"]["ci95"]
    assert first_low < 0.5 < first_high
    print(f"recovered: judge prefers longer {judge['rate']:.3f} [{low:.3f}, {high:.3f}] n={judge['n']} "
          f"ties={judge['n_ties']}; humans {humans['rate']:.3f} {humans['ci95']}")


def test_the_judges_own_model_is_flagged_as_self_preference(evaluation):
    bias = evaluation["reliability"]["bias_factors"]
    own = [r for r in bias["rows"] if r["factor"] == "self_preference"]
    assert len(own) == 1 and JUDGE_MODEL in own[0]["description"] and "response A" in own[0]["description"]
    assert own[0]["judge"] == bias["sides"]["a"]["judge"] and own[0]["humans"] == bias["sides"]["a"]["humans"]
    # A is the longer response on half the items: the judge's A share is near ½ (no self-preference beyond length)
    assert 0.4 < own[0]["judge"]["rate"] < 0.6


def test_status_prints_the_bias_lines(evaluation, capsys):
    print_evaluation(Evaluation.model_validate(evaluation))
    out = capsys.readouterr().out
    print(out)  # shown with -s: the lines as judgeserve status prints them
    longer = next(line for line in out.splitlines() if line.startswith("  bias: longer: judge "))
    rate = evaluation["reliability"]["bias_factors"]["rows"][1]["judge"]["rate"]
    assert f"judge {rate:.0%} [" in longer and "humans 60% [" in longer and "points on the same items" in longer
    assert "  bias: first_position: judge " in out and "  bias: self_preference: judge " in out
    assert JUDGE_MODEL in out
