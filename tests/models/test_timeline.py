"""Timeline buckets (models/timeline.py): UTC alignment and the bucket limit, then the one
grouped query on both databases at fixed instants, from rows the worker's statements wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.attempts import Attempt, ErrorClass, MessageAttempt
from models.delivery import Outcome, Scope, claim, mark_sent, record
from models.errors import InvalidInput
from models.mailing import Mailing, MailingState
from models.message import Message
from models.timeline import MAX_BUCKETS, Bucket, Point, buckets, timeline
from models.transitions import MessageEvent

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_buckets_are_aligned_on_utc() -> None:
    assert buckets(Bucket.MINUTE, at(30), at(150)) == [at(0), at(60), at(120)]
    assert buckets(Bucket.HOUR, at(59), at(61)) == [at(0)]
    assert buckets(Bucket.SECOND, at(0.5), at(0.5)) == [at(0)]  # never empty
    moscow = datetime(2030, 1, 1, 15, 0, 30, tzinfo=UTC).astimezone()
    assert buckets(Bucket.MINUTE, moscow, moscow)[0].tzinfo == UTC


def test_more_buckets_than_the_limit_is_a_clear_error() -> None:
    assert len(buckets(Bucket.SECOND, at(0), at(MAX_BUCKETS))) == MAX_BUCKETS
    with pytest.raises(InvalidInput) as caught:
        buckets(Bucket.SECOND, at(0), at(MAX_BUCKETS + 1))
    assert caught.value.field == "bucket"
    assert f"{MAX_BUCKETS + 1} buckets" in caught.value.message


async def _attempts(mailing_id: int, n: int) -> list[int]:
    for i in range(n):
        await Message.create(
            mailing_id=mailing_id, phone=f"7916000{i:04d}", timezone="UTC", next_attempt_at=NOW
        )
    claimed = await claim([Scope(mailing_id, None)], NOW, "w", at(60), n)
    return [m.id for m in sorted(claimed, key=lambda m: m.id)]


def _failed(mid: int, event: MessageEvent, when: float, status: int | None) -> Outcome:
    attempt = Attempt(number=1, at=at(when), error_class=ErrorClass.TRANSIENT, http_status=status)
    return Outcome(id=mid, event=event, error="HTTP 503", lease_until=at(60), attempt=attempt)


async def test_sent_failed_and_retried_per_bucket(database: str) -> None:
    mailing = await Mailing.create(
        text="t", start_at=NOW, end_at=at(3600), state=MailingState.RUNNING, started_at=NOW
    )
    ids = await _attempts(mailing.id, 6)
    await mark_sent(ids[:2], at(5))
    await mark_sent(ids[2:3], at(65))
    await record(
        [
            _failed(ids[3], MessageEvent.RETRY, 10, 503),
            _failed(ids[4], MessageEvent.REJECT, 70, 400),
            _failed(ids[5], MessageEvent.RETRY, 130, None),
        ],
        "w",
        at(131),
    )
    assert await MessageAttempt.filter(mailing_id=mailing.id).count() == 3
    points = await timeline(mailing, Bucket.MINUTE, at(150))
    assert points == [Point(at(0), 2, 0, 1), Point(at(60), 1, 1, 0), Point(at(120), 0, 0, 1)]
    assert await timeline(mailing, Bucket.HOUR, at(150)) == [Point(at(0), 3, 1, 2)]
    narrowed = await timeline(mailing, Bucket.MINUTE, at(150), since=at(61), until=at(119))
    assert narrowed == [Point(at(60), 1, 1, 0)]  # widened to whole buckets
    other = await Mailing.create(text="t", start_at=NOW, end_at=at(60), started_at=NOW)
    assert await timeline(other, Bucket.MINUTE, at(30)) == [Point(at(0))]
