"""The chunks this worker process closed, held in memory so finalize does not read them back.

A chunk is closed exactly once (``repository.complete_chunk``), in the transaction that stores
its verdicts, and nothing changes those verdicts before the evaluation is finalized. So what the
job that closed a chunk holds (its validated items and the verdict rows it stored) is what a
re-read would give, once that transaction has committed: only then is it added here. Finalize
reads from the database only the items of chunks other processes closed (or that were evicted).

Memory is bounded: at most ``MAX_HELD_ITEMS`` items over all evaluations; past that, the
evaluations touched longest ago are dropped whole (their items are read back at finalize).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from service.evaluations.results import HeldChunk

# ~3 KB per held item of two responses (validated payload + verdict row): 50,000 items ≈ 150 MB at most
MAX_HELD_ITEMS = 50_000


class HeldChunks:
    """Closed chunks per evaluation, least recently touched evaluation evicted first (thread-safe)."""

    def __init__(self, max_items: int = MAX_HELD_ITEMS):
        self.max_items = max_items
        self._lock = threading.Lock()
        self._by_evaluation: OrderedDict[str, dict[int, HeldChunk]] = OrderedDict()
        self._items = 0

    def add(self, evaluation_id: str, chunk: HeldChunk) -> None:
        """Hold a chunk whose verdicts are committed (call only after the closing transaction committed)."""
        with self._lock:
            chunks = self._by_evaluation.setdefault(evaluation_id, {})
            self._by_evaluation.move_to_end(evaluation_id)
            previous = chunks.pop(chunk.start, None)
            self._items += len(chunk.items) - (len(previous.items) if previous else 0)
            chunks[chunk.start] = chunk
            self._evict()

    def chunks(self, evaluation_id: str) -> list[HeldChunk]:
        """The evaluation's held chunks (any order)."""
        with self._lock:
            return list(self._by_evaluation.get(evaluation_id, {}).values())

    def forget(self, evaluation_id: str) -> None:
        """Drop an evaluation's chunks (it was finalized, or its finalize failed and will read instead)."""
        with self._lock:
            self._drop(evaluation_id)

    @property
    def items(self) -> int:
        """How many items are held in all."""
        return self._items

    def _evict(self) -> None:
        while self._items > self.max_items and self._by_evaluation:
            self._drop(next(iter(self._by_evaluation)))

    def _drop(self, evaluation_id: str) -> None:
        chunks = self._by_evaluation.pop(evaluation_id, {})
        self._items -= sum(len(chunk.items) for chunk in chunks.values())


HELD = HeldChunks()
