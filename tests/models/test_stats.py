"""The counter reads (models/stats.py) on SQLite and PostgreSQL: the trigger-kept counts per
(mailing, status), for some mailings, for all, and what each still has to send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.mailing import Mailing, MailingState
from models.message import Message, MessageStatus
from models.stats import counts_for_mailings, overall_counts, unsent_counts

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
S = MessageStatus


async def _mailing(statuses: list[S]) -> Mailing:
    mailing = await Mailing.create(
        text="t", start_at=NOW, end_at=NOW + timedelta(days=1), state=MailingState.RUNNING
    )
    for n, status in enumerate(statuses):
        await Message.create(
            mailing_id=mailing.id, phone=f"7916{n:07d}", timezone="UTC", status=status
        )
    return mailing


def _counts(**given: int) -> dict[S, int]:
    return {status: given.get(status.name, 0) for status in S}


async def test_counts_for_mailings(database: str) -> None:
    a = await _mailing([S.PENDING, S.PENDING, S.SENT, S.FAILED])
    b = await _mailing([S.RETRYING, S.SENDING])
    c = await _mailing([S.EXPIRED])
    await Message.filter(mailing_id=a.id, status=S.FAILED).update(status=S.CANCELLED)
    counts = await counts_for_mailings([a.id, b.id, 999])
    assert set(counts) == {a.id, b.id, 999}  # c not asked for; an unknown id counts zeros
    assert counts[a.id].by_status == _counts(PENDING=2, SENT=1, CANCELLED=1)
    assert counts[b.id].by_status == _counts(RETRYING=1, SENDING=1)
    assert counts[999].by_status == _counts()
    assert (await counts_for_mailings([c.id]))[c.id].total == 1
    assert await counts_for_mailings([]) == {}


async def test_overall_counts(database: str) -> None:
    a = await _mailing([S.PENDING, S.SENT])
    b = await _mailing([S.SENT, S.FAILED, S.SENT])
    empty = await _mailing([])
    total, per = await overall_counts()
    assert total.by_status == _counts(PENDING=1, SENT=3, FAILED=1)
    assert [(m.mailing_id, m.counts.total) for m in per] == [(a.id, 2), (b.id, 3), (empty.id, 0)]
    assert per[1].counts.by_status == _counts(SENT=2, FAILED=1)


async def test_unsent_counts(database: str) -> None:
    a = await _mailing([S.PENDING, S.RETRYING, S.SENDING, S.SENT, S.EXPIRED])
    b = await _mailing([S.FAILED])
    c = await _mailing([S.PENDING])
    assert await unsent_counts([a.id, b.id, 999]) == {a.id: 2, b.id: 0, 999: 0}
    assert await unsent_counts([c.id]) == {c.id: 1}
    assert await unsent_counts([]) == {}
