"""What every protocol that compares two responses shares: positional labels, both orders, the verdict question.

The judge sees the two responses as "Response 1" and "Response 2"; order ``ab`` shows A first and
``ba`` shows B first, and each call's positional label is mapped back to (A, B).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from pydantic import Field

from service.core.judging import JudgeRequest
from service.core.options import CalibrationOptions
from service.core.protocol import PlannedCall

FIRST, SECOND, TIE = "1", "2", "tie"
LABELS = (FIRST, SECOND, TIE)
# Which item response sits in the first slot for each order.
ORDERS = {"ab": ("a", "b"), "ba": ("b", "a")}
VERDICT_QUESTION = (
    'Which response is better? Answer with exactly one of: "1" (Response 1 is better), '
    '"2" (Response 2 is better) or "tie".'
)
RATIONALE_QUESTION = (
    "First explain briefly which response is better and why. Do not give the final verdict yet."
)


@dataclass(frozen=True)
class VerdictScale:
    """The labels a two-response judge answers with, and what each one means for the response shown first.

    ``first_credit``: the share of the win each label gives the first-shown response (1 win, ½ tie,
    0 loss); the second-shown response gets the rest. ``battle_weight``: how many Bradley–Terry
    battles a label counts as (1 unless listed). ``slot_names``: what the prompt calls the two slots.
    """

    labels: tuple[str, ...]
    first_credit: Mapping[str, float]
    question: str
    rationale_question: str = RATIONALE_QUESTION
    battle_weight: Mapping[str, float] = field(default_factory=dict)
    slot_names: tuple[str, str] = ("Response 1", "Response 2")

    def weight(self, label: str) -> float:
        """Bradley–Terry battles the label counts as."""
        return float(self.battle_weight.get(label, 1.0))


THREE_POINT = VerdictScale(labels=LABELS, first_credit={FIRST: 1.0, SECOND: 0.0, TIE: 0.5}, question=VERDICT_QUESTION)


class TwoResponseOptions(CalibrationOptions):
    """Calibration options plus the orders each comparison is judged in and the tie margin."""

    orders: Literal["both", "single"] = Field(
        default="both", description="both: every comparison in both orders (Balanced Position Calibration).")
    tie_margin: float = Field(default=0.05, ge=0.0, le=0.5,
                              description="A preference within ½ ± this margin is a tie.")

    def order_names(self) -> tuple[str, ...]:
        """The orders each item is judged in."""
        return ("ab", "ba") if self.orders == "both" else ("ab",)


def _label_probs(label: str | None, probs: dict[str, float] | None,
                 scale: VerdictScale) -> dict[str, float] | None:
    """The call's probability of each label: its label probabilities, else certainty on its label."""
    if probs:
        return {x: probs.get(x, 0.0) for x in scale.labels}
    if label is not None:
        return {x: float(label == x) for x in scale.labels}
    return None


def _credit_for_a(order: str, label: str, scale: VerdictScale) -> float:
    credit = scale.first_credit[label]
    return credit if ORDERS[order][0] == "a" else 1.0 - credit


def preference_for_a(order: str, label: str | None, probs: dict[str, float] | None,
                     scale: VerdictScale = THREE_POINT) -> float | None:
    """P(A better) + ½·P(tie) of one call, mapped back from its order's positions."""
    given = _label_probs(label, probs, scale)
    if given is None:
        return None
    return sum(p * _credit_for_a(order, x, scale) for x, p in given.items())


def battle_for_a(order: str, label: str | None, probs: dict[str, float] | None,
                 scale: VerdictScale = THREE_POINT) -> tuple[float, float] | None:
    """(win credit of A, battles) of one call in Bradley–Terry: each label counts as its weight in battles."""
    given = _label_probs(label, probs, scale)
    if given is None:
        return None
    credit = sum(p * scale.weight(x) * _credit_for_a(order, x, scale) for x, p in given.items())
    return credit, sum(p * scale.weight(x) for x, p in given.items())


def label_for_a(order: str, label: str | None, scale: VerdictScale = THREE_POINT) -> str | None:
    """A call's positional label as an item outcome: 'a', 'b' or 'tie'."""
    if label is None:
        return None
    credit = _credit_for_a(order, label, scale)
    return "tie" if credit == 0.5 else "a" if credit > 0.5 else "b"


def slot_label(label: str | None, scale: VerdictScale = THREE_POINT) -> str | None:
    """A call's label as the winning slot ('1', '2' or 'tie'), what the reliability report counts."""
    if label is None:
        return None
    credit = scale.first_credit[label]
    return TIE if credit == 0.5 else FIRST if credit > 0.5 else SECOND


@dataclass(frozen=True)
class OrderTable:
    """What each label of a scale means in one order, computed once: the per-call functions' values by lookup."""

    labels: tuple[str, ...]
    credits: tuple[float, ...]  # A's credit for each label, in the scale's label order
    slot: Mapping[str, str | None]  # slot_label
    outcome: Mapping[str, str | None]  # label_for_a
    certain: Mapping[str, float | None]  # preference_for_a of a label without probabilities

    def preference(self, label: str | None, probs: dict[str, float] | None) -> float | None:
        """``preference_for_a``: the same products summed in the same order."""
        if probs:
            return sum(probs.get(x, 0.0) * credit for x, credit in zip(self.labels, self.credits))
        if label is not None:
            return self.certain[label]
        return None


def order_table(scale: VerdictScale, order: str) -> OrderTable:
    """The scale's table for one order (kept on the scale: a scale is immutable)."""
    tables: dict[str, OrderTable] = scale.__dict__.setdefault("_order_tables", {})
    table = tables.get(order)
    if table is None:
        labels = tuple(scale.labels)
        table = tables[order] = OrderTable(
            labels=labels, credits=tuple(_credit_for_a(order, x, scale) for x in labels),
            slot={x: slot_label(x, scale) for x in labels}, outcome={x: label_for_a(order, x, scale) for x in labels},
            certain={x: preference_for_a(order, x, None, scale) for x in labels})
    return table


def plan_two_response_calls(item: Any, options: TwoResponseOptions, render: Any, template: str,
                            scale: VerdictScale = THREE_POINT, critique: str | None = None) -> list[PlannedCall]:
    """Every order × sample of a two-response comparison rendered by ``render(item, order, question)``.

    ``critique``: every call first writes this free text (its rationale, within ``rationale_tokens``),
    whatever the verdict mode, then gives the constrained verdict.
    """
    rationale = options.rationale_tokens if critique else options.rationale_budget()
    question = critique or (scale.rationale_question if rationale else scale.question)
    calls = []
    temperature, choices, followup = options.effective_temperature(), scale.labels, scale.question
    for order in options.order_names():
        messages = render(item, order, question)
        for sample in range(options.samples):
            request = JudgeRequest(messages, choices, temperature, options.call_seed(item.id, order, sample),
                                   rationale_tokens=rationale, verdict_followup=followup, template=template)
            calls.append(PlannedCall(order, sample, request))
    return calls
