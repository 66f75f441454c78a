"""A vLLM judge's own sampling settings reach every request; unknown ones are refused at start."""

from __future__ import annotations

import importlib.util

import pytest

from service.config import JudgeConfig

pytestmark = pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM (judgeserve[cpu])")


def judge(**sampling) -> JudgeConfig:
    return JudgeConfig(name="j", backend="vllm", model="m", sampling=sampling)


@pytest.mark.parametrize(("sampling", "extras"), [
    ({}, {}),
    ({"temperature": 0.0, "seed": 0}, {}),  # each request sets these from the evaluation's options
    ({"temperature": 0.7, "top_p": 0.9, "top_k": 20, "repetition_penalty": 1.1},
     {"top_p": 0.9, "top_k": 20, "repetition_penalty": 1.1}),
    ({"max_tokens": 5, "logprobs": 3, "n": 2, "min_p": 0.05}, {"min_p": 0.05}),
])
def test_the_judges_sampling_settings_that_reach_every_request(sampling, extras):
    from workers.backends.vllm_engine import sampling_extras

    assert sampling_extras(judge(**sampling)) == extras


@pytest.mark.parametrize("sampling", [{"top_pp": 0.9}, {"top_p": 7.0}])
def test_settings_vllm_does_not_take_are_refused_naming_the_judge(sampling):
    from workers.backends.vllm_engine import sampling_extras

    with pytest.raises(ValueError, match="judge 'j': sampling .* is not valid for vLLM"):
        sampling_extras(judge(**sampling))


def test_outputs_made_without_the_extras_are_not_taken_for_outputs_made_with_them():
    """Before 2026-11-28 a vLLM judge ignored top_p & co.: its fingerprint (and so its cache keys) changes."""
    import hashlib
    import json

    with_extras = judge(top_p=0.9, seed=0)
    ident = {"model": "m", "revision": None, "backend": "vllm", "template": "v1", "engine": {},
             "sampling": {"top_p": 0.9, "seed": 0}, "base_url": None}
    before = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    assert not with_extras.fingerprint().endswith(before)
    plain = judge(temperature=0.0, seed=0)  # nothing beyond the per-call settings: same fingerprint as before
    ident["sampling"] = {"temperature": 0.0, "seed": 0}
    assert plain.fingerprint().endswith(hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16])
