"""Reading label probabilities from a judge's token log-probabilities."""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Mapping, Sequence


def _normalise_token(token: str) -> str:
    return token.replace("\u2581", " ").replace("\u0120", " ").strip().lower()


def label_probs_from_top_logprobs(
    top_logprobs: Mapping[str, float] | None, labels: Sequence[str]
) -> dict[str, float] | None:
    """Probability of each label from the verdict position's top tokens, renormalised.

    A token counts for a label when the label starts with it (so the first token of a
    multi-token label such as ``tie`` counts). Tokens matching no label, or more than
    one, are ignored. Returns None when no listed token matches any label.
    """
    if not top_logprobs:
        return None
    matching = _token_matches(tuple(labels))
    mass = dict.fromkeys(labels, 0.0)
    for token, logprob in top_logprobs.items():
        label = matching.get(token, _UNSEEN)
        if label is _UNSEEN:
            label = _matching_label(token, labels)
            if len(matching) < _MAX_TOKENS:
                matching[token] = label
        # the checks in the order they always ran (an empty token skips before its logprob is looked at)
        if label is _EMPTY or logprob is None or logprob < -1e3 or math.isnan(logprob) or label is None:
            continue
        mass[label] += math.exp(logprob)
    total = sum(mass.values())
    if total <= 0.0:
        return None
    return {label: value / total for label, value in mass.items()}


def _matching_label(token: str, labels: Sequence[str]) -> Any:
    """The one label that starts with the normalised token; None for no label or several, _EMPTY for no text."""
    text = _normalise_token(token)
    if not text:
        return _EMPTY
    matches = [label for label in labels if label.lower().startswith(text)]
    return matches[0] if len(matches) == 1 else None


_UNSEEN, _EMPTY = object(), object()
# tokens remembered per label set (a tokenizer's vocabulary at most; new tokens are matched afresh beyond it)
_MAX_TOKENS = 200_000


@functools.lru_cache(maxsize=256)
def _token_matches(labels: tuple[str, ...]) -> dict[str, Any]:
    """The memo of token -> the label it counts for (None: none; _EMPTY: a blank token), per label set."""
    return {}


@functools.lru_cache(maxsize=256)
def _lowered(labels: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(label.lower() for label in labels)


def parse_label(text: str, labels: Sequence[str]) -> str | None:
    """The label a judge's text answer names, or None when it names none or several."""
    cleaned = text.strip().strip(".*\"'` ").lower()
    for label, lowered in zip(labels, _lowered(tuple(labels))):
        if cleaned == lowered:
            return label
    found = []
    for label in labels:
        pattern = r"(?<![\w])" + re.escape(label.lower()) + r"(?![\w])"
        found.extend((m.start(), label) for m in re.finditer(pattern, cleaned))
    if not found:
        return None
    names = {label for _, label in found}
    if len(names) == 1:
        return found[0][1]
    # Several labels mentioned: trust an explicit "verdict: X" at the end, else give up.
    tail = re.search(r"verdict\W+(\S+)\W*$", cleaned)
    if tail:
        return parse_label(tail.group(1), labels)
    return None
