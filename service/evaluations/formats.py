"""Output files people already have, mapped onto a suite's items (pure parsing, no I/O).

- ``alpacaeval``: AlpacaEval's ``model_outputs.json``, a JSON array of ``{instruction, output, generator}``;
  each record is matched to the suite item whose prompt (or first turn) equals ``instruction``
  (after trimming surrounding whitespace); ``output`` becomes the response.
- ``fastchat``: FastChat MT-Bench answer files (JSONL) ``{question_id, model_id, choices: [{turns: [...]}]}``;
  matched by ``question_id`` to the suite item with that id; the first turn's answer becomes the response.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

FORMATS = ("items", "alpacaeval", "fastchat")


def suite_prompts(suite_items: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Suite item id by its (trimmed) prompt, for matching AlpacaEval instructions."""
    prompts = {}
    for item_id, item in suite_items.items():
        prompt = item.get("prompt") or (item.get("turns") or [None])[0]
        if isinstance(prompt, str):
            prompts.setdefault(prompt.strip(), item_id)
    return prompts


def alpacaeval_items(records: Any, prompts: dict[str, str]) -> Iterator[tuple[tuple, Any]]:
    """(pointer parts, submitted item or an error string) per AlpacaEval record."""
    if not isinstance(records, list):
        yield (), "an AlpacaEval file is a JSON array of {instruction, output, generator}"
        return
    for index, record in enumerate(records):
        where = ("records", index)
        if not isinstance(record, dict) or not isinstance(record.get("instruction"), str) \
                or not isinstance(record.get("output"), str):
            yield where, "needs string fields 'instruction' and 'output'"
            continue
        item_id = prompts.get(record["instruction"].strip())
        if item_id is None:
            yield where + ("instruction",), "no suite item has this instruction as its prompt"
            continue
        yield where, {"id": item_id, "response": record["output"]}


def fastchat_item(record: Any, where: tuple) -> tuple[tuple, Any]:
    """(pointer parts, submitted item or an error string) for one FastChat answer record."""
    if not isinstance(record, dict) or "question_id" not in record:
        return where, "a FastChat answer needs 'question_id' and 'choices'"
    choices = record.get("choices")
    turns = choices[0].get("turns") if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
    if not isinstance(turns, list) or not turns or not isinstance(turns[0], str):
        return where + ("choices",), "needs choices[0].turns with at least one answer"
    return where, {"id": str(record["question_id"]), "response": turns[0]}


def generators(records: Iterable[Any], key: str) -> set[str]:
    """The distinct model names a file names (``generator`` or ``model_id``)."""
    return {r[key] for r in records if isinstance(r, dict) and isinstance(r.get(key), str)}
