"""Delivery over time: sent, failed and retried per UTC bucket (second, minute, hour) of one
mailing, for charts. One grouped query over indexed columns, no per-event rows of its own:
sent from `message.sent_at` (index mailing_id, status, sent_at: SENT rows only), failed and
retried from the attempt history's `at` (index mailing_id, at), which holds a row for every
attempt that did not succeed and nothing for a success."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from models.errors import InvalidInput
from models.mailing import Mailing, MailingState, validate_aware
from models.sql import PerDialect, fetch
from models.states import MessageStatus

MAX_BUCKETS = 500
# A cancel does not wait for the sends in flight: their answers (bounded by PROBE_TIMEOUT) are
# recorded after it, so a cancelled mailing's default range runs this much past its end.
AFTER_CANCEL = timedelta(seconds=60)


class Bucket(Enum):
    SECOND = 1
    MINUTE = 60
    HOUR = 3600


@dataclass(frozen=True)
class Point:
    start: datetime  # the bucket's first instant, UTC
    sent: int = 0
    failed: int = 0
    retried: int = 0


_EPOCH_BUCKET = PerDialect(
    postgres="(floor(extract(epoch FROM {column}) / :size::integer) * :size::integer)::bigint",
    sqlite="(CAST(strftime('%s', {column}) AS INTEGER) / :size) * :size",
)
_SENT, _FAILED, _RETRIED = MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.RETRYING


def _timeline_sql(bucket: str) -> str:
    return (
        "SELECT b, kind, COUNT(*) AS n FROM ("
        f"SELECT {bucket.format(column='sent_at')} AS b, '{_SENT}' AS kind FROM message"
        f" WHERE mailing_id = :mailing_id AND status = '{_SENT}'"
        " AND sent_at >= :since AND sent_at < :until"
        f" UNION ALL SELECT {bucket.format(column='at')} AS b, outcome AS kind"
        " FROM message_attempt WHERE mailing_id = :mailing_id"
        f" AND at >= :since AND at < :until AND outcome IN ('{_FAILED}', '{_RETRIED}')"
        ") AS e GROUP BY b, kind"
    )


TIMELINE = PerDialect(
    postgres=_timeline_sql(_EPOCH_BUCKET.postgres), sqlite=_timeline_sql(_EPOCH_BUCKET.sqlite)
)


def default_range(mailing: Mailing, now: datetime) -> tuple[datetime, datetime] | None:
    """From the mailing's start to its finish (a cancelled one: AFTER_CANCEL later) or `now`;
    None before it started (it has no messages yet)."""
    if mailing.started_at is None:
        return None
    until = now
    if mailing.finished_at is not None:
        late = AFTER_CANCEL if mailing.state == MailingState.CANCELLED else timedelta(0)
        until = min(now, mailing.finished_at + late)
    return mailing.started_at, max(until, mailing.started_at)


def buckets(bucket: Bucket, since: datetime, until: datetime) -> list[datetime]:
    """The buckets covering [since, until): aligned on UTC (a minute starts at :00, an hour
    at its hour), at most MAX_BUCKETS."""
    size = bucket.value
    first = math.floor(since.timestamp() / size) * size
    last = max(math.ceil(until.timestamp() / size) * size, first + size)
    count = (last - first) // size
    if count > MAX_BUCKETS:
        raise InvalidInput(
            f"the timeline would have {count:,} buckets of one {bucket.name.lower()}, more than"
            f" {MAX_BUCKETS}: choose a larger bucket or a shorter from/to",
            field="bucket",
        )
    return [datetime.fromtimestamp(first + i * size, UTC) for i in range(count)]


def requested_range(
    mailing: Mailing, since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """`from`/`to` as given (each defaulting to the mailing's own range), checked."""
    default = default_range(mailing, now)
    if since is None and until is None:
        return default
    start = validate_aware(since, "from") if since else (default or (now, now))[0]
    end = validate_aware(until, "to") if until else (default or (now, now))[1]
    if end <= start:
        raise InvalidInput("to must be after from", field="to")
    return start, end


async def timeline(
    mailing: Mailing,
    bucket: Bucket,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Point]:
    """Every bucket of the range, zeros included (a chart's axis has no gaps)."""
    span = requested_range(mailing, since, until, now)
    if span is None:
        return []
    starts = buckets(bucket, *span)
    rows = await fetch(
        TIMELINE,
        mailing_id=mailing.id,
        size=bucket.value,
        since=starts[0],
        until=starts[-1] + timedelta(seconds=bucket.value),
    )
    counts: dict[tuple[int, str], int] = {(int(r["b"]), str(r["kind"])): int(r["n"]) for r in rows}

    def n(start: datetime, kind: str) -> int:
        return counts.get((int(start.timestamp()), kind), 0)

    return [Point(s, n(s, _SENT), n(s, _FAILED), n(s, _RETRIED)) for s in starts]
