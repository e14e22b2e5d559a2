"""Claiming messages for sending and recording outcomes: compare-and-set over sets of rows.

A claim moves due messages to SENDING under a lease (owner, until); outcomes are written only
while the row is still SENDING under the same owner, so a worker whose lease expired (and whose
messages were handed to another worker) cannot overwrite the newer outcome. SENT is the one
exception: an accepted message is SENT whatever else happened meanwhile, unless already final."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from models.message import MessageStatus
from models.sql import Params, db, fetch, is_postgres, write_transaction

S = MessageStatus
UNSENT_SQL = "('PENDING', 'RETRYING')"
NOT_FINAL_SQL = "('PENDING', 'RETRYING', 'SENDING')"


@dataclass(frozen=True)
class Claimed:
    id: int
    mailing_id: int
    client_id: int | None
    phone: str
    timezone: str
    attempts: int
    lease_until: datetime  # identifies this claim: outcomes are written only under it


@dataclass(frozen=True)
class Scope:
    """Which messages may be claimed now: a running mailing, limited to the time zones whose
    local window is open (None = no window, every zone)."""

    mailing_id: int
    open_zones: frozenset[str] | None
    share: int | None = None  # at most this many of the claim (None: the whole limit)


def fair_shares(limit: int, demand: dict[int, tuple[int, float]]) -> dict[int, int]:
    """Split one claim of `limit` messages between running mailings, weighted by the rate each
    needs to finish in time: unsent messages / seconds left (`demand[id] = (unsent, left)`).
    A short mailing created during a long one gets most of the capacity until it catches up,
    instead of waiting behind the long one's queue; every mailing gets at least one per claim,
    so none starves."""
    weights = {mid: unsent / max(left, 1.0) for mid, (unsent, left) in demand.items()}
    total = sum(weights.values())
    if total <= 0:
        even = max(1, limit // max(1, len(demand)))
        return dict.fromkeys(demand, even)
    return {mid: max(1, int(limit * w / total)) for mid, w in weights.items()}


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _scope_sql(scope: Scope, p: Params) -> str:
    if scope.open_zones is None:
        return f"mailing_id = {p(scope.mailing_id)}"
    return (
        f"mailing_id = {p(scope.mailing_id)} AND timezone IN ({p.many(sorted(scope.open_zones))})"
    )


async def claim(
    scopes: Sequence[Scope], now: datetime, owner: str, lease_until: datetime, limit: int
) -> list[Claimed]:
    """One statement claims up to `limit` due messages, each scope up to its share (one
    sub-select per mailing, so one mailing's queue cannot fill the whole claim); on PostgreSQL
    `SKIP LOCKED` lets concurrent workers claim disjoint batches instead of queueing on the
    same rows."""
    scopes = [s for s in scopes if s.open_zones is None or s.open_zones]
    if not scopes:
        return []
    p = Params()
    head = (
        f"UPDATE message SET status = 'SENDING', lease_owner = {p(owner)},"
        f" lease_until = {p(_utc(lease_until))}, attempts = attempts + 1,"
        f" updated_at = {(stamp := p(_utc(now)))}"
    )
    lock = " FOR UPDATE SKIP LOCKED" if is_postgres() else ""
    picks = [
        f"SELECT id FROM (SELECT id FROM message WHERE status IN {UNSENT_SQL}"
        f" AND next_attempt_at <= {stamp} AND {_scope_sql(scope, p)}"
        f" LIMIT {p(min(limit, scope.share or limit))}{lock}) AS s{n}"
        for n, scope in enumerate(scopes)
    ]
    rows = await fetch(
        f"{head} WHERE id IN ({' UNION ALL '.join(picks)}) AND status IN {UNSENT_SQL}"
        " RETURNING id, mailing_id, client_id, phone, timezone, attempts",
        p,
    )
    return [
        Claimed(
            r["id"],
            r["mailing_id"],
            r["client_id"],
            r["phone"],
            r["timezone"],
            r["attempts"],
            lease_until,
        )
        for r in rows
    ]


def _ids_locked_in_order(ids: Sequence[int], p: Params) -> str:
    """`id IN (…)` that, on PostgreSQL, first locks the rows in id order: a delete locks a
    mailing's or client's messages in the same order (models/sql.py lock_messages), so an
    outcome written meanwhile waits for it, or it for the outcome, but never both."""
    listed = p.many(list(ids))
    if not is_postgres():
        return f"id IN ({listed})"
    return f"id IN (SELECT id FROM message WHERE id IN ({listed}) ORDER BY id FOR UPDATE)"


async def mark_sent(ids: Sequence[int], now: datetime) -> None:
    if ids:
        await _mark_sent(ids, now)


@write_transaction
async def _mark_sent(ids: Sequence[int], now: datetime) -> None:
    p = Params()
    stamp = p(_utc(now))
    await db().execute_query(
        f"UPDATE message SET status = 'SENT', sent_at = {stamp}, updated_at = {stamp},"
        " lease_owner = NULL, lease_until = NULL, last_error = NULL"
        f" WHERE {_ids_locked_in_order(ids, p)} AND status IN {NOT_FINAL_SQL}",
        p.values,
    )


@dataclass(frozen=True)
class Outcome:
    id: int
    status: MessageStatus  # RETRYING, FAILED or PENDING (released without using an attempt)
    next_attempt_at: datetime | None  # None: now
    error: str | None
    lease_until: datetime  # the claim this outcome belongs to


_CASTS = ("bigint", "varchar", "timestamptz", "varchar", "int", "timestamptz")
_COLUMNS = ("id", "status", "next_at", "err", "refund", "lease")
RECORD_CHUNK = 1000


async def record(outcomes: Sequence[Outcome], owner: str, now: datetime) -> None:
    """Write non-SENT outcomes in ONE statement per chunk (a release, PENDING, gives the
    attempt back). One statement, not one per row: on PostgreSQL each statement fires the
    counter trigger, and many small ones locked counter rows in arrival order (deadlocks)."""
    for start in range(0, len(outcomes), RECORD_CHUNK):
        await _record_chunk(outcomes[start : start + RECORD_CHUNK], owner, now)


@write_transaction
async def _record_chunk(outcomes: Sequence[Outcome], owner: str, now: datetime) -> None:
    if not outcomes:
        return
    p = Params()
    pg = is_postgres()
    selects = []
    for n, o in enumerate(outcomes):
        values = (
            o.id,
            o.status.value,
            _utc(o.next_attempt_at or now),
            (o.error or "")[:300] or None,
            1 if o.status == S.PENDING else 0,
            _utc(o.lease_until),
        )
        cells = [p(v) + (f"::{cast}" if pg else "") for v, cast in zip(values, _CASTS, strict=True)]
        if n == 0:
            cells = [f"{cell} AS {name}" for cell, name in zip(cells, _COLUMNS, strict=True)]
        selects.append("SELECT " + ", ".join(cells))
    stamp = p(_utc(now))
    await db().execute_query(
        f"UPDATE message SET status = v.status, next_attempt_at = v.next_at,"
        f" last_error = v.err, updated_at = {stamp}, attempts = attempts - v.refund,"
        f" lease_owner = NULL, lease_until = NULL FROM ({' UNION ALL '.join(selects)}) AS v"
        f" WHERE message.{_ids_locked_in_order([o.id for o in outcomes], p)}"
        " AND message.id = v.id AND message.status = 'SENDING'"
        f" AND message.lease_owner = {p(owner)} AND message.lease_until = v.lease",
        p.values,
    )


def backoff(
    attempts: int, base: float, cap: float, retry_after: float | None, rand: random.Random
) -> float:
    """Exponential backoff with jitter (half to full delay, so retries of a burst spread out
    instead of hitting the probe together); never sooner than the server's Retry-After."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    delay *= 0.5 + rand.random() / 2
    return float(max(delay, retry_after or 0.0))
