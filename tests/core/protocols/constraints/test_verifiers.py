"""IFEval's checks, strict and loose, one table per instruction type (cases from IFEval's instructions_test.py
where it has them), and the ported checks against the reference implementation on 1,082 written responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.core.protocols.constraints.catalog import INSTRUCTIONS, checked_arguments
from service.core.protocols.constraints.verifiers import VERIFIERS, follows_loose, follows_strict
from tests.core.protocols.constraints import ifeval_responses

LT, AL = "less than", "at least"
BULLETS_1 = """
  A Markdown bullet point is a way of formatting text to create a list. To
  create a bullet point, start each line with an asterisk (*). For example:
  * This is a bullet point.
  *(no space required)Another bullet point.
  * (no newline ending required)Another bullet point.
  markdown bullet points are often used to create to-do lists or to list items
  in a step-by-step guide."""
BULLETS_4 = """
  Here are three markdown bullets:
  - I am a large language model, also known as a conversational AI.
  - I am trained on a massive amount of text data, and I am able to communicate.
  -I am still under development, but I am learning new things every day."""
HIGHLIGHTED_2 = """
  Sure, here are the numerical methods for solving partial differential
  equations highlighted with Markdown:
  *Finite difference methods
  *Finite element methods*
  *Boundary element methods
  *Monte Carlo methods
  I hope this helps!"""
HIGHLIGHTED_3 = """
  There is allowed to be *two different* highlighted *sections in the same*
  line. **This is also true** for **double markdown highlights.**
  """
SECTIONS_1 = """
  Your response must have multiple sections. Mark the beginning of each section
  with "Section X", such as:
  Section 1
  [content of section 1]
  Section 2
  [content of section 2]"""
SECTIONS_2 = """SECTION 1
  [content of section 1]
  SECTION 2
  [content of section 2]"""
PARAGRAPHS_2 = """
          ***
  paragraph 1
          ***
      paragraph 2
          ***
      paragraph 3"""
PARAGRAPHS_4 = """
  paragraph 1
          ***
      paragraph 2
          ***
          ***"""
POSTSCRIPT_5 = """
  The mysteries of space and time are mysterious.
  P. S. Sometimes there are even spaces between P. and S..
  """

# (type, arguments, response, strict, loose)
CASES = [
    ("language:response_language", {"language": "en"}, "The response is English", True, True),
    ("language:response_language", {"language": "es"}, "Desayunamos en McDonald's hoy", True, True),
    ("language:response_language", {"language": "de"}, "This answer is written in English only.", False, False),
    ("language:response_language", {"language": "de"}, "12345 67890", True, True),  # no language found: followed
    ("length_constraints:number_sentences", {"relation": LT, "num_sentences": 4}, "xx,x. xx,x! xx/x. x{x}x?",
     False, False),
    ("length_constraints:number_sentences", {"relation": LT, "num_sentences": 5}, "xxxx. xx,x! xxxx. x(x)x?",
     True, True),
    ("length_constraints:number_sentences", {"relation": AL, "num_sentences": 4}, "xxxx. xx,x! xx|x. x&x x?",
     True, True),
    ("length_constraints:number_sentences", {"relation": AL, "num_sentences": 5}, "xx-x. xx,x! xx}x. x,xx?",
     False, False),
    ("length_constraints:number_sentences", {"relation": LT, "num_sentences": 2}, "Intro line.\nOne sentence.",
     False, True),  # loose drops the first line
    ("detectable_content:number_placeholders", {"num_placeholders": 5},
     "Sure, here is a template:\n[Name]\n[Email]\n[Phone]\n[Address]\n[Website]\nUse it.", True, True),
    ("detectable_content:number_placeholders", {"num_placeholders": 7},
     "My [adjective] [noun] is [adjective] [noun]. I [verb] and [verb].", False, False),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, BULLETS_1, True, True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}, BULLETS_4, True, True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* a\n* b\n* c", False, True),  # without a line
    ("detectable_format:constrained_response", {}, "\n My answer is no.\n", True, True),
    ("detectable_format:constrained_response", {}, "My answer is perhaps.", False, False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, HIGHLIGHTED_2, False, False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 4}, HIGHLIGHTED_3, True, True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 1}, "no stars **  ** here", False, False),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 3}, SECTIONS_1,
     False, False),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2}, SECTIONS_2,
     True, True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3}, PARAGRAPHS_2, True, True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, PARAGRAPHS_4, False, True),  # without the last line
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "Title\none\n***\ntwo\n***\nthree", False,
     True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello.\n\nP.S. I hope this helps.", True,
     True),
    ("detectable_content:postscript", {"postscript_marker": "PS:"}, "Hello.\n\nP.S. I hope this helps.", False,
     False),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "one is one.\np.p.s lower case?", True, True),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, POSTSCRIPT_5, True, True),
    ("keywords:existence", {"keywords": ["apple", "Pie"]}, "An APPLE pie.", True, True),
    ("keywords:existence", {"keywords": ["apple", "tart"]}, "An apple pie.", False, False),
    ("keywords:frequency", {"keyword": "dog", "frequency": 2, "relation": AL}, "Dog and dogs.", True, True),
    ("keywords:frequency", {"keyword": "dog", "frequency": 2, "relation": LT}, "Dog and dogs.", False, False),
    ("length_constraints:number_words", {"num_words": 5, "relation": LT}, "one two three four", True, True),
    ("length_constraints:number_words", {"num_words": 5, "relation": AL}, "it's a well-known fact", True, True),
    ("length_constraints:number_words", {"num_words": 5, "relation": AL}, "one two three", False, False),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', True, True),
    ("detectable_format:json_format", {}, 'Here it is:\n{"a": 1}', False, True),
    ("detectable_format:json_format", {}, "{not json}", False, False),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Then"},
     "First part.\n\n\"Then, second part.", True, True),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
     "First part.\n\nAnd second part.", False, False),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "one"},
     "One.\n\nTwo.\n\nThree.", False, True),
    ("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "A category of dogs.", True, True),
    ("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "A Cat sat.", False, False),
    ("combination:two_responses", {}, "first\n******\nsecond", True, True),
    ("combination:two_responses", {}, "same\n******\nsame ", False, False),
    ("combination:two_responses", {}, "a\n******\n\n******\nb", False, False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "write a POEM. Roses are red.", True, True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "Sure!\nWrite a poem. Here.", False, True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, 'Text. "any other questions?"', True, True),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Any other questions?\nBye.", False, True),
    ("detectable_format:title", {}, "<<poem of joy>>\nLa la.", True, True),
    ("detectable_format:title", {}, "<<  >> and <<\n>>", False, False),
    ("keywords:letter_frequency", {"letter": "A", "let_frequency": 3, "let_relation": AL}, "a banana", True, True),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 1, "let_relation": LT}, "a banana", True, True),
    ("keywords:letter_frequency", {"letter": "#", "let_frequency": 2, "let_relation": AL}, "# one\n# two", True,
     True),
    ("keywords:letter_frequency", {"letter": "!", "let_frequency": 2, "let_relation": LT}, "Wow! Yes!", False,
     False),
    ("change_case:english_capital", {}, "THIS IS AN ANSWER IN ENGLISH.", False, False),  # langdetect: not "en"
    ("change_case:english_capital", {}, "THE WEATHER IS NICE TODAY AND WE WILL GO TO THE PARK WITH OUR FRIENDS.", True,
     True),
    ("change_case:english_capital", {}, "THIS IS NOT all capitals.", False, False),
    ("change_case:english_capital", {}, "Sure:\nTHE WEATHER IS NICE TODAY AND WE WILL GO TO THE PARK WITH OUR FRIENDS.",
     False, True),
    ("change_case:english_lowercase", {}, "this is an answer in english.", True, True),
    ("change_case:english_lowercase", {}, "das ist eine antwort auf deutsch und nicht englisch.", False, False),
    ("punctuation:no_comma", {}, "No commas here.", True, True),
    ("punctuation:no_comma", {}, "Well, no.", False, False),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": AL}, "THE END IS near.",
     True, True),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": LT}, "THE END IS near.",
     False, False),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": AL}, "WELL-KNOWN fact.",
     False, False),  # a hyphenated word is one word
    ("startend:quotation", {}, ' "quoted" ', True, True),
    ("startend:quotation", {}, '"', False, False),
    ("startend:quotation", {}, 'Here:\n"quoted"', False, True),
]


def test_every_ifeval_type_has_a_verifier_and_cases():
    assert set(VERIFIERS) == set(INSTRUCTIONS) and len(VERIFIERS) == 25
    assert {case[0] for case in CASES} == set(INSTRUCTIONS)


@pytest.mark.parametrize(("type_id", "arguments", "response", "strict", "loose"), CASES)
def test_strict_and_loose(type_id, arguments, response, strict, loose):
    arguments = checked_arguments(type_id, arguments)
    assert follows_strict(type_id, arguments, response) is strict
    assert follows_loose(type_id, arguments, response) is loose


@pytest.mark.parametrize("type_id", sorted(INSTRUCTIONS))
def test_an_empty_response_follows_nothing(type_id):
    prompt = next(p for p in ifeval_responses.load_prompts() if type_id in p["instruction_id_list"])
    arguments = checked_arguments(type_id, prompt["kwargs"][prompt["instruction_id_list"].index(type_id)])
    assert not follows_strict(type_id, arguments, "  \n ") and not follows_loose(type_id, arguments, "")


def test_a_letter_that_is_not_a_to_z_is_counted_literally_every_time():
    """IFEval keys 1122 ('#') and 1129 ('!'): the same answer on every run (the old code drew a random letter)."""
    prompts = {p["key"]: p for p in ifeval_responses.load_prompts()}
    for key, letter in ((1122, "#"), (1129, "!")):
        index = prompts[key]["instruction_id_list"].index("keywords:letter_frequency")
        arguments = checked_arguments("keywords:letter_frequency", prompts[key]["kwargs"][index])
        assert arguments["letter"] == letter
        enough = f"{letter} " * (arguments["let_frequency"] + 1)
        few = f"{letter} " * max(arguments["let_frequency"] - 1, 0) + "plain words"
        at_least = arguments["let_relation"] == "at least"
        for _ in range(20):
            assert follows_strict("keywords:letter_frequency", arguments, enough) is at_least
            assert follows_strict("keywords:letter_frequency", arguments, few) is not at_least


def test_the_port_agrees_with_the_reference_implementation_on_written_responses():
    """ifeval_reference.json: IFEval's checks as published (lm-eval-harness 0.4.13's copy of google-research's
    instructions.py with the current letter rule, NLTK 3.10.4 and this English punkt_tab model), strict and loose,
    on the 541 prompts' written responses at follow rates 0.7 and 0.3 (1,668 instructions; see make_reference.py)."""
    reference = json.loads((Path(__file__).parent / "ifeval_reference.json").read_text(encoding="utf-8"))
    prompts = {p["key"]: p for p in ifeval_responses.load_prompts()}
    disagreements, checked = [], 0
    for row in reference:
        prompt = prompts[row["key"]]
        response = ifeval_responses.write_response(prompt, row["follow_rate"])
        for index, (type_id, kwargs) in enumerate(zip(prompt["instruction_id_list"], prompt["kwargs"])):
            arguments = checked_arguments(type_id, kwargs)
            ours = (follows_strict(type_id, arguments, response), follows_loose(type_id, arguments, response))
            checked += 1
            if ours != (row["strict"][index], row["loose"][index]):
                disagreements.append((row["key"], type_id, ours))
    assert checked == 1668 and not disagreements
    # the written responses exercise both outcomes
    strict = [s for row in reference for s in row["strict"]]
    assert 0.2 < sum(strict) / len(strict) < 0.8
