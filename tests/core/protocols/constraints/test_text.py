"""Sentence and word splitting agree with NLTK's own sent_tokenize / word_tokenize on IFEval's 541 prompts, and
language detection is seeded."""

from __future__ import annotations

import os

import nltk
import pytest
from nltk.tokenize.punkt import save_punkt_params

from service.core.protocols.constraints import text
from tests.core.protocols.constraints.ifeval_responses import load_prompts


@pytest.fixture
def nltk_with_bundled_punkt(tmp_path, monkeypatch):
    """nltk.sent_tokenize reading the bundled English model as an ordinary punkt_tab data directory."""
    root = tmp_path / "nltk_data"
    model = root / "tokenizers" / "punkt_tab" / "english"
    model.mkdir(parents=True)
    for folder in (root, root / "tokenizers", root / "tokenizers" / "punkt_tab", model):
        os.chmod(folder, 0o700)
    monkeypatch.setattr(nltk.data, "path", [str(root)])
    save_punkt_params(text.punkt_tokenizer()._params, dir=str(model))
    nltk.tokenize._get_punkt_tokenizer.cache_clear()
    yield
    nltk.tokenize._get_punkt_tokenizer.cache_clear()


def test_sentences_and_words_match_nltk_on_every_ifeval_prompt(nltk_with_bundled_punkt):
    prompts = [p["prompt"] for p in load_prompts()]
    assert len(prompts) == 541
    assert [text.split_sentences(p) for p in prompts] == [nltk.sent_tokenize(p) for p in prompts]
    assert [text.word_tokenize(p) for p in prompts] == [nltk.word_tokenize(p) for p in prompts]
    assert sum(text.count_sentences(p) for p in prompts) > 1000  # not one sentence per prompt


@pytest.mark.parametrize(("sample", "sentences"), [
    ("Dr. Smith went home. He was tired.", ["Dr. Smith went home.", "He was tired."]),
    ("It is 3 p.m. now. Is it late?", ["It is 3 p.m. now.", "Is it late?"]),
    ("xx,x. xx,x! xx/x. x{x}x?", ["xx,x.", "xx,x!", "xx/x.", "x{x}x?"]),
])
def test_sentences(sample, sentences):
    assert text.split_sentences(sample) == sentences


@pytest.mark.parametrize(("sample", "words"), [("it's a well-known fact", 6), ("", 0), ("naïve café, 3.5 km", 5)])
def test_words_are_runs_of_word_characters(sample, words):
    assert text.count_words(sample) == words


def test_language_detection_is_seeded():
    ambiguous = "Ok, ja, no, si, oui."
    first = text.detect_language(ambiguous)
    assert all(text.detect_language(ambiguous) == first for _ in range(10))
    assert text.detect_language("Bonjour, je m'appelle Pierre et j'habite à Paris.") == "fr"
    assert text.detect_language("1234 5678") is None  # langdetect finds no language


def test_loose_variants_are_ifevals_eight():
    assert text.loose_variants("*a*\nb\n*c*") == ["*a*\nb\n*c*", "a\nb\nc", "b\n*c*", "*a*\nb", "b", "b\nc", "a\nb", "b"]
