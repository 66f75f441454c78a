"""The evaluation's metrics from its item verdicts: IFEval's accuracies, CSR, per type, per model."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Sequence

from service.core.protocol import ItemVerdict, item_counts
from service.core.statistics import bootstrap_mean_ci, wilson_interval

FOLLOWED = "followed"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def accuracies(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """IFEval's four accuracies and mean CSR over response results (``scoring.response_result``)."""
    constraints = [c for r in results for c in r["constraints"]]
    csrs = [r["csr"] for r in results]
    return {
        "prompt_level_strict_acc": _mean([float(r["prompt_strict"]) for r in results]),
        "inst_level_strict_acc": _mean([float(c["strict"]) for c in constraints]),
        "prompt_level_loose_acc": _mean([float(r["prompt_loose"]) for r in results]),
        "inst_level_loose_acc": _mean([float(c["loose"]) for c in constraints]),
        "mean_csr": _mean(csrs),
        "mean_csr_ci95": bootstrap_mean_ci(csrs) if csrs else None,
    }


def per_key(results: Sequence[dict[str, Any]], key: Callable[[str], str]) -> dict[str, dict[str, Any]]:
    """Strict and loose accuracy per constraint type (or group: ``key`` maps a type to its key)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for result in results:
        for c in result["constraints"]:
            entry = counts[key(c["type"])]
            entry[0] += 1
            entry[1] += bool(c["strict"])
            entry[2] += bool(c["loose"])
    return {name: {"n": n, "strict_acc": s / n, "loose_acc": loose / n} for name, (n, s, loose) in sorted(counts.items())}


def summary(verdicts: Sequence[ItemVerdict]) -> dict[str, Any]:
    """The summary dict (see ConstraintsSummary)."""
    scored = [v for v in verdicts if v.scored]
    results = [v.details["result"] for v in scored]
    followed = sum(v.outcome == FOLLOWED for v in scored)
    constraints = [c for r in results for c in r["constraints"]]
    report = {"metric": "prompt_level_strict_acc", **item_counts(verdicts), **accuracies(results)}
    report.update({
        # a human review decides the prompt-level result; everything per constraint stays the verifiers'
        "prompt_level_strict_acc": followed / len(scored) if scored else None,
        "prompt_level_strict_acc_ci95": wilson_interval(followed, len(scored)),
        "mean_csr_loose": _mean([r["csr_loose"] for r in results]),
        "n_constraints": len(constraints),
        "n_judge_constraints": sum(c["method"] == "judge" for c in constraints),
        "n_judge_items": sum(any(c["method"] == "judge" for c in v.details.get("result", {}).get("constraints", []))
                             for v in verdicts),
        "per_type": per_key(results, lambda t: t),
        "per_group": per_key(results, lambda t: t.split(":")[0]),
    })
    standings = model_standings(scored)
    if standings:
        report["models"] = standings
    return report


def model_standings(scored: Sequence[ItemVerdict]) -> list[dict[str, Any]]:
    """Per model over items with several responses: accuracies, mean CSR and wins over the other models, best first."""
    by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    record: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for verdict in scored:
        for response in verdict.details.get("responses", []):
            by_model[response["model"]].append(response)
        for pair in verdict.details.get("preferences", []):
            outcome = {1.0: 0, 0.5: 1, 0.0: 2}[pair["preference"]]
            record[pair["a"]][outcome] += 1
            record[pair["b"]][2 - outcome] += 1
    standings = []
    for model, responses in by_model.items():
        wins, ties, losses = record[model]
        pairs = wins + ties + losses
        standings.append({"model": model, "n_items": len(responses), **accuracies(responses),
                          "wins": wins, "ties": ties, "losses": losses,
                          "win_rate": (wins + ties / 2) / pairs if pairs else None})
    return sorted(standings, key=lambda s: (-s["mean_csr"], s["model"]))
