"""IFEval's 25 instruction checks, ported from google-research ``instruction_following_eval`` (Apache-2.0).

Each function is the ``check_following`` of the IFEval class named in its docstring, with the
arguments ``build_description`` would have stored (the same stripping and lower-casing), so strict and
loose results equal the official implementation's. Copyright 2023-2025 The Google Research Authors,
licensed under the Apache License, Version 2.0; this port keeps that licence (see NOTICE beside this
file). One deliberate difference: IFEval's latest code counts a ``letter_frequency`` letter that is not
a-z literally, and so does this port; its older code (and copies of it) drew a random letter instead.

``follows_strict`` and ``follows_loose`` are ``evaluation_lib.test_instruction_following_strict`` and
``_loose`` for one instruction: an empty (whitespace-only) response follows nothing.
"""

from __future__ import annotations

import collections
import json
import re
from typing import Any, Callable

from service.core.protocols.constraints import text

Check = Callable[[str, dict[str, Any]], bool]
CONSTRAINED_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _compare(count: int, relation: str, threshold: int) -> bool:
    return count < threshold if relation == "less than" else count >= threshold


def response_language(value: str, kw: dict[str, Any]) -> bool:
    """ResponseLanguageChecker: langdetect's language is ``language`` (followed when it finds none)."""
    detected = text.detect_language(value)
    return detected is None or detected == kw["language"]


def number_sentences(value: str, kw: dict[str, Any]) -> bool:
    """NumberOfSentences: Punkt sentences ``relation`` ``num_sentences``."""
    return _compare(text.count_sentences(value), kw["relation"], kw["num_sentences"])


def number_placeholders(value: str, kw: dict[str, Any]) -> bool:
    """PlaceholderChecker: at least ``num_placeholders`` ``[...]``."""
    return len(re.findall(r"\[.*?\]", value)) >= kw["num_placeholders"]


