"""The item intake every submission goes through: validation, batches, repeated ids, limits; pure, no I/O."""

from __future__ import annotations

import pytest

from service.config import Limits
from service.core.protocol import get_protocol
from service.errors import InvalidSubmission
from service.evaluations.items import BATCH, ItemIntake, Problem

PROTOCOL = get_protocol("pairwise")


def item(i, **extra) -> dict:
    return {"id": f"i{i}", "prompt": "p", "response_a": "a", "response_b": "b", **extra}


class Store:
    """A sink keeping what it was given, finding repeated ids like the database's unique index does."""

    def __init__(self):
        self.batches: list[tuple[int, list[str]]] = []
        self.first: dict[str, int] = {}

    def __call__(self, items, first_position):
        self.batches.append((first_position, [i.id for i in items]))
        repeated = {}
        for position, found in enumerate(items, first_position):
            if found.id in self.first:
                repeated[found.id] = self.first[found.id]
            self.first.setdefault(found.id, position)
        return repeated


def intake(store, remember_ids=False, **limits) -> ItemIntake:
    return ItemIntake(PROTOCOL, PROTOCOL.options_model(), None, Limits(**limits), store, remember_ids)


def problems(records, remember_ids=False, title=None, **limits) -> InvalidSubmission:
    taking = intake(Store(), remember_ids, **limits)
    taking.feed(records)
    with pytest.raises(InvalidSubmission) as info:
        taking.finish(title)
    return info.value


def test_items_reach_the_sink_in_batches_numbered_in_order():
    store = Store()
    taking = intake(store)
    taking.feed((("lines", i + 1), item(i)) for i in range(BATCH * 2 + 5))
    assert taking.finish() == BATCH * 2 + 5
    assert [(start, len(ids)) for start, ids in store.batches] == [(0, BATCH), (BATCH, BATCH), (2 * BATCH, 5)]


def test_a_repeated_id_is_named_by_the_sink_or_by_memory():
    records = [(("lines", 1), item(1)), (("lines", 2), item(2)), (("lines", 3), item(1))]
    error, = problems(records).errors
    assert error == {"pointer": "/lines/3/id", "detail": "duplicate item id 'i1' (first as item 1)", "line": 3}
    error, = problems([(("items", n - 1), raw) for (_, n), raw in records], remember_ids=True).errors
    assert error == {"pointer": "/items/2/id", "detail": "duplicate item id 'i1' (first at /items/0)"}


def test_problems_and_invalid_items_are_listed_in_order_with_their_lines():
    records = [(("lines", 1), Problem("line 1 is not valid JSON")), (("lines", 2), "text"),
               (("lines", 3), item(3, response_b=None)), (("lines", 4), item(4))]
    found = problems(records, title="Invalid upload")
    assert found.title == "Invalid upload"
    assert [(e["pointer"], e["line"]) for e in found.errors] == [("/lines/1", 1), ("/lines/2", 2),
                                                                ("/lines/3/response_b", 3)]
    assert "JSON object, not str" in found.errors[1]["detail"]


def test_limits_stop_the_intake():
    found = problems(((("lines", i + 1), item(i)) for i in range(10)), max_items=3)
    assert found.errors == [{"pointer": "/lines/4", "detail": "too many items: more than limit max_items=3",
                             "line": 4}]
    found = problems(((("lines", i + 1), item(i, response_a="x" * 11)) for i in range(150)), max_field_chars=10)
    assert len(found.errors) == 100 and found.errors[-1]["line"] == 100
    assert found.error_count == 100 and found.stopped  # reading stopped: the other 50 lines were not read
    found = problems(((("lines", i + 1), item(i, response_a="x" * 11)) for i in range(100)), max_field_chars=10)
    assert found.error_count == 100 and not found.stopped


def test_nothing_at_all_is_a_problem():
    assert problems([]).errors == [{"pointer": "", "detail": "the upload has no items"}]
