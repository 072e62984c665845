"""How a run of a worker's outbox job goes: batch after batch while there is work, not one
batch per tick. With one batch per tick, an outbox sent at most ``batch ÷ interval`` items a
second whatever its concurrency; a tick now only starts a run. A run stops taking new batches
after :data:`RUN_SECONDS`, so a worker asked to stop waits for the work in hand, not for the
whole queue, and the next tick goes on."""
from __future__ import annotations

import time
from collections.abc import Callable

RUN_SECONDS = 10.0


def in_batches(batch: Callable[[], int], size: int, seconds: float = RUN_SECONDS) -> int:
    """Call ``batch`` (which claims up to ``size`` due items, handles them and returns how many
    it claimed) again while it comes back full and ``seconds`` have not passed; the total."""
    stop = time.monotonic() + seconds
    total = 0
    while True:
        taken = batch()
        total += taken
        if taken < size or time.monotonic() >= stop:
            return total
