"""The regression gate: paired difference of two evaluations over the items they share."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.comparisons import changes
from service.comparisons import repository as comparisons_repo
from service.comparisons.baselines import resolve_latest
from service.comparisons.schemas import ComparisonCreate, ComparisonOut
from service.core.paired import paired_difference
from service.core.protocol import EvaluationProtocol, get_protocol
from service.errors import FieldError, InvalidSubmission, NotFound
from service.evaluations import repository as repo
from service.models import Evaluation

RULES = {
    "bound": "fail when the upper end of the one-sided (1 − alpha) bootstrap bound of (candidate − baseline) is "
             "below −margin; otherwise pass",
    "bound_or_significant": "fail when the upper end of the one-sided (1 − alpha) bootstrap bound of "
                            "(candidate − baseline) is below −margin, or when the difference is below −margin with "
                            "p < alpha; otherwise pass",
}


def compare(session: Session, body: ComparisonCreate, project_id: str) -> ComparisonOut:
    """Compare two completed evaluations item by item; 422 when they share no items."""
    candidate = _completed(session, body.candidate_evaluation_id, "candidate_evaluation_id", project_id)
    if body.baseline is not None:
        baseline = resolve_latest(session, candidate, body.baseline.latest)
    else:
        baseline = _completed(session, body.baseline_evaluation_id, "baseline_evaluation_id", project_id)
    for field in ("suite", "suite_version", "judge", "protocol"):
        if getattr(baseline, field) != getattr(candidate, field):
            raise InvalidSubmission([FieldError("/candidate_evaluation_id", (
                f"{field} differs: baseline has {getattr(baseline, field)!r}, candidate {getattr(candidate, field)!r}"))],
                title="Evaluations are not comparable")
    # the protocol's metric kind decides each item's value and the test: McNemar for a binary metric
    # (accuracy: match or not), sign-flip permutation for scores (a preference, a score, a share of goals)
    metric_kind = _registered(baseline.protocol).metric_kind
    base_scores = comparisons_repo.metric_values_by_item(session, baseline.id, metric_kind)
    cand_scores = comparisons_repo.metric_values_by_item(session, candidate.id, metric_kind)
    if not set(base_scores) & set(cand_scores):
        raise InvalidSubmission([FieldError("/candidate_evaluation_id", "the evaluations share no scored items")],
                                title="Nothing to compare")
    kind = metric_kind.paired_test
    shown = paired_difference(base_scores, cand_scores, metric_kind=kind, margin=body.margin, alpha=body.alpha,
                              seed=body.seed, confidence=0.95)
    # the decision's interval is one-sided at level alpha: the upper end of a (1 − 2·alpha) interval
    result = paired_difference(base_scores, cand_scores, metric_kind=kind, margin=body.margin, alpha=body.alpha,
                               seed=body.seed, confidence=max(0.5, 1.0 - 2.0 * body.alpha), rule=body.decision_rule)
    return ComparisonOut(
        baseline_evaluation_id=baseline.id, baseline_query=body.baseline, candidate_evaluation_id=candidate.id,
        protocol=baseline.protocol, judge=baseline.judge, suite=baseline.suite,
        metric=(baseline.summary or {}).get("metric", "score"),
        n_shared=result.n_shared, mean_baseline=result.mean_baseline, mean_candidate=result.mean_candidate,
        difference=result.difference, difference_ci95=shown.interval, p_value=result.p_value, test=result.test,
        margin=body.margin, alpha=body.alpha, decision=result.decision, decision_rule=body.decision_rule,
        rule=RULES[body.decision_rule], **changes.counts(base_scores, cand_scores),
    )


def _registered(name: str) -> EvaluationProtocol:
    """The protocol the evaluations were judged with; a 422 when this server no longer runs it."""
    try:
        return get_protocol(name)
    except KeyError:
        raise InvalidSubmission([FieldError("/baseline_evaluation_id", f"protocol {name!r} is not registered on "
                                                                        "this server")],
                                title="Evaluations are not comparable") from None


def _completed(session: Session, evaluation_id: str, field: str, project_id: str) -> Evaluation:
    evaluation = repo.get_evaluation(session, evaluation_id)
    if evaluation is None or evaluation.project_id != project_id:
        raise NotFound(f"evaluation {evaluation_id} not found ({field})")
    if evaluation.status != "completed":
        raise InvalidSubmission([FieldError(f"/{field}", f"evaluation is {evaluation.status}, not completed")],
                                title="Evaluation not completed")
    return evaluation
