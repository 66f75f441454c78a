"""Pairwise comparison: render both orders, read soft verdicts, calibrate, aggregate."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from functools import partial
from typing import Any, ClassVar, Sequence

from pydantic import BaseModel

from service.core import calibration, self_reference
from service.core.agreement import agreement_report, judge_label, reviewed_verdict
from service.core.delimiters import enclose
from service.core.judging import JudgeOutput
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
from service.core.protocols.pairwise.models import (
    PairwiseItem,
    PairwiseOptions,
    PairwiseReview,
    PairwiseSuiteItem,
)
from service.core.protocols.pairwise.combining import combine_calls
from service.core.protocols.pairwise.scales import scale_of
from service.core.protocols.pairwise.summary import PairwiseReliability, PairwiseSummary
from service.core.protocols.pairwise.turns import (
    per_category,
    per_turn,
    turn_instruction,
    turn_order,
    turn_sections,
)
from service.core.statistics import bootstrap_mean_ci
from service.core.two_responses import (
    ORDERS,
    THREE_POINT,
    VERDICT_QUESTION,
    plan_two_response_calls,
)

TEMPLATE = "pairwise/1"
TEMPLATE_FIVE_POINT = "pairwise-scale5/1"
OUTCOME_SCORES = {"a": 1.0, "tie": 0.5, "b": 0.0}
SUITE_SUBMISSION_FIELDS = tuple(PairwiseSuiteItem.model_fields)

SYSTEM_PROMPT = (
    "You are a careful and impartial judge. You compare two responses to the same user "
    "request and decide which one answers it better: more helpful, correct, relevant and "
    "complete, following the request's instructions. Do not let the order of the "
    "responses, their length or their style sway you."
)


def render_messages(item: PairwiseItem, order: str, question: str = VERDICT_QUESTION,
                    slot_names: tuple[str, str] = THREE_POINT.slot_names, turn: int = 1,
                    self_answer: str | None = None) -> tuple[dict[str, str], ...]:
    """Prompt for one order: shared text first, then the two responses, then the question.

    Everything before the first slot (``[Response 1]``) is identical in both orders (prefix-cache friendly).
    Submitted text is enclosed (``service.core.delimiters``): none of its lines reads as a header.
    A multi-turn item's turn 1 is shown the same way; a later turn shows both conversations
    (``pairwise.turns``). With ``self_answer`` (self-reference judging) the judge's own answer follows the
    reference, before the responses.
    """
    parts = [f"[Rubric]\n{enclose(item.rubric)}"] if item.rubric else []
    if item.multi_turn and turn > 1:
        parts += turn_sections(item, order, turn, slot_names)
        parts.append(f"{turn_instruction(turn)} {question}")
    else:
        first, second = _first_answers(item, order)
        parts.append(f"[User request]\n{_render_request(item)}")
        reference = item.reference or (item.reference_turns or [None])[0]
        if reference:
            parts.append(f"[Reference answer]\n{enclose(reference)}")
        if self_answer is not None:
            parts.append(self_reference.section(self_answer))
        parts.append(f"[{slot_names[0]}]\n{enclose(first)}")
        parts.append(f"[{slot_names[1]}]\n{enclose(second)}")
        parts.append(question)
    system = SYSTEM_PROMPT + (self_reference.SYSTEM_ADDENDUM if self_answer is not None else "")
    return (
        {"role": "system", "content": system},
        {"role": "user", "content": "\n\n".join(parts)},
    )


def _first_answers(item: PairwiseItem, order: str) -> tuple[str, str]:
    """The (first-turn) responses in the order's slots."""
    a = item.responses_a[0] if item.responses_a else item.response_a or ""
    b = item.responses_b[0] if item.responses_b else item.response_b or ""
    return (a, b) if ORDERS[order][0] == "a" else (b, a)


def _render_request(item: PairwiseItem) -> str:
    if item.turns:
        return enclose(item.turns[0])
    if item.prompt is not None:
        return enclose(item.prompt)
    return "\n".join(f"{turn.role.capitalize()}: {enclose(turn.content)}" for turn in item.conversation or [])


