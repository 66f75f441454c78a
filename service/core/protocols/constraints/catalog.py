"""Which constraint types exist and what arguments each takes: pure, so the item model can check them.

The 25 types are IFEval's (``instructions_registry.INSTRUCTION_DICT``), with IFEval's own argument
names. IFEval draws a missing argument at random when it builds an instruction; here every argument
is required, so a check never depends on chance. ``judge`` is the one type no program verifies: its
``text`` goes to the judge as a yes/no question.
"""

from __future__ import annotations

import re
from typing import Any, Callable

JUDGE = "judge"
RELATIONS = ("less than", "at least")

# argument kinds: how a value is checked (and normalised)
INT, TEXT, RELATION, PATTERN, PATTERNS, LETTER = "int", "text", "relation", "pattern", "patterns", "letter"

INSTRUCTIONS: dict[str, dict[str, str]] = {
    "keywords:existence": {"keywords": PATTERNS},
    "keywords:frequency": {"keyword": PATTERN, "frequency": INT, "relation": RELATION},
    "keywords:forbidden_words": {"forbidden_words": PATTERNS},
    "keywords:letter_frequency": {"letter": LETTER, "let_frequency": INT, "let_relation": RELATION},
    "language:response_language": {"language": TEXT},
    "length_constraints:number_sentences": {"num_sentences": INT, "relation": RELATION},
    "length_constraints:number_paragraphs": {"num_paragraphs": INT},
    "length_constraints:number_words": {"num_words": INT, "relation": RELATION},
    "length_constraints:nth_paragraph_first_word": {"num_paragraphs": INT, "nth_paragraph": INT, "first_word": TEXT},
    "detectable_content:number_placeholders": {"num_placeholders": INT},
    "detectable_content:postscript": {"postscript_marker": PATTERN},
    "detectable_format:number_bullet_lists": {"num_bullets": INT},
    "detectable_format:constrained_response": {},
    "detectable_format:number_highlighted_sections": {"num_highlights": INT},
    "detectable_format:multiple_sections": {"section_spliter": PATTERN, "num_sections": INT},
    "detectable_format:json_format": {},
    "detectable_format:title": {},
    "combination:two_responses": {},
    "combination:repeat_prompt": {"prompt_to_repeat": TEXT},
    "startend:end_checker": {"end_phrase": TEXT},
    "change_case:capital_word_frequency": {"capital_frequency": INT, "capital_relation": RELATION},
    "change_case:english_capital": {},
    "change_case:english_lowercase": {},
    "punctuation:no_comma": {},
    "startend:quotation": {},
}
ARGUMENTS: dict[str, dict[str, str]] = {**INSTRUCTIONS, JUDGE: {"text": TEXT}}


def known_type(type_id: str) -> str:
    """The type itself when a verifier (or the judge) covers it; ValueError naming the known ones otherwise."""
    if type_id not in ARGUMENTS:
        raise ValueError(f"unknown constraint type {type_id!r}: not one of IFEval's 25 instruction ids "
                         f"(e.g. 'keywords:existence', 'punctuation:no_comma') nor {JUDGE!r} (a question for the judge)")
    return type_id


def checked_arguments(type_id: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A type's arguments, checked: null values dropped (IFEval's Hugging Face copy lists every key), none missing."""
    wanted = ARGUMENTS[type_id]
    given = {name: value for name, value in arguments.items() if value is not None}
    unknown = sorted(set(given) - set(wanted))
    if unknown:
        raise ValueError(f"{type_id} takes {sorted(wanted) or 'no arguments'}; not {unknown}")
    missing = sorted(set(wanted) - set(given))
    if missing:
        raise ValueError(f"{type_id} needs {missing}")
    checked = {name: _CHECKS[wanted[name]](name, value) for name, value in given.items()}
    if type_id == "length_constraints:nth_paragraph_first_word" and not (
            1 <= checked["nth_paragraph"] <= checked["num_paragraphs"]):
        raise ValueError("nth_paragraph must lie between 1 and num_paragraphs")
    return checked


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, not {value!r}")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")
    return value


def _pattern(name: str, value: Any) -> str:
    text = _text(name, value)
    try:
        re.compile(text)
    except re.error as exc:  # IFEval searches with these strings as regular expressions
        raise ValueError(f"{name} {text!r} is not a valid regular expression ({exc}); IFEval matches it as one, "
                         "so escape characters such as + ( [ with a backslash") from exc
    return text


def _patterns(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{name} must be a non-empty list of strings")
    return [_pattern(f"{name}[{i}]", word) for i, word in enumerate(value)]


def _relation(name: str, value: Any) -> str:
    if not isinstance(value, str) or value not in RELATIONS:
        raise ValueError(f"{name} must be one of {list(RELATIONS)}, not {value!r}")
    return value


def _letter(name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1 or value.isspace():
        raise ValueError(f"{name} must be one character, not {value!r}")
    return value


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    INT: _int, TEXT: _text, RELATION: _relation, PATTERN: _pattern, PATTERNS: _patterns,
    LETTER: _letter,
}
