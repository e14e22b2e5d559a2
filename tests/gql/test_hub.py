"""The live-stats hub (gql/live.py) reads every watched mailing with news in one read per
tick, on a real database through the real read (gql/resolvers/live.py): many mailings
watched cost one read, not one each; a mailing not marked is re-read after REFRESH (an
injected clock); a deleted one gives its watchers None; the last watcher leaving stops the
reader. Redis is not involved: `mark` is what its notifications call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gql import live
from gql.live import OVERALL, Hub
from gql.resolvers.live import read_snapshots
from gql.types.stats import MailingStats, OverallStats
from models.mailing import Mailing, MailingState
from models.message import Message, MessageStatus

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Reads:
    """The real read, with the keys of each call kept."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    async def __call__(self, keys: list[int]) -> dict[int, Any]:
        self.calls.append(list(keys))
        return await read_snapshots(keys)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _mailing(sent: int) -> Mailing:
    mailing = await Mailing.create(
        text="t", start_at=NOW, end_at=NOW + timedelta(days=1), state=MailingState.RUNNING
    )
    for n in range(sent):
        await Message.create(
            mailing_id=mailing.id,
            phone=f"7916{mailing.id:03d}{n:04d}",
            timezone="UTC",
            status=MessageStatus.SENT,
        )
    return mailing


def _sent(snapshot: object) -> int:
    assert isinstance(snapshot, MailingStats)
    return next(i.count for i in snapshot.by_status if i.status == MessageStatus.SENT)


async def test_many_watched_mailings_are_read_in_one_go(database: str) -> None:
    mailings = [await _mailing(sent=n) for n in (1, 2, 3)]
    reads = Reads()
    hub = Hub(None, "test", reads)
    watchers = [hub.watch(m.id) for m in mailings] + [hub.watch(OVERALL)]
    try:
        hub.mark({m.id for m in mailings})
        got = [await w.next() for w in watchers]
        assert reads.calls == [[m.id for m in mailings] + [OVERALL]]
        assert [_sent(s) for s in got[:3]] == [1, 2, 3]  # each its own mailing's counts
        assert isinstance(got[3], OverallStats)
        assert hub.counts() == {"pumps": 4, "watchers": 4}
    finally:
        for w in watchers:
            hub.unwatch(w)
    assert hub.counts() == {"pumps": 0, "watchers": 0}
    assert hub.reader is None


async def test_only_the_mailings_with_news_are_read(database: str) -> None:
    a, b = await _mailing(sent=1), await _mailing(sent=1)
    reads = Reads()
    hub = Hub(None, "test", reads, monotonic=Clock())
    wa, wb = hub.watch(a.id), hub.watch(b.id)
    try:
        hub.mark({b.id, 999})  # 999 is watched by nobody here: not read
        assert _sent(await wb.next()) == 1
        assert reads.calls == [[b.id]]
        assert wa.version == 0
    finally:
        hub.unwatch(wa)
        hub.unwatch(wb)


async def test_a_mailing_without_news_is_due_after_refresh(database: str) -> None:
    clock = Clock()
    hub = Hub(None, "test", Reads(), monotonic=clock)
    a = hub.watch(1)
    try:
        clock.now += live.REFRESH - 0.01
        assert hub.due() == []
        clock.now += 0.01
        assert hub.due() == [1]
        b = hub.watch(2)  # just watched: its watcher read it itself
        assert hub.due() == [1]
        hub.unwatch(b)
    finally:
        hub.unwatch(a)


async def test_a_deleted_mailing_gives_its_watchers_none(database: str) -> None:
    gone = await _mailing(sent=2)
    kept = await _mailing(sent=1)
    hub = Hub(None, "test", Reads())
    watcher, other = hub.watch(gone.id), hub.watch(kept.id)
    try:
        watcher.prime((await read_snapshots([gone.id]))[gone.id])  # the resolver sent it first
        await Message.filter(mailing_id=gone.id).delete()
        await gone.delete()
        hub.mark({gone.id, kept.id})
        assert await watcher.next() is None
        assert _sent(await other.next()) == 1
    finally:
        hub.unwatch(watcher)
        hub.unwatch(other)


async def test_a_failed_read_is_tried_again(database: str) -> None:
    mailing = await _mailing(sent=1)
    calls: list[list[int]] = []

    async def flaky(keys: list[int]) -> dict[int, Any]:
        calls.append(list(keys))
        if len(calls) == 1:
            raise ConnectionError("database away")
        return await read_snapshots(keys)

    hub = Hub(None, "test", flaky)
    watcher = hub.watch(mailing.id)
    try:
        hub.mark({mailing.id})
        assert _sent(await watcher.next()) == 1
        assert calls == [[mailing.id], [mailing.id]]
    finally:
        hub.unwatch(watcher)
