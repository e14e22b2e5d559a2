"""The claim/outcome statements on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.delivery import Outcome, Scope, claim, record
from models.mailing import Mailing, MailingState
from models.message import Message, MessageStatus
from models.transitions import MessageEvent

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


async def _mailing(end: datetime) -> Mailing:
    return await Mailing.create(
        text="t",
        start_at=NOW - timedelta(hours=1),
        end_at=end,
        state=MailingState.RUNNING,
        started_at=NOW,
    )


async def test_outcome_of_an_older_claim_is_ignored(database: str) -> None:
    mailing = await _mailing(NOW + timedelta(hours=1))
    await Message.create(
        mailing_id=mailing.id, phone="79160000001", timezone="UTC", next_attempt_at=NOW
    )
    first_lease = NOW + timedelta(seconds=60)
    [first] = await claim([Scope(mailing.id, None)], NOW, "w1", first_lease, 10)
    # The lease ran out, the sweep put it back, and the same worker claimed it again.
    await Message.filter(id=first.id).update(status=MessageStatus.RETRYING, lease_owner=None)
    later = NOW + timedelta(seconds=90)
    [second] = await claim(
        [Scope(mailing.id, None)], later, "w1", later + timedelta(seconds=60), 10
    )
    stale = Outcome(
        id=first.id, event=MessageEvent.RELEASE, next_attempt_at=NOW, lease_until=first_lease
    )
    await record([stale], "w1", later)
    row = await Message.get(id=first.id)
    assert (row.status, row.attempts) == (MessageStatus.SENDING, 2)  # the stale release lost
    rejected = Outcome(
        id=second.id, event=MessageEvent.REJECT, error="400", lease_until=second.lease_until
    )
    await record([rejected], "w1", later)
    row = await Message.get(id=first.id)
    assert (row.status, row.last_error) == (MessageStatus.FAILED, "400")
