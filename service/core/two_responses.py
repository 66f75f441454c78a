"""What every protocol that compares two responses shares: positional labels, both orders, the verdict question.

The judge sees the two responses as "Response 1" and "Response 2"; order ``ab`` shows A first and
``ba`` shows B first, and each call's positional label is mapped back to (A, B).
"""

from __future__ import annotations

from typing import Any, Literal

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


class TwoResponseOptions(CalibrationOptions):
    """Calibration options plus the orders each comparison is judged in and the tie margin."""

    orders: Literal["both", "single"] = Field(
        default="both", description="both: every comparison in both orders (Balanced Position Calibration).")
    tie_margin: float = Field(default=0.05, ge=0.0, le=0.5,
                              description="A preference within ½ ± this margin is a tie.")

    def order_names(self) -> tuple[str, ...]:
        """The orders each item is judged in."""
        return ("ab", "ba") if self.orders == "both" else ("ab",)


def preference_for_a(order: str, label: str | None, probs: dict[str, float] | None) -> float | None:
    """P(A better) + ½·P(tie) of one call, mapped back from its order's positions."""
    if probs:
        p_first, p_second, p_tie = (probs.get(x, 0.0) for x in LABELS)
    elif label is not None:
        p_first, p_second, p_tie = (float(label == x) for x in LABELS)
    else:
        return None
    p_a = p_first if ORDERS[order][0] == "a" else p_second
    return p_a + 0.5 * p_tie


def label_for_a(order: str, label: str | None) -> str | None:
    """A call's positional label as an item outcome: 'a', 'b' or 'tie'."""
    if label is None:
        return None
    if label == TIE:
        return "tie"
    return ORDERS[order][0] if label == FIRST else ORDERS[order][1]


def plan_two_response_calls(item: Any, options: TwoResponseOptions, render: Any, template: str) -> list[PlannedCall]:
    """Every order × sample of a two-response comparison rendered by ``render(item, order, question)``."""
    rationale = options.rationale_budget()
    question = RATIONALE_QUESTION if rationale else VERDICT_QUESTION
    calls = []
    for order in options.order_names():
        messages = render(item, order, question)
        for sample in range(options.samples):
            request = JudgeRequest(
                messages=messages, choices=LABELS, temperature=options.effective_temperature(),
                seed=options.call_seed(item.id, order, sample), rationale_tokens=rationale,
                verdict_followup=VERDICT_QUESTION, template=template,
            )
            calls.append(PlannedCall(order=order, sample=sample, request=request))
    return calls
