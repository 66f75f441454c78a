"""Warnings a reader of a result must see: when the judge's own reliability report says the result is weak.

Read from an evaluation's reliability report (and summary), whatever the protocol: a rule applies when the
report has its field. The evaluation page, ``judgeserve status``/``run`` and the CI reports show the same list.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

# below this share of items judged alike in both orders, a verdict depends on the order as much as on the responses
MIN_POSITION_CONSISTENCY = 0.6
# a judge that picks the first-shown (or second-shown) response this often is mostly reading positions
MAX_POSITION_PREFERENCE = 0.8
# above this share of unreadable outputs, the metric is computed on a subset the judge chose by failing
MAX_UNSCORED_RATE = 0.1
# above this share of items whose every judge call failed, the metric leaves out items the engine could not judge
MAX_FAILED_RATE = 0.05


@dataclass(frozen=True)
class ReliabilityWarning:
    """One warning: a stable code, what was measured, and what it means for the result."""

    code: str
    measured: str
    meaning: str

    def text(self) -> str:
        """The warning as one line of prose."""
        return f"{self.measured}: {self.meaning}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _position_consistency(reliability: Mapping[str, Any], summary: Mapping[str, Any]) -> ReliabilityWarning | None:
    rate = reliability.get("position_consistency_rate")
    if not isinstance(rate, (int, float)) or rate >= MIN_POSITION_CONSISTENCY:
        return None
    return ReliabilityWarning(
        "low_position_consistency", f"position consistency {rate:.2f} (below {MIN_POSITION_CONSISTENCY:g})",
        "the judge often reversed its verdict when the two responses swapped places, so many outcomes reflect "
        "the order shown rather than the responses; treat small differences as noise and consider a stronger "
        "judge or more samples")


def _position_preference(reliability: Mapping[str, Any], summary: Mapping[str, Any]) -> ReliabilityWarning | None:
    rate = reliability.get("first_position_win_rate")
    if not isinstance(rate, (int, float)) or 1 - MAX_POSITION_PREFERENCE <= rate <= MAX_POSITION_PREFERENCE:
        return None
    side = "first" if rate > 0.5 else "second"
    return ReliabilityWarning(
        "position_bias", f"the judge preferred the {side}-shown response in {max(rate, 1 - rate):.0%} of its calls",
        f"the judge mostly picks by position; with both orders the bias cancels in the win rate, but most "
        "verdicts carry little information about the responses")


def _unscored(reliability: Mapping[str, Any], summary: Mapping[str, Any]) -> ReliabilityWarning | None:
    rate = reliability.get("unscored_rate")
    if not isinstance(rate, (int, float)) or rate <= MAX_UNSCORED_RATE:
        return None
    return ReliabilityWarning(
        "many_unscored", f"{rate:.0%} of the judge's outputs could not be read",
        "the metric is computed over the remaining items only; if unreadable outputs are more common on hard "
        "items, the metric is biased upwards")


def _failed(reliability: Mapping[str, Any], summary: Mapping[str, Any]) -> ReliabilityWarning | None:
    n_items, n_failed = summary.get("n_items"), summary.get("n_failed")
    if not isinstance(n_items, int) or not isinstance(n_failed, int) or not n_items:
        return None
    if n_failed / n_items <= MAX_FAILED_RATE:
        return None
    return ReliabilityWarning(
        "many_failed", f"{n_failed} of {n_items} items failed (every judge call errored)",
        "the metric leaves these items out; see the evaluation's failed items for the engine's errors")


# one function per rule, in the order they are shown; a new rule is one function and one line here
RULES: tuple[Callable[[Mapping[str, Any], Mapping[str, Any]], ReliabilityWarning | None], ...] = (
    _position_consistency, _position_preference, _unscored, _failed,
)


def reliability_warnings(reliability: Mapping[str, Any] | None,
                         summary: Mapping[str, Any] | None = None) -> list[ReliabilityWarning]:
    """The warnings an evaluation's reliability report and summary call for (empty when it looks sound)."""
    found = (rule(reliability or {}, summary or {}) for rule in RULES)
    return [warning for warning in found if warning is not None]
