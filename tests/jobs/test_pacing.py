"""The round-trip percentile the end cut-off uses, against a plain reference: the nearest-rank
quantile of the last SAMPLES observations, recomputed from scratch."""

from __future__ import annotations

import math
import random

import pytest

from jobs.pacing import RoundTrips


def reference(window: list[float], q: float) -> float:
    ranked = sorted(window)
    return ranked[max(0, math.ceil(q * len(ranked)) - 1)] if ranked else 0.0


@pytest.mark.parametrize("seed", range(5))
def test_percentile_is_that_of_the_last_samples_after_every_answer(seed: int) -> None:
    rand = random.Random(seed)
    trips, seen = RoundTrips(size=32), []
    for _ in range(400):
        # Repeated values too: removing the oldest must remove one copy, not all of them.
        value = rand.choice([0.01, 0.02, 0.5]) if rand.random() < 0.3 else rand.random()
        trips.observe(value)
        seen.append(value)
        for q in (0.5, 0.99, 1.0):
            assert trips.percentile(q) == reference(seen[-32:], q)


def test_no_round_trip_yet_is_zero() -> None:
    trips = RoundTrips()
    assert not trips.known
    assert trips.percentile() == 0.0
    trips.observe(0.25)
    assert trips.known
    assert trips.percentile() == 0.25


def test_a_slow_spell_leaves_the_window_once_it_is_older_than_the_samples() -> None:
    trips = RoundTrips(size=4)
    for value in (9.0, 9.0, 0.1, 0.1):
        trips.observe(value)
    assert trips.percentile(0.99) == 9.0
    trips.observe(0.1)
    trips.observe(0.1)
    assert trips.percentile(0.99) == 0.1
