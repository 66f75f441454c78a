"""The worker's memory of the chunks it closed: per evaluation, bounded by size and idle time, dropped whole."""

from __future__ import annotations

from service.evaluations.results import HeldChunk
from workers.held_chunks import ITEM_OVERHEAD_BYTES, HeldChunks

ITEM = ITEM_OVERHEAD_BYTES + 100  # what one test item (100 bytes of payload) is counted as


def chunk(start: int, size: int) -> HeldChunk:
    return HeldChunk(start, start + size, [(p, p, None, {"item_id": p}) for p in range(start, start + size)])


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def add(held: HeldChunks, evaluation_id: str, start: int, size: int) -> None:
    held.add(evaluation_id, chunk(start, size), payload_bytes=100 * size)


def starts(held: HeldChunks, evaluation_id: str) -> list[int]:
    return sorted(c.start for c in held.chunks(evaluation_id))


def test_chunks_are_held_per_evaluation_and_a_second_close_of_a_chunk_replaces_it():
    held = HeldChunks(max_bytes=100 * ITEM)
    add(held, "e1", 0, 4)
    add(held, "e1", 4, 4)
    add(held, "e2", 0, 3)
    add(held, "e1", 4, 4)
    assert starts(held, "e1") == [0, 4] and held.bytes == 11 * ITEM
    assert starts(held, "e2") == [0] and held.chunks("e3") == []
    held.forget("e1")
    assert held.chunks("e1") == [] and held.bytes == 3 * ITEM


def test_past_the_size_bound_the_evaluation_touched_longest_ago_is_dropped_whole():
    held = HeldChunks(max_bytes=10 * ITEM)
    add(held, "old", 0, 4)
    add(held, "new", 0, 4)
    add(held, "old", 4, 4)  # touching "old" makes "new" the one touched longest ago: 12 items > 10
    assert held.bytes == 8 * ITEM and held.chunks("new") == []
    add(held, "third", 0, 2)
    assert held.bytes == 10 * ITEM and starts(held, "old") == [0, 4]
    add(held, "third", 2, 1)  # 11 > 10: "old" goes, "third" (just touched) stays whole
    assert held.chunks("old") == [] and held.bytes == 3 * ITEM and starts(held, "third") == [0, 2]


def test_payload_size_counts_so_a_few_large_items_fill_the_bound():
    held = HeldChunks(max_bytes=10 * ITEM)
    held.add("big", chunk(0, 2), payload_bytes=9 * ITEM)
    held.add("small", chunk(0, 2), payload_bytes=0)
    assert held.chunks("big") == [] and starts(held, "small") == [0]


def test_an_evaluation_not_touched_for_the_idle_limit_is_dropped_at_the_next_add():
    clock = Clock()
    held = HeldChunks(max_bytes=100 * ITEM, max_idle_seconds=60, clock=clock)
    add(held, "finalized elsewhere", 0, 4)
    clock.now = 30
    add(held, "running", 0, 4)
    clock.now = 61
    add(held, "running", 4, 4)
    assert held.chunks("finalized elsewhere") == [] and starts(held, "running") == [0, 4]
    assert held.bytes == 8 * ITEM
