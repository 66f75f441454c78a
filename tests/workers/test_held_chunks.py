"""The worker's memory of the chunks it closed: bounded, per evaluation, dropped whole."""

from __future__ import annotations

from service.evaluations.results import HeldChunk
from workers.held_chunks import HeldChunks


def chunk(start: int, size: int) -> HeldChunk:
    return HeldChunk(start, start + size, [(p, p, None, {"item_id": p}) for p in range(start, start + size)])


def test_chunks_are_held_per_evaluation_and_a_second_close_of_a_chunk_replaces_it():
    held = HeldChunks(max_items=100)
    held.add("e1", chunk(0, 4))
    held.add("e1", chunk(4, 4))
    held.add("e2", chunk(0, 3))
    held.add("e1", chunk(4, 4))
    assert sorted(c.start for c in held.chunks("e1")) == [0, 4] and held.items == 11
    assert [c.start for c in held.chunks("e2")] == [0] and held.chunks("e3") == []
    held.forget("e1")
    assert held.chunks("e1") == [] and held.items == 3


def test_past_the_bound_the_evaluation_touched_longest_ago_is_dropped_whole():
    held = HeldChunks(max_items=10)
    held.add("old", chunk(0, 4))
    held.add("new", chunk(0, 4))
    held.add("old", chunk(4, 4))  # touching "old" makes "new" the one touched longest ago
    assert held.items == 12 - 4 and held.chunks("new") == []  # 12 > 10: "new" went, not "old"
    held.add("third", chunk(0, 2))
    assert held.items == 10 and sorted(c.start for c in held.chunks("old")) == [0, 4]
    held.add("third", chunk(2, 1))  # 11 > 10: "old" goes, "third" (just touched) stays whole
    assert held.chunks("old") == [] and held.items == 3 and len(held.chunks("third")) == 2