def number_bullet_lists(value: str, kw: dict[str, Any]) -> bool:
    """BulletListChecker: exactly ``num_bullets`` lines starting with ``*`` (not ``**``) or ``-``."""
    stars = re.findall(r"^\s*\*[^\*].*$", value, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", value, flags=re.MULTILINE)
    return len(stars) + len(dashes) == kw["num_bullets"]


def constrained_response(value: str, kw: dict[str, Any]) -> bool:
    """ConstrainedResponseChecker: contains one of "My answer is yes./no./maybe."."""
    value = value.strip()
    return any(option in value for option in CONSTRAINED_RESPONSE_OPTIONS)


def number_highlighted_sections(value: str, kw: dict[str, Any]) -> bool:
    """HighlightSectionChecker: at least ``num_highlights`` non-empty ``*...*`` (and ``**...**`` again)."""
    count = sum(1 for h in re.findall(r"\*[^\n\*]*\*", value) if h.strip("*").strip())
    count += sum(1 for h in re.findall(r"\*\*[^\n\*]*\*\*", value) if h.removeprefix("**").removesuffix("**").strip())
    return count >= kw["num_highlights"]


def multiple_sections(value: str, kw: dict[str, Any]) -> bool:
    """SectionChecker: at least ``num_sections`` splits on ``section_spliter`` followed by a number."""
    spliter = kw["section_spliter"].strip()
    sections = re.split(r"\s?" + spliter + r"\s?\d+\s?", value)
    return len(sections) - 1 >= kw["num_sections"]


def number_paragraphs(value: str, kw: dict[str, Any]) -> bool:
    """ParagraphChecker: exactly ``num_paragraphs`` paragraphs between ``***`` dividers, none empty inside."""
    paragraphs = re.split(r"\s?\*\*\*\s?", value)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index == 0 or index == len(paragraphs) - 1:
                count -= 1
            else:
                return False
    return count == kw["num_paragraphs"]


def postscript(value: str, kw: dict[str, Any]) -> bool:
    """PostscriptChecker: a line (case-insensitive) starting with the marker (P.S. / P.P.S spelt loosely)."""
    marker = kw["postscript_marker"].strip()
    value = value.lower()
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + marker.lower() + r".*$"
    return bool(re.findall(pattern, value, flags=re.MULTILINE))


def keyword_existence(value: str, kw: dict[str, Any]) -> bool:
    """KeywordChecker: every keyword found (case-insensitive regular-expression search)."""
    return all(re.search(keyword, value, flags=re.IGNORECASE) for keyword in sorted(kw["keywords"]))


def keyword_frequency(value: str, kw: dict[str, Any]) -> bool:
    """KeywordFrequencyChecker: occurrences of ``keyword`` (case-insensitive) ``relation`` ``frequency``."""
    found = len(re.findall(kw["keyword"].strip(), value, flags=re.IGNORECASE))
    return _compare(found, kw["relation"], kw["frequency"])


def number_words(value: str, kw: dict[str, Any]) -> bool:
    """NumberOfWords: ``\\w+`` tokens ``relation`` ``num_words``."""
    return _compare(text.count_words(value), kw["relation"], kw["num_words"])


def json_format(value: str, kw: dict[str, Any]) -> bool:
    """JsonFormat: the response, without a Markdown code fence, parses as JSON."""
    value = (value.strip().removeprefix("```json").removeprefix("```Json").removeprefix("```JSON")
             .removeprefix("```").removesuffix("```").strip())
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def nth_paragraph_first_word(value: str, kw: dict[str, Any]) -> bool:
    """ParagraphFirstWordCheck: ``num_paragraphs`` paragraphs split on a blank line; paragraph n starts with the word."""
    paragraphs = re.split(r"\n\n", value)
    count = len(paragraphs) - sum(1 for p in paragraphs if not p.strip())
    nth = kw["nth_paragraph"]
    if nth > count:
        return False
    paragraph = paragraphs[nth - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    first_word = ""
    for letter in word:
        if letter in {".", ",", "?", "!", "'", '"'}:
            break
        first_word += letter.lower()
    return count == kw["num_paragraphs"] and first_word == kw["first_word"].lower()


def forbidden_words(value: str, kw: dict[str, Any]) -> bool:
    """ForbiddenWords: no forbidden word as a whole word (case-insensitive)."""
    return not any(re.search(r"\b" + word + r"\b", value, flags=re.IGNORECASE)
                   for word in sorted(set(kw["forbidden_words"])))


def two_responses(value: str, kw: dict[str, Any]) -> bool:
    """TwoResponsesChecker: two different non-empty responses separated by ``******``."""
    valid = []
    parts = value.split("******")
    for index, part in enumerate(parts):
        if not part.strip():
            if index != 0 and index != len(parts) - 1:
                return False
        else:
            valid.append(part)
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


def repeat_prompt(value: str, kw: dict[str, Any]) -> bool:
    """RepeatPromptThenAnswer: starts (case-insensitive) with ``prompt_to_repeat``."""
    return value.strip().lower().startswith(kw["prompt_to_repeat"].strip().lower())


def end_checker(value: str, kw: dict[str, Any]) -> bool:
    """EndChecker: ends (case-insensitive, outer quotes ignored) with ``end_phrase``."""
    return value.strip().strip('"').lower().endswith(kw["end_phrase"].strip().lower())


def title(value: str, kw: dict[str, Any]) -> bool:
    """TitleChecker: a non-empty ``<<title>>`` on one line."""
    return any(found.lstrip("<").rstrip(">").strip() for found in re.findall(r"<<[^\n]+>>", value))


def letter_frequency(value: str, kw: dict[str, Any]) -> bool:
    """LetterFrequencyChecker: the (lower-cased) character's count ``let_relation`` ``let_frequency``.

    Any one character is counted literally (``#``, ``!``), as IFEval's latest code does.
    """
    letter = kw["letter"].strip().lower()
    return _compare(collections.Counter(value.lower())[letter], kw["let_relation"], kw["let_frequency"])


def english_capital(value: str, kw: dict[str, Any]) -> bool:
    """CapitalLettersEnglishChecker: all upper case and English (followed when no language is found)."""
    if not value.isupper():
        return False
    detected = text.detect_language(value)
    return detected is None or detected == "en"


def english_lowercase(value: str, kw: dict[str, Any]) -> bool:
    """LowercaseLettersEnglishChecker: all lower case and English (followed when no language is found)."""
    if not value.islower():
        return False
    detected = text.detect_language(value)
    return detected is None or detected == "en"


def no_comma(value: str, kw: dict[str, Any]) -> bool:
    """CommaChecker: no comma."""
    return not re.search(r"\,", value)


def capital_word_frequency(value: str, kw: dict[str, Any]) -> bool:
    """CapitalWordFrequencyChecker: ``nltk.word_tokenize`` words in upper case ``capital_relation`` the count."""
    capitals = sum(1 for word in text.word_tokenize(value) if word.isupper())
    return _compare(capitals, kw["capital_relation"], kw["capital_frequency"])


def quotation(value: str, kw: dict[str, Any]) -> bool:
    """QuotationChecker: wrapped in double quotation marks."""
    value = value.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'


VERIFIERS: dict[str, Check] = {
    "keywords:existence": keyword_existence,
    "keywords:frequency": keyword_frequency,
    "keywords:forbidden_words": forbidden_words,
    "keywords:letter_frequency": letter_frequency,
    "language:response_language": response_language,
    "length_constraints:number_sentences": number_sentences,
    "length_constraints:number_paragraphs": number_paragraphs,
    "length_constraints:number_words": number_words,
    "length_constraints:nth_paragraph_first_word": nth_paragraph_first_word,
    "detectable_content:number_placeholders": number_placeholders,
    "detectable_content:postscript": postscript,
    "detectable_format:number_bullet_lists": number_bullet_lists,
    "detectable_format:constrained_response": constrained_response,
    "detectable_format:number_highlighted_sections": number_highlighted_sections,
    "detectable_format:multiple_sections": multiple_sections,
    "detectable_format:json_format": json_format,
    "detectable_format:title": title,
    "combination:two_responses": two_responses,
    "combination:repeat_prompt": repeat_prompt,
    "startend:end_checker": end_checker,
    "change_case:capital_word_frequency": capital_word_frequency,
    "change_case:english_capital": english_capital,
    "change_case:english_lowercase": english_lowercase,
    "punctuation:no_comma": no_comma,
    "startend:quotation": quotation,
}


def follows_strict(type_id: str, arguments: dict[str, Any], response: str) -> bool:
    """IFEval strict: the response as given follows the instruction (an empty one follows nothing)."""
    return bool(response.strip()) and VERIFIERS[type_id](response, arguments)


def follows_loose(type_id: str, arguments: dict[str, Any], response: str) -> bool:
    """IFEval loose: some variant (without first/last line, without ``*``) is non-empty and follows it."""
    return any(variant.strip() and VERIFIERS[type_id](variant, arguments) for variant in text.loose_variants(response))
