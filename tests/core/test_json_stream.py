"""Reading a JSON object field by field with one array streamed element by element."""

from __future__ import annotations

import pytest

from service.core.json_stream import ARRAY, JSONProblem, TooLarge, fields


def read(text: str, streamed: str = "items", **limits) -> list:
    return list(fields(text, streamed, **limits))


@pytest.mark.parametrize("text, expected", [
    ('{}', []),
    (' { "a" : 1 , "items" : [ ] } ', [("a", None, 1), ("items", None, ARRAY)]),
    ('{"items": [1, {"b": [2]}, "x"], "z": null}', [("items", None, ARRAY), ("items", 0, 1), ("items", 1, {"b": [2]}),
                                                    ("items", 2, "x"), ("z", None, None)]),
    ('{"items": {"not": "an array"}}', [("items", None, {"not": "an array"})]),
    ('{"other": [1, 2]}', [("other", None, [1, 2])]),
    ('\n{"items":[\n1\n]}\n', [("items", None, ARRAY), ("items", 0, 1)]),
])
def test_fields_and_streamed_elements(text, expected):
    assert read(text) == expected


@pytest.mark.parametrize("text, parts, message", [
    ("[1]", (), "the body must be a JSON object, not an array"),
    ('"x"', (), "the body must be a JSON object, not a string"),
    ('{"a": 1', ("a",), "Expecting ',' delimiter at line 1 column 8"),
    ('{"a" 1}', ("a",), "Expecting ':' delimiter at line 1 column 6"),
    ('{a: 1}', (), "Expecting property name enclosed in double quotes at line 1 column 2"),
    ('{"items": [1, 2 3]}', ("items", 1), "Expecting ',' delimiter at line 1 column 17"),
    ('{"items": [1,]}', ("items", 1), "Expecting value at line 1 column 14"),
    ('{"items": [1, {"a": }]}', ("items", 1), "Expecting value at line 1 column 21"),
    ('{} {}', (), "Extra data at line 1 column 4"),
    ("", (), "Expecting value at line 1 column 1"),
])
def test_problems_name_where_the_text_stops_being_an_object(text, parts, message):
    with pytest.raises(JSONProblem) as info:
        read(text)
    assert (info.value.parts, info.value.detail) == (parts, message)


def test_elements_are_read_one_at_a_time():
    text = '{"items": [1, 2, oops]}'
    reader = fields(text, "items")
    assert next(reader) == ("items", None, ARRAY)
    assert next(reader) == ("items", 0, 1) and next(reader) == ("items", 1, 2)  # the bad third is not read yet
    with pytest.raises(JSONProblem):
        next(reader)


def test_fields_are_built_whole_only_up_to_a_number_of_values():
    small = '{"options": {"a": [1, 2, {"b": null}], "c": "d"}, "items": []}'
    assert read(small, "items")[0] == ("options", None, {"a": [1, 2, {"b": None}], "c": "d"})
    with pytest.raises(TooLarge) as info:
        read('{"options": {"a": [' + "[], " * 50 + "[]]}}", "items", max_values=40)
    assert info.value.parts == ("options",) and "max_field_values" in info.value.detail
    with pytest.raises(JSONProblem) as info:
        read('{"options": {"a": [1 2]}}')
    assert info.value.detail == "Expecting ',' delimiter at line 1 column 22"
