"""The constraints protocol's summary and reliability report, as typed models of what ``summarize()`` returns.

Pure: stdlib, pydantic and ``service.core.report_models`` only (no numpy), for a light client install.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.core.report_models import Interval95, ItemCounts, ReliabilityBasics, ReportModel


class TypeAccuracy(ReportModel):
    """How often one constraint type (or group) was followed, over the scored items' responses."""

    n: int = Field(description="Constraints of this type checked.")
    strict_acc: float = Field(description="Share followed, strict.")
    loose_acc: float = Field(description="Share followed, loose (IFEval's first/last line and * variants).")


class ModelStanding(ReportModel):
    """One model of items that carry several responses: its IFEval accuracies, mean CSR and record against the other models."""

    model: str = Field(description="The model named in the items' responses.")
    n_items: int = Field(description="Scored items with a response of this model.")
    prompt_level_strict_acc: float = Field(description="Share of its responses that follow all constraints, strict.")
    inst_level_strict_acc: float = Field(description="Share of its constraints followed, strict.")
    prompt_level_loose_acc: float = Field(description="As prompt_level_strict_acc, loose.")
    inst_level_loose_acc: float = Field(description="As inst_level_strict_acc, loose.")
    mean_csr: float = Field(description="Mean constraint satisfaction rate of its responses.")
    mean_csr_ci95: Interval95 | None = Field(description="Seeded percentile-bootstrap 95% interval of mean_csr.")
    wins: int = Field(description="Pairs (same item) where its CSR is higher than the other model's.")
    ties: int = Field(description="Pairs with equal CSR.")
    losses: int = Field(description="Pairs where its CSR is lower.")
    win_rate: float | None = Field(description="(wins + ties/2) / pairs; null without pairs.")


class ConstraintsSummary(ItemCounts, ReportModel):
    """What ``ConstraintsProtocol.summarize`` returns: IFEval's four accuracies, mean CSR and accuracy per type.

    Computed over the scored items' response (the first one when an item carries several; the
    ``models`` list covers every response). A human review replaces an item's prompt-level result.
    """

    metric: Literal["prompt_level_strict_acc"] = Field(description="The headline metric's key.")
    prompt_level_strict_acc: float | None = Field(
        description="Share of scored items whose response follows every constraint (strict); null when none scored.")
    prompt_level_strict_acc_ci95: Interval95 | None = Field(
        description="Wilson 95% interval of prompt_level_strict_acc; null when no item is scored.")
    inst_level_strict_acc: float | None = Field(description="Share of all constraints followed (strict).")
    prompt_level_loose_acc: float | None = Field(description="As prompt_level_strict_acc, loose.")
    inst_level_loose_acc: float | None = Field(description="As inst_level_strict_acc, loose.")
    mean_csr: float | None = Field(description="Mean over scored items of the constraint satisfaction rate (strict).")
    mean_csr_ci95: Interval95 | None = Field(
        description="Seeded percentile-bootstrap 95% interval of mean_csr over items; null when none scored.")
    mean_csr_loose: float | None = Field(description="Mean CSR with loose results.")
    n_constraints: int = Field(description="Constraints checked over the scored items.")
    n_judge_constraints: int = Field(description="Of those, constraints decided by the judge (type 'judge').")
    n_judge_items: int = Field(description="Items with at least one judge constraint (the others made no call).")
    per_type: dict[str, TypeAccuracy] = Field(description="Accuracy per constraint type (IFEval's instruction id).")
    per_group: dict[str, TypeAccuracy] = Field(
        description="Accuracy per group, the part of the type before ':' (IFEval's first-level report).")
    models: list[ModelStanding] | None = Field(
        default=None, description="Per model, over items with several responses, highest mean CSR first; absent "
                                  "when no item carries several.")


class ConstraintsReliability(ReliabilityBasics):
    """The reliability basics (they concern judge constraints only) plus the judge's share of the work."""

    judge_constraint_rate: float | None = Field(
        description="n_judge_constraints / n_constraints; null when nothing was checked.")


__all__ = ["ConstraintsReliability", "ConstraintsSummary", "ModelStanding", "TypeAccuracy"]
