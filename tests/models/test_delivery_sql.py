"""The claim/outcome statements on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from models.delivery import (
    Outcome,
    Scope,
    _claim_sql,
    claim,
    claim_lease,
    mark_sent,
    record,
)
from models.mailing import Mailing, MailingState
from models.message import Message, MessageStatus
from models.sql import db, rows_per_write
from models.transitions import MessageEvent
from tests.support.database import BACKENDS

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


S = MessageStatus
LEASE = NOW + timedelta(seconds=60)


async def _messages(
    mailing: Mailing, n: int, status: S = S.PENDING, *, zone: str = "UTC", at: datetime = NOW
) -> list[Message]:
    return [
        await Message.create(
            mailing_id=mailing.id,
            phone=f"7916{i:07d}",
            timezone=zone,
            status=status,
            next_attempt_at=at,
            attempts=1 if status != S.PENDING else 0,
        )
        for i in range(n)
    ]


async def test_claim_takes_due_unsent_messages_of_the_scope(database: str) -> None:
    mailing, other = await _mailing(NOW + timedelta(hours=1)), await _mailing(NOW)
    due = await _messages(mailing, 2) + await _messages(mailing, 1, S.RETRYING)
    later = await _messages(mailing, 1, at=NOW + timedelta(seconds=1))
    final = await _messages(mailing, 1, S.SENT) + await _messages(mailing, 1, S.SENDING)
    outside = await _messages(other, 1)
    claimed = await claim([Scope(mailing.id, None)], NOW, "w1", LEASE, 10)
    assert sorted(c.id for c in claimed) == sorted(m.id for m in due)
    assert {(c.mailing_id, c.lease_until) for c in claimed} == {(mailing.id, LEASE)}
    for seeded in due:
        row = await Message.get(id=seeded.id)
        assert (row.status, row.lease_owner, row.lease_until, row.attempts, row.updated_at) == (
            S.SENDING,
            "w1",
            LEASE,
            seeded.attempts + 1,
            NOW,
        )
    for seeded in later + final + outside:
        assert (await Message.get(id=seeded.id)).status == seeded.status


async def test_claim_gives_each_scope_its_share_and_its_open_zones(database: str) -> None:
    a, b, c = [await _mailing(NOW + timedelta(hours=1)) for _ in range(3)]
    await _messages(a, 5)
    await _messages(b, 5)
    await _messages(c, 3, zone="UTC")
    tokyo = await _messages(c, 3, zone="Asia/Tokyo")
    scopes = [
        Scope(a.id, None, share=2),
        Scope(b.id, None),  # no share: up to the whole limit
        Scope(c.id, frozenset({"Asia/Tokyo", "Europe/Paris"})),
    ]
    claimed = await claim(scopes, NOW, "w1", LEASE, 4)
    per = {m.id: sum(1 for x in claimed if x.mailing_id == m.id) for m in (a, b, c)}
    assert per == {a.id: 2, b.id: 4, c.id: 3}
    assert {x.id for x in claimed if x.mailing_id == c.id} == {m.id for m in tokyo}
    assert await claim([Scope(c.id, frozenset())], NOW, "w1", LEASE, 4) == []  # no zone open


def test_the_sqlite_claim_takes_no_row_locks() -> None:
    scopes = [Scope(1, None), Scope(2, frozenset({"UTC"}), share=3)]
    sqlite, _ = _claim_sql(scopes, 10, postgres=False)
    postgres, params = _claim_sql(scopes, 10, postgres=True)
    assert "FOR UPDATE" not in sqlite  # SQLite has no row locks: its write lock serialises
    assert postgres.count("FOR UPDATE SKIP LOCKED") == 2
    assert params == {
        "mailing_0": 1,
        "share_0": 10,
        "mailing_1": 2,
        "share_1": 3,
        "zones_1": frozenset({"UTC"}),
    }


if "postgres" in BACKENDS:  # row locks exist only on PostgreSQL (SQLite: the test above)

    @pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
    async def test_claim_keeps_its_share_with_statistics_that_say_all_is_sent(
        database: str,
    ) -> None:
        """Statistics from a table where every message was SENT (kept by TRUNCATE) made the
        planner re-run the pick per outer row, each run skipping the rows the last locked:
        a claim of 2 took every due message. The picks are one materialized CTE now."""
        old = await _mailing(NOW + timedelta(hours=1))
        await _messages(old, 50, S.SENT)
        await db().execute_script("ANALYZE message; TRUNCATE message")
        a, b = [await _mailing(NOW + timedelta(hours=1)) for _ in range(2)]
        await _messages(a, 30)
        await _messages(b, 30)
        claimed = await claim(
            [Scope(a.id, None, share=2), Scope(b.id, None, share=3)], NOW, "w1", LEASE, 10
        )
        per = {m.id: sum(1 for x in claimed if x.mailing_id == m.id) for m in (a, b)}
        assert per == {a.id: 2, b.id: 3}

    @pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
    async def test_claim_skips_rows_another_transaction_locked(database: str) -> None:
        mailing = await _mailing(NOW + timedelta(hours=1))
        locked, *free = await _messages(mailing, 3)
        go = asyncio.Event()

        async def other_worker() -> list[int]:  # created outside the transaction: own connection
            await go.wait()
            claimed = await claim([Scope(mailing.id, None)], NOW, "w2", LEASE, 10)
            return [c.id for c in claimed]

        worker = asyncio.create_task(other_worker())
        async with in_transaction() as tx:
            await tx.execute_query("SELECT id FROM message WHERE id = $1 FOR UPDATE", [locked.id])
            go.set()
            claimed = await asyncio.wait_for(worker, 10)  # does not wait for the lock
        assert sorted(claimed) == sorted(m.id for m in free)
        assert (await Message.get(id=locked.id)).status == S.PENDING


@pytest.mark.parametrize("status", [S.PENDING, S.RETRYING, S.SENDING])
async def test_sent_wins_over_an_unsent_status(database: str, status: S) -> None:
    mailing = await _mailing(NOW + timedelta(hours=1))
    [seeded] = await _messages(mailing, 1, status)
    await Message.filter(id=seeded.id).update(
        lease_owner="w1", lease_until=LEASE, last_error="timeout"
    )
    await mark_sent([seeded.id], NOW)
    row = await Message.get(id=seeded.id)
    assert (row.status, row.sent_at, row.updated_at) == (S.SENT, NOW, NOW)
    assert (row.lease_owner, row.lease_until, row.last_error) == (None, None, None)


@pytest.mark.parametrize("status", [S.SENT, S.FAILED, S.EXPIRED, S.CANCELLED])
async def test_sent_never_overwrites_a_final_status(database: str, status: S) -> None:
    mailing = await _mailing(NOW + timedelta(hours=1))
    [seeded, pending] = await _messages(mailing, 1, status) + await _messages(mailing, 1)
    await mark_sent([seeded.id, pending.id], NOW)
    row = await Message.get(id=seeded.id)
    assert (row.status, row.sent_at, row.updated_at) == (status, None, seeded.updated_at)
    assert (await Message.get(id=pending.id)).status == S.SENT  # same statement, other row


async def test_record_writes_each_outcome_of_the_claim(database: str) -> None:
    mailing = await _mailing(NOW + timedelta(hours=1))
    await _messages(mailing, 3)
    retry, reject, release = await claim([Scope(mailing.id, None)], NOW, "w1", LEASE, 10)
    later = NOW + timedelta(minutes=5)
    await record(
        [
            Outcome(
                id=retry.id,
                event=MessageEvent.RETRY,
                next_attempt_at=later,
                error="503",
                lease_until=LEASE,
            ),
            Outcome(id=reject.id, event=MessageEvent.REJECT, error="x" * 400, lease_until=LEASE),
            Outcome(id=release.id, event=MessageEvent.RELEASE, lease_until=LEASE),
        ],
        "w1",
        NOW,
    )
    rows = {m.id: m for m in await Message.filter(mailing_id=mailing.id)}
    expected = {
        retry.id: (S.RETRYING, later, "503", 1),
        reject.id: (S.FAILED, NOW, "x" * 300, 1),
        release.id: (S.PENDING, NOW, None, 0),  # not attempted: the attempt is given back
    }
    for mid, (status, at, error, attempts) in expected.items():
        row = rows[mid]
        assert (row.status, row.next_attempt_at, row.last_error, row.attempts) == (
            status,
            at,
            error,
            attempts,
        )
        assert (row.lease_owner, row.lease_until, row.updated_at) == (None, None, NOW)


async def test_record_writes_only_under_the_same_owner_and_lease(database: str) -> None:
    mailing = await _mailing(NOW + timedelta(hours=1))
    await _messages(mailing, 2)
    mine, other = await claim([Scope(mailing.id, None)], NOW, "w1", LEASE, 10)
    await record(
        [
            Outcome(id=mine.id, event=MessageEvent.REJECT, lease_until=LEASE),
            Outcome(
                id=other.id, event=MessageEvent.REJECT, lease_until=LEASE + timedelta(seconds=1)
            ),
        ],
        "w2",  # not the owner: nothing is written
        NOW,
    )
    assert {m.status for m in await Message.filter(mailing_id=mailing.id)} == {S.SENDING}
    await record(
        [
            Outcome(id=mine.id, event=MessageEvent.REJECT, lease_until=LEASE),
            Outcome(
                id=other.id, event=MessageEvent.REJECT, lease_until=LEASE + timedelta(seconds=1)
            ),  # another claim's lease
        ],
        "w1",
        NOW,
    )
    assert (await Message.get(id=mine.id)).status == S.FAILED
    assert (await Message.get(id=other.id)).status == S.SENDING


def test_each_claim_of_an_owner_gets_a_lease_of_its_own() -> None:
    """A lease names its claim (on SQLite the claimed rows are read back by it): with the clock
    standing still, or going back, the next claim's lease is still later than the last."""
    first = claim_lease(NOW, 60, None)
    assert first == NOW + timedelta(seconds=60)
    again = claim_lease(NOW, 60, first)
    back = claim_lease(NOW - timedelta(seconds=5), 60, again)
    assert first < again < back
    assert claim_lease(NOW + timedelta(seconds=1), 60, back) == NOW + timedelta(seconds=61)


