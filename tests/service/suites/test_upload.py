"""Parsing suite uploads (JSON and JSONL): pure, no I/O."""

from __future__ import annotations

import json

import pytest

from service.errors import InvalidSubmission
from service.suites.upload import media_type, parse_json, parse_jsonl


def jsonl(*rows) -> bytes:
    return "\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows).encode()


def item(i: int, **extra) -> dict:
    return {"id": f"q{i}", "prompt": f"question {i}", **extra}


def errors_of(call) -> list[dict]:
    with pytest.raises(InvalidSubmission) as info:
        call()
    assert info.value.title == "Invalid suite"
    return info.value.errors


def test_good_jsonl_keeps_order_fields_and_header():
    body = jsonl(item(1, category="math", reference="4"),
                 {"id": "q2", "turns": ["first", "second"], "reference_turns": ["a", "b"]},
                 item(3, baseline_response="base", human_reference="human"))
    suite = parse_jsonl(body + b"\n", name="my-suite", description="d", baseline_model="gpt-4")
    assert (suite.name, suite.description, suite.baseline_model) == ("my-suite", "d", "gpt-4")
    assert [i.id for i in suite.items] == ["q1", "q2", "q3"]
    assert suite.items[0].category == "math" and suite.items[0].reference == "4"
    assert suite.items[1].prompt is None and suite.items[1].turns == ["first", "second"]
    assert suite.items[1].first_prompt == "first" and suite.items[0].first_prompt == "question 1"
    assert suite.items[2].baseline_response == "base" and suite.items[2].human_reference == "human"


def test_blank_lines_are_skipped_but_counted():
    body = jsonl("", item(1), "   ", "\r", item(2), "{bad json")
    errors = errors_of(lambda: parse_jsonl(body, name="s"))
    assert [(e["pointer"], e["line"]) for e in errors] == [("/lines/6", 6)]
    assert [i.id for i in parse_jsonl(jsonl("", item(1), "  ", item(2), ""), name="s").items] == ["q1", "q2"]


def test_crlf_and_byte_order_mark_are_accepted():
    body = b"\xef\xbb\xbf" + jsonl(item(1), item(2)).replace(b"\n", b"\r\n")
    assert [i.id for i in parse_jsonl(body, name="s").items] == ["q1", "q2"]


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([item(1), "{not json", item(3)], [("/lines/2", 2, "not valid JSON")]),
        ([item(1), "[1, 2]"], [("/lines/2", 2, "must be a JSON object")]),
        ([item(1), {"prompt": "no id"}], [("/lines/2/id", 2, "Field required")]),
        ([item(1), {"id": "q2"}], [("/lines/2/prompt", 2, "one of prompt or turns is required")]),
        ([item(1, turns=["t"])], [("/lines/1/turns", 1, "not both")]),
        ([item(1), item(2), item(1)], [("/lines/3/id", 3, "duplicate item id 'q1' (first on line 1)")]),
        ([item(1, colour="red")], [("/lines/1/colour", 1, "Extra inputs are not permitted")]),
        ([item(1, category="c" * 129)], [("/lines/1/category", 1, "at most 128")]),
        ([{"id": "q1", "turns": ["ok", 3]}], [("/lines/1/turns/1", 1, "valid string")]),
        ([item(1, prompt="nul\x00byte")], [("/lines/1/prompt", 1, "NUL")]),
        ([item(1), "{bad", {"id": ""}], [("/lines/2", 2, "not valid JSON"), ("/lines/3/id", 3, "at least 1")]),
    ],
    ids=["bad-json", "not-object", "missing-id", "neither", "both", "duplicate", "extra", "long-category",
         "bad-turn", "nul", "several"],
)
def test_bad_jsonl_lines_name_line_and_field(rows, expected):
    errors = errors_of(lambda: parse_jsonl(jsonl(*rows), name="s"))
    assert [(e["pointer"], e["line"]) for e in errors] == [(p, line) for p, line, _ in expected]
    for error, (_, _, fragment) in zip(errors, expected):
        assert fragment in error["detail"]


def test_jsonl_error_collection_stops_at_100():
    with pytest.raises(InvalidSubmission) as info:
        parse_jsonl(jsonl(*["{bad"] * 150), name="s")
    errors = info.value.errors
    assert len(errors) == 100 and errors[-1]["line"] == 100
    assert info.value.error_count == 100 and info.value.stopped


@pytest.mark.parametrize("body", [b"", b"\n\n  \n"])
def test_jsonl_without_items_is_refused(body):
    assert "no items" in errors_of(lambda: parse_jsonl(body, name="s"))[0]["detail"]


def test_jsonl_header_errors_name_the_parameter():
    errors = errors_of(lambda: parse_jsonl(jsonl(item(1)), name="-bad name", baseline_model="x" * 300))
    assert sorted(e["parameter"] for e in errors) == ["baseline_model", "name"]
    assert all(e["pointer"] is None for e in errors)


def test_jsonl_item_limit():
    errors = errors_of(lambda: parse_jsonl(jsonl(item(1), item(2), item(3)), name="s", max_items=2))
    assert [(e["pointer"], e["line"]) for e in errors] == [("/lines/3", 3)] and "max_items=2" in errors[0]["detail"]


def test_good_json_body():
    body = {"name": "s.v1_x", "baseline_model": "gpt-4", "items": [item(1), {"id": "q2", "turns": ["a", "b"]}]}
    suite = parse_json(json.dumps(body).encode())
    assert suite.name == "s.v1_x" and [i.id for i in suite.items] == ["q1", "q2"]


@pytest.mark.parametrize(
    "body, pointers",
    [
        (b'{"name": ', [""]),
        (b"[1]", [""]),
        ({"items": [item(1)]}, ["/name"]),
        ({"name": "_x", "items": [item(1)]}, ["/name"]),
        ({"name": "s", "items": []}, ["/items"]),
        ({"name": "s", "items": [item(1), {"id": "q2"}]}, ["/items/1/prompt"]),
        ({"name": "s", "items": [item(1), item(2), item(1)]}, ["/items/2/id"]),
        ({"name": "s", "items": [item(1), item(1), {"id": "x"}]}, ["/items/2/prompt", "/items/1/id"]),
        ({"name": "s", "version": 3, "items": [item(1)]}, ["/version"]),
    ],
    ids=["bad-json", "not-object", "no-name", "bad-name", "no-items", "neither", "duplicate", "both-kinds",
         "extra"],
)
def test_bad_json_body_names_the_field(body, pointers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    assert [e["pointer"] for e in errors_of(lambda: parse_json(raw))] == pointers


def test_json_item_limit():
    raw = json.dumps({"name": "s", "items": [item(1), item(2)]}).encode()
    assert errors_of(lambda: parse_json(raw, max_items=1))[0]["pointer"] == "/items"


@pytest.mark.parametrize(
    "header, expected",
    [(None, "application/json"), ("application/json; charset=utf-8", "application/json"),
     ("application/problem+json", "application/json"), ("Application/X-NDJSON", "application/x-ndjson"),
     ("application/jsonl", "application/jsonl"), ("text/plain", "text/plain")],
)
def test_media_type(header, expected):
    assert media_type(header) == expected
