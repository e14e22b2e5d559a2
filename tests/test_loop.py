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
