"""Delivery statistics: counts per status from grouped queries, never one query per mailing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.mailing import Mailing, MailingState
from models.message import MessageStatus
from models.sql import Statement, fetch, is_postgres, write_statements
from models.transitions import UNSENT, sql_list


class MailingStat(Model):
    """Messages per (mailing, status), kept by database triggers in the same transaction as
    every insert, status change and delete of `message` (migrations/0002), so live statistics
    never count the message table."""

    id = fields.IntField(primary_key=True)
    mailing_id = fields.IntField()
    status = fields.CharField(max_length=10)
    n = fields.BigIntField(default=0)

    class Meta:
        table = "mailing_stat"
        unique_together = (("mailing_id", "status"),)


# The counters, read three ways; never a COUNT(*) over messages.
COUNTS_OF_MAILINGS = "SELECT mailing_id, status, n FROM mailing_stat WHERE mailing_id IN (:ids)"
ALL_COUNTS = "SELECT mailing_id, status, n FROM mailing_stat"
UNSENT_OF_MAILINGS = (
    f"SELECT mailing_id, n FROM mailing_stat WHERE status IN {sql_list(UNSENT)}"
    " AND mailing_id IN (:ids)"
)


@dataclass(frozen=True)
class Counts:
    """Counts per status with every status present (zeros included)."""

    by_status: dict[MessageStatus, int]

    @classmethod
    def empty(cls) -> Counts:
        return cls({status: 0 for status in MessageStatus})

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class MailingCounts:
    mailing_id: int
    state: MailingState
    counts: Counts


async def counts_for_mailings(mailing_ids: Sequence[int]) -> dict[int, Counts]:
    """One query for many mailings (the DataLoader batches a request's mailings), reading the
    trigger-maintained counters: no COUNT(*) over messages."""
    result = {mid: Counts.empty() for mid in mailing_ids}
    if not mailing_ids:
        return result
    rows = await fetch(COUNTS_OF_MAILINGS, ids=list(mailing_ids))
    for row in rows:
        result[row["mailing_id"]].by_status[MessageStatus(row["status"])] = int(row["n"])
    return result


async def overall_counts() -> tuple[Counts, list[MailingCounts]]:
    """Totals and per-mailing counts from the counters plus one list of mailings."""
    rows = await fetch(ALL_COUNTS)
    mailings = await Mailing.all().order_by("id").values_list("id", "state")
    per = {mid: Counts.empty() for mid, _ in mailings}
    total = Counts.empty()
    for row in rows:
        status = MessageStatus(row["status"])
        total.by_status[status] += int(row["n"])
        if row["mailing_id"] in per:
            per[row["mailing_id"]].by_status[status] = int(row["n"])
    return total, [MailingCounts(mid, MailingState(state), per[mid]) for mid, state in mailings]


async def unsent_counts(mailing_ids: Sequence[int]) -> dict[int, int]:
    """PENDING + RETRYING per mailing, from the counters: what each still has to send."""
    result = dict.fromkeys(mailing_ids, 0)
    if not mailing_ids:
        return result
    rows = await fetch(UNSENT_OF_MAILINGS, ids=list(mailing_ids))
    for row in rows:
        result[int(row["mailing_id"])] += int(row["n"])
    return result


@dataclass(frozen=True)
class Drift:
    """A mailing whose counters differ from its message rows: (status -> n) on each side,
    statuses with zero left out."""

    mailing_id: int
    kept: dict[str, int]
    counted: dict[str, int]


KEPT_PER_MAILING = "SELECT mailing_id, status, n FROM mailing_stat"
COUNTED_PER_MAILING = (
    "SELECT mailing_id, status, COUNT(*) AS n FROM message GROUP BY mailing_id, status"
)
DROP_COUNTERS = "DELETE FROM mailing_stat WHERE mailing_id IN (:ids)"
RECOUNT = (
    "INSERT INTO mailing_stat (mailing_id, status, n)"
    " SELECT mailing_id, status, COUNT(*) FROM message WHERE mailing_id IN (:ids)"
    " GROUP BY mailing_id, status"
)
LOCK_COUNTERS = "LOCK TABLE mailing_stat IN SHARE ROW EXCLUSIVE MODE"


async def _per_mailing(sql: str) -> dict[int, dict[str, int]]:
    result: dict[int, dict[str, int]] = {}
    for row in await fetch(sql):
        if int(row["n"]):
            result.setdefault(int(row["mailing_id"]), {})[str(row["status"])] = int(row["n"])
    return result


async def counter_drift() -> list[Drift]:
    """Every mailing whose trigger-kept counters are not what COUNT(*) over its messages says
    (one grouped query each side). The triggers keep them equal in every transaction, but a
    TRUNCATE of `message` fires no row or statement DELETE trigger on PostgreSQL, and a hand
    edit of `mailing_stat` is not checked by anything: `herald doctor` reports them."""
    kept = await _per_mailing(KEPT_PER_MAILING)
    counted = await _per_mailing(COUNTED_PER_MAILING)
    return [
        Drift(mid, kept.get(mid, {}), counted.get(mid, {}))
        for mid in sorted(kept.keys() | counted.keys())
        if kept.get(mid, {}) != counted.get(mid, {})
    ]


async def recount(mailing_ids: Sequence[int]) -> None:
    """Rebuild the counters of these mailings from their message rows, set-based, in one
    transaction. On PostgreSQL `mailing_stat` is locked first (SHARE ROW EXCLUSIVE conflicts
    with the row locks every trigger's upsert takes), so no worker's trigger interleaves
    between the delete and the insert; on SQLite the write transaction is the lock."""
    if not mailing_ids:
        return
    ids = {"ids": list(mailing_ids)}
    lock: list[tuple[Statement, dict[str, Any]]] = [(LOCK_COUNTERS, {})] if is_postgres() else []
    await write_statements(*lock, (DROP_COUNTERS, ids), (RECOUNT, ids))
