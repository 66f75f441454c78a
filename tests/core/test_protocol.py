"""The protocol registry's promises: a protocol that declares itself single-stage plans everything at once."""

from __future__ import annotations

import pytest

from service.core.protocol import get_protocol, is_single_stage, protocol_names
from tests.core.test_injection import CASE_IDS, CASES, fixed_output


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
