"""Calibration options every judged protocol shares: Multiple Evidence Calibration gives rationales."""

import pytest
from pydantic import ValidationError

from service.core.protocols.answer_matching.protocol import AnswerMatchingOptions
from service.core.protocols.goal_success.protocol import GoalSuccessOptions
from service.core.protocols.href.protocol import HrefOptions
from service.core.options import STORED
from service.core.protocols.pairwise.protocol import PairwiseItem, PairwiseOptions, PairwiseProtocol
from service.core.two_responses import RATIONALE_QUESTION
from service.core.protocols.rating.protocol import RatingOptions

MODELS = [PairwiseOptions, RatingOptions, AnswerMatchingOptions, HrefOptions, GoalSuccessOptions]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("raw, mode", [
    ({}, "logprobs"),
    ({"samples": 1}, "logprobs"),
    ({"samples": 1, "verdict_mode": "logprobs"}, "logprobs"),
    ({"samples": 1, "verdict_mode": "rationale"}, "rationale"),
    # k samples each give their evidence before their verdict, unless asked otherwise
    ({"samples": 2}, "rationale"),
    ({"samples": 5, "temperature": 1.0, "seed": 3}, "rationale"),
    ({"samples": 3, "verdict_mode": "rationale"}, "rationale"),
])
def test_verdict_mode(model, raw, mode):
    options = model.model_validate(raw)
    assert options.verdict_mode == mode
    assert options.rationale_budget() == (options.rationale_tokens if mode == "rationale" else 0)
    again = model.model_validate(options.model_dump(mode="json"), context=STORED)  # as a worker reads it back
    assert again == options


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("raw", [{"samples": 2, "verdict_mode": "logprobs"},
                                 {"samples": 16, "temperature": 0.5, "verdict_mode": "logprobs", "seed": 1}])
def test_explicit_logprobs_with_several_samples_is_refused_naming_the_field(model, raw):
    """k logprobs samples of one prompt would all be the same numbers: k times the calls for nothing."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(raw)
    errors = caught.value.errors()
    assert [e["loc"] for e in errors] == [("verdict_mode",)]
    assert "samples > 1" in errors[0]["msg"] and "identical" in errors[0]["msg"]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_options_stored_before_the_rule_are_read_as_they_were_judged(model):
    stored = {"samples": 2, "temperature": 0.7, "verdict_mode": "logprobs"}
    assert model.model_validate(stored, context=STORED).verdict_mode == "logprobs"


def test_other_option_errors_still_name_their_own_field():
    with pytest.raises(ValidationError) as caught:
        PairwiseOptions.model_validate({"samples": 0, "verdict_mode": "logprobs"})
    assert [e["loc"] for e in caught.value.errors()] == [("samples",)]


def test_k_default_samples_each_ask_for_evidence_first():
    item = PairwiseItem(id="i", prompt="p", response_a="a", response_b="b")
    calls = PairwiseProtocol().plan_calls(item, PairwiseOptions(samples=3, seed=1))
    assert len(calls) == 6 and {c.request.rationale_tokens for c in calls} == {256}
    assert all(c.request.messages[-1]["content"].endswith(RATIONALE_QUESTION) for c in calls)
    assert {c.request.temperature for c in calls} == {0.7} and len({c.request.seed for c in calls}) == 6
