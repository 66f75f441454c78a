"""Submitted items, validated one at a time by their protocol's item model and stored in batches.

A JSON body and an upload feed the same ``ItemIntake`` with records ``(pointer parts, raw item)``:
``("items", 3)`` for a body, ``("lines", 7)`` for an NDJSON line, ``("records", 2)`` for AlpacaEval.
Batches keep memory bounded whatever the number of items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ValidationError

from service.config import Limits
from service.core.protocol import EvaluationProtocol
from service.errors import MAX_LISTED_ERRORS, FieldError, InvalidSubmission
from service.evaluations.problems import at, pointer, pydantic_errors, with_lines

BATCH = 1000
MAX_REPORTED_ERRORS = MAX_LISTED_ERRORS  # reading stops once a 422's worth of problems is found

Record = tuple[tuple, Any]
# stores validated items numbered from a position; returns the first position of each id stored before
Sink = Callable[[list[BaseModel], int], dict[str, int]]


@dataclass(frozen=True)
class Problem:
    """A record that is no item at all (not JSON, over a limit, not in the file's format): why."""

    detail: str


@dataclass
class SuiteContext:
    """The suite version an evaluation runs on: items by id (payload plus category)."""

    name: str
    version: int
    baseline_model: str | None
    items: dict[str, dict[str, Any]]


class ItemIntake:
    """Validates records in order and hands valid items to a sink in batches; collects the first 20 problems."""

    def __init__(self, protocol: EvaluationProtocol, options: BaseModel, suite: SuiteContext | None, limits: Limits,
                 sink: Sink, remember_ids: bool = False):
        self.protocol, self.options, self.suite, self.limits, self.sink = protocol, options, suite, limits, sink
        self.errors: list[FieldError] = []
        self.count = 0
        self.stopped = False  # reading stopped before the last record (there may be more problems)
        self._batch: list[tuple[tuple, BaseModel]] = []
        # items held in memory anyway (a JSON body): a repeated id is named with the first one's pointer
        self._first: dict[str, tuple] | None = {} if remember_ids else None

    def feed(self, records: Iterable[Record]) -> None:
        """Validate and store every record, stopping at the 20th problem or past ``max_items``."""
        for where, raw in records:
            if len(self.errors) >= MAX_REPORTED_ERRORS:
                self.stopped = True
                break
            if isinstance(raw, Problem):
                self.errors.append(at(where, raw.detail))
                continue
            if self.count >= self.limits.max_items:
                self.errors.append(at(where, f"too many items: more than limit max_items={self.limits.max_items}"))
                break
            item = validate_item(self.protocol, raw, self.limits.max_field_chars, self.suite, where, self.errors)
            if item is not None and self._first_time(where, item):
                self._batch.append((where, item))
                self.count += 1
                if len(self._batch) >= BATCH:
                    self._flush()
        self._flush()

    def finish(self, title: str | None = None) -> int:
        """How many items were stored; InvalidSubmission (the first 20 problems) when any record was bad."""
        if self.count == 0 and not self.errors:
            self.errors.append(FieldError("", "the upload has no items"))
        if self.errors:
            problems = with_lines(self.errors[:MAX_REPORTED_ERRORS])
            raise InvalidSubmission(problems, title or "Invalid evaluation", len(self.errors), self.stopped)
        return self.count

    def _first_time(self, where: tuple, item: BaseModel) -> bool:
        if self._first is None:
            return True  # the sink finds repeats (the database's unique index), so memory stays bounded
        if item.id in self._first:
            first = pointer(*self._first[item.id])
            self.errors.append(at(where + ("id",), f"duplicate item id {item.id!r} (first at {first})"))
            return False
        self._first[item.id] = where
        return True

    def _flush(self) -> None:
        """Check the batch with the protocol's cross-field rules, store it, and name the ids stored before."""
        if not self._batch:
            return
        items = [item for _, item in self._batch]
        if hasattr(self.protocol, "validate_items"):  # checks that need the options too (e.g. a method per category)
            self.errors.extend(at(self._batch[index][0] + (field,), message)
                               for index, field, message in self.protocol.validate_items(items, self.options))
        start = self.count - len(items)
        first = self.sink(items, start)
        for position, (where, item) in enumerate(self._batch, start):
            if first.get(item.id, position) != position:
                self.errors.append(at(where + ("id",), f"duplicate item id {item.id!r} "
                                                       f"(first as item {first[item.id] + 1})"))
        self._batch = []


def validate_item(protocol, raw: Any, max_chars: int, suite: SuiteContext | None, where: tuple,
                  errors: list[FieldError]) -> BaseModel | None:
    """One submitted item validated (through its suite item when there is a suite); problems go to ``errors``.

    ``where`` prefixes the pointers: ``("items", 3)`` for a JSON body, ``("lines", 7)`` for an upload line.
    """
    if not isinstance(raw, dict):
        errors.append(FieldError(pointer(*where), f"an item must be a JSON object, not {type(raw).__name__}"))
        return None
    bad = first_bad_string(raw, max_chars)
    if bad:
        errors.append(FieldError(pointer(*where, *bad[0]), bad[1]))
        return None
    if suite is not None:
        if str(raw.get("id")) not in suite.items:
            errors.append(FieldError(pointer(*where, "id"),
                                     f"no item {raw.get('id')!r} in suite {suite.name!r} version {suite.version}"))
            return None
        if protocol.suite_item_model is not None:  # the reduced item, as the contract declares it
            try:
                protocol.suite_item_model.model_validate(raw)
            except ValidationError as exc:
                errors.extend(pydantic_errors(exc, *where))
                return None
        try:
            raw = protocol.from_suite(suite.items[str(raw["id"])], raw)
        except ValueError as exc:
            errors.append(FieldError(pointer(*where), str(exc)))
            return None
    try:
        return protocol.item_model.model_validate(raw)
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc, *where))
        return None


def first_bad_string(value: Any, max_chars: int, path: tuple = ()) -> tuple[tuple, str] | None:
    """The first string that is over the limit or holds a NUL or an unpaired surrogate (not storable text)."""
    if isinstance(value, str):
        if len(value) > max_chars:
            return path, f"longer than limit max_field_chars={max_chars}"
        if "\x00" in value:
            return path, "contains a NUL character (U+0000), which cannot be stored"
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # JSON can escape a lone surrogate ("\ud800"); UTF-8 cannot hold it
                return path, "contains an unpaired surrogate (U+D800 to U+DFFF), which cannot be stored"
        return None
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found = first_bad_string(child, max_chars, path + (key,))
        if found is not None:
            return found
    return None


def item_rows(evaluation_id: str, items: list[BaseModel], first_position: int) -> list[dict[str, Any]]:
    """Rows of validated items, numbered from ``first_position``."""
    return [
        {"evaluation_id": evaluation_id, "position": first_position + i, "item_key": item.id,
         "payload": item.model_dump(mode="json", exclude_none=True)}
        for i, item in enumerate(items)
    ]
