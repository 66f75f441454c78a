"""Rating vs ranking over three stored evaluations (the maths is service.core.rating_ranking)."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.orm import Session

from service.analyses.schemas import RatingVsRankingCreate, RatingVsRankingOut
from service.core.calibration import decide
from service.core.protocol import EvaluationProtocol, get_protocol
from service.core.rating_ranking import PairedJudgments, consistency, ranking_preference
from service.errors import FieldError, InvalidSubmission, NotFound
from service.evaluations import repository as repo
from service.models import Evaluation, Verdict

# a two-response verdict's outcome (service.core.calibration.decide): A better, B better, a tie
A_BETTER, B_BETTER, TIE = (decide(1.0, 0.0), decide(0.0, 0.0), decide(0.5, 0.0))


def rating_vs_ranking(session: Session, body: RatingVsRankingCreate, project_id: str) -> RatingVsRankingOut:
    """Compare the preference two ratings imply with the comparison verdict, item by item (422 when nothing is shared)."""
    x = _completed(session, body.rating_x_evaluation_id, "rating_x_evaluation_id", project_id)
    y = _completed(session, body.rating_y_evaluation_id, "rating_y_evaluation_id", project_id)
    pair = _completed(session, body.pairwise_evaluation_id, "pairwise_evaluation_id", project_id)
    _check_kinds(x, y, pair)
    scores_x, scores_y = _scores(session, x), _scores(session, y)
    outcomes = {key: v.outcome for key, v in repo.verdicts_by_item(session, pair.id).items() if _scored(v)}
    pairs = [PairedJudgments(key, scores_x[key], scores_y[key], preference)
             for key in scores_x.keys() & scores_y.keys() & outcomes.keys()
             if (preference := ranking_preference(outcomes[key], A_BETTER, B_BETTER, TIE)) is not None]
    if not pairs:
        raise InvalidSubmission([FieldError("/pairwise_evaluation_id", "the three evaluations share no item with a "
                                                                       "scored verdict in each")],
                                title="Nothing to compare")
    report = consistency(sorted(pairs, key=lambda p: p.item_id))
    for row in report["disagreements"]:
        row["links"] = {name: f"/v1/evaluations/{quote(evaluation.id, safe='')}/verdicts?"
                              f"item_id={quote(row['item_id'], safe='')}"
                        for name, evaluation in (("rating_x", x), ("rating_y", y), ("comparison", pair))}
    return RatingVsRankingOut(model_x=x.model, model_y=y.model, rating_x_evaluation_id=x.id,
                              rating_y_evaluation_id=y.id, pairwise_evaluation_id=pair.id,
                              warnings=_name_warnings(x, y, pair), **report)


def _completed(session: Session, evaluation_id: str, field: str, project_id: str) -> Evaluation:
    evaluation = repo.get_evaluation(session, evaluation_id)
    if evaluation is None or evaluation.project_id != project_id:
        raise NotFound(f"evaluation {evaluation_id} not found ({field})")
    if evaluation.status != "completed":
        raise InvalidSubmission([FieldError(f"/{field}", f"evaluation is {evaluation.status}, not completed")],
                                title="Evaluation not completed")
    return evaluation


def _check_kinds(x: Evaluation, y: Evaluation, pair: Evaluation) -> None:
    """The ratings come from a protocol that scores one response, the ranking from one that compares two."""
    errors = [FieldError(f"/{field}", f"protocol {e.protocol!r} does not score one response on a scale")
              for field, e in (("rating_x_evaluation_id", x), ("rating_y_evaluation_id", y))
              if not _scores_one_response(e.protocol)]
    if not _compares_two(pair.protocol):
        errors.append(FieldError("/pairwise_evaluation_id", f"protocol {pair.protocol!r} does not compare two "
                                                            "responses"))
    if errors:
        raise InvalidSubmission(errors, title="Not a rating-vs-ranking triple")


def _declared(name: str) -> EvaluationProtocol | None:
    try:
        return get_protocol(name)
    except KeyError:
        return None


def _scores_one_response(name: str) -> bool:
    protocol = _declared(name)
    return protocol is not None and protocol.label_form.kind == "score" and protocol.page_view.response is not None


def _compares_two(name: str) -> bool:
    protocol = _declared(name)
    return protocol is not None and protocol.page_view.compared is not None and \
        {c.value for c in protocol.label_form.choices or ()} >= {A_BETTER, B_BETTER, TIE}


def _scored(verdict: Verdict) -> bool:
    return not verdict.unscored and not verdict.failed


def _scores(session: Session, evaluation: Evaluation) -> dict[str, float]:
    return {key: v.score for key, v in repo.verdicts_by_item(session, evaluation.id).items()
            if _scored(v) and v.score is not None}


def _name_warnings(x: Evaluation, y: Evaluation, pair: Evaluation) -> list[str]:
    warnings = []
    if pair.model != x.model:
        warnings.append(f"the comparison evaluation's model (response A) is {pair.model!r}, the X scoring evaluation's {x.model!r}")
    if pair.baseline_model and pair.baseline_model != y.model:
        warnings.append(f"the comparison evaluation's baseline (response B) is {pair.baseline_model!r}, the Y scoring evaluation's "
                        f"{y.model!r}")
    if len({x.suite, y.suite, pair.suite}) > 1:
        warnings.append(f"the evaluations ran on different suites ({x.suite}, {y.suite}, {pair.suite}): compared on "
                        "the item ids they share")
    return warnings
