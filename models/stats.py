"""Delivery statistics: counts per status from grouped queries, never one query per mailing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.mailing import Mailing, MailingState
from models.message import MessageStatus
from models.sql import Params, fetch


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
    """One grouped query for many mailings (the DataLoader batches a request's mailings)."""
    result = {mid: Counts.empty() for mid in mailing_ids}
    if not mailing_ids:
        return result
    p = Params()
    rows = await fetch(
        "SELECT mailing_id, status, COUNT(*) AS n FROM message "
        f"WHERE mailing_id IN ({p.many(list(mailing_ids))}) GROUP BY mailing_id, status",
        p,
    )
    for row in rows:
        result[row["mailing_id"]].by_status[MessageStatus(row["status"])] = int(row["n"])
    return result


async def overall_counts() -> tuple[Counts, list[MailingCounts]]:
    """Totals and per-mailing counts from one grouped query plus one list of mailings."""
    rows = await fetch(
        "SELECT mailing_id, status, COUNT(*) AS n FROM message GROUP BY mailing_id, status",
        Params(),
    )
    mailings = await Mailing.all().order_by("id").values_list("id", "state")
    per = {mid: Counts.empty() for mid, _ in mailings}
    total = Counts.empty()
    for row in rows:
        status = MessageStatus(row["status"])
        total.by_status[status] += int(row["n"])
        if row["mailing_id"] in per:
            per[row["mailing_id"]].by_status[status] = int(row["n"])
    return total, [MailingCounts(mid, MailingState(state), per[mid]) for mid, state in mailings]
