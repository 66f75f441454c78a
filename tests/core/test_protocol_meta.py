"""Protocol declarations: metric kinds decide item values and the gate's test; a wrong declaration is refused
when the protocol registers (at start-up), never replaced by a default."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel

from service.core.protocol import all_protocols, get_protocol, register, unregister
from service.core.protocol_meta import LabelForm, MetricKind, PageView


@pytest.mark.parametrize(("kind", "outcome", "score", "value", "test"), [
    (MetricKind.binary("match"), "match", 0.2, 1.0, "binary"),
    (MetricKind.binary("match"), "no_match", 0.9, 0.0, "binary"),
    (MetricKind.bounded(0.0, 1.0), "a", 0.75, 0.75, "continuous"),
    (MetricKind.bounded(1.0, 9.0), None, 4.5, 4.5, "continuous"),
    (MetricKind.continuous(), "x", -3.0, -3.0, "continuous"),
    (MetricKind.bounded(0.0, 1.0), None, None, None, "continuous"),
])
def test_an_items_value_and_the_gates_test_follow_the_metric_kind(kind, outcome, score, value, test):
    assert kind.item_value(outcome, score) == value
    assert kind.paired_test == test


@pytest.mark.parametrize(("make", "message"), [
    (lambda: MetricKind("ordinal"), "unknown metric kind 'ordinal'"),
    (lambda: MetricKind("binary"), "names the outcome it counts"),
    (lambda: MetricKind("bounded", 1.0, 1.0), "low < high"),
    (lambda: MetricKind("bounded"), "low < high"),
])
def test_an_unknown_or_incomplete_metric_kind_is_an_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


class Summary(BaseModel):
    metric: Literal["score"]
    score: float | None


class Declared:
    name: ClassVar[str] = "declared_for_test"
    description: ClassVar[str] = "A protocol for this test."
    item_model: ClassVar[type[BaseModel]] = Summary
    options_model: ClassVar[type[BaseModel]] = Summary
    review_model: ClassVar[type[BaseModel]] = Summary
    suite_item_model: ClassVar[type[BaseModel] | None] = None
    summary_model: ClassVar[type[BaseModel]] = Summary
    reliability_model: ClassVar[type[BaseModel]] = Summary
    headline_metric: ClassVar[str] = "score"
    metric_kind: ClassVar[Any] = MetricKind.continuous()
    leaderboard_columns: ClassVar[tuple[str, ...]] = ()
    ranking: ClassVar[str | None] = None
    label_form: ClassVar[Any] = LabelForm(kind="score", field="score", default_scale=5)
    page_view: ClassVar[Any] = PageView()


def variant(**overrides: Any) -> type:
    return type("Variant", (Declared,), overrides)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"metric_kind": "binary"}, "metric_kind must be a MetricKind"),
    ({"ranking": "elo_by_vibes"}, "unknown ranking 'elo_by_vibes'"),
    ({"headline_metric": "accuracy"}, "headline metric 'accuracy' is not a summary field"),
    ({"leaderboard_columns": ("lc_win_rate",)}, "leaderboard column 'lc_win_rate' is not a summary field"),
    ({"label_form": {"kind": "choice"}}, "label_form must be a LabelForm"),
    ({"label_form": LabelForm(kind="choice", field="score")}, "a choice label form lists its choices"),
    ({"label_form": LabelForm(kind="choice", field="verdict", choices=[])}, "'verdict' is not a field of the review"),
    ({"label_form": LabelForm(kind="score", field="score")}, "gives default_scale or an item field"),
    ({"page_view": PageView(compared=("response_a", "response_b"))}, "page_view names 'response_a', not an item"),
    ({"headline_metric": "score", "summary_model": type("Other", (Summary,), {"__annotations__": {
        "metric": Literal["accuracy"]}})}, "the summary's metric .* is not the headline metric"),
    ({"ranking": "bradley_terry"}, "its metric must lie in \\[0, 1\\]"),
])
def test_a_wrong_declaration_is_refused_when_the_protocol_registers(overrides, message):
    with pytest.raises(ValueError, match=message):
        register(variant(**overrides))
    with pytest.raises(KeyError):
        get_protocol(Declared.name)


def test_a_missing_declaration_is_named():
    class Undeclared:
        name: ClassVar[str] = "undeclared_for_test"

    with pytest.raises(ValueError, match="headline_metric missing.*metric_kind missing"):
        register(Undeclared)


def test_a_second_protocol_of_the_same_name_is_refused():
    all_protocols()  # the built-ins are registered first
    with pytest.raises(ValueError, match="two protocols are called 'pairwise'"):
        register(variant(name="pairwise"))
    assert type(get_protocol("pairwise")).__name__ == "PairwiseProtocol"


def test_a_correct_declaration_registers_and_unregisters():
    register(variant())
    try:
        assert get_protocol(Declared.name).metric_kind.kind == "continuous"
    finally:
        unregister(Declared.name)
    assert Declared.name not in {p.name for p in all_protocols()}


def test_every_registered_protocol_declares_a_kind_the_gate_knows():
    for protocol in all_protocols():
        assert protocol.metric_kind.paired_test in ("binary", "continuous")
        assert protocol.headline_metric in protocol.summary_model.model_fields


def test_protocols_come_in_registry_order_whatever_was_imported_first():
    from service.core.protocols import PACKAGES

    assert [type(p).__module__ for p in all_protocols()] == [f"{package}.protocol" for package in PACKAGES]
