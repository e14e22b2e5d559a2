"""How fast and how late a worker may send: a high percentile of recent probe round trips
decides whether an attempt can still be answered before a mailing's end, and a concurrency
window that starts small and grows as answers come back (TCP's slow start) keeps a first batch
without any measurement small."""

from __future__ import annotations

import math
from collections import deque

SAMPLES = 256
PERCENTILE = 0.99
INITIAL_WINDOW = 16


class RoundTrips:
    """The last SAMPLES round trips of the probe, in seconds."""

    def __init__(self, size: int = SAMPLES) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self._sorted: list[float] | None = None

    def observe(self, seconds: float) -> None:
        self._samples.append(seconds)
        self._sorted = None

    @property
    def known(self) -> bool:
        return bool(self._samples)

    def percentile(self, q: float = PERCENTILE) -> float:
        """The q-quantile (nearest rank) of recent round trips; 0 with no measurement yet. A
        mean would let half the answers arrive after the end: a high percentile does not."""
        if not self._samples:
            return 0.0
        if self._sorted is None:
            self._sorted = sorted(self._samples)
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
