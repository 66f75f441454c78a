"""The CLI's check of a JSONL file before anything is sent: a bad line is named with its real column."""

from __future__ import annotations

import pytest

from service.cli.input_file import open_input


@pytest.mark.parametrize(("content", "line", "column"), [
    (b'{"id": "q1", "response": "ok"}\n{"id": "q2", "respo\n', 2, 14),   # cut short, then its line break
    (b'{"id": "q1", "response": "ok"}\r\n{"id": "q2",\r\n', 2, 13),      # the same with CRLF
    (b'{"id": "q1", "response": "ok"}\n{"id": "q2", "respo', 2, 14),     # cut short at the end of the file
    (b'{"id": "q1" "response": "ok"}\n', 1, 13),                          # a missing comma in a whole line
])
def test_a_line_that_is_not_json_is_named_with_its_own_column(tmp_path, content, line, column):
    path = tmp_path / "items.jsonl"
    path.write_bytes(content)
    checked = open_input(path, "items")
    assert checked.n_problems == 1
    number, message = checked.problems[0]
    assert number == line and message.endswith(f"at column {column})"), message
