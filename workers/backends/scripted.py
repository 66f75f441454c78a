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

import functools
import math
import random
import re
import time
from typing import Sequence
from urllib.parse import unquote

from service.config import JudgeConfig
from service.core.judging import JudgeOutput, JudgeRequest

# the two responses, then the final one-paragraph question of the two-response template (what
# _response_lengths finds without a regex)
_RESPONSES = re.compile(r"\[Response 1\]\n(.*)\n\n\[Response 2\]\n(.*)\n\n[^\n]+\Z", re.S)
_PAIRWISE_LABELS = ("1", "2", "tie")
# the two-response answers, as (label, probability) pairs in the order of the labels
_FIRST_WINS = (("1", 0.9), ("2", 0.1), ("tie", 0.0))
_SECOND_WINS = (("1", 0.1), ("2", 0.9), ("tie", 0.0))
_EQUAL = (("1", 0.1), ("2", 0.1), ("tie", 0.8))
_LONGER_FIRST = (("1", 0.8), ("2", 0.15), ("tie", 0.05))
_LONGER_SECOND = (("1", 0.15), ("2", 0.8), ("tie", 0.05))
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
        if self.fail_marker and self.fail_marker in _prompt(request):
            return JudgeOutput(text="", error="scripted failure")
        if request.json_schema is not None:
            prompt = _prompt(request)
            found = _JSON_MARKER.search(prompt)
            return JudgeOutput(text=found.group(1) if found else "{}", prompt_tokens=_words(request),
                               completion_tokens=1)
        if tuple(request.choices) == _PAIRWISE_LABELS:
            label, top = self._pairwise_answer(request.messages[-1]["content"], request.seed)
            top = dict(top)  # a fresh dict per output: the constant answers are shared
        else:
            probs, label = _marked(_prompt(request), request)
            top = {k: math.log(v) for k, v in probs.items() if v > 0}
        rationale = "Scripted rationale." if request.rationale_tokens else None
        return JudgeOutput(text=label, verdict_top_logprobs=top, rationale=rationale,
                           prompt_tokens=_words(request), completion_tokens=1, latency_ms=0.0)

    def _pairwise_answer(self, prompt: str, seed: int | None) -> tuple[str, dict[str, float]]:
        """The label and the logprobs of a two-response verdict (computed once per distinct answer)."""
        return _ANSWERS[self._probabilities(prompt, seed)]

    def _probabilities(self, prompt: str, seed: int | None) -> tuple[tuple[str, float], ...]:
        if self.policy == "first":
            first_wins = random.Random(seed).random() < self.first_bias
            return _FIRST_WINS if first_wins else _SECOND_WINS
        first, second = _response_lengths(prompt)
        if first == second:
            return _EQUAL
        if self.policy == "length_bias":
            first_wins = (random.Random(seed).random() < self.bias) == (first > second)
            return _FIRST_WINS if first_wins else _SECOND_WINS
        return _LONGER_FIRST if first > second else _LONGER_SECOND

    def close(self) -> None:
        """Nothing to release."""


def _answer_of(probs: tuple[tuple[str, float], ...]) -> tuple[str, dict[str, float]]:
    """The likeliest label (the first of equals) and the logprobs of the labels with a probability."""
    as_dict = dict(probs)
    return max(as_dict, key=as_dict.get), {k: math.log(v) for k, v in probs if v > 0}


_ANSWERS = {probs: _answer_of(probs) for probs in (_FIRST_WINS, _SECOND_WINS, _EQUAL, _LONGER_FIRST, _LONGER_SECOND)}
_RESPONSE_1, _RESPONSE_2 = "[Response 1]\n", "\n\n[Response 2]\n"


def _response_lengths(prompt: str) -> tuple[int, int]:
    """The lengths of the two responses ``_RESPONSES`` finds in the prompt ((0, 0) when it finds none).

    The regex's result by string searches (a tenth of its time on a long prompt): its tail
    ``\\n\\n[^\\n]+\\Z`` can only match at the prompt's last line, so response 2 ends where that line's
    blank line starts; the greedy response 1 ends at the last ``[Response 2]`` header before it; and when
    the first ``[Response 1]`` header finds none, no later one does. A test compares both on tricky prompts.
    """
    last = prompt.rfind("\n")
    end = last - 1  # where the blank line before the last line starts
    start = prompt.find(_RESPONSE_1)
    if start < 0 or last < 1 or last == len(prompt) - 1 or prompt[end] != "\n":
        return 0, 0
    start += len(_RESPONSE_1)
    middle = prompt.rfind(_RESPONSE_2, start, end)
    if middle < 0:
        return 0, 0
    return middle - start, end - middle - len(_RESPONSE_2)


def _prompt(request: JudgeRequest) -> str:
    return "\n".join(m["content"] for m in request.messages)


def _words(request: JudgeRequest) -> int:
    """Whitespace-separated words of the messages joined by newlines (a system prompt's counted once)."""
    return sum(_system_words(m["content"]) if m.get("role") == "system" else _word_count(m["content"])
               for m in request.messages)


@functools.lru_cache(maxsize=64)
def _system_words(text: str) -> int:
    return _word_count(text)


# ASCII whitespace as str.split() knows it -> " ", every other byte -> "x"
_SPACE_OR_X = bytes(0x20 if chr(b).isspace() else 0x78 for b in range(256))


def _word_count(text: str) -> int:
    """``len(text.split())`` without building the words: for ASCII text, the starts of runs of non-space."""
    if not text.isascii():
        return len(text.split())
    marked = text.encode("ascii").translate(_SPACE_OR_X)
    return marked.count(b" x") + marked.startswith(b"x")


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
