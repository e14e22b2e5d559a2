"""Tokens' last use, recorded beside the requests, never in their way.

Authentication reads the token's row anyway, so it knows when the token was last recorded as
used; only when that is LAST_USED_EVERY old does the token join the next write, one statement
for all tokens due (models/token.py `touch`), run in a background task bounded by `timeout`.
Within a process a token is queued at most once per LAST_USED_EVERY, written or not: a last
use that could not be written (SQLite busy with another process's write, a slow database) is
logged once and tried again a minute later."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import datetime

from tortoise.exceptions import BaseORMException

from models.token import Caller, needs_touch, touch

log = logging.getLogger("herald.api")
TOUCH_TIMEOUT = 2.0  # seconds per background write


class TokenUsage:
    def __init__(self, timeout: float = TOUCH_TIMEOUT) -> None:
        self.timeout = timeout
        self.pending: dict[int, datetime] = {}  # token id → when it was used
        self.queued: dict[int, datetime] = {}  # token id → when this process last queued it
        self.task: asyncio.Task[None] | None = None
        self.failures = 0

    def seen(self, caller: Caller, now: datetime) -> None:
        """Note a request by `caller` at `now`; returns at once."""
        token_id = caller.token_id
        if token_id is None or not needs_touch(caller.last_used_at, now):
            return
        if not needs_touch(self.queued.get(token_id), now):
            return
        self.queued[token_id] = self.pending[token_id] = now
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, {}
            try:
                async with asyncio.timeout(self.timeout):
                    await touch(batch.keys(), max(batch.values()))
            except (BaseORMException, sqlite3.Error, OSError, TimeoutError) as exc:
                self.failures += 1
                if self.failures == 1:
                    log.warning("could not record tokens' last use: %s", type(exc).__name__)
                continue
            except Exception:
                log.exception("unexpected error while recording tokens' last use")
                continue
            if self.failures:
                log.warning("tokens' last use recorded again; %d writes were lost", self.failures)
                self.failures = 0

    async def idle(self) -> None:
        """Wait for the writes queued so far (tests; shutdown, before the database closes)."""
        if self.task is not None:
            await asyncio.wait({self.task}, timeout=self.timeout * 2)

    async def aclose(self) -> None:
        await self.idle()
        if self.task is not None and not self.task.done():
            self.task.cancel()
