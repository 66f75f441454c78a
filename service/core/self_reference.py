"""Self-reference judging ("Aligning LLMs from Self-Reference AI Feedback"): the judge answers the request
itself first, then critiques each response against its own answer before it gives its verdict.

Stage 1 is one free-text call per item (``SELF_ANSWER_ORDER``, sample 0, greedy): its prompt holds only the
request, so both orders and every sample share it, and the judge-call cache answers it again on a re-run
(same prompt, same sampling, same key). Stage 2 is the comparison's calls, each shown the judge's own
answer between delimiters and asked to write its critique (the call's rationale) before the constrained
verdict. A protocol plans stage 2 once the stage 1 result is in ``prior``, so a resumed chunk continues
from the stage it reached.

The answer is requested as JSON (``{"answer": ...}``, within a token budget): every backend can constrain
JSON, and an answer cut off by the budget is read as far as it got.
"""

from __future__ import annotations

from enum import StrEnum

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal, Sequence

from pydantic import BeforeValidator

from service.core.delimiters import enclose
from service.core.judging import JudgeOutput, JudgeRequest
from service.core.protocol import CallResult, PlannedCall

class Force(StrEnum):
    """``self_reference: "force"``: the judge's own answer even on items with a human-written reference."""

    force = "force"


# a boolean or the string "force" (a one-value string enum, not a const: clients generated from the OpenAPI
# document read an enum beside a boolean, but neither one enum of mixed types nor a const)
def _checked_mode(value: Any) -> Any:
    """One error naming the field (not one per member of the union) for anything but true, false or "force"."""
    if value is True or value is False or value == Force.force:
        return value
    raise ValueError('self_reference must be true, false or "force"')


SelfReferenceMode = Annotated[bool | Force, BeforeValidator(_checked_mode)]
MODE_DESCRIPTION = (
    "Self-reference judging: the judge first answers each item's request itself (one call per item, shared by "
    "both orders and all samples, cached), then critiques each response against its own answer before every "
    "verdict. true: only on items without a human-written reference; \"force\": on every item.")
TOKENS_DESCRIPTION = "With self_reference: the token budget of the judge's own answer."
DEFAULT_ANSWER_TOKENS = 512

SELF_ANSWER_ORDER = "self_answer"
TEMPLATE = "self_answer/1"
ANSWERED = "answered"
ANSWER_HEADER = "[Your own answer]"
ANSWER_SCHEMA = json.dumps({"type": "object", "properties": {"answer": {"type": "string"}},
                            "required": ["answer"], "additionalProperties": False}, sort_keys=True)
ANSWER_SYSTEM_PROMPT = (
    "You are a knowledgeable and careful assistant. Answer the user's request as well as you can: correct, "
    "helpful, complete and concise.")
ANSWER_TASK = 'Answer the request above yourself. Reply in JSON: {"answer": "<your answer>"}.'
SYSTEM_ADDENDUM = (
    " Before judging you answered the request yourself; your answer is given as a reference. Check each response "
    "against it, but your answer may be wrong or incomplete too: a response may be better than it.")
CRITIQUE_QUESTION = (
    "First critique each response against your own answer: what it gets right, and what it gets wrong or misses "
    "compared with your answer (or where it is better than your answer). Do not give the final verdict yet.")

_ANSWER_START = re.compile(r'\s*\{\s*"answer"\s*:\s*"')


def wanted(mode: SelfReferenceMode, has_human_reference: bool) -> bool:
    """Whether an item gets a self-answer: ``force`` always, ``true`` only without a human-written reference."""
    return mode == "force" or (mode is True and not has_human_reference)


def answer_call(request_text: str, max_tokens: int) -> PlannedCall:
    """The stage 1 call: the judge answers the (already enclosed) request; greedy, so cacheable and repeatable."""
    messages = ({"role": "system", "content": ANSWER_SYSTEM_PROMPT},
                {"role": "user", "content": f"[User request]\n{request_text}\n\n{ANSWER_TASK}"})
    request = JudgeRequest(messages=messages, choices=(), temperature=0.0, seed=None, json_schema=ANSWER_SCHEMA,
                           max_tokens=max_tokens, template=TEMPLATE)
    return PlannedCall(order=SELF_ANSWER_ORDER, sample=0, request=request)


