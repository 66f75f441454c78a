"""The scripted judge's string-search fast paths give what the plain regex and split gave."""

from __future__ import annotations

import random

import pytest

from service.config import JudgeConfig
from service.core.judging import JudgeRequest
from workers.backends import scripted

PIECES = ("[Response 1]\n", "\n\n[Response 2]\n", "[Response 2]\n", "\n", "\n\n", "x", "yy", " ", "[", "]", "\r")


def _regex_lengths(prompt: str) -> tuple[int, int]:
    match = scripted._RESPONSES.search(prompt)
    return (len(match.group(1)), len(match.group(2))) if match else (0, 0)


@pytest.mark.parametrize("seed", range(5))
def test_response_lengths_match_the_regex_on_random_prompts(seed):
    rng = random.Random(seed)
    for _ in range(4000):
        prompt = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12)))
        assert scripted._response_lengths(prompt) == _regex_lengths(prompt), repr(prompt)


@pytest.mark.parametrize("prompt", [
    "", "\n", "[Response 1]\na\n\n[Response 2]\nb\n\nQ", "[Response 1]\na\n\n[Response 2]\nb\n\nQ\n",
    "[Response 1]\n\n\n[Response 2]\n\n\nQ", "[Response 1]\na\n\n[Response 2]\nb\n\n[Response 2]\nc\n\nQ",
    "[Response 1]\n[Response 1]\na\n\n[Response 2]\nb\n\nQ", "[Response 1]\na\n\n[Response 2]\nb\nQ",
    "x\n\n[Response 2]\nb\n\nQ\n\nR", "[Response 1]\na\n\n[Response 2]\n\nQ",
])
def test_response_lengths_match_the_regex_on_edge_cases(prompt):
    assert scripted._response_lengths(prompt) == _regex_lengths(prompt)


def test_word_count_matches_splitting_the_joined_prompt():
    rng = random.Random(3)
    words = ("a", "bc", " ", "\n", "\t", "\u2028", "\x1c", "\xa0", "", "  ")
    for _ in range(2000):
        messages = tuple({"role": rng.choice(("system", "user", "assistant")),
                          "content": "".join(rng.choice(words) for _ in range(rng.randint(0, 8)))}
                         for _ in range(rng.randint(1, 3)))
        request = JudgeRequest(messages=messages, choices=("1", "2", "tie"))
        assert scripted._words(request) == len("\n".join(m["content"] for m in messages).split())


@pytest.mark.parametrize("policy", ["longer", "first", "length_bias"])
def test_two_response_outputs_are_fresh_dicts(policy):
    backend = scripted.ScriptedBackend(JudgeConfig(name="s", backend="scripted", engine={"policy": policy}))
    request = JudgeRequest(messages=({"role": "user", "content": "[Response 1]\nlong one\n\n[Response 2]\nb\n\nQ?"},),
                           choices=("1", "2", "tie"), seed=4)
    first, second = backend.generate([request, request])
    assert first.verdict_top_logprobs == second.verdict_top_logprobs
    assert first.verdict_top_logprobs is not second.verdict_top_logprobs
    assert first.text in ("1", "2") and first.prompt_tokens == 8


def test_word_count_is_the_number_of_split_words():
    rng = random.Random(9)
    alphabet = ("a", "b", " ", "\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0",
                "\u2028", "x", "\x00", "\x7f", ".")
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        assert scripted._word_count(text) == len(text.split()), repr(text)
