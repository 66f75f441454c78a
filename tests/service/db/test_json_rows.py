"""The JSON-rows form of a Postgres bulk write stores exactly what the array form stores, and leaves to the array
form every row it cannot send as it is."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest
from sqlalchemy import Boolean, Column, Float, Integer, MetaData, String, Table, select, text

from service.db import json_rows
from service.db.engine import session_scope
from service.evaluations import repository as repo
from service.models import Judgment
from tests.service.db.test_bulk_writes import judgment, new_evaluation

TRICKY = [
    {"latency_ms": 0.1, "raw_output": "plain"},
    {"latency_ms": 0.30000000000000004, "raw_output": 'quotes " and \\\\ backslashes\\n and a newline\n'},
    {"latency_ms": 5e-324, "raw_output": "émoji 🎉, CJK 漢字, RTL שלום"},
    {"latency_ms": 1.7976931348623157e308, "raw_output": ""},
    {"latency_ms": -0.0, "label": None, "label_probs": None, "rationale": "why\ttab"},
    {"latency_ms": 123456789.123456789, "label_probs": {"a": 1 / 3, "b": 2 / 3, "nested": [1, {"x": None}]}},
    {"latency_ms": None, "prompt_tokens": 2**31 - 1, "cached": True, "error": "boom", "label": "b"},
    {"verdict_top_logprobs": {"A": -0.1, "B": -1e-320}, "cache_key": "k" * 64},
]


def rows_of(evaluation_id, ids):
    """The tricky rows as judgment rows with the same columns each (one statement takes rows of one shape)."""
    return [judgment(evaluation_id, i, verdict_top_logprobs=None, cache_key=None) | changes
            for i, changes in zip(ids, TRICKY)]


def stored_rows(url, evaluation_id):
    """Every stored column but ids, times and the evaluation; and which JSON values are SQL NULL."""
    columns = [c for c in Judgment.__table__.columns if c.name not in ("id", "item_id", "created_at", "evaluation_id")]
    with session_scope(url) as session:
        rows = session.execute(select(*columns).where(Judgment.evaluation_id == evaluation_id)
                               .order_by(Judgment.item_id)).all()
        json_nulls = session.execute(text("SELECT label_probs IS NULL, verdict_top_logprobs IS NULL FROM judgments "
                                          "WHERE evaluation_id = :e ORDER BY item_id"), {"e": evaluation_id}).all()
        latency = session.scalars(select(Judgment.latency_ms).where(Judgment.evaluation_id == evaluation_id)
                                  .order_by(Judgment.item_id)).all()
    return [tuple(row) for row in rows], [tuple(row) for row in json_nulls], latency


def test_the_json_form_stores_what_the_array_form_stores(clean_pg, monkeypatch):
    sent = []
    real = json_rows.parameters
    monkeypatch.setattr(json_rows, "parameters", lambda form, rows: sent.append(form.sql) or real(form, rows))
    by_json, ids = new_evaluation(clean_pg, len(TRICKY))
    with session_scope(clean_pg) as session:
        repo.add_judgments(session, rows_of(by_json, ids))
    assert len(sent) == 1 and "json_to_recordset" in sent[0]
    monkeypatch.setattr(json_rows, "parameters", lambda form, rows: None)  # the array form
    by_arrays, ids = new_evaluation(clean_pg, len(TRICKY))
    with session_scope(clean_pg) as session:
        repo.add_judgments(session, rows_of(by_arrays, ids))
    (json_stored, json_nulls, latency), (arrays_stored, arrays_nulls, _) = (
        stored_rows(clean_pg, by_json), stored_rows(clean_pg, by_arrays))
    assert json_stored == arrays_stored
    assert json_nulls == arrays_nulls == [(False, False)] * len(TRICKY)  # a None in a JSON column is JSON null
    expected = [0.0 if c.get("latency_ms", 0) is None else c.get("latency_ms", 0) for c in TRICKY]
    assert latency == expected  # bit for bit: 5e-324, the largest double, 0.1 + 0.2 (None: the Python default)
    assert [math.copysign(1, x) for x in latency] == [math.copysign(1, x) for x in expected]  # -0.0 too


METADATA = MetaData()
THINGS = Table("things", METADATA, Column("id", Integer, primary_key=True), Column("n", Integer),
               Column("x", Float), Column("flag", Boolean), Column("name", String(10)),
               Column("kind", String(10), server_default="plain"), Column("at", String(40), default="then"))


@pytest.mark.parametrize("row, takes_json", [
    ({"n": 1, "x": 1.5, "flag": True, "name": "a", "kind": "k"}, True),
    ({"n": None, "x": 2, "flag": None, "name": None, "kind": "k"}, True),  # an int in a float column is a number
    ({"n": True, "x": 1.5, "flag": True, "name": "a", "kind": "k"}, False),  # a bool in an int column: converted
    ({"n": 1.0, "x": 1.5, "flag": True, "name": "a", "kind": "k"}, False),
    ({"n": 1, "x": 1.5, "flag": 1, "name": "a", "kind": "k"}, False),
    ({"n": np.int64(1), "x": 1.5, "flag": True, "name": "a", "kind": "k"}, False),
    ({"n": 1, "x": np.float64(1.5), "flag": True, "name": "a", "kind": "k"}, False),
    ({"n": 1, "x": float("nan"), "flag": True, "name": "a", "kind": "k"}, False),  # JSON has no NaN
    ({"n": 1, "x": float("inf"), "flag": True, "name": "a", "kind": "k"}, False),
    ({"n": 1, "x": 1.5, "flag": True, "name": "a", "kind": None}, False),  # only a server default: left to it
    ({"n": 1, "x": 1.5, "flag": True, "name": "\\ud800", "kind": "k"}, True),
    ({"n": 1, "x": 1.5, "flag": True, "name": "\ud800", "kind": "k"}, False),  # a lone surrogate: not encodable
    ({"n": 1, "x": 1.5, "flag": True, "name": datetime(2026, 1, 1, tzinfo=timezone.utc), "kind": "k"}, False),
    ({"n": 1, "x": 1.5, "flag": True, "name": b"bytes", "kind": "k"}, False),
])
def test_which_rows_the_json_form_takes(row, takes_json):
    form = json_rows.statement(THINGS, list(row), ["at"], "ON CONFLICT (id) DO NOTHING")
    params = json_rows.parameters(form, [row])
    assert (params is not None) is takes_json
    if takes_json:
        assert params["d0"] == "then" and "COALESCE(r.kind" not in form.sql and "%(d0)s::VARCHAR(40)" in form.sql


def test_a_left_out_json_column_with_a_python_default_goes_to_the_array_form():
    from sqlalchemy import JSON

    table = Table("docs", MetaData(), Column("id", Integer, primary_key=True), Column("doc", JSON, default=dict))
    form = json_rows.statement(table, ["id"], ["doc"], "ON CONFLICT (id) DO NOTHING")
    assert json_rows.parameters(form, [{"id": 1}]) is None
