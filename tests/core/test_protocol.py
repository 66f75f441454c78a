"""The protocol registry's promises: a protocol that declares itself single-stage plans everything at once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.core.protocol import ItemVerdict, get_protocol, is_single_stage, item_counts, protocol_names
from tests.core.test_injection import CASE_IDS, CASES, fixed_output, judge


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_a_single_stage_protocol_plans_the_same_calls_whatever_it_was_given(case):
    """The worker skips re-planning a single-stage protocol: its plan must not depend on ``prior``."""
    _, name, options, item, _, _ = case
    protocol = get_protocol(name)
    parsed_item, parsed_options = protocol.item_model.model_validate(item), protocol.options_model.model_validate(options)
    first = protocol.plan_calls(parsed_item, parsed_options)
    prior = [protocol.parse(call, fixed_output(call), parsed_options) for call in first]
    again = protocol.plan_calls(parsed_item, parsed_options, prior)
    if is_single_stage(protocol):
        assert again == first
    else:  # a multi-stage protocol must say so, or the worker would never plan its later stages
        assert again != first or case[0] == "goal_success-given-goals"


@pytest.mark.parametrize(("name", "single"), [("pairwise", True), ("rating", True), ("answer_matching", True),
                                              ("href", True), ("goal_success", False)])
def test_every_registered_protocol_declares_its_stages(name, single):
    assert name in protocol_names()
    assert is_single_stage(get_protocol(name)) is single


def test_a_protocol_that_does_not_declare_its_stages_is_re_planned():
    class Undeclared:
        name = "undeclared"

    assert is_single_stage(Undeclared()) is False


FAILED = ItemVerdict(outcome=None, score=None, unscored=False, failed=True, details={"errors": ["engine error"]})
# a failed verdict stored before failed items stopped being flagged unscored too
LEGACY_FAILED = ItemVerdict(outcome=None, score=None, unscored=True, failed=True, details={"errors": ["engine error"]})
UNSCORED = ItemVerdict(outcome=None, score=None, unscored=True, details={"calls": []})


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_failed_items_are_counted_as_failed_never_as_unscored(case):
    """n_scored + n_unscored + n_failed == n_items, and the unscored rate is over the items the judge answered."""
    _, name, options, item, _, _ = case
    protocol = get_protocol(name)
    parsed_item, parsed_options = protocol.item_model.model_validate(item), protocol.options_model.model_validate(options)
    _, scored = judge(protocol, parsed_item, parsed_options)
    method = {k: v for k, v in scored.details.items() if k == "method"}  # href reports per method
    verdicts = [scored, *(replace(v, details={**v.details, **method}) for v in (UNSCORED, FAILED, LEGACY_FAILED))]
    summary, reliability = protocol.summarize([parsed_item] * len(verdicts), verdicts, parsed_options)
    counts = (summary["n_items"], summary["n_scored"], summary["n_unscored"], summary["n_failed"])
    assert counts == (4, 1, 1, 2)
    rate = "embedding_unscored_rate" if method.get("method") == "embedding" else "unscored_rate"
    assert reliability[rate] == pytest.approx(1 / 2)


@pytest.mark.parametrize(("verdicts", "expected"), [
    ([], (0, 0, 0, 0)),
    ([UNSCORED, UNSCORED], (2, 0, 2, 0)),
    ([FAILED, LEGACY_FAILED], (2, 0, 0, 2)),
    ([ItemVerdict(outcome="a", score=1.0, unscored=False), UNSCORED, FAILED], (3, 1, 1, 1)),
])
def test_item_counts(verdicts, expected):
    counts = item_counts(verdicts)
    assert (counts["n_items"], counts["n_scored"], counts["n_unscored"], counts["n_failed"]) == expected
