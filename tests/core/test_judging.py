"""Judge requests: the cache key is stable (the same text hashed as in every earlier version)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace

import pytest

from service.core.judging import JudgeRequest

BASE = JudgeRequest(messages=({"role": "user", "content": "Which is better? ünïcødé [x]"},), choices=("1", "2", "tie"))


def reference_key(request: JudgeRequest, fingerprint: str) -> str:
    """The cache key as first defined: one json.dumps of [fingerprint, prompt hash, sampling]."""
    rendered = list(request.messages)
    prompt_hash = hashlib.sha256(json.dumps(rendered, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    seed = request.seed if request.temperature > 0 else None
    sampling = {"choices": list(request.choices), "temperature": request.temperature, "seed": seed,
                "top_logprobs": request.top_logprobs, "rationale_tokens": request.rationale_tokens,
                "verdict_followup": request.verdict_followup}
    if request.json_schema is not None:
        sampling.update(json_schema=request.json_schema, max_tokens=request.max_tokens)
    text = json.dumps([fingerprint, prompt_hash, sampling], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(("request_", "fingerprint"), [
    (BASE, "vllm:SmolLM2|rev"),
    (replace(BASE, temperature=0.7, seed=11), "judge \"quoted\" é"),
    (replace(BASE, temperature=0, seed=3), "fp"),  # an int temperature encodes as 0, not 0.0
    (replace(BASE, temperature=0.0, seed=3), "fp"),
    (replace(BASE, rationale_tokens=256, verdict_followup="Now answer «1», «2» or «tie»."), "fp"),
    (replace(BASE, choices=(), json_schema='{"type": "object"}', max_tokens=300), "fp"),
    (replace(BASE, top_logprobs=5, template="pairwise/1"), "fp"),
])
def test_the_cache_key_is_the_one_json_encoding_of_judge_prompt_and_sampling(request_, fingerprint):
    assert request_.cache_key(fingerprint) == reference_key(request_, fingerprint)
    assert request_.cache_key(fingerprint) == reference_key(request_, fingerprint)  # memoised parts too


def test_the_prompt_hash_is_computed_once_and_ignored_by_equality():
    first = replace(BASE)
    assert first.prompt_hash() == first.prompt_hash() == BASE.prompt_hash()
    assert first == BASE  # the memo is not a field
    assert replace(BASE, messages=({"role": "user", "content": "other"},)).prompt_hash() != BASE.prompt_hash()


TRICKY = ["", "plain", "quote \" backslash \\ slash /", "controls \x00\x01\x1f\x7f \b\f\n\r\t", "ünïcødé ✓ 漢字 🙂",
          "separators \u2028\u2029", "[Response 1]\n{\"json\": [1, 2]}"]


@pytest.mark.parametrize("messages", [
    tuple({"role": role, "content": text} for role in ("system", "user") for text in TRICKY),
    ({"content": "keys in the other order", "role": "user"},),
    ({"role": "user", "content": "a name too", "name": "x"},),  # other keys: json.dumps itself
    ({"role": "user", "content": ["not", "text"]},),
    (),
])
def test_the_prompt_hash_is_the_hash_of_json_dumps_of_the_messages(messages):
    expected = hashlib.sha256(json.dumps(list(messages), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert replace(BASE, messages=messages).prompt_hash() == expected


def test_text_with_a_lone_surrogate_cannot_be_hashed_as_before():
    messages = ({"role": "user", "content": "lone surrogate \ud800"},)
    with pytest.raises(UnicodeEncodeError):
        json.dumps(list(messages), sort_keys=True, ensure_ascii=False).encode()
    with pytest.raises(UnicodeEncodeError):
        replace(BASE, messages=messages).prompt_hash()


def test_the_json_text_of_a_string_is_json_dumps_on_random_text():
    from service.core.judging import _json_bytes

    rng = random.Random(7)
    alphabet = "ab \"\\/\n\r\t\b\f\x00\x01\x1f\x7f\x80é✓漢🙂\u2028\u2029'[]{}"
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert _json_bytes(text) == json.dumps(text, ensure_ascii=False).encode("utf-8"), repr(text)