def parse_answer(text: str) -> str | None:
    """The answer in the judge's JSON (read as far as it got when the budget cut it off); None if there is none."""
    try:
        value = json.loads(text)
        answer = value.get("answer") if isinstance(value, dict) else None
    except ValueError:
        answer = _truncated_answer(text)
    if not isinstance(answer, str) or not answer.strip():
        return None
    return answer.strip()


# json's own string scanner (untyped in typeshed): decodes a JSON string from a position to its closing quote
_SCANSTRING: Callable[[str, int, bool], tuple[str, int]] = getattr(json.decoder, "scanstring")


def _truncated_answer(text: str) -> str | None:
    """The answer string of JSON that stops early: up to its closing quote, else everything decodable."""
    match = _ANSWER_START.match(text)
    if match is None:
        return None
    try:
        decoded, _ = _SCANSTRING(text, match.end(), False)  # the string up to its closing quote
        return str(decoded)
    except ValueError:  # unterminated: drop a dangling escape sequence and decode the rest
        body = text[match.end():]
        for cut in range(len(body), max(len(body) - 6, 0) - 1, -1):
            try:
                return str(json.loads(f'"{body[:cut]}"', strict=False))
            except ValueError:
                continue
    return None


def parse_call(call: PlannedCall, output: JudgeOutput) -> CallResult:
    """The stage 1 result: label ``answered`` when the output holds an answer (None otherwise)."""
    label = ANSWERED if output.error is None and parse_answer(output.text) is not None else None
    return CallResult(call.order, call.sample, label, None, output.text, output.error)


def is_answer(result: CallResult) -> bool:
    """Whether a result is the stage 1 call (not a verdict)."""
    return result.order == SELF_ANSWER_ORDER


@dataclass(frozen=True)
class SelfAnswer:
    """The judge's own answer as far as it got: ``pending`` (not made yet), ``failed``, ``unreadable`` or ``ok``."""

    status: str
    text: str | None = None
    reason: str | None = None


def answer_of(results: Sequence[CallResult]) -> SelfAnswer:
    """The stage 1 result among an item's results."""
    found = next((r for r in results if is_answer(r)), None)
    if found is None:
        return SelfAnswer("pending", reason="the judge's own answer was not made yet")
    if found.error is not None:
        return SelfAnswer("failed", reason=f"the judge's own answer failed: {found.error}")
    text = parse_answer(found.raw_output)
    if text is None:
        return SelfAnswer("unreadable", reason="the judge's own answer could not be read")
    return SelfAnswer("ok", text)


def section(answer: str) -> str:
    """The prompt section showing the judge's own answer (enclosed like every other submitted text)."""
    return f"{ANSWER_HEADER}\n{enclose(answer)}"


def plan(first: PlannedCall, verdicts: Callable[[str], list[PlannedCall]],
         prior: Sequence[CallResult]) -> list[PlannedCall]:
    """Stage 1, then (once its answer is in ``prior``) the verdict calls that show it."""
    answer = answer_of(prior)
    return [first] + (verdicts(answer.text) if answer.status == "ok" and answer.text is not None else [])


def details(answer: SelfAnswer, results: Sequence[CallResult]) -> dict[str, Any]:
    """What the verdict stores: the judge's own answer and each verdict call's critique of the responses."""
    critiques = [{"order": r.order, "sample": r.sample, "critique": r.rationale}
                 for r in sorted(results, key=lambda r: (r.order, r.sample)) if not is_answer(r)]
    record: dict[str, Any] = {"status": answer.status, "answer": answer.text, "critiques": critiques}
    if answer.reason:
        record["reason"] = answer.reason
    return record


def skipped() -> dict[str, Any]:
    """What the verdict stores for an item whose human-written reference made stage 1 unnecessary."""
    return {"status": "skipped", "reason": "the item has a human-written reference (self_reference: force judges "
                                           "such items with the judge's own answer too)"}
