"""Submission validation: every problem named by a JSON pointer, limits named, nothing half-built."""

import pytest

from service.config import Limits, Settings
from service.errors import InvalidSubmission
from service.evaluations.schemas import EvaluationCreate
from service.evaluations.submission import pointer, prepare


def settings(**limits):
    return Settings(limits=Limits(**limits)) if limits else Settings()


def body(items, **fields):
    return EvaluationCreate(protocol="pairwise", judge="embedded", model="m", items=items, **fields)


def item(i, **extra):
    return {"id": f"i{i}", "prompt": "p", "response_a": "a", "response_b": "b", **extra}


@pytest.mark.parametrize("parts, expected", [(("items", 3, "id"), "/items/3/id"), (("a/b", "c~d"), "/a~1b/c~0d")])
def test_pointer(parts, expected):
    assert pointer(*parts) == expected


def test_rows_and_chunks():
    prepared = prepare(body([item(i) for i in range(5)], options={"chunk_size": 2}), settings())
    assert [(c["start"], c["stop"]) for c in prepared.chunks] == [(0, 2), (2, 4), (4, 5)]
    assert [r["position"] for r in prepared.items] == [0, 1, 2, 3, 4]
    assert prepared.evaluation["total"] == 5 and prepared.evaluation["status"] == "queued"
    assert prepared.evaluation["options"]["orders"] == "both"  # defaults are stored explicitly


def test_unicode_empty_and_control_characters_are_kept():
    odd = "naïve 🤖\x01\x1f\u200b" + "x" * 1000
    prepared = prepare(body([item(0, response_a=odd, response_b="")]), settings())
    assert prepared.items[0]["payload"]["response_a"] == odd and prepared.items[0]["payload"]["response_b"] == ""


@pytest.mark.parametrize(
    "items, limits, pointer_, text",
    [
        ([item(0), item(1, id="i0")], {}, "/items/1/id", "duplicate"),
        ([item(0, response_a="x" * 11)], {"max_field_chars": 10}, "/items/0/response_a", "max_field_chars=10"),
        ([item(i) for i in range(3)], {"max_items": 2}, "/items", "max_items=2"),
        ([item(0, conversation=[{"role": "robot", "content": "x"}])], {}, "/items/0/conversation/0/role", ""),
        ([item(0), item(1, reference="a\x00b")], {}, "/items/1/reference", "NUL"),
    ],
)
def test_problems_are_named(items, limits, pointer_, text):
    with pytest.raises(InvalidSubmission) as info:
        prepare(body(items), settings(**limits))
    matching = [e for e in info.value.errors if e["pointer"] == pointer_]
    assert matching and text in matching[0]["detail"]


def test_many_bad_items_report_at_most_a_hundred_errors():
    with pytest.raises(InvalidSubmission) as info:  # reading stops at the 100th problem, before the last item
        prepare(body([{"id": f"i{i}"} for i in range(150)]), settings())
    assert len(info.value.errors) == 100 and info.value.error_count >= 100 and info.value.stopped
    assert int(info.value.errors[-1]["pointer"].split("/")[2]) < 100
