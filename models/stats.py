"""Delivery statistics: counts per status from grouped queries, never one query per mailing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tortoise import fields
from tortoise.models import Model

from models.mailing import Mailing, MailingState
from models.message import MessageStatus
from models.sql import fetch
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
