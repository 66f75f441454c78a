"""A protocol defined in this file alone, registered, and driven through everything a protocol reaches.

"thumbs" asks the judge whether a response is good (up) or not (down). It is declared and registered
here, touching no other file, and then used as a user would: a suite, two models' evaluations through
POST /v1/evaluations, verdicts, summary, a human review label, a regression comparison, the
leaderboard, GET /v1/protocols, the typed OpenAPI document and the web pages' data. Embedded mode runs
the jobs in this process, so the registration is seen by the worker side too; the judge is the
scripted backend, which answers label probabilities written into the response as a marker.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, ClassVar, Literal, Sequence

import pytest
from pydantic import BaseModel, ConfigDict, Field

from service.config import Settings
from service.core import calibration
from service.core.agreement import reviewed_verdict
from service.core.judging import JudgeOutput, JudgeRequest
from service.core.options import CalibrationOptions
from service.core.probabilities import label_probs_from_top_logprobs, parse_label
from service.core.protocol import CallResult, ItemVerdict, PlannedCall, item_counts, register, unregister
from service.core.protocol_meta import LabelChoice, LabelForm, MetricKind, PageView
from service.core.statistics import wilson_interval
from tests.support import api_client, wait_for

NAME = "thumbs"
LABELS = ("up", "down")


class ThumbsItem(BaseModel):
    """A prompt and one response, to be judged good (up) or not (down)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    prompt: str
    response: str
    human_label: Literal["up", "down"] | None = None


class ThumbsSuiteItem(BaseModel):
    """A response to a suite item."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    response: str


class ThumbsOptions(CalibrationOptions):
    """Nothing beyond the calibration options."""


class ThumbsReview(BaseModel):
    """A human's thumb."""

    model_config = ConfigDict(extra="forbid")
    label: Literal["up", "down"]


class ThumbsSummary(BaseModel):
    """Share of responses judged good."""

    model_config = ConfigDict(extra="allow")
    metric: Literal["up_rate"]
    n_items: int
    n_scored: int
    n_unscored: int
    n_failed: int
    up_rate: float | None
    up_rate_ci95: tuple[float, float] | None


class ThumbsReliability(BaseModel):
    """The basics every judged protocol reports."""

    model_config = ConfigDict(extra="allow")
    unscored_rate: float | None
    mean_bpde: float | None