@register
class PairwiseProtocol:
    """Compare response A with response B, in both orders by default."""

    name: ClassVar[str] = "pairwise"
    item_model: ClassVar[type[BaseModel]] = PairwiseItem
    options_model: ClassVar[type[BaseModel]] = PairwiseOptions
    review_model: ClassVar[type[BaseModel]] = PairwiseReview
    suite_item_model: ClassVar[type[BaseModel] | None] = PairwiseSuiteItem
    summary_model: ClassVar[type[BaseModel]] = PairwiseSummary
    reliability_model: ClassVar[type[BaseModel]] = PairwiseReliability
    description: ClassVar[str] = (
        "Compare two responses to one prompt, judged in both orders: the win rate of response A."
    )
    headline_metric: ClassVar[str] = "win_rate"
    metric_kind: ClassVar[MetricKind] = MetricKind.bounded(0.0, 1.0)
    leaderboard_columns: ClassVar[tuple[str, ...]] = ("lc_win_rate", "lc_win_rate_ci95", "lc_note")
    ranking: ClassVar[str | None] = "bradley_terry"
    label_form: ClassVar[LabelForm] = LabelForm(kind="choice", field="label", choices=[
        LabelChoice(value="a", text="A is better"),
        LabelChoice(value="tie", text="Tie"),
        LabelChoice(value="b", text="B is better"),
    ])
    page_view: ClassVar[PageView] = PageView(compared=("response_a", "response_b"))
    single_stage: ClassVar[bool] = True

    def plan_calls(self, item: PairwiseItem, options: PairwiseOptions,
                   prior: Sequence[CallResult] = ()) -> list[PlannedCall]:
        """Every order × sample for one item (every turn of a multi-turn item), on the options' verdict scale.

        With ``self_reference`` (single-turn items without a human reference, or every one with ``force``):
        the judge's own answer first, then every order × sample shown it, each critiquing before its verdict.
        """
        if _self_referenced(item, options):
            return _plan_self_referenced(item, options, prior)
        scale = scale_of(options)
        template = TEMPLATE if scale is THREE_POINT else TEMPLATE_FIVE_POINT
        calls = []
        for turn in range(1, len(item.turns or [None]) + 1):
            render = partial(render_messages, slot_names=scale.slot_names, turn=turn)
            planned = plan_two_response_calls(item, options, render, template, scale)
            calls += planned if turn == 1 else [_on_turn(call, turn, item.id, options) for call in planned]
        return calls

    def staged(self, options: PairwiseOptions) -> bool:
        """Self-reference judging adds a stage (the judge's own answer first)."""
        return options.self_reference is not False

    def validate_items(self, items: Sequence[PairwiseItem], options: PairwiseOptions) -> list[tuple[int, str, str]]:
        """(index, field, message) of multi-turn items when self-reference judging is on (single-turn only)."""
        if options.self_reference is False:
            return []
        return [(index, "turns", "self_reference judges single-turn items (prompt or conversation), not turns")
                for index, item in enumerate(items) if item.multi_turn]

    def apply_review(self, item: PairwiseItem, verdict: ItemVerdict, label: PairwiseReview) -> ItemVerdict:
        """The human's a/b/tie replaces the judge's outcome; preference 1, ½ or 0 (one plain battle)."""
        return reviewed_verdict(verdict, label.label, OUTCOME_SCORES[label.label], label.model_dump(), battle=None)

    def parse(self, call: PlannedCall, output: JudgeOutput, options: PairwiseOptions) -> CallResult:
        """Label from the constrained text; probabilities from the verdict token's logprobs.

        On the five-point scale the labels share their first token (``A``, ``>>``, ``B``) with most
        tokenizers, so the first verdict token's logprobs tell them apart only when a tokenizer has a
        token per label; otherwise the call counts its label (a hard verdict).
        """
        if call.order == self_reference.SELF_ANSWER_ORDER:
            return self_reference.parse_call(call, output)
        labels = scale_of(options).labels
        label = parse_label(output.text, labels) if output.error is None else None
        probs = label_probs_from_top_logprobs(output.verdict_top_logprobs, labels)
        if probs is not None and label is None:
            label = max(probs, key=probs.get)
        return CallResult(call.order, call.sample, label, probs, output.text, rationale=output.rationale)

    def combine(
        self, item: PairwiseItem, results: Sequence[CallResult], options: PairwiseOptions
    ) -> ItemVerdict:
        """Average preferences over all calls, decide, and flag position inconsistency.

        A multi-turn item averages each turn's calls, then its turns (``details.turns``); it is position
        inconsistent when some turn is, and its BPDE is the mean of its turns'. With self-reference judging
        ``details.self_reference`` holds the judge's own answer and each call's critique.
        """
        if options.self_reference is not False:
            verdicts = [r for r in results if not self_reference.is_answer(r)]
            return _with_self_reference(self._combine(item, verdicts, options), item, results, options)
        return self._combine(item, results, options)

    def _combine(self, item: PairwiseItem, results: Sequence[CallResult], options: PairwiseOptions) -> ItemVerdict:
        return combine_calls(item, results, options, scale_of(options))

    def from_suite(self, suite_item: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
        """A full item from a suite item and a submission ``{id, response, human_label?}``.

        A is the submitted response, B the suite's baseline response; the suite's prompt,
        reference and category are used as stored. A suite item of several turns takes
        ``{id, responses: [turn1, turn2, ...]}`` and is compared turn by turn with the suite's
        ``baseline_responses``. Raises ValueError naming what is missing.
        """
        extra = sorted(set(submitted) - set(SUITE_SUBMISSION_FIELDS))
        if extra:
            raise ValueError(f"on a suite an item carries only {list(SUITE_SUBMISSION_FIELDS)}; not {extra}")
        if "responses" in submitted or len(suite_item.get("turns") or []) > 1:
            return _multi_turn_from_suite(suite_item, submitted)
        if "response" not in submitted:
            raise ValueError("missing 'response'")
        if suite_item.get("baseline_response") is None:
            raise ValueError("this suite item has no baseline_response to compare against")
        item = {"id": submitted["id"], "prompt": _suite_prompt(suite_item), "reference": _suite_reference(suite_item),
                "category": suite_item.get("category"), "response_a": submitted["response"],
                "response_b": suite_item["baseline_response"], "human_label": submitted.get("human_label")}
        return {k: v for k, v in item.items() if v is not None}

    def summarize(
        self, items: Sequence[PairwiseItem], verdicts: Sequence[ItemVerdict], options: PairwiseOptions
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Win rate of A with its bootstrap interval, and the reliability report."""
        scored = [v for v in verdicts if v.scored]
        preferences = [v.score for v in scored]
        outcomes = Counter(v.outcome for v in scored)
        seed = options.seed or 0
        summary = {
            "metric": "win_rate",
            **item_counts(verdicts),
            "win_rate": _mean(preferences),
            "win_rate_ci95": bootstrap_mean_ci(preferences, seed=seed),
            "wins": outcomes.get("a", 0),
            "losses": outcomes.get("b", 0),
            "ties": outcomes.get("tie", 0),
        }
        if options.scale == 5:
            summary["weighted_win_rate"] = _weighted_win_rate(scored)
        multi_turn = any(item.multi_turn for item in items)
        if multi_turn:
            summary["per_turn"] = per_turn(verdicts, seed)
        if any(item.category is not None for item in items):
            summary["per_category"] = per_category(items, verdicts, multi_turn)
        summary.update(_human_agreement(items, verdicts, options.order_names()))
        summary.update(_length_controlled(items, verdicts, seed))
        return summary, calibration.reliability_report(verdicts, options.order_names(), items, self.page_view.compared)


def _self_referenced(item: PairwiseItem, options: PairwiseOptions) -> bool:
    """Whether the item gets the judge's own answer (single-turn items; a human reference skips it unless forced)."""
    return not item.multi_turn and self_reference.wanted(options.self_reference, item.has_reference())


def _plan_self_referenced(item: PairwiseItem, options: PairwiseOptions,
                          prior: Sequence[CallResult]) -> list[PlannedCall]:
    """Stage 1 (the judge answers the request), then every order × sample shown that answer."""
    scale = scale_of(options)
    template = TEMPLATE if scale is THREE_POINT else TEMPLATE_FIVE_POINT
    first = self_reference.answer_call(_render_request(item), options.self_answer_tokens)

    def verdicts(answer: str) -> list[PlannedCall]:
        render = partial(render_messages, slot_names=scale.slot_names, self_answer=answer)
        return plan_two_response_calls(item, options, render, template, scale, self_reference.CRITIQUE_QUESTION)

    return self_reference.plan(first, verdicts, prior)


def _with_self_reference(verdict: ItemVerdict, item: PairwiseItem, results: Sequence[CallResult],
                         options: PairwiseOptions) -> ItemVerdict:
    """The verdict with ``details.self_reference``; unscored (saying why) when the judge's own answer is missing."""
    if not _self_referenced(item, options):
        return replace(verdict, details={**verdict.details, "self_reference": self_reference.skipped()})
    answer = self_reference.answer_of(results)
    record = self_reference.details(answer, results)
    if answer.status != "ok":
        return ItemVerdict(outcome=None, score=None, unscored=True,
                           details={"calls": [], "self_reference": record, "unscored_reason": answer.reason})
    return replace(verdict, details={**verdict.details, "self_reference": record})


def _on_turn(call: PlannedCall, turn: int, item_id: str, options: PairwiseOptions) -> PlannedCall:
    """A turn's call keyed by its turn (``ab.t2``), with that key's own seed."""
    order = turn_order(call.order, turn)
    return replace(call, order=order, request=replace(call.request, seed=options.call_seed(item_id, order, call.sample)))


def _weighted_win_rate(scored: Sequence[ItemVerdict]) -> float | None:
    """A's share of the weighted battles (Arena-Hard's score); a reviewed item is one plain battle."""
    battles = [(b["score"], b["weight"]) if (b := v.details.get("battle")) else (v.score, 1.0) for v in scored]
    total = sum(weight for _, weight in battles)
    return sum(score * weight for score, weight in battles) / total if total > 0 else None


def _length_controlled(items: Sequence[PairwiseItem], verdicts: Sequence[ItemVerdict], seed: int) -> dict[str, Any]:
    """AlpacaEval-2.0-style length-controlled win rate of A (length difference in characters, A − B)."""
    pairs = [(v.score, _length_difference(i)) for i, v in zip(items, verdicts) if v.scored]
    return lc_summary([p for p, _ in pairs], [d for _, d in pairs], seed)


def _length_difference(item: PairwiseItem) -> int:
    """len(full_text("a")) - len(full_text("b")), without building the texts of a single-turn item."""
    if item.responses_a is None and item.responses_b is None:
        return len(item.response_a or "") - len(item.response_b or "")
    return len(item.full_text("a")) - len(item.full_text("b"))


def _multi_turn_from_suite(suite_item: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
    """A multi-turn item: the suite's turns, reference turns and baseline answers (B) with the submitted ones (A)."""
    turns = suite_item.get("turns") or ([suite_item["prompt"]] if suite_item.get("prompt") else [])
    responses = submitted.get("responses")
    if responses is None:
        raise ValueError(f"this suite item has {len(turns)} turns: submit 'responses', one per turn, not 'response'")
    if len(responses) != len(turns):
        raise ValueError(f"'responses' holds {len(responses)} responses; this suite item has {len(turns)} turns")
    baseline = suite_item.get("baseline_responses")
    if baseline is None:
        raise ValueError("this suite item has no baseline_responses (one per turn) to compare against")
    references = suite_item.get("reference_turns") or (
        [suite_item["reference"]] if suite_item.get("reference") else None)
    item = {"id": submitted["id"], "turns": turns, "responses_a": responses, "responses_b": baseline,
            "reference_turns": references, "category": suite_item.get("category"),
            "human_label": submitted.get("human_label")}
    return {k: v for k, v in item.items() if v is not None}


def _suite_prompt(suite_item: dict[str, Any]) -> str | None:
    turns = suite_item.get("turns")
    return suite_item.get("prompt") or (turns[0] if turns else None)


def _suite_reference(suite_item: dict[str, Any]) -> str | None:
    turns = suite_item.get("reference_turns")
    return suite_item.get("reference") or (turns[0] if turns else None)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _human_agreement(items: Sequence[PairwiseItem], verdicts: Sequence[ItemVerdict],
                     orders: Sequence[str]) -> dict[str, Any]:
    """Judge accuracy and κ against items' human labels: per order, after calibration, after review."""
    human = [item.human_label for item in items]
    calibrated = [judge_label(v, "outcome") for v in verdicts]
    after_review = [None if v.unscored else v.outcome for v in verdicts]
    majorities = [v.details.get("order_majority", {}) for v in verdicts]
    per_order = {o: [majority.get(o) for majority in majorities] for o in orders}
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
