"""How fast and how late a worker may send: a high percentile of recent probe round trips
decides whether an attempt can still be answered before a mailing's end, and a concurrency
window that starts small and grows as answers come back (TCP's slow start) keeps a first batch
without any measurement small."""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque

SAMPLES = 256
PERCENTILE = 0.99
INITIAL_WINDOW = 16


class RoundTrips:
    """The last SAMPLES round trips of the probe, in seconds, kept in arrival order and in
    sorted order: every send asks for the percentile and nearly every answer adds one, so
    sorting the window on each ask (256 floats, ~8 µs) cost more than the rest of a send's
    bookkeeping; an insertion and a removal by bisection keep it sorted at ~1 µs each."""

    def __init__(self, size: int = SAMPLES) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []

    def observe(self, seconds: float) -> None:
        if len(self._samples) == self._samples.maxlen:  # the oldest leaves both orders
            del self._sorted[bisect_left(self._sorted, self._samples[0])]
        self._samples.append(seconds)
        insort(self._sorted, seconds)

    @property
    def known(self) -> bool:
        return bool(self._samples)

    def percentile(self, q: float = PERCENTILE) -> float:
        """The q-quantile (nearest rank) of recent round trips; 0 with no measurement yet. A
        mean would let half the answers arrive after the end: a high percentile does not."""
        if not self._sorted:
            return 0.0
        rank = max(0, math.ceil(q * len(self._sorted)) - 1)
        return self._sorted[rank]


class Concurrency:
    """How many sends may be in flight: INITIAL_WINDOW at first, +1 per answer (so it doubles
    every round trip) up to the ceiling; halved, never below the start, when a send times
    out or cannot connect (the probe is struggling: do not pile more on it)."""

    def __init__(self, ceiling: int, initial: int = INITIAL_WINDOW) -> None:
        self.ceiling = ceiling
        self.initial = min(initial, ceiling)
        self.size = self.initial

    def answered(self) -> None:
        self.size = min(self.ceiling, self.size + 1)

    def lost(self) -> None:
        self.size = max(self.initial, self.size // 2)
