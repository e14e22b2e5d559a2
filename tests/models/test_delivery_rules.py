from __future__ import annotations

import random

import pytest

from models.outcome import backoff

CASES = [
    # attempts, base, cap, retry_after, low, high
    (1, 1.0, 60.0, None, 0.5, 1.0),
    (2, 1.0, 60.0, None, 1.0, 2.0),
    (5, 1.0, 60.0, None, 8.0, 16.0),
    (20, 1.0, 60.0, None, 30.0, 60.0),  # capped
    (1, 1.0, 60.0, 7.0, 7.0, 7.0),  # Retry-After wins when longer
    (6, 1.0, 60.0, 1.0, 16.0, 32.0),  # … and not when shorter
]


@pytest.mark.parametrize("attempts,base,cap,retry_after,low,high", CASES)
def test_backoff_is_exponential_with_jitter(
    attempts: int, base: float, cap: float, retry_after: float | None, low: float, high: float
) -> None:
    rand = random.Random(7)
    delays = [backoff(attempts, base, cap, retry_after, rand) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    if low != high:
        assert len({round(d, 6) for d in delays}) > 100  # jittered, not one fixed delay
