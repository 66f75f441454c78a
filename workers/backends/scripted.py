"""A scripted judge of known behaviour, for testing orchestration and calibration maths.

Never a judge for users: it reads the two responses out of the rendered two-response prompt
and answers by a fixed rule. Configured through the judge's ``engine`` settings:
``policy`` (``first``: prefers the first slot with probability ``first_bias``;
``longer``: prefers the longer response; ``length_bias``: prefers the longer response with
probability ``bias``, drawn per call from the request's seed, else the shorter), ``delay_ms`` per generate call, and
``fail_marker`` (a request whose prompt contains it gets an error output).

Requests that are not two-response verdicts (other protocols) are answered from markers that
tests put into the item's text:

- ``<<scripted:LABEL=P,LABEL=P>>``: the label probabilities of a constrained verdict (the
  first marker in the prompt). At temperature > 0 the label is drawn from them with the
  request's seed (so Multiple Evidence Calibration can be tested); else the likeliest wins.
  Without a marker, every label is equally likely and the first label is answered. A label
  holding ``>``, ``=`` or ``,`` is percent-encoded in the marker (``A%3E%3EB=1`` for ``A>>B``).
- ``<<scripted-json:TEXT>>``: the text of a JSON-constrained answer (default ``{}``).
"""

from __future__ import annotations

import math
import random
import re
import time
from typing import Sequence
from urllib.parse import unquote

from service.config import JudgeConfig
from service.core.judging import JudgeOutput, JudgeRequest

# the two responses, then the final one-paragraph question of the two-response template
_RESPONSES = re.compile(r"\[Response 1\]\n(.*)\n\n\[Response 2\]\n(.*)\n\n[^\n]+\Z", re.S)
_PAIRWISE_LABELS = ("1", "2", "tie")
_LABEL_MARKER = re.compile(r"<<scripted:([^>]*)>>")
_JSON_MARKER = re.compile(r"<<scripted-json:(.*?)>>", re.S)


class ScriptedBackend:
    """Deterministic rule-based judge (test double with real outputs and logprobs)."""

    def __init__(self, judge: JudgeConfig):
        self.judge = judge
        self.fingerprint = judge.fingerprint()
        self.policy = judge.engine.get("policy", "longer")
        self.first_bias = float(judge.engine.get("first_bias", 0.9))
        self.bias = float(judge.engine.get("bias", 0.8))
        self.delay_ms = float(judge.engine.get("delay_ms", 0))
        self.fail_marker = judge.engine.get("fail_marker")
        self.generate_calls = 0
        self.requests_seen = 0

    def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeOutput]:
        """Answer each request by the configured rule, in one batch."""
        self.generate_calls += 1
        self.requests_seen += len(requests)
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000.0)
        return [self._answer(request) for request in requests]

    def _answer(self, request: JudgeRequest) -> JudgeOutput:
        prompt = "\n".join(m["content"] for m in request.messages)
        if self.fail_marker and self.fail_marker in prompt:
            return JudgeOutput(text="", error="scripted failure")
        if request.json_schema is not None:
            found = _JSON_MARKER.search(prompt)
            return JudgeOutput(text=found.group(1) if found else "{}", prompt_tokens=len(prompt.split()),
                               completion_tokens=1)
        if tuple(request.choices) == _PAIRWISE_LABELS:
            probs = self._probabilities(request.messages[-1]["content"], request.seed)
            label = max(probs, key=probs.get)
        else:
            probs, label = _marked(prompt, request)
        top = {k: math.log(v) for k, v in probs.items() if v > 0}
        rationale = "Scripted rationale." if request.rationale_tokens else None
        return JudgeOutput(text=label, verdict_top_logprobs=top, rationale=rationale,
                           prompt_tokens=len(prompt.split()), completion_tokens=1, latency_ms=0.0)

    def _probabilities(self, prompt: str, seed: int | None) -> dict[str, float]:
        match = _RESPONSES.search(prompt)
        first, second = (match.group(1), match.group(2)) if match else ("", "")
        if self.policy == "first":
            first_wins = random.Random(seed).random() < self.first_bias
            return {"1": 0.9, "2": 0.1, "tie": 0.0} if first_wins else {"1": 0.1, "2": 0.9, "tie": 0.0}
        if len(first) == len(second):
            return {"1": 0.1, "2": 0.1, "tie": 0.8}
        if self.policy == "length_bias":
            first_wins = (random.Random(seed).random() < self.bias) == (len(first) > len(second))
            return {"1": 0.9, "2": 0.1, "tie": 0.0} if first_wins else {"1": 0.1, "2": 0.9, "tie": 0.0}
        return {"1": 0.8, "2": 0.15, "tie": 0.05} if len(first) > len(second) else {"1": 0.15, "2": 0.8, "tie": 0.05}

    def close(self) -> None:
        """Nothing to release."""


def _marked(prompt: str, request: JudgeRequest) -> tuple[dict[str, float], str]:
    """Label probabilities from the first ``<<scripted:...>>`` marker, and the label answered."""
    choices = list(request.choices)
    found = _LABEL_MARKER.search(prompt)
    probs = {c: 1.0 / len(choices) for c in choices}
    if found:
        # a label holding '>', '=' or ',' is written percent-encoded (A%3E%3EB for A>>B)
        given = {unquote(k): v for k, v in (part.split("=", 1) for part in found.group(1).split(",") if "=" in part)}
        probs = {c: float(given.get(c, 0.0)) for c in choices}
        total = sum(probs.values()) or 1.0
        probs = {c: p / total for c, p in probs.items()}
    if request.temperature > 0:
        draw, label = random.Random(request.seed).random(), choices[-1]
        for choice in choices:
            draw -= probs[choice]
            if draw < 0:
                label = choice
                break
        return probs, label
    return probs, max(choices, key=lambda c: probs[c])
