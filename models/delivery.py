"""Claiming messages for sending and recording outcomes: compare-and-set over sets of rows.

A claim moves due messages to SENDING under a lease (owner, until); outcomes are written only
while the row is still SENDING under the same owner, so a worker whose lease expired (and whose
messages were handed to another worker) cannot overwrite the newer outcome. SENT is the one
exception: an accepted message is SENT whatever else happened meanwhile, unless already final."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from models.attempts import Attempt, attempt_fields
from models.sql import (
    PerDialect,
    Statement,
    Steps,
    fetch,
    is_postgres,
    json_rows,
    rows_per_write,
    write_each,
    write_then_fetch,
)
from models.transitions import (
    MESSAGE_EVENTS,
    STATUS,
    STATUS_NOT_INDEXED,
    UNSENT,
    MessageEvent,
    message_cas,
    message_cas_many,
    sql_list,
    target_of,
)


class Claimed(NamedTuple):
    """A message this worker claimed, as it sends it. A NamedTuple (one per message sent:
    0.5 µs to make, where a frozen dataclass costs 1.8 µs), immutable all the same."""

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


def claim_lease(now: datetime, seconds: float, last: datetime | None) -> datetime:
    """The lease end of a claim made at `now`: `seconds` later, and later than the `last`
    claim's of the same owner even when the clock stood still (an injected clock, a coarse
    one), because a lease names its claim (CLAIMED_SQLITE reads the rows back by it)."""
    lease = now + timedelta(seconds=seconds)
    return lease if last is None or lease > last else last + timedelta(microseconds=1)


UNSENT_SQL = sql_list(UNSENT)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# The claim: one compare-and-set whose rows are the union of one pick per scope (numbered n),
# each limited to its share; on PostgreSQL a pick skips rows another worker has locked.
CLAIM_PICK = (
    "SELECT id FROM (SELECT id FROM message WHERE status IN {unsent}"
    " AND next_attempt_at <= :now AND mailing_id = :mailing_{n}{zones}"
    " LIMIT :share_{n}{lock}) AS s{n}"
)
CLAIM_IN_ZONES = " AND timezone IN (:zones_{n})"
SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"


# The picks are a MATERIALIZED CTE, evaluated once: inside `WHERE id IN (subquery)` PostgreSQL
# may re-run a LIMIT … FOR UPDATE SKIP LOCKED subquery per outer row (it did with statistics
# that said every message was SENT), each run skipping the rows the last one locked, and so
# claim far more than the share.
def _claim_cas(guard: str) -> str:
    return "WITH picked AS MATERIALIZED ({picks}) " + message_cas(
        MessageEvent.CLAIM,
        assign="lease_owner = :owner, lease_until = :lease_until, attempts = attempts + 1,"
        " updated_at = :now",
        where="id IN (SELECT id FROM picked)",
        guard=guard,
    )


CLAIMED_COLUMNS = "id, mailing_id, client_id, phone, timezone, attempts"
CLAIM = PerDialect(
    postgres=_claim_cas(STATUS) + f" RETURNING {CLAIMED_COLUMNS}",
    sqlite=_claim_cas(STATUS_NOT_INDEXED),
)
# On SQLite the claimed rows are read after the claim commits, by the claim's lease: with
# RETURNING they would be read while the write lock is held, and Python's driver gives the GIL
# up for every row it steps, waiting to get it back from a busy event loop each time (a
# 500-row claim held the lock 49 ms at p99, and every API mutation waited for it). The lease
# (owner, until) is this claim's alone: `claim_lease` never gives two claims of one owner the
# same `until`.
# Rows that left SENDING in between (a cancel) are not returned, so not sent.
CLAIMED_SQLITE = (
    f"SELECT {CLAIMED_COLUMNS} FROM message WHERE mailing_id IN (:mailings)"
    f" AND status = '{target_of(MessageEvent.CLAIM).value}'"
    " AND lease_owner = :owner AND lease_until = :lease_until"
)  # no ORDER BY: SQLite would then walk every message of the mailing by (mailing_id, id)


def _claim_sql(scopes: Sequence[Scope], limit: int, postgres: bool) -> tuple[str, dict[str, Any]]:
    picks: list[str] = []
    params: dict[str, Any] = {}
    for n, scope in enumerate(scopes):
        zones = "" if scope.open_zones is None else CLAIM_IN_ZONES.format(n=n)
        lock = SKIP_LOCKED if postgres else ""
        picks.append(CLAIM_PICK.format(n=n, unsent=UNSENT_SQL, zones=zones, lock=lock))
        params[f"mailing_{n}"] = scope.mailing_id
        params[f"share_{n}"] = min(limit, scope.share or limit)
        if scope.open_zones is not None:
            params[f"zones_{n}"] = scope.open_zones
    claim_sql = CLAIM.postgres if postgres else CLAIM.sqlite
    return claim_sql.format(picks=" UNION ALL ".join(picks)), params


async def claim(
    scopes: Sequence[Scope], now: datetime, owner: str, lease_until: datetime, limit: int
) -> list[Claimed]:
    """One statement claims up to `limit` due messages, each scope up to its share (one
    sub-select per mailing, so one mailing's queue cannot fill the whole claim); on PostgreSQL
    `SKIP LOCKED` lets concurrent workers claim disjoint batches instead of queueing on the
    same rows. (`owner`, `lease_until`) must name this claim alone: on SQLite the claimed rows
    are read back by it (CLAIMED_SQLITE)."""
    scopes = [s for s in scopes if s.open_zones is None or s.open_zones]
    if not scopes:
        return []
    postgres = is_postgres()
    sql, picks = _claim_sql(scopes, limit, postgres)
    lease = {"owner": owner, "lease_until": _utc(lease_until)}
    if postgres:
        rows = await fetch(sql, now=_utc(now), **lease, **picks)
    else:
        rows = await write_then_fetch(
            (sql, {"now": _utc(now), **lease, **picks}),
            (CLAIMED_SQLITE, {"mailings": [s.mailing_id for s in scopes], **lease}),
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


# Outcomes name their rows by id. On PostgreSQL they first lock them in id order: a delete
# locks a mailing's or client's messages in the same order (models/sql.py lock_messages), so
# an outcome written meanwhile waits for it, or it for the outcome, but never both.
IDS = PerDialect(
    postgres="id IN (SELECT id FROM message WHERE id IN (:ids) ORDER BY id FOR UPDATE)",
    sqlite="id IN (:ids)",
)


def _mark_sent_sql(ids: str, guard: str) -> str:
    return message_cas(
        MessageEvent.ACCEPT,
        assign="sent_at = :now, updated_at = :now, lease_owner = NULL, lease_until = NULL,"
        " last_error = NULL",
        where=ids,
        guard=guard,
    )


MARK_SENT = PerDialect(
    postgres=_mark_sent_sql(IDS.postgres, STATUS),
    sqlite=_mark_sent_sql(IDS.sqlite, STATUS_NOT_INDEXED),
)


async def mark_sent(ids: Sequence[int], now: datetime) -> None:
    """Accepted messages become SENT, in transactions of `rows_per_write()` rows (each row's
    compare-and-set stands alone, so they need not be one)."""
    if not ids:
        return
    size, at = rows_per_write(), _utc(now)
    chunks = (list(ids[n : n + size]) for n in range(0, len(ids), size))
    await write_each([[(MARK_SENT, {"ids": chunk, "now": at})] for chunk in chunks])


OUTCOME_EVENTS = (MessageEvent.RETRY, MessageEvent.REJECT, MessageEvent.RELEASE)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """A claimed message's fate other than SENT (which `mark_sent` writes)."""

    id: int
    event: MessageEvent  # one of OUTCOME_EVENTS
    next_attempt_at: datetime | None = None  # None: now
    error: str | None = None
    lease_until: datetime  # the claim this outcome belongs to
    attempt: Attempt | None = None  # the failed probe call, if one was made: kept as history

    def __post_init__(self) -> None:
        assert self.event in OUTCOME_EVENTS, self.event


# The outcomes of a chunk as rows `v`, from one JSON parameter (a list of objects), instead of
# six parameters per row: the text is the same for every chunk and costs nothing to render.
# Materialized: SQLite would otherwise re-read the JSON for every message row it joins.
OUTCOME_ROWS = PerDialect(
    postgres="WITH v AS (SELECT * FROM json_to_recordset(:rows::json) AS r(id bigint,"
    " status varchar, next_at timestamptz, err varchar, unused int, lease timestamptz))",
    sqlite="WITH v AS MATERIALIZED (SELECT json_extract(value, '$.id') AS id,"
    " json_extract(value, '$.status') AS status, json_extract(value, '$.next_at') AS next_at,"
    " json_extract(value, '$.err') AS err, json_extract(value, '$.unused') AS unused,"
    " json_extract(value, '$.lease') AS lease FROM json_each(:rows))",
)


def _record_sql(rows: str, ids: str, guard: str) -> str:
    return f"{rows} " + message_cas_many(
        OUTCOME_EVENTS,
        "v.status",
        assign="next_attempt_at = v.next_at, last_error = v.err, updated_at = :now,"
        " attempts = attempts - v.unused, lease_owner = NULL, lease_until = NULL",
        source=" FROM v",
        where=f"message.{ids} AND message.id = v.id AND message.lease_owner = :owner"
        " AND message.lease_until = v.lease",
        guard=guard,
    )


RECORD = PerDialect(
    postgres=_record_sql(OUTCOME_ROWS.postgres, IDS.postgres, STATUS),
    sqlite=_record_sql(OUTCOME_ROWS.sqlite, IDS.sqlite, STATUS_NOT_INDEXED),
)

# The failed attempts of the same chunk, from the same JSON parameter (only rows that carry an
# attempt), run just before RECORD in its transaction and under the same guard (still SENDING
# under this claim's lease): exactly the rows RECORD then moves get a history row. On
# PostgreSQL the guard locks them in id order, as RECORD does.
ATTEMPT_ROWS = PerDialect(
    postgres="WITH a AS (SELECT * FROM json_to_recordset(:rows::json) AS r(id bigint,"
    " status varchar, err varchar, lease timestamptz, attempt int, at timestamptz, http int,"
    " ms double precision, cls varchar) WHERE cls IS NOT NULL)",
    sqlite="WITH a AS MATERIALIZED (SELECT json_extract(value, '$.id') AS id,"
    " json_extract(value, '$.status') AS status, json_extract(value, '$.err') AS err,"
    " json_extract(value, '$.lease') AS lease, json_extract(value, '$.attempt') AS attempt,"
    " json_extract(value, '$.at') AS at, json_extract(value, '$.http') AS http,"
    " json_extract(value, '$.ms') AS ms, json_extract(value, '$.cls') AS cls"
    " FROM json_each(:rows) WHERE json_extract(value, '$.cls') IS NOT NULL)",
)
_CLAIMED = sql_list(MESSAGE_EVENTS[MessageEvent.RETRY].sources)


def _record_attempts_sql(rows: str, ids: str, guard: str) -> str:
    return (
        f"{rows} INSERT INTO message_attempt (message_id, mailing_id, attempt, at,"
        " http_status, latency_ms, error_class, error, outcome)"
        " SELECT m.id, m.mailing_id, a.attempt, a.at, a.http, a.ms, a.cls, a.err, a.status"
        f" FROM a JOIN message m ON m.id = a.id WHERE m.{ids} AND {guard} IN {_CLAIMED}"
        " AND m.lease_owner = :owner AND m.lease_until = a.lease"
    )


RECORD_ATTEMPTS = PerDialect(
    postgres=_record_attempts_sql(ATTEMPT_ROWS.postgres, IDS.postgres, "m.status"),
    sqlite=_record_attempts_sql(ATTEMPT_ROWS.sqlite, IDS.sqlite, "+m.status"),
)


async def record(outcomes: Sequence[Outcome], owner: str, now: datetime) -> None:
    """Write non-SENT outcomes in ONE statement per chunk of `rows_per_write()` (a release,
    PENDING, gives the attempt back), a transaction each. One statement, not one per row: on
    PostgreSQL each statement fires the counter trigger, and many small ones locked counter
    rows in arrival order (deadlocks). The chunk's failed probe calls go into the attempt
    history by one more statement in the same transaction, only when the chunk has any (never
    for a success or a release that sent nothing)."""
    if not outcomes:
        return
    size = rows_per_write()
    await write_each(
        [_record_steps(outcomes[n : n + size], owner, now) for n in range(0, len(outcomes), size)]
    )


def _outcome_row(outcome: Outcome, now: datetime) -> dict[str, Any]:
    row = {
        "id": outcome.id,
        "status": target_of(outcome.event).value,
        "next_at": _utc(outcome.next_attempt_at or now),
        "err": (outcome.error or "").replace("\x00", "")[:300] or None,  # no NUL in text
        # A release did not use its attempt: it is given back.
        "unused": 1 if outcome.event == MessageEvent.RELEASE else 0,
        "lease": _utc(outcome.lease_until),
    }
    return row | attempt_fields(outcome.attempt) if outcome.attempt else row


def _record_steps(outcomes: Sequence[Outcome], owner: str, now: datetime) -> Steps:
    rows, ids = json_rows(_outcome_row(o, now) for o in outcomes), [o.id for o in outcomes]
    steps: list[tuple[Statement, dict[str, Any]]] = []
    if any(o.attempt for o in outcomes):
        steps.append((RECORD_ATTEMPTS, {"rows": rows, "ids": ids, "owner": owner}))
    steps.append((RECORD, {"rows": rows, "ids": ids, "owner": owner, "now": _utc(now)}))
    return steps