async def test_a_claim_returns_only_its_own_rows(database: str) -> None:
    """Rows this owner claimed before, still SENDING under their own lease, are not claimed
    (nor returned) again by the next claim."""
    mailing = await _mailing(NOW + timedelta(hours=1))
    await _messages(mailing, 5)
    first_lease = claim_lease(NOW, 60, None)
    first = await claim([Scope(mailing.id, None)], NOW, "w1", first_lease, 3)
    second_lease = claim_lease(NOW, 60, first_lease)
    second = await claim([Scope(mailing.id, None)], NOW, "w1", second_lease, 10)
    assert (len(first), len(second)) == (3, 2)
    assert not {m.id for m in first} & {m.id for m in second}
    assert {m.lease_until for m in second} == {second_lease}


async def test_outcomes_of_many_rows_are_written_in_transactions_of_a_bounded_size(
    database: str,
) -> None:
    """More rows than one write transaction takes (SQLITE_WRITE_ROWS, POSTGRES_WRITE_ROWS):
    every one is written all the same, SENT or retried."""
    mailing = await _mailing(NOW + timedelta(hours=1))
    await _messages(mailing, 2 * rows_per_write() + 3)
    claimed = await claim([Scope(mailing.id, None)], NOW, "w1", LEASE, 2 * rows_per_write() + 3)
    sent, retried = claimed[: rows_per_write() + 1], claimed[rows_per_write() + 1 :]
    await mark_sent([m.id for m in sent], NOW)
    await record(
        [
            Outcome(id=m.id, event=MessageEvent.RETRY, error="503", lease_until=m.lease_until)
            for m in retried
        ],
        "w1",
        NOW,
    )
    counts = {
        status: await Message.filter(mailing_id=mailing.id, status=status).count()
        for status in (S.SENT, S.RETRYING)
    }
    assert counts == {S.SENT: len(sent), S.RETRYING: len(retried)}
