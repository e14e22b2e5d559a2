"""Claiming messages for sending and recording outcomes: compare-and-set over sets of rows.

A claim moves due messages to SENDING under a lease (owner, until); outcomes are written only
while the row is still SENDING under the same owner, so a worker whose lease expired (and whose
messages were handed to another worker) cannot overwrite the newer outcome. SENT is the one
exception: an accepted message is SENT whatever else happened meanwhile, unless already final."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from models.sql import Params, db, fetch, is_postgres, write_transaction
from models.transitions import (
    UNSENT,
    MessageEvent,
    message_cas,
    message_cas_many,
    sql_list,
    target_of,
)

UNSENT_SQL = sql_list(UNSENT)


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
    assign = (
        f"lease_owner = {p(owner)}, lease_until = {p(_utc(lease_until))},"
        f" attempts = attempts + 1, updated_at = {(stamp := p(_utc(now)))}"
    )
    lock = " FOR UPDATE SKIP LOCKED" if is_postgres() else ""
    picks = [
        f"SELECT id FROM (SELECT id FROM message WHERE status IN {UNSENT_SQL}"
        f" AND next_attempt_at <= {stamp} AND {_scope_sql(scope, p)}"
        f" LIMIT {p(min(limit, scope.share or limit))}{lock}) AS s{n}"
        for n, scope in enumerate(scopes)
    ]
    where = f"id IN ({' UNION ALL '.join(picks)})"
    rows = await fetch(
        message_cas(MessageEvent.CLAIM, assign=assign, where=where)
        + " RETURNING id, mailing_id, client_id, phone, timezone, attempts",
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
    assign = (
        f"sent_at = {stamp}, updated_at = {stamp}, lease_owner = NULL, lease_until = NULL,"
        " last_error = NULL"
    )
    where = _ids_locked_in_order(ids, p)
    await db().execute_query(message_cas(MessageEvent.ACCEPT, assign=assign, where=where), p.values)


OUTCOME_EVENTS = (MessageEvent.RETRY, MessageEvent.REJECT, MessageEvent.RELEASE)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """A claimed message's fate other than SENT (which `mark_sent` writes)."""

    id: int
    event: MessageEvent  # one of OUTCOME_EVENTS
    next_attempt_at: datetime | None = None  # None: now
    error: str | None = None
    lease_until: datetime  # the claim this outcome belongs to

    def __post_init__(self) -> None:
        assert self.event in OUTCOME_EVENTS, self.event


_CASTS = ("bigint", "varchar", "timestamptz", "varchar", "int", "timestamptz")
_COLUMNS = ("id", "status", "next_at", "err", "unused", "lease")
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
            target_of(o.event).value,
            _utc(o.next_attempt_at or now),
            (o.error or "")[:300] or None,
            1 if o.event == MessageEvent.RELEASE else 0,  # the attempt was not used: given back
            _utc(o.lease_until),
        )
        cells = [p(v) + (f"::{cast}" if pg else "") for v, cast in zip(values, _CASTS, strict=True)]
        if n == 0:
            cells = [f"{cell} AS {name}" for cell, name in zip(cells, _COLUMNS, strict=True)]
        selects.append("SELECT " + ", ".join(cells))
    stamp = p(_utc(now))
    sql = message_cas_many(
        OUTCOME_EVENTS,
        "v.status",
        assign=f"next_attempt_at = v.next_at, last_error = v.err, updated_at = {stamp},"
        " attempts = attempts - v.unused, lease_owner = NULL, lease_until = NULL",
        source=f" FROM ({' UNION ALL '.join(selects)}) AS v",
        where=f"message.{_ids_locked_in_order([o.id for o in outcomes], p)}"
        f" AND message.id = v.id AND message.lease_owner = {p(owner)}"
        " AND message.lease_until = v.lease",
    )
    await db().execute_query(sql, p.values)
