"""The send loop of a worker: claim due messages in batches, send them concurrently over the
one pooled probe client, write outcomes back in batches.

Each worker process runs one loop; several loops (processes, machines) share the work through
the claim (a compare-and-set UPDATE with a lease, SKIP LOCKED on PostgreSQL), so no message is
sent twice while its lease holds. Every send re-checks the end time and the client's window
right before it starts; outcomes are flushed every FLUSH_EVERY seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from herald.events import publish
from herald.settings import Settings
from jobs.limits import Circuit, RateLimiter
from jobs.probe import ProbeClient, Rejected, Transient, Unauthorized
from models.delivery import Claimed, Outcome, Scope, backoff, claim, mark_sent, record
from models.mailing import Mailing, MailingState, Window
from models.message import MessageStatus as S
from models.schedule import finish_done, unsent_zones
from models.windows import is_open, next_opening, zone, zones_open

log = logging.getLogger("herald.worker")
FLUSH_EVERY = 0.05
IDLE = 0.2
ZONES_TTL = 5.0
SCOPES_TTL = 0.2  # running mailings are re-read this often: pause/cancel/edits apply within it


@dataclass(frozen=True)
class Active:
    id: int
    text: str
    end_at: datetime
    window: Window | None


class Dispatcher:
    def __init__(
        self,
        *,
        probe: ProbeClient,
        settings: Settings,
        circuit: Circuit,
        limiter: RateLimiter,
        owner: str,
        clock: Callable[[], datetime],
        redis: Any = None,
    ) -> None:
        self.probe, self.settings, self.circuit, self.limiter = probe, settings, circuit, limiter
        self.owner, self.clock = owner, clock
        self.rand = random.Random()  # noqa: S311 - jitter, not security
        self.in_flight: set[asyncio.Task[None]] = set()
        self.sent: list[int] = []
        self.outcomes: list[Outcome] = []
        self.active: dict[int, Active] = {}
        self.zones: dict[int, tuple[float, list[str]]] = {}
        self.scopes_read = 0.0
        self.stopping = asyncio.Event()
        self.latency = 0.0  # moving average of probe round trips, seconds
        self.redis = redis
        self.touched: set[int] = set()  # mailings whose counts changed since the last flush

    async def run(self) -> None:
        flusher = asyncio.create_task(self._flush_loop())
        try:
            while not self.stopping.is_set():
                try:
                    await self._step()
                except Exception:
                    # A database or Redis hiccup must not end the loop for good (the worker
                    # would look healthy and send nothing): log, back off, go on.
                    log.exception("send loop step failed; retrying in 1 s")
                    await self._idle(1.0)
        finally:
            self.stopping.set()
            if self.in_flight:
                _, late = await asyncio.wait(
                    self.in_flight, timeout=self.settings.probe_timeout + 1
                )
                for task in late:  # their leases expire and the sweep retries them
                    task.cancel()
            await flusher  # never cancelled mid-write: it stops after its last flush

    def stop(self) -> None:
        self.stopping.set()

    async def _idle(self, seconds: float = IDLE) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _step(self) -> None:
        room = self.settings.max_in_flight - len(self.in_flight)
        if room < max(1, min(self.settings.batch_size, self.settings.max_in_flight) // 4):
            await asyncio.wait(self.in_flight, return_when=asyncio.FIRST_COMPLETED)
            return
        limit = min(self.settings.batch_size, room)
        if await self.circuit.is_open():
            if not await self.circuit.trial_due():
                await self._idle()
                return
            limit = 1
        if self.settings.max_rate > 0:  # tokens first, so no lease ticks while we wait
            limit = min(limit, max(1, int(self.settings.max_rate)))
            await self.limiter.acquire(limit)
        now = self.clock()
        scopes = await self._scopes(now)
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        claimed = await claim(scopes, now, self.owner, lease, limit) if scopes else []
        if not claimed:
            self.scopes_read = 0.0  # idle: look again for new or resumed mailings next time
            if scopes:
                await self.flush()
                finished = await finish_done(now)
                if finished and self.redis is not None:
                    await publish(self.redis, self.settings.queue_name, finished)
            await self._idle()
            return
        self.touched.update(m.mailing_id for m in claimed)
        for message in claimed:
            task = asyncio.create_task(self._send(message))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    async def _scopes(self, now: datetime) -> list[Scope]:
        if time.monotonic() - self.scopes_read >= SCOPES_TTL:
            rows = await Mailing.filter(state=MailingState.RUNNING, end_at__gt=now).only(
                "id", "text", "end_at", "window_start", "window_end"
            )
            self.active = {m.id: Active(m.id, m.text, m.end_at, m.window) for m in rows}
            self.scopes_read = time.monotonic()
        scopes = []
        for mailing in self.active.values():
            if mailing.window is None:
                scopes.append(Scope(mailing.id, None))
                continue
            open_zones = zones_open(now, mailing.window, await self._zones(mailing.id))
            if open_zones:
                scopes.append(Scope(mailing.id, frozenset(open_zones)))
        return scopes

    async def _zones(self, mailing_id: int) -> list[str]:
        cached = self.zones.get(mailing_id)
        if cached is None or time.monotonic() - cached[0] > ZONES_TTL:
            cached = (time.monotonic(), await unsent_zones(mailing_id))
            self.zones[mailing_id] = cached
        return cached[1]

    async def _send(self, message: Claimed) -> None:
        mailing = self.active.get(message.mailing_id)
        now = self.clock()
        left = (mailing.end_at - now).total_seconds() if mailing else 0.0
        if mailing is None or left <= self.latency * 1.5 + 0.02:
            # Too late to expect an answer before the end: no attempt; the message waits
            # out the end (not claimed again meanwhile) and the sweep expires it.
            wait = mailing.end_at if mailing else now
            self.outcomes.append(Outcome(message.id, S.PENDING, wait, None, message.lease_until))
            return
        if mailing.window and not is_open(now, mailing.window, zone(message.timezone)):
            opening = next_opening(now, mailing.window, zone(message.timezone))
            self.outcomes.append(Outcome(message.id, S.PENDING, opening, None, message.lease_until))
            return
        try:
            result = await self.probe.send(
                message.id,
                message.phone,
                mailing.text,
                attempt=message.attempts,
                deadline=left,
                log_extra={"mailing_id": message.mailing_id, "client_id": message.client_id},
            )
        except Unauthorized:
            await self.circuit.trip()
            self.outcomes.append(
                Outcome(message.id, S.PENDING, self.clock(), "probe: 401/403", message.lease_until)
            )
        except Rejected as exc:
            self._observe(exc.latency)
            self.outcomes.append(
                Outcome(message.id, S.FAILED, None, exc.message, message.lease_until)
            )
        except Transient as exc:
            self._observe(exc.latency)
            self.outcomes.append(self._retry(message, exc))
        except Exception:
            log.exception(
                "unexpected error sending message",
                extra={"message_id": message.id, "mailing_id": message.mailing_id},
            )
            self.outcomes.append(
                Outcome(message.id, S.RETRYING, None, "internal error", message.lease_until)
            )
        else:
            self._observe(result.latency)
            self.sent.append(message.id)
            if await self.circuit.is_open():
                await self.circuit.close()

    def _observe(self, latency: float | None) -> None:
        if latency is not None:
            self.latency = latency if not self.latency else 0.9 * self.latency + 0.1 * latency

    def _retry(self, message: Claimed, exc: Transient) -> Outcome:
        if message.attempts >= self.settings.max_attempts:
            return Outcome(
                message.id,
                S.FAILED,
                None,
                f"{exc.message} (attempts exhausted)",
                message.lease_until,
            )
        delay = backoff(
            message.attempts,
            self.settings.backoff_base,
            self.settings.backoff_cap,
            exc.retry_after,
            self.rand,
        )
        return Outcome(
            message.id,
            S.RETRYING,
            self.clock() + timedelta(seconds=delay),
            exc.message,
            message.lease_until,
        )

    async def _flush_loop(self) -> None:
        last_tries = 3  # after stop; what cannot be written then is retried via lease expiry
        while last_tries:
            if self.stopping.is_set():
                last_tries -= 1
            try:
                await self.flush()
            except Exception:
                log.exception("could not write send outcomes; will retry")
            if self.stopping.is_set() and not (self.sent or self.outcomes):
                return
            await asyncio.sleep(FLUSH_EVERY)

    async def flush(self) -> None:
        sent, self.sent = self.sent, []
        outcomes, self.outcomes = self.outcomes, []
        touched, self.touched = self.touched, set()
        try:
            now = self.clock()
            await mark_sent(sent, now)
            await record(outcomes, self.owner, now)
        except BaseException:
            self.sent[:0], self.outcomes[:0] = sent, outcomes
            self.touched |= touched
            raise
        if touched and self.redis is not None:
            await publish(self.redis, self.settings.queue_name, touched)