class ThumbsProtocol:
    """Is the response good? One constrained call per item."""

    name: ClassVar[str] = NAME
    item_model: ClassVar[type[BaseModel]] = ThumbsItem
    options_model: ClassVar[type[BaseModel]] = ThumbsOptions
    review_model: ClassVar[type[BaseModel]] = ThumbsReview
    suite_item_model: ClassVar[type[BaseModel] | None] = ThumbsSuiteItem
    summary_model: ClassVar[type[BaseModel]] = ThumbsSummary
    reliability_model: ClassVar[type[BaseModel]] = ThumbsReliability
    description: ClassVar[str] = "Thumbs up or down for one response: the share judged good."
    headline_metric: ClassVar[str] = "up_rate"
    metric_kind: ClassVar[MetricKind] = MetricKind.binary("up")
    leaderboard_columns: ClassVar[tuple[str, ...]] = ()
    ranking: ClassVar[str | None] = None
    label_form: ClassVar[LabelForm] = LabelForm(kind="choice", field="label", choices=[
        LabelChoice(value="up", text="Good"), LabelChoice(value="down", text="Not good")])
    page_view: ClassVar[PageView] = PageView(response="response")
    single_stage: ClassVar[bool] = True

    def plan_calls(self, item: ThumbsItem, options: ThumbsOptions, prior: Sequence[CallResult] = ()) -> list[PlannedCall]:
        """One call: is the response good?"""
        messages = ({"role": "user", "content": f"{item.prompt}\n\n{item.response}\n\nGood? up or down."},)
        request = JudgeRequest(messages=messages, choices=LABELS, temperature=options.effective_temperature(),
                               seed=options.call_seed(item.id, "single", 0), template="thumbs/1")
        return [PlannedCall(order="single", sample=0, request=request)]

    def parse(self, call: PlannedCall, output: JudgeOutput, options: ThumbsOptions) -> CallResult:
        """The label and its probabilities."""
        label = parse_label(output.text, LABELS) if output.error is None else None
        return CallResult(call.order, call.sample, label, label_probs_from_top_logprobs(output.verdict_top_logprobs,
                                                                                        LABELS), output.text)

    def combine(self, item: ThumbsItem, results: Sequence[CallResult], options: ThumbsOptions) -> ItemVerdict:
        """Up or down, with P(up) as the score and its entropy as the BPDE."""
        result = results[0]
        if result.label is None:
            return ItemVerdict(outcome=None, score=None, unscored=True)
        p_up = (result.label_probs or {}).get("up", float(result.label == "up"))
        entropy = -sum(p * math.log(p) for p in (p_up, 1 - p_up) if p > 0)
        return ItemVerdict(outcome=result.label, score=p_up, unscored=False, bpde=entropy,
                           details={"calls": [{"label": result.label, "p_up": p_up}]})

    def summarize(self, items: Sequence[ThumbsItem], verdicts: Sequence[ItemVerdict],
                  options: ThumbsOptions) -> tuple[dict[str, Any], dict[str, Any]]:
        """Share of items judged up, with its Wilson interval."""
        scored = [v for v in verdicts if v.scored]
        ups = Counter(v.outcome for v in scored)["up"]
        summary = {"metric": "up_rate", **item_counts(verdicts),
                   "up_rate": ups / len(scored) if scored else None,
                   "up_rate_ci95": wilson_interval(ups, len(scored)) if scored else None}
        return summary, calibration.reliability_basics(verdicts)

    def apply_review(self, item: ThumbsItem, verdict: ItemVerdict, label: ThumbsReview) -> ItemVerdict:
        """The human's thumb replaces the judge's."""
        return reviewed_verdict(verdict, label.label, float(label.label == "up"), label.model_dump())

    def from_suite(self, suite_item: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
        """The suite's prompt with the submitted response."""
        if suite_item.get("prompt") is None:
            raise ValueError("this suite item has no prompt")
        return {"id": submitted["id"], "prompt": suite_item["prompt"], "response": submitted.get("response")}


@pytest.fixture(autouse=True)
def registered():
    """Registered for these tests only (not at import, so other tests never see it)."""
    register(ThumbsProtocol)
    yield
    unregister(NAME)


@pytest.fixture
def client(tmp_path, judges_file):
    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file)
    with api_client(settings) as test_client:
        yield test_client


def marked(p_up: float) -> str:
    """A response the scripted judge rates up with probability ``p_up``."""
    return f"An answer. <<scripted:up={p_up},down={1 - p_up:.2f}>>"


def judged(client, model: str, p_up: list[float], **extra) -> dict:
    body = {"protocol": NAME, "judge": "scripted", "model": model, "suite": "toy",
            "items": [{"id": f"q{i}", "response": marked(p)} for i, p in enumerate(p_up)], **extra}
    created = client.post("/v1/evaluations", json=body)
    assert created.status_code == 202, created.text
    location = created.headers["location"]
    return wait_for(lambda: (e := client.get(location).json())["status"] in ("completed", "failed") and e, timeout=60)


