"""What the daily report says about one local day: the mailings that were active on it, each
with its counts by status, its delivery rate, what it sent that day and the failures of that day
with their most common errors, and the totals. A handful of grouped queries over indexed
columns, whatever the number of mailings or messages (no query per mailing)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q

from models.mailing import Mailing, MailingState
from models.report import local_day_bounds
from models.sql import fetch
from models.states import MessageStatus
from models.stats import Counts, counts_for_mailings

TOP_ERRORS = 3  # most common errors shown per mailing (and for the totals)
# The outcomes a rate is taken over: a cancelled or unsent message says nothing of delivery.
FINAL = (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.EXPIRED)

SENT_IN_DAY = (
    "SELECT mailing_id, COUNT(*) AS n FROM message WHERE mailing_id IN (:ids)"
    f" AND status = '{MessageStatus.SENT}' AND sent_at >= :since AND sent_at < :until"
    " GROUP BY mailing_id"
)
# Failed attempts of the day (message_attempt has a row for each, index (mailing_id, at)):
# outcome FAILED is a message that failed for good, RETRYING one that will be tried again.
FAILURES_IN_DAY = (
    "SELECT mailing_id, outcome, error, COUNT(*) AS n FROM message_attempt"
    " WHERE mailing_id IN (:ids) AND at >= :since AND at < :until"
    f" AND outcome IN ('{MessageStatus.FAILED}', '{MessageStatus.RETRYING}')"
    " GROUP BY mailing_id, outcome, error"
)


@dataclass(frozen=True)
class MailingLine:
    mailing_id: int
    text: str
    state: MailingState
    counts: Counts  # by status, when the report was made
    sent_in_day: int = 0
    failed_in_day: int = 0  # messages that failed for good that day
    retried_in_day: int = 0  # failed attempts that day that will be tried again
    errors: tuple[tuple[str, int], ...] = ()  # the day's most common errors, most first

    @property
    def delivery_rate(self) -> float | None:
        return delivery_rate(self.counts)


@dataclass(frozen=True)
class DailyStats:
    day: date
    zone: str
    since: datetime  # the day's bounds, UTC
    until: datetime
    made_at: datetime
    mailings: list[MailingLine] = field(default_factory=list)

    @property
    def totals(self) -> MailingLine:
        """The sums over the mailings (errors: the most common over all of them)."""
        counts = Counts.empty()
        errors: Counter[str] = Counter()
        for line in self.mailings:
            for status, n in line.counts.by_status.items():
                counts.by_status[status] += n
            errors.update(dict(line.errors))
        return MailingLine(
            0,
            "",
            MailingState.RUNNING,
            counts,
            sum(m.sent_in_day for m in self.mailings),
            sum(m.failed_in_day for m in self.mailings),
            sum(m.retried_in_day for m in self.mailings),
            tuple(errors.most_common(TOP_ERRORS)),
        )


def delivery_rate(counts: Counts) -> float | None:
    """SENT over the messages whose fate is known (SENT, FAILED, EXPIRED); None before any."""
    final = sum(counts.by_status[s] for s in FINAL)
    return counts.by_status[MessageStatus.SENT] / final if final else None


async def daily_stats(day: date, zone: ZoneInfo, now: datetime) -> DailyStats:
    """The report of local `day` in `zone`, as the database says at `now`. A mailing counts
    as active that day when it started before the day's end and had not finished before its
    start; counts by status are its counters at `now` (final for a finished mailing)."""
    since, until = local_day_bounds(day, zone)
    mailings = (
        await Mailing.filter(started_at__lt=until)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=since))
        .order_by("id")
    )
    ids = [m.id for m in mailings]
    counts = await counts_for_mailings(ids)
    sent = {int(r["mailing_id"]): int(r["n"]) for r in await _rows(SENT_IN_DAY, ids, since, until)}
    failed: Counter[int] = Counter()
    retried: Counter[int] = Counter()
    errors: dict[int, Counter[str]] = {mid: Counter() for mid in ids}
    for row in await _rows(FAILURES_IN_DAY, ids, since, until):
        mid, n = int(row["mailing_id"]), int(row["n"])
        (failed if row["outcome"] == MessageStatus.FAILED else retried)[mid] += n
        errors[mid][_error_name(row["error"])] += n
    lines = [
        MailingLine(
            m.id,
            m.text,
            MailingState(m.state),
            counts[m.id],
            sent.get(m.id, 0),
            failed[m.id],
            retried[m.id],
            tuple(errors[m.id].most_common(TOP_ERRORS)),
        )
        for m in mailings
    ]
    return DailyStats(day, zone.key, since, until, now, lines)


async def _rows(sql: str, ids: list[int], since: datetime, until: datetime) -> list[dict[str, Any]]:
    if not ids:
        return []
    return await fetch(sql, ids=ids, since=since, until=until)


def _error_name(error: object) -> str:
    """An attempt's error as grouped: the retry's and the last attempt's are one error."""
    text = str(error or "no detail")
    return text.removesuffix(" (attempts exhausted)")
