"""The chunks this worker process closed, held in memory so finalize does not read them back.

A chunk is closed exactly once (``repository.complete_chunk``), in the transaction that stores
its verdicts, and nothing changes those verdicts before the evaluation is finalized. So what the
job that closed a chunk holds (its validated items and the verdict rows it stored) is what a
re-read would give, once that transaction has committed: only then is it added here. Finalize
reads from the database only the items of chunks other processes closed (or that were dropped).

Memory is bounded by an estimate of what is held (``MAX_HELD_BYTES``: each item's payload as JSON
plus ``ITEM_OVERHEAD_BYTES``); past it, the evaluations touched longest ago are dropped whole (their
items are read back at finalize). An evaluation not touched for ``MAX_IDLE_SECONDS`` (finalized by
another process, or cancelled) is dropped at the next ``add``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from service.evaluations.results import HeldChunk

MAX_HELD_BYTES = 256 * 1024 * 1024
# the validated model, the verdict row and its details, the tuples around them: measured 3.75 KB per held item
# of two ~300-character responses whose payload is 0.99 KB as JSON (tracemalloc over 1,000 items)
ITEM_OVERHEAD_BYTES = 2816
MAX_IDLE_SECONDS = 3600.0


@dataclass
class _Held:
    chunks: dict[int, tuple[HeldChunk, int]] = field(default_factory=dict)  # start -> (chunk, its bytes)
    touched: float = 0.0


class HeldChunks:
    """Closed chunks per evaluation, least recently touched evaluation dropped first (thread-safe)."""

    def __init__(self, max_bytes: int = MAX_HELD_BYTES, max_idle_seconds: float = MAX_IDLE_SECONDS,
                 clock=time.monotonic):
        self.max_bytes, self.max_idle_seconds, self._clock = max_bytes, max_idle_seconds, clock
        self._lock = threading.Lock()
        self._by_evaluation: OrderedDict[str, _Held] = OrderedDict()
        self._bytes = 0

    def add(self, evaluation_id: str, chunk: HeldChunk, payload_bytes: int) -> None:
        """Hold a chunk whose verdicts are committed (call only after the closing transaction committed).

        ``payload_bytes``: the size of its items' payloads as JSON (the estimate adds a per-item overhead).
        """
        size = payload_bytes + ITEM_OVERHEAD_BYTES * len(chunk.items)
        with self._lock:
            now = self._clock()
            held = self._by_evaluation.setdefault(evaluation_id, _Held())
            self._by_evaluation.move_to_end(evaluation_id)
            held.touched = now
            _, previous = held.chunks.pop(chunk.start, (None, 0))
            held.chunks[chunk.start] = (chunk, size)
            self._bytes += size - previous
            self._drop_idle(now)
            while self._bytes > self.max_bytes and self._by_evaluation:
                self._drop(next(iter(self._by_evaluation)))

    def chunks(self, evaluation_id: str) -> list[HeldChunk]:
        """The evaluation's held chunks (any order)."""
        with self._lock:
            held = self._by_evaluation.get(evaluation_id)
            return [chunk for chunk, _ in held.chunks.values()] if held else []

    def forget(self, evaluation_id: str) -> None:
        """Drop an evaluation's chunks (its last chunk closed, or it ended)."""
        with self._lock:
            self._drop(evaluation_id)

    @property
    def bytes(self) -> int:
        """The estimated size of everything held."""
        return self._bytes

    def _drop_idle(self, now: float) -> None:
        while self._by_evaluation:
            oldest_id, oldest = next(iter(self._by_evaluation.items()))
            if now - oldest.touched <= self.max_idle_seconds:
                return
            self._drop(oldest_id)

    def _drop(self, evaluation_id: str) -> None:
        held = self._by_evaluation.pop(evaluation_id, None)
        if held is not None:
            self._bytes -= sum(size for _, size in held.chunks.values())


HELD = HeldChunks()