def test_a_protocol_registered_in_one_file_works_through_the_whole_api(client):
    suite = client.post("/v1/suites", json={"name": "toy", "items": [
        {"id": f"q{i}", "prompt": f"Question {i}?"} for i in range(8)]})
    assert suite.status_code == 201, suite.text

    # a bad item is refused with a pointer into the item, and the toy's own fields are in the message
    bad = client.post("/v1/evaluations", json={"protocol": NAME, "judge": "scripted", "model": "x",
                                               "items": [{"id": "q0", "prompt": "p", "respons": "typo"}]})
    assert bad.status_code == 422
    assert {e["pointer"] for e in bad.json()["errors"]} >= {"/items/0/response"}
    extra = client.post("/v1/evaluations", json={"protocol": NAME, "judge": "scripted", "model": "x", "suite": "toy",
                                                 "items": [{"id": "q0", "response": "r", "bogus": 1}]})
    assert extra.status_code == 422 and [e["pointer"] for e in extra.json()["errors"]] == ["/items/0/bogus"]

    good = judged(client, "good-model", [0.9, 0.8, 0.9, 0.7, 0.9, 0.8, 0.9, 0.6], options={"review_fraction": 0.25})
    poor = judged(client, "poor-model", [0.1, 0.2, 0.3, 0.1, 0.4, 0.2, 0.9, 0.1])
    assert good["status"] == poor["status"] == "completed", (good, poor)
    assert good["summary"]["metric"] == "up_rate" and good["summary"]["up_rate"] == 1.0
    assert poor["summary"]["up_rate"] == 1 / 8 and len(poor["summary"]["up_rate_ci95"]) == 2

    verdicts = client.get(f"/v1/evaluations/{poor['id']}/verdicts").json()["data"]
    assert Counter(v["outcome"] for v in verdicts) == {"down": 7, "up": 1}
    assert all(len(v["judgments"]) == 1 and v["judgments"][0]["label"] in LABELS for v in verdicts)

    # review: the two least certain items of the good model are flagged; a human turns one down
    reviews = client.get("/v1/reviews", params={"status": "open", "evaluation_id": good["id"]}).json()["data"]
    assert {r["item_id"] for r in reviews} == {"q3", "q7"}
    labelled = client.post(f"/v1/reviews/{reviews[0]['id']}", json={"label": "down", "reviewer": "ana"})
    assert labelled.status_code == 200, labelled.text
    refused = client.post(f"/v1/reviews/{reviews[1]['id']}", json={"label": "sideways", "reviewer": "ana"})
    assert refused.status_code == 422
    after = client.get(f"/v1/evaluations/{good['id']}").json()["summary"]
    assert after["up_rate"] == 7 / 8 and after["n_reviewed"] == 1

    # the gate: the metric kind is binary, so the paired test is exact McNemar on 0/1 outcomes
    comparison = client.post("/v1/comparisons", json={"baseline_evaluation_id": good["id"],
                                                      "candidate_evaluation_id": poor["id"]})
    assert comparison.status_code == 200, comparison.text
    gate = comparison.json()
    assert gate["metric"] == "up_rate" and "mcnemar" in gate["test"].lower()
    assert gate["n_shared"] == 8 and gate["difference"] == pytest.approx(1 / 8 - 7 / 8)
    assert gate["decision"] == "fail"

    # the leaderboard ranks by the declared headline metric
    def board():
        response = client.get("/v1/leaderboards/toy", params={"protocol": NAME, "judge": "scripted"})
        rows = response.json().get("rows", []) if response.status_code == 200 else []
        return response.json() if len(rows) == 2 and rows[0].get("value") == 7 / 8 else None
    leaderboard = wait_for(board, timeout=30)
    assert [r["model"] for r in leaderboard["rows"]] == ["good-model", "poor-model"]
    assert leaderboard["metric"] == "up_rate" and leaderboard["metric_kind"]["kind"] == "binary"
    assert all(len(r["ci95"]) == 2 and r["n"] == 8 for r in leaderboard["rows"])


def test_the_contract_and_the_web_pages_describe_a_protocol_registered_in_one_file(client):
    described = {p["name"]: p for p in client.get("/v1/protocols").json()["data"]}
    thumbs = described[NAME]
    assert thumbs["headline_metric"] == "up_rate"
    assert thumbs["metric_kind"] == {"kind": "binary", "range": [0.0, 1.0], "counted_outcome": "up"}
    assert thumbs["schemas"]["item"]["properties"]["response"]["type"] == "string"
    assert thumbs["schemas"]["review"]["properties"]["label"]["enum"] == ["up", "down"]
    assert [c["value"] for c in thumbs["label_form"]["choices"]] == ["up", "down"]
    assert thumbs["page_view"]["response"] == "response" and thumbs["page_view"]["compared"] is None

    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["EvaluationCreate"]["discriminator"]["mapping"][NAME].endswith("/ThumbsEvaluationCreate")
    assert "ThumbsItem" in str(schemas["ThumbsEvaluationCreate"]["properties"]["items"])
    assert schemas["EvaluationOut"]["discriminator"]["mapping"][NAME].endswith("/ThumbsEvaluation")

    home = client.get("/ui/")  # the leaderboard picker lists every registered protocol
    assert home.status_code == 200 and f'<option value="{NAME}">{NAME}</option>' in home.text
