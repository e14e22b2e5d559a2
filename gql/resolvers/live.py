"""Subscriptions: the first event is the current snapshot, then one per change (coalesced by
the process's hub), and `mailingStats` completes after the FINISHED/CANCELLED snapshot."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from gql.context import Context
from gql.ids import parse_id
from gql.live import OVERALL, Hub
from gql.resolvers.stats import stats as overall_snapshot
from gql.types.fields import id_argument
from gql.types.stats import MailingStats, OverallStats
from models.errors import DomainError, NotFound
from models.mailing import Mailing
from models.message import MessageStatus
from models.stats import counts_for_mailings
from models.transitions import MAILING_ENDED

Info = strawberry.Info[Context, None]


class Unavailable(DomainError):
    code = "INTERNAL_SERVER_ERROR"


Snapshot = MailingStats | OverallStats | None


async def read_snapshots(keys: list[int]) -> dict[int, Snapshot]:
    """The snapshot of each key (a mailing id, or OVERALL), in two queries for all the
    mailings however many (the hub reads every watched mailing with news at once); a mailing
    that is gone is None."""
    snapshots: dict[int, Snapshot] = {}
    if OVERALL in keys:
        snapshots[OVERALL] = await overall_snapshot()
    ids = [k for k in keys if k != OVERALL]
    if ids:
        states = {m.id: m.state for m in await Mailing.filter(id__in=ids).only("id", "state")}
        counts = await counts_for_mailings(list(states))
        for key in ids:
            state = states.get(key)
            snapshots[key] = None if state is None else MailingStats.build(key, state, counts[key])
    return snapshots


async def read_snapshot(key: int) -> Snapshot:
    return (await read_snapshots([key]))[key]


IN_FLIGHT = {MessageStatus.PENDING, MessageStatus.RETRYING, MessageStatus.SENDING}


def settled(snapshot: MailingStats) -> bool:
    """Ended and nothing left that could still change (a cancel may leave sends in flight,
    whose outcomes must still reach the watcher before the stream completes)."""
    return snapshot.state in MAILING_ENDED and not any(
        item.count for item in snapshot.by_status if item.status in IN_FLIGHT
    )


def _hub(info: Info) -> Hub:
    if info.context.hub is None:
        raise Unavailable("live statistics need the delivery engine (Redis)")
    return info.context.hub


async def mailing_stats(
    info: Info,
    id: Annotated[
        strawberry.ID,
        strawberry.argument(
            description=f"{id_argument('mailing')} An unknown one is NOT_FOUND on id before"
            " the stream starts."
        ),
    ],
) -> AsyncGenerator[MailingStats, None]:
    mailing_id = parse_id(id)
    hub = _hub(info)
    watcher = hub.watch(mailing_id)  # before the first read, so no change slips between
    try:
        snapshot = await read_snapshot(mailing_id)
        if not isinstance(snapshot, MailingStats):
            raise NotFound(f"mailing {mailing_id} not found", field="id")
        watcher.prime(snapshot)
        yield snapshot
        while not settled(snapshot):
            news = await watcher.next()
            if not isinstance(news, MailingStats):
                return  # the mailing was deleted
            snapshot = news
            yield snapshot
    finally:
        hub.unwatch(watcher)


async def overall_stats(info: Info) -> AsyncGenerator[OverallStats, None]:
    hub = _hub(info)
    watcher = hub.watch(OVERALL)
    try:
        snapshot = await overall_snapshot()
        watcher.prime(snapshot)
        yield snapshot
        while True:
            news = await watcher.next()
            if isinstance(news, OverallStats):
                yield news
    finally:
        hub.unwatch(watcher)
