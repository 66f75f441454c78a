"""JSON columns are written and read with msgspec, with the standard library's codec as the fallback."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from service.db import json_codec

VALUES = [
    {"a": 0.25, "b": 0.75}, {"calls": [{"order": "ab", "label": "1", "preference": 1.0, "turn": None}]},
    {"é": "ünïcödé ✓ \u2028 \x00 \n\t\"\\"}, [1.0, 0.1, 1e-7, 1e22, -0.0, 2**63, 10**30, -5, True, None],
    {"nested": {"deep": [[{"x": []}, {}]]}}, "text", 3, 0.5, None, {1: "int key"}, {"t": (1, 2)},
    {"np": np.float64(0.5)}, {True: "bool key"}, "lone \ud800 surrogate",
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_dumps_writes_the_value_json_dumps_writes(value):
    expected = json.loads(json.dumps(value))
    assert json.loads(json_codec.dumps(value)) == expected
    assert json_codec.loads(json_codec.dumps(value)) == expected


def test_non_finite_floats_become_null():
    assert json.loads(json_codec.dumps({"nan": math.nan, "inf": [math.inf, -math.inf]})) == {
        "nan": None, "inf": [None, None]}


def test_loads_reads_bytes_and_what_only_the_standard_library_reads():
    assert json_codec.loads(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    assert json_codec.loads('{"big": 123456789012345678901234}') == {"big": 123456789012345678901234}
    read = json_codec.loads('{"nan": NaN, "huge": 1e400}')
    assert math.isnan(read["nan"]) and read["huge"] == math.inf


def test_what_neither_encodes_still_raises():
    with pytest.raises(TypeError):
        json_codec.dumps({"x": object()})
