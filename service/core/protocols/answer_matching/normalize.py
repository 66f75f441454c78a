"""The text rule's normalisation: SQuAD-style, but every symbol that can carry meaning survives.

Two answers that normalise to the same string are matched without a judge, so normalisation only removes what
never changes an answer: sentence punctuation, quotes, Markdown emphasis, articles in prose, case of ordinary
words, spaces around operators. Comparison operators, signs and charges (``<``, ``≥``, ``+``, ``-``), powers,
brackets, primes, factorials, decimal points and fraction bars stay.
"""

from __future__ import annotations

import re

from service.core.protocols.answer_matching.forms import prepare

_OPERATORS = "<>=≤≥≠≈±∓+-*/^×÷·|~→⇒≪≫∝"
_SPELT_OPERATORS = (("<=", "≤"), (">=", "≥"), ("!=", "≠"), ("=<", "≤"), ("=>", "⇒"))
_AROUND_OPERATOR = re.compile(rf"\s*([{re.escape(_OPERATORS)}])\s*")
_SIMPLE_GROUP = re.compile(r"([\^_])\{\s*([-+]?\d+(?:\.\d+)?|[-+]?[^\W\d_]+|[-+])\s*\}")
_QUOTES = "\"`«»“”„‟‹›‘‚¿¡"
_PUNCTUATION = re.compile(f"[.,:;!'{re.escape(_QUOTES)}]")  # what _char_form may change; the rest stays
_ARTICLES = {"a", "an", "the"}
_ALNUM_RUN = re.compile(r"[^\W_]+")
_WORD_BEFORE = re.compile(r"[^\W\d_]{2}\W*$")
_WORD_AFTER = re.compile(r"\W*(?:(?:a|an|the)\s+)?[^\W\d_]{2}", re.IGNORECASE)
_ENCLOSING = {"(": ")", '"': '"', "'": "'", "“": "”", "‘": "'", "«": "»"}


def _encloses(text: str, opening: str, closing: str) -> bool:
    """Whether the first and last characters are one pair around everything: ``(a)``, not ``(a)+(b)``."""
    if len(text) < 2 or text[0] != opening or text[-1] != closing:
        return False
    if opening == closing:
        return opening not in text[1:-1]
    depth = 0
    for ch in text[:-1]:
        depth += (ch == opening) - (ch == closing)
        if depth == 0:
            return False
    return True


def _strip_enclosing(text: str) -> str:
    """``(B)``, ``"Paris"`` and ``'A'`` are B, Paris and A; square brackets stay (``[H+]`` is a concentration)."""
    while any(_encloses(text, o, c) for o, c in _ENCLOSING.items()):
        text = text[1:-1].strip()
    return text


_THREE_DIGITS = re.compile(r"\d{3}(?!\d)")


def _is_thousands_comma(text: str, i: int) -> bool:
    return bool(_THREE_DIGITS.match(text, i + 1))


def _char_form(text: str, i: int) -> str:
    """What one character becomes: itself, a space or nothing."""
    ch = text[i]
    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    lone_before = before.isalnum() and (i < 2 or not text[i - 2].isalnum())  # n! and f' but not Paris! or don't
    if ch == ".":  # 3.14 and .5 keep their point; U.S.A. and a full stop lose theirs
        return "." if after.isdigit() and (before.isdigit() or not before.isalnum()) else ""
    if ch == ",":  # 1,000 is 1000; 1,5 stays (a decimal comma or a list); between words a comma separates
        if before.isdigit() and after.isdigit():
            return "" if _is_thousands_comma(text, i) else ","
        between_words = _WORD_BEFORE.search(text[max(0, i - 64):i]) and _WORD_AFTER.match(text, i + 1)
        return " " if between_words else ","  # but (x, y) is a pair, not x y
    if ch == ":":  # a ratio 3:2 or A:B
        return ":" if before.isalnum() and after.isalnum() else " "
    if ch == ";":
        return " "
    if ch == "!":  # 5! and n! are factorials
        return "!" if before.isdigit() or before == ")" or lone_before else " "
    if ch == "'":  # a prime (f', 5') stays; an apostrophe or a quote goes
        return "'" if (lone_before or before in ")'") and not after.isalpha() else ""
    return "" if ch in _QUOTES else ch


def _fold_case(word: str) -> str:
    """Ordinary words of 3+ letters lose their case; short or mixed-case tokens keep it (CO ≠ Co, mM ≠ MM)."""
    if len(word) >= 3 and word.isalpha() and (word.islower() or word.isupper() or word.istitle()):
        return word.casefold()
    return word


def _drop_articles(tokens: list[str]) -> list[str]:
    """Articles go in prose only: in ``F = m a`` or ``2 a`` the ``a`` is a symbol."""
    if any(ch in _OPERATORS or ch.isdigit() for token in tokens for ch in token):
        return tokens
    words = [t for t in tokens if t.casefold() not in _ARTICLES]
    if not words or any(len(re.sub(r"\W", "", t)) <= 1 for t in words):
        return tokens
    return words


def normalize_answer(text: str) -> str:
    """The answer in a form where equal strings are the same answer (see the module docstring)."""
    text = prepare(text)
    for spelt, symbol in _SPELT_OPERATORS:
        text = text.replace(spelt, symbol)
    text = _SIMPLE_GROUP.sub(r"\1\2", text)
    text = _strip_enclosing(text.strip().rstrip(".").strip())  # "(B)." is (B)
    text = _PUNCTUATION.sub(lambda m: _char_form(m.string, m.start()), text)
    text = _AROUND_OPERATOR.sub(r"\1", text)
    tokens = _drop_articles(text.split())
    return " ".join(_ALNUM_RUN.sub(lambda m: _fold_case(m.group()), token) for token in tokens)
