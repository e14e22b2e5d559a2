"""The event loop factory: uvloop where installed, asyncio's own where it is not."""

from __future__ import annotations

import asyncio
import sys

import pytest

from herald.loop import loop_factory


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows wheel")
def test_uvloop_where_installed() -> None:
    import uvloop  # a dependency everywhere else: must be installed

    assert loop_factory() is uvloop.new_event_loop
    loop = loop_factory()()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what an install without the wheel sees
    assert loop_factory() is asyncio.new_event_loop


def test_settle_heap_moves_what_exists_out_of_the_collectors_view() -> None:
    """What a process built at start-up is frozen: a full collection no longer walks it."""
    import gc

    from herald.loop import settle_heap

    kept = [{"built": n} for n in range(1000)]
    gc.unfreeze()
    try:
        assert any(o is kept for o in gc.get_objects())
        settle_heap()
        assert gc.get_freeze_count() >= len(kept)
        assert all(o is not kept for o in gc.get_objects())  # no generation holds it
    finally:
        gc.unfreeze()


def test_settle_heap_sets_the_young_generation_threshold_when_asked() -> None:
    import gc

    from herald.loop import WORKER_YOUNG_GENERATION, settle_heap

    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_threshold() == before  # the API's: unchanged
        settle_heap(young=WORKER_YOUNG_GENERATION)
        assert gc.get_threshold() == (WORKER_YOUNG_GENERATION, *before[1:])
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
