"""Typed models of what the protocols' ``summarize()`` returns, shared by several protocols.

Each protocol's ``summary.py`` builds its ``<Name>Summary`` and ``<Name>Reliability`` from these pieces:
item counts, the length-controlled win rate, judge–human agreement and the reliability report
(``service.core.calibration``). The models describe the dicts exactly: every key ``summarize()`` can
emit is a declared field, and a key it emits only in some cases (say the human-agreement keys, present
only when items carry human labels) defaults to None; for such a key *absent and null mean the same*.
A key that is always emitted but may be null is a required, nullable field.

Every report model allows undeclared keys (``extra="allow"``), so a client built from this contract keeps
working when the server adds a key; ``undeclared_keys`` finds such keys (the tests use it to keep the
models exact). Floats must be finite: a NaN or infinity cannot travel in JSON, so it fails validation.

Pure: stdlib and pydantic only, so a client install without numpy can import it.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field

# A 95% interval: [low, high], both finite (JSON: an array of two numbers). Null where no interval exists.
Interval95 = tuple[float, float]

class ReportModel(BaseModel):
    """Base of every summary and reliability model: unknown keys are kept (forward compatibility), floats finite."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


# ---------------------------------------------------------------- item counts


class ItemCounts(ReportModel):
    """``service.core.protocol.item_counts``: n_items = n_scored + n_unscored + n_failed."""

    n_items: int = Field(description="Items in the evaluation (n_scored + n_unscored + n_failed).")
    n_scored: int = Field(description="Items with a verdict that counts in the metric (a human review counts).")
    n_unscored: int = Field(description="Items the judge answered but whose output could not be read.")
    n_failed: int = Field(description="Items whose every judge call failed (engine error, prompt too long).")


# ---------------------------------------------------------------- length-controlled win rate


class LengthControlledFields(ReportModel):
    """``service.core.length_control.lc_summary``: the three keys are always present (null when not fitted)."""

    lc_win_rate: float | None = Field(
        description="Length-controlled win rate (AlpacaEval 2.0 style GLM, predicted preference at zero length "
                    "difference); null when it could not be fitted (see lc_note).")
    lc_win_rate_ci95: Interval95 | None = Field(
        description="Seeded percentile-bootstrap 95% interval of lc_win_rate over items; null when lc_win_rate is "
                    "null or no resample could be fitted.")
    lc_note: str | None = Field(
        description="Why lc_win_rate is null (too few scored items, equal length differences), or a caveat when "
                    "every preference is 0 or 1 (then lc_win_rate is the raw rate); null after a normal fit.")


# ---------------------------------------------------------------- judge–human agreement


class Agreement(ReportModel):
    """``service.core.agreement.agreement``: judge vs human labels over the items where both exist."""

    n: int = Field(description="Pairs compared: items (or goals) with both a human label and a judge label.")
    accuracy: float = Field(description="Share of the pairs where the judge's label equals the human's.")
    cohen_kappa: float | None = Field(
        description="Cohen's kappa between judge and human labels; null when undefined (chance agreement 1 with "
                    "some disagreement).")
    scott_pi: float | None = Field(
        description="Scott's pi between judge and human labels; null when undefined (both used one label only).")


class HumanAgreementReport(ReportModel):
    """``service.core.agreement.agreement_report`` without per-order entries (one-response protocols)."""

    n_human_labelled: int = Field(
        description="Items that carry a human label (a protocol labelling finer units, such as goals, counts those).")
    calibrated: Agreement | None = Field(
        description="The judge's own (calibrated) labels vs the human labels, human reviews ignored; null when no "
                    "human-labelled item has a judge label.")
    after_review: Agreement | None = Field(
        description="The labels in the metrics (human reviews replace the judge's) vs the human labels; null when "
                    "none pair up.")


class PerOrderAgreement(ReportModel):
    """Agreement of each presentation order's majority label with the human labels.

    ``ba`` is absent when the evaluation judges one order only (``orders: single``); absent and null mean the same.
    """

    ab: Agreement | None = Field(
        description="The majority label of the A-first calls vs the human labels; null when none pair up.")
    ba: Agreement | None = Field(
        default=None,
        description="The majority label of the B-first calls vs the human labels; absent with orders: single, "
                    "null when none pair up.")


class TwoResponseHumanAgreementReport(HumanAgreementReport):
    """``agreement_report`` of a two-response protocol: also per presentation order."""

    per_order: PerOrderAgreement = Field(description="Agreement per presentation order (position bias).")


class JudgeAgreementFields(ReportModel):
    """Headline judge–human agreement keys of a summary (the ``calibrated`` entry of its ``human_agreement``).

    Present only when some item carries a human label: absent and null mean the same.
    """

    n_human_labelled: int | None = Field(
        default=None,
        description="Human-labelled items the judge also labelled: the pairs behind judge_accuracy (0 when none; "
                    "human_agreement.n_human_labelled counts every human-labelled item).")
    judge_accuracy: float | None = Field(
        default=None, description="Share of those pairs where the judge's own label equals the human's.")
    judge_cohen_kappa: float | None = Field(
        default=None, description="Cohen's kappa between the judge's own labels and the human labels.")
    judge_scott_pi: float | None = Field(
        default=None, description="Scott's pi between the judge's own labels and the human labels.")


# ---------------------------------------------------------------- reliability


class BpdeBin(ReportModel):
    """One bin of the BPDE histogram: [low, high), the last bin closed."""

    low: float = Field(description="Lower edge of the bin (nats).")
    high: float = Field(description="Upper edge of the bin (nats).")
    count: int = Field(description="Items whose BPDE falls in the bin.")


