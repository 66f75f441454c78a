"""What a protocol declares about itself besides its code: metric kind, leaderboard, label form, page view.

Everything outside a protocol's package reads these (comparisons pick their test from the metric kind,
leaderboards their value and ranking, the web pages their label buttons and layout), so a new protocol
is its package and one registry line. Each declaration is checked when the protocol registers: an
unknown kind is an error at start-up, never a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

METRIC_KINDS = ("binary", "continuous", "bounded")
# the paired test of the regression gate for each metric kind (service.core.paired's metric_kind)
PAIRED_TEST_KIND = {"binary": "binary", "continuous": "continuous", "bounded": "continuous"}
RANKINGS = ("bradley_terry",)


@dataclass(frozen=True)
class MetricKind:
    """How an item contributes to the headline metric, which decides the gate's test and the leaderboard value.

    ``binary``: each item counts 1 when its outcome is ``counted_outcome``, else 0 (McNemar);
    ``bounded``: the item's score in [low, high]; ``continuous``: the item's score, unbounded
    (both: sign-flip permutation test).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    counted_outcome: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in METRIC_KINDS:
            raise ValueError(f"unknown metric kind {self.kind!r}; known: {list(METRIC_KINDS)}")
        if self.kind == "binary" and not self.counted_outcome:
            raise ValueError("a binary metric names the outcome it counts (counted_outcome)")
        if self.kind == "bounded" and not (self.low is not None and self.high is not None and self.low < self.high):
            raise ValueError("a bounded metric gives its range with low < high")

    @classmethod
    def binary(cls, counted_outcome: str) -> "MetricKind":
        """Share of items whose outcome is ``counted_outcome`` (e.g. accuracy: ``match``)."""
        return cls("binary", 0.0, 1.0, counted_outcome)

    @classmethod
    def bounded(cls, low: float, high: float) -> "MetricKind":
        """Mean of item scores that lie in [low, high]."""
        return cls("bounded", low, high)

    @classmethod
    def continuous(cls) -> "MetricKind":
        """Mean of unbounded item scores."""
        return cls("continuous")

    @property
    def paired_test(self) -> str:
        """``binary`` (exact McNemar) or ``continuous`` (sign-flip permutation) for service.core.paired."""
        return PAIRED_TEST_KIND[self.kind]

    def item_value(self, outcome: str | None, score: float | None) -> float | None:
        """The item's value in the metric: 1/0 for a counted outcome, else its score."""
        if self.kind == "binary":
            return float(outcome == self.counted_outcome)
        return score

    def as_json(self) -> dict[str, Any]:
        """The public description: kind, range (null when unbounded) and the counted outcome."""
        bounded = self.low is not None and self.high is not None
        return {"kind": self.kind, "range": [self.low, self.high] if bounded else None,
                "counted_outcome": self.counted_outcome}


class LabelChoice(BaseModel):
    """One button of a label form: the body it posts and its text."""

    model_config = ConfigDict(extra="forbid")
    value: str = Field(description="The value posted in the form's field.")
    text: str = Field(description="What the button says.")


class LabelForm(BaseModel):
    """How a human labels an item in the review queue (the web page renders it; POST /v1/reviews/{id} takes it).

    ``choice``: one of ``choices`` posted as ``{field: value}``; ``score``: an integer from 1 to the
    item's scale (``scale_from``: the item field whose length is the scale, else ``default_scale``),
    posted as ``{field: n}``; ``goals``: per goal achieved or not with a root cause, posted as
    ``{field: {goal_id: {achieved, root_cause?}}}`` over the verdict's goals and taxonomy.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["choice", "score", "goals"]
    field: str
    choices: list[LabelChoice] | None = None
    scale_from: str | None = None
    default_scale: int | None = None


class PageView(BaseModel):
    """How the web pages lay out an item: two compared responses shown in both orders, or one response."""

    model_config = ConfigDict(extra="forbid")
    compared: tuple[str, str] | None = Field(
        default=None, description="Item fields of responses A and B when the judge compares two (shown per order).")
    compared_names: tuple[str, str] = Field(default=("A", "B"), description="What A and B are called on the pages.")
    response: str | None = Field(default=None, description="Item field of the one judged response, if any.")


def check_declarations(protocol: Any) -> None:
    """Raise ValueError naming what a protocol declares wrongly or not at all (called when it registers)."""
    name = getattr(protocol, "name", None)
    problems = [f"{attr} missing" for attr in REQUIRED if not hasattr(protocol, attr)]
    if not problems:
        problems = _kind_problems(protocol) + _summary_problems(protocol) + _page_problems(protocol)
    if problems:
        raise ValueError(f"protocol {name!r}: " + "; ".join(problems))


def _kind_problems(protocol: Any) -> list[str]:
    kind = protocol.metric_kind
    if not isinstance(kind, MetricKind):
        return ["metric_kind must be a MetricKind"]
    if protocol.ranking is not None and protocol.ranking not in RANKINGS:
        return [f"unknown ranking {protocol.ranking!r}; known: {list(RANKINGS)}"]
    if protocol.ranking == "bradley_terry" and (kind.low, kind.high) != (0.0, 1.0):
        return ["bradley_terry ranks by win shares: its metric must lie in [0, 1]"]
    return []


def _summary_problems(protocol: Any) -> list[str]:
    fields = protocol.summary_model.model_fields
    problems = [f"leaderboard column {c!r} is not a summary field" for c in protocol.leaderboard_columns
                if c not in fields]
    if protocol.headline_metric not in fields:
        problems.append(f"headline metric {protocol.headline_metric!r} is not a summary field")
    named = getattr(fields.get("metric"), "annotation", None)
    if named is not None and get_origin(named) is Literal and get_args(named) != (protocol.headline_metric,):
        problems.append(f"the summary's metric {get_args(named)} is not the headline metric {protocol.headline_metric!r}")
    return problems


def _page_problems(protocol: Any) -> list[str]:
    form, view = protocol.label_form, protocol.page_view
    if not isinstance(form, LabelForm) or not isinstance(view, PageView):
        return ["label_form must be a LabelForm and page_view a PageView"]
    items, reviews = protocol.item_model.model_fields, protocol.review_model.model_fields
    problems = [f"page_view names {f!r}, not an item field" for f in (*(view.compared or ()), view.response)
                if f is not None and f not in items]
    if form.field not in reviews:
        problems.append(f"label_form.field {form.field!r} is not a field of the review model")
    if form.kind == "choice" and not form.choices:
        problems.append("a choice label form lists its choices")
    if form.kind == "score" and form.default_scale is None and form.scale_from not in items:
        problems.append("a score label form gives default_scale or an item field as scale_from")
    return problems


REQUIRED = ("name", "description", "item_model", "options_model", "review_model", "summary_model",
            "reliability_model", "suite_item_model", "headline_metric", "metric_kind", "leaderboard_columns",
            "ranking", "label_form", "page_view")
