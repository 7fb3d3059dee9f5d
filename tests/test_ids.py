"""Ids: time-ordered and strictly increasing, one at a time or a batch at once."""

from __future__ import annotations

import time

from connector.ids import new_id, new_ids


def test_a_batch_of_ids_increases_strictly_and_continues_the_single_ones() -> None:
    before = new_id()
    batch = new_ids(5000)
    after = new_id()
    assert len(set(batch)) == 5000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in batch)
    assert [before, *batch, after] == sorted([before, *batch, after])
    assert before < batch[0] and batch[-1] < after
    assert new_ids(0) == []


def test_a_batch_starts_at_the_clock() -> None:
    millis = int(new_ids(1)[0], 16) >> 80
    assert abs(millis - time.time_ns() // 1_000_000) < 5_000
