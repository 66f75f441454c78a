"""HREF: a candidate against a baseline, guided by a human-written reference, with a method per category.

From "HREF: Human Response-Guided Evaluation of Instruction Following". Each item's category picks
how it is judged: ``judge_with_reference`` (the two-response judge sees the human reference),
``judge`` (the same judge without it) or ``embedding`` (no judge call: the response more
similar to the human reference wins). Judged categories run in both orders by default.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import replace
from typing import Any, ClassVar, Mapping, Sequence

from pydantic import BaseModel

from service.core import calibration, self_reference
from service.core.agreement import agreement_report, judge_label, judge_value, reviewed_verdict
from service.core.delimiters import enclose
from service.core.judging import JudgeOutput, JudgeRequest
from service.core.length_control import lc_summary
from service.core.probabilities import label_probs_from_top_logprobs, parse_label
from service.core.protocol import (
    CallResult,
    ItemVerdict,
    PlannedCall,
    item_counts,
    register,
)
from service.core.protocol_meta import LabelChoice, LabelForm, MetricKind, PageView
from service.core.protocols.href.models import (
    HrefItem,
    HrefOptions,
    HrefReview,
    HrefSuiteItem,
    normalise_category,
)
from service.core.protocols.href.summary import HrefReliability, HrefSummary
from service.core.statistics import bootstrap_mean_ci
from service.core.two_responses import (
    LABELS,
    ORDERS,
    label_for_a,
    plan_two_response_calls,
    preference_for_a,
)

TEMPLATE = "href/1"
JUDGED_METHODS = ("judge_with_reference", "judge")
SIMILARITY_ORDER = "similarity"
# |sim_a − sim_b| below this is a tie
SIMILARITY_TIE_EPSILON = 1e-6
OUTCOME_SCORES = {"a": 1.0, "tie": 0.5, "b": 0.0}
SUITE_SUBMISSION_FIELDS = tuple(HrefSuiteItem.model_fields)
REFERENCE_HEADER = "[Human reference response]"

SYSTEM_PROMPT = (
    "You are a careful and impartial judge. You compare two responses to the same user "
    "request and decide which one follows the instruction better: more helpful, correct, "
    "relevant and complete. Do not let the order of the responses, their length or their "
    "style sway you."
)
SYSTEM_PROMPT_WITH_REFERENCE = SYSTEM_PROMPT + (
    " You are also given a response written by a human expert; use it as a reference for what "
    "a good answer contains, but a response need not copy it to be good."
)


def method_for(category: str, options: HrefOptions | None = None) -> str | None:
    """The method for a category, or None when it has none (``default_method`` null)."""
    options = options or HrefOptions()
    return options.method_table().get(normalise_category(category), options.default_method)


def validate_items(items: Sequence[HrefItem | Mapping[str, Any]],
                   options: HrefOptions | None = None) -> list[tuple[int, str, str]]:
    """(0-based index, field, message) for every item whose category has no method."""
    errors = []
    for index, item in enumerate(items):
        category = item.get("category") if isinstance(item, Mapping) else getattr(item, "category", None)
        if isinstance(category, str) and method_for(category, options) is None:
            errors.append((index, "category", f"no method for category '{category}'"))
    return errors


def render_messages(item: HrefItem, order: str, question: str, with_reference: bool = True,
                    self_answer: str | None = None) -> tuple[dict[str, str], ...]:
    """Prompt for one order: request, (optionally) the human reference and the judge's own answer, the responses last."""
    first, second = (item.response if side == "a" else item.baseline_response for side in ORDERS[order])
    parts = [f"[User request]\n{enclose(item.prompt)}"]
    if with_reference:
        parts.append(f"{REFERENCE_HEADER}\n{enclose(item.human_reference)}")
    if self_answer is not None:
        parts.append(self_reference.section(self_answer))
    parts.append(f"[Response 1]\n{enclose(first)}")
    parts.append(f"[Response 2]\n{enclose(second)}")
    parts.append(question)
    system = SYSTEM_PROMPT_WITH_REFERENCE if with_reference else SYSTEM_PROMPT
    system += self_reference.SYSTEM_ADDENDUM if self_answer is not None else ""
    return ({"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)})


def similarity_outcome(similarities: Sequence[float]) -> str:
    """'a', 'b' or 'tie' from [sim_a, sim_b]: the response more similar to the reference wins."""
    sim_a, sim_b = similarities
    if abs(sim_a - sim_b) < SIMILARITY_TIE_EPSILON:
        return "tie"
    return "a" if sim_a > sim_b else "b"


def _similarities(output: JudgeOutput | str) -> list[float] | None:
    """[sim_a, sim_b] from a similarity output (or its stored JSON text); None when malformed."""
    if isinstance(output, JudgeOutput):
        if output.error is not None:
            return None
        values = output.similarities if output.similarities is not None else _similarities(output.text)
    else:
        try:
            values = json.loads(output)
        except (TypeError, ValueError):
            return None
    if not isinstance(values, list) or len(values) != 2:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    return [float(v) for v in values]


@register
class HrefProtocol:
    """Candidate vs baseline; per category a judge with or without the human reference, or embeddings."""

    name: ClassVar[str] = "href"
    item_model: ClassVar[type[BaseModel]] = HrefItem
    options_model: ClassVar[type[BaseModel]] = HrefOptions
    review_model: ClassVar[type[BaseModel]] = HrefReview
    suite_item_model: ClassVar[type[BaseModel] | None] = HrefSuiteItem
    summary_model: ClassVar[type[BaseModel]] = HrefSummary
    reliability_model: ClassVar[type[BaseModel]] = HrefReliability
    description: ClassVar[str] = (
        "HREF: a response against a baseline response, guided by a human-written reference: the win rate over"
        " the baseline."
    )
    headline_metric: ClassVar[str] = "win_rate"
    metric_kind: ClassVar[MetricKind] = MetricKind.bounded(0.0, 1.0)
    leaderboard_columns: ClassVar[tuple[str, ...]] = ("lc_win_rate", "lc_win_rate_ci95", "lc_note")
    ranking: ClassVar[str | None] = "bradley_terry"
    label_form: ClassVar[LabelForm] = LabelForm(kind="choice", field="label", choices=[
        LabelChoice(value="a", text="Candidate (A) is better"),
        LabelChoice(value="tie", text="Tie"),
        LabelChoice(value="b", text="Baseline (B) is better"),
    ])
    page_view: ClassVar[PageView] = PageView(
        compared=("response", "baseline_response"), compared_names=("A", "B (baseline)"))
    single_stage: ClassVar[bool] = True

    def plan_calls(self, item: HrefItem, options: HrefOptions,
                   prior: Sequence[CallResult] = ()) -> list[PlannedCall]:
        """Every order × sample for judged categories; one similarity call for embedding ones.

        ``self_reference``: on judged categories the judge's own answer first, then every order × sample shown it,
        critiquing before its verdict. ``true`` applies where the judge is not shown the human reference (method
        ``judge``); ``force`` also where it is (``judge_with_reference``).
        """
        method = method_for(item.category, options)
        if method == "embedding":
            request = JudgeRequest(messages=(), choices=(), template=TEMPLATE,
                                   similarity_texts=(item.human_reference, item.response, item.baseline_response))
            return [PlannedCall(order=SIMILARITY_ORDER, sample=0, request=request)]
        if method is None:
            return []  # rejected at submission (validate_items); combine reports it unscored
        with_reference = method == "judge_with_reference"

        if self_reference.wanted(options.self_reference, has_human_reference=with_reference):
            return _plan_self_referenced(item, options, with_reference, prior)

        def render(it: HrefItem, order: str, question: str) -> tuple[dict[str, str], ...]:
            """The two-response prompt with or without the human reference."""
            return render_messages(it, order, question, with_reference)

        return plan_two_response_calls(item, options, render, TEMPLATE)

    def staged(self, options: HrefOptions) -> bool:
        """Self-reference judging may add a stage (the judge's own answer first; per item, by its method)."""
        return options.self_reference is not False

    def parse(self, call: PlannedCall, output: JudgeOutput, options: HrefOptions) -> CallResult:
        """Judged calls: positional label and probabilities. Similarity calls: the closer response."""
        if call.request.similarity_texts:
            sims = _similarities(output)
            if sims is None:
                return CallResult(call.order, call.sample, None, None, output.text)
            return CallResult(call.order, call.sample, similarity_outcome(sims), None, json.dumps(sims))
        if call.order == self_reference.SELF_ANSWER_ORDER:
            return self_reference.parse_call(call, output)
        label = parse_label(output.text, LABELS) if output.error is None else None
        probs = label_probs_from_top_logprobs(output.verdict_top_logprobs, LABELS)
        if probs is not None and label is None:
            label = max(probs, key=probs.get)
        return CallResult(call.order, call.sample, label, probs, output.text, rationale=output.rationale)

    def combine(self, item: HrefItem, results: Sequence[CallResult], options: HrefOptions) -> ItemVerdict:
        """Pairwise calibration for judged categories; the similarity outcome for embedding ones."""
        method = method_for(item.category, options)
        base = {"method": method, "category": item.category}
        if method == "embedding":
            return _combine_similarity(results, base)
        if method is None:
            return ItemVerdict(outcome=None, score=None, unscored=True,
                               details={**base, "calls": [], "reason": "no method for this category"})
        if options.self_reference is not False:
            return _with_self_reference(_combine_judged(results, options, base), results, options,
                                        with_reference=method == "judge_with_reference")
        return _combine_judged(results, options, base)

    def apply_review(self, item: HrefItem, verdict: ItemVerdict, label: HrefReview) -> ItemVerdict:
        """The human's a/b/tie replaces the judge's outcome; preference 1, ½ or 0."""
        return reviewed_verdict(verdict, label.label, OUTCOME_SCORES[label.label], label.model_dump())

    def validate_items(self, items: Sequence[HrefItem], options: HrefOptions) -> list[tuple[int, str, str]]:
        """(index, field, message) of items whose category has no method."""
        return validate_items(items, options)

    def from_suite(self, suite_item: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
        """A full item from a suite item and a submission ``{id, response, human_label?}``.

        The candidate is the submitted response; prompt, category, baseline response and human
        reference come from the suite. Raises ValueError naming what is missing.
        """
        extra = sorted(set(submitted) - set(SUITE_SUBMISSION_FIELDS))
        if extra:
            raise ValueError(f"on a suite an item carries only {list(SUITE_SUBMISSION_FIELDS)}; not {extra}")
        if "response" not in submitted:
            raise ValueError("missing 'response'")
        turns = suite_item.get("turns") or []
        if len(turns) > 1:
            raise ValueError("this suite item has several turns; href judges single-turn items only")
        prompt = suite_item.get("prompt") or (turns[0] if turns else None)
        if prompt is None:
            raise ValueError("this suite item has no 'prompt' (or 'turns')")
        for name in ("category", "baseline_response", "human_reference"):
            if suite_item.get(name) is None:
                raise ValueError(f"this suite item has no '{name}'")
        item = {"id": submitted["id"], "prompt": prompt, "category": suite_item["category"],
                "response": submitted["response"], "baseline_response": suite_item["baseline_response"],
                "human_reference": suite_item["human_reference"], "human_label": submitted.get("human_label")}
        return {k: v for k, v in item.items() if v is not None}

    def summarize(self, items: Sequence[HrefItem], verdicts: Sequence[ItemVerdict],
                  options: HrefOptions) -> tuple[dict[str, Any], dict[str, Any]]:
        """Overall and per-category win rate of the candidate, and the reliability report."""
        seed = options.seed or 0
        scored = [v for v in verdicts if v.scored]
        preferences = [v.score for v in scored]
        outcomes = Counter(v.outcome for v in scored)
        summary = {
            "metric": "win_rate",
            **item_counts(verdicts),
            "win_rate": _mean(preferences),
            "win_rate_ci95": bootstrap_mean_ci(preferences, seed=seed),
            "wins": outcomes.get("a", 0),
            "losses": outcomes.get("b", 0),
            "ties": outcomes.get("tie", 0),
            "per_category": _per_category(items, verdicts, options),
        }
        summary.update(_human_agreement(items, verdicts, options.order_names()))
        summary.update(_length_controlled(items, verdicts, seed))
        return summary, _reliability(items, verdicts, options, self.page_view.compared)


def _length_controlled(items: Sequence[HrefItem], verdicts: Sequence[ItemVerdict], seed: int) -> dict[str, Any]:
    """Length-controlled win rate of the candidate (length difference: response − baseline)."""
    pairs = [(v.score, len(i.response) - len(i.baseline_response)) for i, v in zip(items, verdicts) if v.scored]
    return lc_summary([p for p, _ in pairs], [d for _, d in pairs], seed)


def _combine_judged(results: Sequence[CallResult], options: HrefOptions, base: dict[str, Any]) -> ItemVerdict:
    """Average preferences over all order × sample calls, decide, flag position inconsistency."""
    orders = options.order_names()
    calls = [{"order": r.order, "sample": r.sample, "label": r.label, "outcome": label_for_a(r.order, r.label),
              "preference": preference_for_a(r.order, r.label, r.label_probs)}
             for r in results if r.order in orders]
    scored = [c for c in calls if c["preference"] is not None]
    if not scored:
        return ItemVerdict(outcome=None, score=None, unscored=True, details={**base, "calls": calls})
    preference = sum(c["preference"] for c in scored) / len(scored)
    majorities = {order: calibration.majority_label([c["outcome"] for c in scored if c["order"] == order],
                                                    options.tie_margin)
                  for order in orders}
    present = [m for m in majorities.values() if m is not None]
    return ItemVerdict(
        outcome=calibration.decide(preference, options.tie_margin),
        score=preference,
        unscored=False,
        position_inconsistent=len(present) == 2 and present[0] != present[1],
        bpde=calibration.bpde([c["outcome"] for c in scored]),
        details={**base, "calls": calls, "order_majority": majorities},
    )


def _plan_self_referenced(item: HrefItem, options: HrefOptions, with_reference: bool,
                          prior: Sequence[CallResult]) -> list[PlannedCall]:
    """Stage 1 (the judge answers the request), then every order × sample shown that answer."""
    first = self_reference.answer_call(enclose(item.prompt), options.self_answer_tokens)

    def verdicts(answer: str) -> list[PlannedCall]:
        def render(it: HrefItem, order: str, question: str) -> tuple[dict[str, str], ...]:
            return render_messages(it, order, question, with_reference, self_answer=answer)

        return plan_two_response_calls(item, options, render, TEMPLATE, critique=self_reference.CRITIQUE_QUESTION)

    return self_reference.plan(first, verdicts, prior)


def _with_self_reference(verdict: ItemVerdict, results: Sequence[CallResult], options: HrefOptions,
                         with_reference: bool) -> ItemVerdict:
    """A judged verdict with ``details.self_reference``; unscored (saying why) when the judge's own answer is missing."""
    if not self_reference.wanted(options.self_reference, has_human_reference=with_reference):
        return replace(verdict, details={**verdict.details, "self_reference": self_reference.skipped()})
    answer = self_reference.answer_of(results)
    record = self_reference.details(answer, [r for r in results if r.order in options.order_names() or
                                             self_reference.is_answer(r)])
    if answer.status != "ok":
        details = {**verdict.details, "calls": [], "self_reference": record, "unscored_reason": answer.reason}
        return ItemVerdict(outcome=None, score=None, unscored=True, details=details)
    return replace(verdict, details={**verdict.details, "self_reference": record})


def _combine_similarity(results: Sequence[CallResult], base: dict[str, Any]) -> ItemVerdict:
    """The similarity call's outcome: 1, ½ or 0 for the candidate; BPDE 0 (one deterministic call)."""
    found = [r for r in results if r.order == SIMILARITY_ORDER]
    result = found[-1] if found else None
    sims = _similarities(result.raw_output) if result is not None and result.error is None else None
    label = result.label if result is not None and result.error is None else None
    calls = [] if result is None else [{"order": result.order, "sample": result.sample, "label": label,
                                        "outcome": label, "preference": OUTCOME_SCORES.get(label or "")}]
    details = {**base, "calls": calls, "similarities": sims}
    if label not in OUTCOME_SCORES or sims is None:
        return ItemVerdict(outcome=None, score=None, unscored=True, details=details)
    return ItemVerdict(outcome=label, score=OUTCOME_SCORES[label], unscored=False, bpde=0.0, details=details)


def _per_category(items: Sequence[HrefItem], verdicts: Sequence[ItemVerdict],
                  options: HrefOptions) -> dict[str, dict[str, Any]]:
    """Win rate with its interval per category (named as first spelled; spellings of one key merged)."""
    names: dict[str, str] = {}
    groups: dict[str, list[ItemVerdict]] = {}
    for item, verdict in zip(items, verdicts):
        key = normalise_category(item.category)
        names.setdefault(key, item.category)
        groups.setdefault(key, []).append(verdict)
    report = {}
    for key, group in groups.items():
        preferences = [v.score for v in group if v.scored]
        counts = item_counts(group)
        report[names[key]] = {
            "n": len(preferences),
            "n_unscored": counts["n_unscored"],
            "n_failed": counts["n_failed"],
            "win_rate": _mean(preferences),
            "win_rate_ci95": bootstrap_mean_ci(preferences, seed=options.seed or 0),
            "method": method_for(names[key], options),
        }
    return report


def _reliability(items: Sequence[HrefItem], verdicts: Sequence[ItemVerdict], options: HrefOptions,
                 compared: tuple[str, str] | None) -> dict[str, Any]:
    """The two-response report over judged items, plus how many items embeddings decided."""
    judged = [v for v in verdicts if v.details.get("method") in JUDGED_METHODS]
    embedded = [v for v in verdicts if v.details.get("method") == "embedding"]
    judged_items = [i for i, v in zip(items, verdicts) if v.details.get("method") in JUDGED_METHODS]
    report = calibration.reliability_report(judged, options.order_names(), judged_items, compared)
    embedded_unscored = [judge_value(v, "unscored") for v in embedded if not v.failed]
    report.update({
        "n_judged_items": len(judged),
        "n_embedding_items": len(embedded),
        "embedding_share": len(embedded) / len(verdicts) if verdicts else None,
        "embedding_unscored_rate": sum(embedded_unscored) / len(embedded_unscored) if embedded_unscored else None,
    })
    return report


def _human_agreement(items: Sequence[HrefItem], verdicts: Sequence[ItemVerdict],
                     orders: Sequence[str]) -> dict[str, Any]:
    """Judge accuracy and κ against items' human labels: per order (and similarity), calibrated, after review."""
    human = [item.human_label for item in items]
    calibrated = [judge_label(v, "outcome") for v in verdicts]
    after_review = [None if v.unscored else v.outcome for v in verdicts]
    per_order = {o: [v.details.get("order_majority", {}).get(o) for v in verdicts] for o in orders}
    if any(v.details.get("method") == "embedding" for v in verdicts):
        per_order[SIMILARITY_ORDER] = [c if v.details.get("method") == "embedding" else None
                                       for v, c in zip(verdicts, calibrated)]
    report = agreement_report(human, calibrated, after_review, per_order)
    if report is None:
        return {}
    calibrated_agreement = report["calibrated"] or {}
    return {
        "n_human_labelled": calibrated_agreement.get("n", 0),
        "judge_accuracy": calibrated_agreement.get("accuracy"),
        "judge_cohen_kappa": calibrated_agreement.get("cohen_kappa"),
        "judge_scott_pi": calibrated_agreement.get("scott_pi"),
        "human_agreement": report,
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
