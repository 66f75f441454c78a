"""Reading an upload's lines and records: pure, no I/O beyond an in-memory file."""

from __future__ import annotations

import io
import json

import pytest

from service.config import Limits, Settings
from service.evaluations.items import Problem
from service.evaluations.upload import UploadHeader, lines, parsed_line, records

BOM = b"\xef\xbb\xbf"


def read(body: bytes, max_line_bytes: int) -> list[tuple[int, bytes | None]]:
    return list(lines(io.BytesIO(body), max_line_bytes))


def test_a_line_at_the_limit_after_a_byte_order_mark_is_read_whole():
    line = b'{"id": "' + b"x" * 20 + b'"}'  # 30 bytes: at the limit; the mark is not part of the line
    assert read(BOM + line + b"\n" + b'{"id": 2}\n', 30) == [(1, line + b"\n"), (2, b'{"id": 2}\n')]
    assert read(BOM + line, 30) == [(1, line)]


@pytest.mark.parametrize("body", [b"x" * 31 + b"\n{}\n", BOM + b"x" * 31 + b"\n{}\n", b"x" * 31 + b"\n\n{}\n",
                                  b"x" * 100 + b"\n{}\n", BOM + b"x" * 100 + b"\n{}\n"])
def test_a_line_over_the_limit_is_one_line_and_the_next_keeps_its_number(body):
    numbers = [number for number, _ in read(body, 30)]
    assert read(body, 30)[0] == (1, None) and numbers[-1] == body.removeprefix(BOM).count(b"\n")


def test_the_limit_counts_the_line_without_its_newline():
    assert read(b"x" * 30 + b"\n" + b"y" * 30, 30) == [(1, b"x" * 30 + b"\n"), (2, b"y" * 30)]
    assert read(b"x" * 29 + b"\r\n", 30) == [(1, b"x" * 29 + b"\r\n")]


@pytest.mark.parametrize("line, column", [
    (b'{"id": "x", "prompt": ', 23),  # truncated before its newline: the column just past its end
    (b'{"id": "x", "prompt": \n', 23),  # the same with its newline (json alone says "line 2 column 1")
    (b'{"id": "x", "prompt": \r\n', 23),
    (b'{"id": "\xc3\xa9\xc3\xa9', 8),  # the unterminated string starts there
    (b'{"id": "\xc3\xa9\xc3', 10),  # cut inside a character: columns count characters, from 1
    (b'{"a": 1}}\n', 9),
])
def test_a_bad_line_names_its_real_column(line, column):
    problem = parsed_line(4, line)
    assert isinstance(problem, Problem) and problem.detail.startswith("line 4 is not valid JSON (")
    assert problem.detail.endswith(f" at column {column})"), problem.detail
    assert "line 1" not in problem.detail


def test_records_point_at_lines_and_keep_a_json_string_an_item_to_validate():
    body = b'{"id": "a"}\n\n"just text"\n{oops\n' + b"z" * 50 + b"\n"
    header = UploadHeader(protocol="pairwise", judge="j")
    settings = Settings(limits=Limits(max_line_bytes=40))
    found = list(records(header, io.BytesIO(body), settings, None))
    assert [where for where, _ in found] == [("lines", 1), ("lines", 3), ("lines", 4), ("lines", 5)]
    assert found[0][1] == {"id": "a"} and found[1][1] == "just text"  # the intake says it is not an object
    assert isinstance(found[2][1], Problem) and "at column 2" in found[2][1].detail
    assert found[3][1] == Problem("line 5 is longer than limit max_line_bytes=40")


def test_fastchat_and_alpacaeval_problems_are_problems_not_items():
    header = UploadHeader(protocol="pairwise", judge="j", format="fastchat", suite="s")
    found = list(records(header, io.BytesIO(b'{"model_id": "m"}\n'), Settings(), None))
    assert found == [(("lines", 1), Problem("a FastChat answer needs 'question_id' and 'choices'"))]
    header = UploadHeader(protocol="pairwise", judge="j", format="alpacaeval", suite="s")
    found = list(records(header, io.BytesIO(json.dumps([{"instruction": "i"}]).encode()), Settings(), None))
    assert found == [(("records", 0), Problem("needs string fields 'instruction' and 'output'"))]