class ReliabilityBasics(ReportModel):
    """``service.core.calibration.reliability_basics``: what every judged protocol's reliability report has."""

    unscored_rate: float | None = Field(
        description="Share of the judge-answered (non-failed) items whose output could not be read, before any "
                    "human review; null when no item was answered.")
    mean_bpde: float | None = Field(
        description="Mean item BPDE (entropy, in nats, of the item's call labels) over judge-scored items that have "
                    "one; null when none.")
    bpde_histogram: list[BpdeBin] = Field(
        description="Five equal-width bins of item BPDE over [0, max(ln 3, largest BPDE)] (all zero when none).")
    n_calls_scored: int = Field(description="Judge calls that produced a readable label.")
    n_reviewed: int = Field(description="Items whose verdict a human review replaced.")


class BiasShare(ReportModel):
    """``service.core.bias_factors.share``: how often a rater preferred the side having more of a factor."""

    n: int = Field(description="Items (calls, for first position) where the factor differs and the rater decided.")
    n_ties: int = Field(description="Of those, ties: each counts ½ in rate.")
    rate: float | None = Field(
        description="Share preferring the side with more of the factor (a tie counts ½); 0.5 means no bias; null "
                    "when n is 0.")
    ci95: Interval95 | None = Field(description="Wilson 95% interval of rate; null when n is 0.")


class BiasFactorRow(ReportModel):
    """One factor of the bias report: the judge's preference for it and, with human labels, the humans'."""

    factor: str = Field(
        description="The factor: first_position, longer, more_markdown (service.core.bias_factors.FACTORS), a or b "
                    "(a side, in sides), or self_preference (added when the evaluation is read).")
    description: str = Field(description="What a rate of 1 means.")
    judge: BiasShare = Field(description="The judge's own outcomes (before human review) on every item it decided.")
    humans: BiasShare | None = Field(
        description="The human labels, on the items the judge also decided; null when no item carries a human label "
                    "(always for first_position: humans see no positions).")
    judge_same_items: BiasShare | None = Field(
        description="The judge on exactly the items in humans (equal to judge when every item is labelled); null "
                    "with humans.")
    difference: float | None = Field(
        description="judge_same_items.rate − humans.rate; null when either is null.")


class BiasFactorsReport(ReportModel):
    """``service.core.bias_factors.bias_report``: factor-level judge bias beside the humans' (ties count ½).

    Multi-turn items (responses kept per turn) are left out of the text factors.
    """

    rows: list[BiasFactorRow] = Field(
        description="first_position, then each registered factor; the API adds a self_preference row when the "
                    "judge's configured model is the evaluated or the baseline model.")
    sides: dict[str, BiasFactorRow] = Field(
        description='Preference for each side ("a", "b") by the judge and the humans: the self-preference source.')


class TwoResponseReliability(ReliabilityBasics):
    """``service.core.calibration.reliability_report``: position bias and ties, plus the basics."""

    position_consistency_rate: float | None = Field(
        description="Share of items judged in both orders whose two orders' majority labels agree; null with "
                    "orders: single or when no item has both.")
    first_position_win_rate: float | None = Field(
        description="Share of readable calls preferring the response shown first (a tie counts ½); 0.5 means no "
                    "position bias; null when no call was readable.")
    tie_rate: float | None = Field(
        description="Share of judge-scored items whose calibrated (judge's) outcome is a tie; null when none.")
    bias_factors: BiasFactorsReport = Field(
        description="Factor-level bias (first position, length, markdown, self-preference) with n and Wilson "
                    "intervals, beside the humans' where items carry human labels.")


# ---------------------------------------------------------------- checking data against a model


def undeclared_keys(model: type[BaseModel], data: Any) -> list[str]:
    """Paths of the keys in ``data`` that ``model`` does not declare, recursively (empty when exact).

    Walks nested models, ``dict[str, X]`` values, lists and tuples by the fields' annotations, so a key
    ``extra="allow"`` would silently keep is found: ``human_agreement.per_order.ab.extra`` or
    ``per_category['Open QA'].extra``.
    """
    return sorted(_undeclared(model, data, ""))


def _undeclared(annotation: Any, value: Any, path: str) -> list[str]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _undeclared(typing.get_args(annotation)[0], value, path)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(value, collections.abc.Mapping):
            return []
        names = {field.alias or name: field for name, field in annotation.model_fields.items()}
        found = []
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in names:
                found += _undeclared(names[key].annotation, item, where)
            else:
                found.append(where)
        return found
    if origin in (Union, types.UnionType):
        if value is None:
            return []
        options = [_undeclared(arg, value, path) for arg in typing.get_args(annotation) if arg is not type(None)]
        return min(options, key=len) if options else []
    args = typing.get_args(annotation)
    if origin in (dict, collections.abc.Mapping) and isinstance(value, collections.abc.Mapping):
        value_type = args[1] if len(args) == 2 else Any
        return [key for k, v in value.items() for key in _undeclared(value_type, v, f"{path}[{k!r}]")]
    if origin in (list, tuple, collections.abc.Sequence) and isinstance(value, (list, tuple)):
        if origin is tuple and args and args[-1] is not Ellipsis:
            types_ = list(args) + [Any] * max(0, len(value) - len(args))
        else:
            types_ = [args[0] if args else Any] * len(value)
        return [key for i, (t, v) in enumerate(zip(types_, value)) for key in _undeclared(t, v, f"{path}[{i}]")]
    return []


__all__ = [
    "Agreement", "BiasFactorRow", "BiasFactorsReport", "BiasShare", "BpdeBin", "HumanAgreementReport", "Interval95",
    "ItemCounts", "JudgeAgreementFields",
    "LengthControlledFields", "PerOrderAgreement", "ReliabilityBasics", "ReportModel",
    "TwoResponseHumanAgreementReport", "TwoResponseReliability", "undeclared_keys",
]
