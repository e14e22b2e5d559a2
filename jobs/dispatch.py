"""The send loop of a worker: claim due messages in batches, send them concurrently over the
one pooled probe client, write outcomes back in batches.

Claimed messages wait in a small queue (`ready`, at most one batch beyond the window) and a
send starts the moment another ends, so the window stays full while the next claim is on its
way (a claim waits for the SQLite thread and the busy event loop: 30-150 ms under load). A
queued message starts only while its lease outlasts the probe timeout (models/outcome.py).

Each worker process runs one loop; several loops (processes, machines) share the work through
the claim (a compare-and-set UPDATE with a lease, SKIP LOCKED on PostgreSQL), so no message is
sent twice while its lease holds. Every send re-checks the end time and the client's window
right before it starts; outcomes are flushed every FLUSH_EVERY seconds.

A stop is a drain: nothing new is claimed, the sends in flight are awaited (each bounded by
PROBE_TIMEOUT), every outcome is written, and only then does `run()` return, so a graceful
stop never leaves a message the probe accepted to be sent again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from prometheus_client import Counter

import metrics
from jobs.limits import Circuit, RateLimiter
from jobs.pacing import Concurrency, RoundTrips
from jobs.probe import ProbeClient, Rejected, Transient, Unauthorized
from jobs.settings import DeliverySettings
from models.attempts import Attempt
from models.delivery import (
    Claimed,
    Outcome,
    Scope,
    claim,
    claim_lease,
    fair_shares,
    mark_sent,
    record,
)
from models.mailing import Mailing, MailingState, Window
from models.outcome import Answer, Decision, RetryPolicy, Tried, after_answer, before_send
from models.schedule import finish_done, unsent_zones
from models.stats import unsent_counts
from models.transitions import MessageEvent
from models.windows import zones_open

log = logging.getLogger("herald.worker")
FLUSH_EVERY = 0.05
IDLE = 0.2
ZONES_TTL = 5.0
SCOPES_TTL = 0.2  # running mailings are re-read this often: pause/cancel/edits apply within it
LAST_FLUSH_RETRY = 10.0  # at a stop, how long outcomes are retried while the database is away


@cache
def _child(metric: Counter, value: str) -> Counter:
    """`metric.labels(value)`, looked up once per label value instead of once per message."""
    return metric.labels(value)


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
        settings: DeliverySettings,
        circuit: Circuit,
        limiter: RateLimiter,
        owner: str,
        clock: Callable[[], datetime],
        announce: Callable[[Iterable[int]], Awaitable[None]] | None = None,
    ) -> None:
        self.probe, self.settings, self.circuit, self.limiter = probe, settings, circuit, limiter
        self.owner, self.clock = owner, clock
        self.rand = random.Random()  # noqa: S311 - jitter, not security
        self.retry = RetryPolicy(
            max_attempts=settings.max_attempts,
            backoff_base=settings.backoff_base,
            backoff_cap=settings.backoff_cap,
        )
        self.in_flight: set[asyncio.Task[None]] = set()
        self.ready: deque[Claimed] = deque()  # claimed, waiting for a free slot in the window
        self.sent: list[int] = []
        self.outcomes: list[Outcome] = []
        self.active: dict[int, Active] = {}
        self.zones: dict[int, tuple[float, list[str]]] = {}
        self.scopes_read = 0.0
        self.stopping = asyncio.Event()
        self.drained = asyncio.Event()  # no send in flight any more: the last flush may run
        self.trips = RoundTrips()
        self.window = Concurrency(settings.max_in_flight)
        self.unsent: dict[int, int] = {}  # per running mailing, re-read with the scopes
        self.announce = announce  # tells live watchers which mailings changed (best effort)
        self.touched: set[int] = set()  # mailings whose counts changed since the last flush
        self.last_lease: datetime | None = None  # each claim's lease is later than the last

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
            await self._drain()
            self.drained.set()
            await flusher  # never cancelled mid-write: it returns once everything is written

    def stop(self) -> None:
        self.stopping.set()

    async def _drain(self) -> None:
        """Give the queued messages back unsent, then wait for the sends in flight; each is
        bounded by PROBE_TIMEOUT, so this is too."""
        self._release_ready()
        if not self.in_flight:
            return
        log.info("stopping: waiting for %d sends in flight", len(self.in_flight))
        _, late = await asyncio.wait(set(self.in_flight), timeout=self.settings.probe_timeout + 1)
        for task in late:  # not expected: their leases expire and the sweep retries them
            task.cancel()
        if late:
            await asyncio.wait(late)
            log.warning("stopping: %d sends did not finish in time", len(late))

    async def _idle(self, seconds: float = IDLE) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _step(self) -> None:
        metrics.HEARTBEAT.labels("worker").set_to_current_time()
        # Nothing queued goes out while the token is refused. Given back before the room is
        # counted: a queue left full (the window shrank meanwhile) would hold off the trials.
        trial = await self.circuit.is_open()
        if trial:
            self._release_ready()
        self._start_ready()
        queue = min(self.settings.batch_size, self.window.size)  # queued beyond the window
        room = self.window.size + queue - len(self.in_flight) - len(self.ready)
        if room < max(1, queue // 4):
            if self.in_flight:
                await asyncio.wait(self.in_flight, return_when=asyncio.FIRST_COMPLETED)
            else:  # the window shrank under a full queue: it starts as answers come
                await self._idle(FLUSH_EVERY)
            return
        limit = min(self.settings.batch_size, room)
        if trial:
            if not await self.circuit.trial_due():
                await self._idle()
                return
            limit = 1
        if self.settings.max_rate > 0:  # tokens first, so no lease ticks while we wait
            limit = min(limit, max(1, int(self.settings.max_rate)))
            await self.limiter.acquire(limit)
        if self.sent or self.outcomes:
            # Outcomes first: a claim holds the one SQLite connection (write and read-back),
            # and an outcome write queued behind it reached live watchers that much later
            # (subscriber lag p50 160 ms this way, 230-300 ms behind claims).
            await self.flush()
        now = self.clock()
        scopes = await self._scopes(now)
        lease = self._next_lease(now)
        claimed = await claim(scopes, now, self.owner, lease, limit) if scopes else []
        if claimed and self.stopping.is_set():
            # Stopped while claiming: hand them straight back, attempt unused.
            metrics.CLAIMED.inc(len(claimed))
            self._release(claimed)
            return
        if not claimed:
            self.scopes_read = 0.0  # idle: look again for new or resumed mailings next time
            if scopes:
                await self.flush()
                finished = await finish_done(now)
                metrics.MAILING_TRANSITIONS.labels(event="finish").inc(len(finished))
                if finished and self.announce is not None:
                    await self.announce(finished)
            await self._idle()
            return
        self.touched.update(m.mailing_id for m in claimed)
        metrics.CLAIMED.inc(len(claimed))
        if trial:  # the trial send goes out although the circuit is open
            for message in claimed:
                self._start(message)
            return
        self.ready.extend(claimed)
        self._start_ready()

    def _start(self, message: Claimed) -> None:
        task = asyncio.create_task(self._send(message))
        self.in_flight.add(task)
        task.add_done_callback(self._done)
        metrics.IN_FLIGHT.inc()

    def _start_ready(self) -> None:
        """Queued messages into the window's free slots; none once stopping, or while this
        process knows the circuit open (the step gives the queue back then)."""
        while (
            self.ready
            and len(self.in_flight) < self.window.size
            and not self.stopping.is_set()
            and not self.circuit.known_open
        ):
            self._start(self.ready.popleft())

    def _release(self, messages: Iterable[Claimed]) -> None:
        """Claimed messages back to the database's queue unsent, their attempt unused."""
        released = [
            Outcome(id=m.id, event=MessageEvent.RELEASE, lease_until=m.lease_until)
            for m in messages
        ]
        self.outcomes.extend(released)
        metrics.MESSAGES.labels(outcome=MessageEvent.RELEASE.value).inc(len(released))

    def _release_ready(self) -> None:
        self._release(self.ready)
        self.ready.clear()

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        metrics.IN_FLIGHT.dec()
        self._start_ready()

    async def _scopes(self, now: datetime) -> list[Scope]:
        if time.monotonic() - self.scopes_read >= SCOPES_TTL:
            rows = await Mailing.filter(state=MailingState.RUNNING, end_at__gt=now).only(
                "id", "text", "end_at", "window_start", "window_end"
            )
            self.active = {m.id: Active(m.id, m.text, m.end_at, m.window) for m in rows}
            self.unsent = await unsent_counts(list(self.active)) if len(rows) > 1 else {}
            self.scopes_read = time.monotonic()
        scopes = []
        for mailing in self.active.values():
            if mailing.window is None:
                scopes.append(Scope(mailing.id, None))
                continue
            open_zones = zones_open(now, mailing.window, await self._zones(mailing.id))
            if open_zones:
                scopes.append(Scope(mailing.id, frozenset(open_zones)))
        return self._share(scopes, now)

    def _share(self, scopes: list[Scope], now: datetime) -> list[Scope]:
        """Several mailings running: each claim is split by urgency (models.delivery)."""
        if len(scopes) < 2:
            return scopes
        demand = {
            s.mailing_id: (
                self.unsent.get(s.mailing_id, 0),
                (self.active[s.mailing_id].end_at - now).total_seconds(),
            )
            for s in scopes
        }
        shares = fair_shares(self.settings.batch_size, demand)
        return [Scope(s.mailing_id, s.open_zones, shares[s.mailing_id]) for s in scopes]

    async def _zones(self, mailing_id: int) -> list[str]:
        cached = self.zones.get(mailing_id)
        if cached is None or time.monotonic() - cached[0] > ZONES_TTL:
            cached = (time.monotonic(), await unsent_zones(mailing_id))
            self.zones[mailing_id] = cached
        return cached[1]

    async def _send(self, message: Claimed) -> None:
        """I/O only: the outcome policy (models/outcome.py) decides, this writes."""
        mailing = self.active.get(message.mailing_id)
        held = before_send(
            now=self.clock(),
            end_at=mailing.end_at if mailing else None,
            window=mailing.window if mailing else None,
            timezone=message.timezone,
            expected_answer=self.trips.percentile(),
            lease_until=message.lease_until,
            answer_within=self.settings.probe_timeout,
        )
        if held is not None or mailing is None:
            self._decided(message, held or Decision(event=MessageEvent.RELEASE))
            return
        started = time.perf_counter()
        tried = await self._call_probe(message, mailing)
        metrics.PROBE_LATENCY.observe(time.perf_counter() - started)
        _child(metrics.PROBE_OUTCOMES, tried.outcome).inc()
        now = self.clock()
        decision = after_answer(
            tried.answer,
            attempts=message.attempts,
            policy=self.retry,
            now=now,
            rand=self.rand,
            detail=tried.detail,
            retry_after=tried.retry_after,
        )
        if decision.event == MessageEvent.RETRY:
            metrics.RETRIES.labels(cause=tried.outcome).inc()
        self._decided(message, decision, tried.attempt(message.attempts, now))

    async def _call_probe(self, message: Claimed, mailing: Active) -> Tried:
        """One probe call, its answer classified; the circuit and pacing see it."""
        try:
            # The full timeout, not what is left before the end: an attempt started in time
            # has its answer recorded whenever it comes, so an accepted message is SENT.
            result = await self.probe.send(
                message.id,
                message.phone,
                mailing.text,
                attempt=message.attempts,
                log_extra={"mailing_id": message.mailing_id, "client_id": message.client_id},
            )
        except Unauthorized as exc:
            await self.circuit.trip()
            return Tried(Answer.UNAUTHORIZED, "unauthorized", exc.status, exc.latency)
        except Rejected as exc:
            self._observe(exc.latency)
            return Tried(Answer.REJECTED, "rejected", exc.status, exc.latency, exc.message)
        except Transient as exc:
            if exc.status is None:  # timeout or no connection: not a round trip
                self.window.lost()
            else:
                self._observe(exc.latency)
            outcome = "transient" if exc.status is not None else "timeout"
            return Tried(
                Answer.TRANSIENT, outcome, exc.status, exc.latency, exc.message, exc.retry_after
            )
        except Exception:
            log.exception(
                "unexpected error sending message",
                extra={"message_id": message.id, "mailing_id": message.mailing_id},
            )
            return Tried(Answer.ERROR, "error")
        self._observe(result.latency)
        if await self.circuit.is_open():
            await self.circuit.close()
        return Tried(Answer.ACCEPTED, "accepted", result.status, result.latency)

    def _decided(
        self, message: Claimed, decision: Decision, attempt: Attempt | None = None
    ) -> None:
        _child(metrics.MESSAGES, decision.event.value).inc()
        if decision.event == MessageEvent.ACCEPT:
            self.sent.append(message.id)
            return
        self.outcomes.append(
            Outcome(
                id=message.id,
                event=decision.event,
                next_attempt_at=decision.at,
                error=decision.error,
                lease_until=message.lease_until,
                attempt=attempt,
            )
        )

    def _next_lease(self, now: datetime) -> datetime:
        lease = claim_lease(now, self.settings.lease_seconds, self.last_lease)
        self.last_lease = lease
        return lease

    def _observe(self, latency: float | None) -> None:
        if latency is not None:
            self.trips.observe(latency)
        self.window.answered()

    async def _flush_loop(self) -> None:
        """Write outcomes every FLUSH_EVERY seconds until the drain is over and nothing is left;
        a database that is away at the stop is retried for LAST_FLUSH_RETRY seconds, after
        which the unwritten messages' leases expire and the sweep retries them."""
        give_up_at: float | None = None
        while True:
            drained = self.drained.is_set()
            try:
                await self.flush()
            except Exception:
                log.exception("could not write send outcomes; will retry")
                if drained:
                    give_up_at = give_up_at or time.monotonic() + LAST_FLUSH_RETRY
                    if time.monotonic() > give_up_at:
                        log.error(
                            "stopping with %d outcomes unwritten: retried after their lease",
                            len(self.sent) + len(self.outcomes),
                        )
                        return
            else:
                if drained and not (self.sent or self.outcomes):
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
        if touched and self.announce is not None:
            await self.announce(touched)
