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
from models.sql import Params, db, fetch, is_postgres

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


@dataclass(frozen=True)
class Scope:
    """Which messages may be claimed now: a running mailing, limited to the time zones whose
    local window is open (None = no window, every zone)."""

    mailing_id: int
    open_zones: frozenset[str] | None


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _scope_sql(scopes: Sequence[Scope], p: Params) -> str:
    unwindowed = [s.mailing_id for s in scopes if s.open_zones is None]
    parts = [f"mailing_id IN ({p.many(unwindowed)})"] if unwindowed else []
    for scope in scopes:
        if scope.open_zones:
            parts.append(
                f"(mailing_id = {p(scope.mailing_id)}"
                f" AND timezone IN ({p.many(sorted(scope.open_zones))}))"
            )
    return " OR ".join(parts)


async def claim(
    scopes: Sequence[Scope], now: datetime, owner: str, lease_until: datetime, limit: int
) -> list[Claimed]:
    """One statement claims up to `limit` due messages; on PostgreSQL `SKIP LOCKED` lets
    concurrent workers claim disjoint batches instead of queueing on the same rows."""
    p = Params()
    head = (
        f"UPDATE message SET status = 'SENDING', lease_owner = {p(owner)},"
        f" lease_until = {p(_utc(lease_until))}, attempts = attempts + 1,"
        f" updated_at = {(stamp := p(_utc(now)))}"
    )
    scope = _scope_sql(scopes, p)
    if not scope:
        return []
    lock = " FOR UPDATE SKIP LOCKED" if is_postgres() else ""
    rows = await fetch(
        f"{head} WHERE id IN (SELECT id FROM message WHERE status IN {UNSENT_SQL}"
        f" AND next_attempt_at <= {stamp} AND ({scope}) LIMIT {p(limit)}{lock})"
        f" AND status IN {UNSENT_SQL}"
        " RETURNING id, mailing_id, client_id, phone, timezone, attempts",
        p,
    )
    return [
        Claimed(r["id"], r["mailing_id"], r["client_id"], r["phone"], r["timezone"], r["attempts"])
        for r in rows
    ]


async def mark_sent(ids: Sequence[int], now: datetime) -> None:
    if not ids:
        return
    p = Params()
    stamp = p(_utc(now))
    await db().execute_query(
        f"UPDATE message SET status = 'SENT', sent_at = {stamp}, updated_at = {stamp},"
        " lease_owner = NULL, lease_until = NULL, last_error = NULL"
        f" WHERE id IN ({p.many(list(ids))}) AND status IN {NOT_FINAL_SQL}",
        p.values,
    )


@dataclass(frozen=True)
class Outcome:
    id: int
    status: MessageStatus  # RETRYING, FAILED or PENDING (released without using an attempt)
    next_attempt_at: datetime | None  # None: now
    error: str | None


async def record(outcomes: Sequence[Outcome], owner: str, now: datetime) -> None:
    """Write non-SENT outcomes; a release (PENDING) gives the attempt back."""
    if not outcomes:
        return
    p = Params()
    sql = (
        f"UPDATE message SET status = {p(None)}, next_attempt_at = {p(None)},"
        f" last_error = {p(None)}, updated_at = {p(None)},"
        f" attempts = attempts - {p(None)}, lease_owner = NULL, lease_until = NULL"
        f" WHERE id = {p(None)} AND status = 'SENDING' AND lease_owner = {p(None)}"
    )
    stamp = _utc(now)
    rows = [
        [
            o.status.value,
            _utc(o.next_attempt_at or now),
            (o.error or "")[:300] or None,
            stamp,
            1 if o.status == S.PENDING else 0,
            o.id,
            owner,
        ]
        for o in outcomes
    ]
    await db().execute_many(sql, rows)


def backoff(
    attempts: int, base: float, cap: float, retry_after: float | None, rand: random.Random
) -> float:
    """Exponential backoff with jitter (half to full delay, so retries of a burst spread out
    instead of hitting the probe together); never sooner than the server's Retry-After."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    delay *= 0.5 + rand.random() / 2
    return float(max(delay, retry_after or 0.0))
