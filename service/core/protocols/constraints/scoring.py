"""One item's results: every constraint of every response (program or judge), CSR, ranks and preferences."""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, Sequence

from service.core.protocol import CallResult
from service.core.protocols.constraints.catalog import JUDGE
from service.core.protocols.constraints.verifiers import follows_loose, follows_strict

YES, NO = "yes", "no"


def judge_order(response_index: int, constraint_index: int) -> str:
    """The call key of a judge constraint of one response."""
    return f"judge:{response_index}:{constraint_index}"


def p_yes(result: CallResult) -> float | None:
    """P(yes) of one judge call: from its probabilities, else 1/0 from its label; None when unreadable."""
    if result.error is not None:
        return None
    if result.label_probs:
        return result.label_probs.get(YES, 0.0)
    if result.label is not None:
        return 1.0 if result.label == YES else 0.0
    return None


def judge_probabilities(results: Sequence[CallResult]) -> dict[str, list[float | None]]:
    """Each judge constraint's P(yes) per sample, by call key."""
    found: dict[str, list[float | None]] = {}
    for result in results:
        found.setdefault(result.order, []).append(p_yes(result))
    return found


def constraint_result(type_id: str, arguments: dict[str, Any], response: str,
                      samples: list[float | None] | None) -> dict[str, Any]:
    """A constraint's strict and loose result: IFEval's verifier, or the judge's averaged P(yes) > ½."""
    if type_id != JUDGE:
        return {"type": type_id, "method": "program", "strict": follows_strict(type_id, arguments, response),
                "loose": follows_loose(type_id, arguments, response)}
    readable = [p for p in samples or [] if p is not None]
    probability = sum(readable) / len(readable) if readable else None
    followed = None if probability is None else probability > 0.5
    return {"type": JUDGE, "method": "judge", "text": arguments["text"], "p_yes": probability,
            "strict": followed, "loose": followed,
            "n_calls": len(samples or []), "n_errors": sum(1 for p in samples or [] if p is None)}


def response_result(specs: list[tuple[str, dict[str, Any]]], response: str, index: int,
                    judged: dict[str, list[float | None]]) -> dict[str, Any]:
    """Every constraint's result for one response, its CSR (strict and loose) and prompt-level results."""
    results = [constraint_result(type_id, arguments, response, judged.get(judge_order(index, c)))
               for c, (type_id, arguments) in enumerate(specs)]
    decided = all(r["strict"] is not None for r in results)
    return {
        "constraints": results,
        "csr": sum(r["strict"] for r in results) / len(results) if decided else None,
        "csr_loose": sum(r["loose"] for r in results) / len(results) if decided else None,
        "prompt_strict": all(r["strict"] for r in results) if decided else None,
        "prompt_loose": all(r["loose"] for r in results) if decided else None,
    }


def rank_by_csr(responses: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Responses with their rank by CSR (1 = highest; equal CSRs share a rank) and the implied preferences.

    A preference is 1 when ``a``'s CSR is higher than ``b``'s, 0.5 when equal, 0 when lower.
    """
    ranked = [dict(r) for r in responses]
    for r in ranked:
        r["rank"] = 1 + sum(1 for other in ranked if other["csr"] > r["csr"])
    preferences = [{"a": a["model"], "b": b["model"],
                    "preference": 1.0 if a["csr"] > b["csr"] else 0.5 if a["csr"] == b["csr"] else 0.0}
                   for a, b in combinations(ranked, 2)]
    return ranked, preferences


def binary_entropy(probability: float) -> float:
    """Entropy (nats) of a yes/no answer given P(yes)."""
    return -sum(p * math.log(p) for p in (probability, 1.0 - probability) if p > 0)
