"""The items whose outcome changed between two runs: counts for the gate, pages for the comparison page.

An item changed when both runs scored it and its value in the metric (the protocol's ``MetricKind.item_value``,
as the gate uses it) differs. Pages run largest change first, then by item id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service import cursors
from service.comparisons import repository as comparisons_repo
from service.comparisons.schemas import ChangedItem, ChangedItemPage, ItemRun
from service.core.protocol import EvaluationProtocol, get_protocol
from service.errors import InvalidSubmission, NotFound
from service.evaluations import repository as evaluations_repo
from service.evaluations.problems import parameter_error
from service.models import Evaluation

# values closer than this are the same value (scores are sums of floats)
SAME = 1e-9
COMPARED_ON = ("suite", "suite_version", "judge", "protocol")


def counts(baseline_values: dict[str, float], candidate_values: dict[str, float]) -> dict[str, int]:
    """``n_changed``, ``n_improved`` and ``n_regressed`` over the items both runs scored."""
    differences = [candidate_values[key] - baseline_values[key] for key in baseline_values.keys() & candidate_values.keys()]
    improved = sum(1 for d in differences if d > SAME)
    regressed = sum(1 for d in differences if d < -SAME)
    return {"n_changed": improved + regressed, "n_improved": improved, "n_regressed": regressed}


def changed_items(session: Session, project_id: str, baseline_id: str, candidate_id: str, category: str | None,
                  change: str | None, limit: int, cursor: str | None) -> ChangedItemPage:
    """A page of the shared items whose value differs, with both runs' verdicts and responses."""
    baseline = _completed(session, baseline_id, "baseline", project_id)
    candidate = _completed(session, candidate_id, "candidate", project_id)
    for field in COMPARED_ON:
        if getattr(baseline, field) != getattr(candidate, field):
            raise InvalidSubmission([parameter_error("candidate", (
                f"{field} differs: baseline has {getattr(baseline, field)!r}, candidate {getattr(candidate, field)!r}"))],
                title="Evaluations are not comparable")
    protocol = _registered(baseline.protocol)
    changes = _changes(protocol, comparisons_repo.scored_items(session, baseline.id),
                       comparisons_repo.scored_items(session, candidate.id))
    categories: dict[str, int] = {}
    for found in changes:
        categories[found["category"] or ""] = categories.get(found["category"] or "", 0) + 1
    if category is not None:
        changes = [c for c in changes if (c["category"] or "") == category]
    if change is not None:
        changes = [c for c in changes if (c["difference"] > 0) == (change == "improved")]
    start = _after(changes, cursors.decode_cursor(cursor))
    page = changes[start:start + limit]
    more = start + limit < len(changes)
    next_cursor = cursors.encode_cursor({"d": abs(page[-1]["difference"]), "i": page[-1]["item_id"]}) if more else None
    keys = [c["item_id"] for c in page]
    base_items = comparisons_repo.payloads(session, baseline.id, keys)
    cand_items = comparisons_repo.payloads(session, candidate.id, keys)
    field = response_field(protocol)
    return ChangedItemPage(
        baseline_evaluation_id=baseline.id, candidate_evaluation_id=candidate.id, protocol=baseline.protocol,
        metric=(baseline.summary or {}).get("metric", protocol.headline_metric), response_field=field,
        categories=dict(sorted(categories.items())), n_changed=len(changes), next_cursor=next_cursor,
        data=[ChangedItem(
            item_id=c["item_id"], category=c["category"], difference=c["difference"],
            change="improved" if c["difference"] > 0 else "regressed", item=base_items.get(c["item_id"], {}),
            baseline=ItemRun(**c["baseline"], response=_response(base_items.get(c["item_id"], {}), field)),
            candidate=ItemRun(**c["candidate"], response=_response(cand_items.get(c["item_id"], {}), field)),
        ) for c in page],
    )


def response_field(protocol: EvaluationProtocol) -> str | None:
    """The item field that holds the run's own response, from the protocol's page view."""
    view = protocol.page_view
    return view.compared[0] if view.compared else view.response


def _response(item: dict[str, Any], field: str | None) -> Any:
    if field is not None:
        return item.get(field)
    return {k: v for k, v in item.items() if k not in ("id", "category")} or None


def _changes(protocol: EvaluationProtocol, baseline_rows, candidate_rows) -> list[dict[str, Any]]:
    """The changed items, largest change first, then by item id."""
    kind = protocol.metric_kind
    baseline = {key: (outcome, score, category) for key, outcome, score, category in baseline_rows}
    changes = []
    for key, outcome, score, category in candidate_rows:
        if key not in baseline:
            continue
        base_outcome, base_score, base_category = baseline[key]
        base_value, value = kind.item_value(base_outcome, base_score), kind.item_value(outcome, score)
        if base_value is None or value is None or abs(value - base_value) <= SAME:
            continue
        changes.append({"item_id": key, "category": base_category or category, "difference": value - base_value,
                        "baseline": {"value": base_value, "outcome": base_outcome, "score": base_score},
                        "candidate": {"value": value, "outcome": outcome, "score": score}})
    changes.sort(key=lambda c: (-abs(c["difference"]), c["item_id"]))
    return changes


def _after(changes: list[dict[str, Any]], position: dict[str, Any] | None) -> int:
    """The index of the first change after a cursor's (|difference|, item id)."""
    if position is None:
        return 0
    size, key = position.get("d"), position.get("i")
    if not isinstance(size, (int, float)) or isinstance(size, bool) or not isinstance(key, str):
        raise cursors.invalid_cursor()
    marker = (-float(size), key)
    return next((i for i, c in enumerate(changes) if (-abs(c["difference"]), c["item_id"]) > marker), len(changes))


def _registered(name: str) -> EvaluationProtocol:
    try:
        return get_protocol(name)
    except KeyError:
        raise InvalidSubmission([parameter_error("baseline", f"protocol {name!r} is not registered on this server")],
                                title="Evaluations are not comparable") from None


def _completed(session: Session, evaluation_id: str, parameter: str, project_id: str) -> Evaluation:
    evaluation = evaluations_repo.get_evaluation(session, evaluation_id)
    if evaluation is None or evaluation.project_id != project_id:
        raise NotFound(f"evaluation {evaluation_id} not found ({parameter})")
    if evaluation.status != "completed":
        raise InvalidSubmission([parameter_error(parameter, f"evaluation is {evaluation.status}, not completed")],
                                title="Evaluation not completed")
    return evaluation
