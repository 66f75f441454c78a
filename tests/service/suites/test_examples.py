"""The bundled example suites: MT-Bench and Vicuna bench, with their licences."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from service.suites.examples import EXAMPLE_SUITES, mt_bench, suite_files, vicuna_bench

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def test_mt_bench_has_80_two_turn_items_in_8_categories():
    suite = mt_bench()
    assert suite.name == "mt-bench" and len(suite.items) == 80
    assert Counter(i.category for i in suite.items) == {c: 10 for c in (
        "writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")}
    assert all(i.prompt is None and len(i.turns) == 2 for i in suite.items)
    assert suite.items[0].id == "mt-bench-81" and suite.items[0].first_prompt.startswith("Compose an engaging")
    assert "FastChat" in suite.description and "Apache-2.0" in suite.description
    assert all(i.baseline_response is None and i.human_reference is None for i in suite.items)


def test_mt_bench_references_attach_to_the_30_questions_that_have_them():
    with_refs = {i.id: i.reference_turns for i in mt_bench().items if i.reference_turns}
    assert sorted(with_refs) == sorted(f"mt-bench-{n}" for n in range(101, 131))
    assert all(len(turns) == 2 for turns in with_refs.values())
    assert with_refs["mt-bench-101"][0].startswith("If you have just overtaken the second person")
    categories = {i.category for i in mt_bench().items if i.reference_turns}
    assert categories == {"math", "reasoning", "coding"}


def test_vicuna_bench_has_80_single_prompt_items():
    suite = vicuna_bench()
    assert suite.name == "vicuna-bench" and len(suite.items) == 80
    assert all(i.turns is None and i.prompt for i in suite.items)
    assert suite.items[0].id == "vicuna-bench-1"
    assert suite.items[0].prompt == "How can I improve my time management skills?"
    assert len({i.category for i in suite.items}) == 9
    assert len({i.id for i in suite.items}) == 80


def test_licence_files_ship_beside_the_data():
    for name in EXAMPLE_SUITES:
        licence = suite_files(name).joinpath("LICENSE").read_text(encoding="utf-8")
        assert "Apache License" in licence and "Version 2.0" in licence


def test_bundled_copies_match_the_shared_data():
    files = {"mt-bench": ("question.jsonl", "reference_answer.jsonl", "LICENSE"),
             "vicuna-bench": ("question.jsonl", "LICENSE")}
    for name, filenames in files.items():
        for filename in filenames:
            bundled = suite_files(name).joinpath(filename).read_bytes()
            shared = SHARED / name / filename
            if shared.exists():
                assert bundled == shared.read_bytes(), f"{name}/{filename} differs from ../shared/data"
            if filename.endswith(".jsonl"):
                assert all(json.loads(line) for line in bundled.decode().splitlines())
