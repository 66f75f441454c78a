"""The bundled example suites: MT-Bench and Vicuna bench questions (lm-sys/FastChat, Apache-2.0)."""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Callable

from service.suites.schemas import SuiteCreate, SuiteItemIn

SOURCE = "lm-sys/FastChat"


def suite_files(name: str) -> Traversable:
    """The folder holding an example suite's data and LICENSE."""
    return resources.files("service.examples").joinpath("suites", name)


def _jsonl(name: str, filename: str) -> list[dict]:
    text = suite_files(name).joinpath(filename).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def mt_bench() -> SuiteCreate:
    """MT-Bench: 80 two-turn questions in 8 categories, GPT-4 reference answers for 30 of them."""
    references = {row["question_id"]: row["choices"][0]["turns"]
                  for row in _jsonl("mt-bench", "reference_answer.jsonl") if row.get("choices")}
    items = [
        SuiteItemIn(id=f"mt-bench-{q['question_id']}", turns=q["turns"], category=q["category"],
                    reference_turns=references.get(q["question_id"]))
        for q in _jsonl("mt-bench", "question.jsonl")
    ]
    description = (
        f"MT-Bench: {len(items)} two-turn questions in 8 categories, with GPT-4 reference answers (per turn) "
        f"for {len(references)} math, reasoning and coding questions. Source: {SOURCE}, "
        "fastchat/llm_judge/data/mt_bench. Licence: Apache-2.0 (LICENSE bundled with the suite's files)."
    )
    return SuiteCreate(name="mt-bench", description=description, items=items)


def vicuna_bench() -> SuiteCreate:
    """Vicuna bench: 80 single-turn questions in 9 categories."""
    items = [
        SuiteItemIn(id=f"vicuna-bench-{q['question_id']}", prompt=q["turns"][0], category=q["category"])
        for q in _jsonl("vicuna-bench", "question.jsonl")
    ]
    description = (
        f"Vicuna bench: {len(items)} single-turn questions in 9 categories. Source: {SOURCE}, "
        "fastchat/llm_judge/data/vicuna_bench. Licence: Apache-2.0 (LICENSE bundled with the suite's files)."
    )
    return SuiteCreate(name="vicuna-bench", description=description, items=items)


EXAMPLE_SUITES: dict[str, Callable[[], SuiteCreate]] = {"mt-bench": mt_bench, "vicuna-bench": vicuna_bench}
