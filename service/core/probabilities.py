"""Reading label probabilities from a judge's token log-probabilities."""

from __future__ import annotations

import math
import re
from typing import Mapping, Sequence


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
    mass = {label: 0.0 for label in labels}
    lowered = {label: label.lower() for label in labels}
    for token, logprob in top_logprobs.items():
        text = _normalise_token(token)
        if not text or logprob is None or logprob < -1e3 or math.isnan(logprob):
            continue
        matches = [label for label in labels if lowered[label].startswith(text)]
        if len(matches) == 1:
            mass[matches[0]] += math.exp(logprob)
    total = sum(mass.values())
    if total <= 0.0:
        return None
    return {label: value / total for label, value in mass.items()}


def parse_label(text: str, labels: Sequence[str]) -> str | None:
    """The label a judge's text answer names, or None when it names none or several."""
    cleaned = text.strip().strip(".*\"'` ").lower()
    for label in labels:
        if cleaned == label.lower():
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
