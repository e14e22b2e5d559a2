from __future__ import annotations

import strawberry

from gql.context import Context
from gql.types.enums import MailingStateEnum, MessageStatusEnum
from gql.types.pagination import Connection, connection, decode_cursor
from models.mailing import Mailing, MailingState
from models.message import MessageStatus
from models.pages import keyset_page
from models.stats import Counts, MailingCounts


@strawberry.type
class StatusCount:
    status: MessageStatusEnum
    count: int


def status_counts(counts: Counts) -> list[StatusCount]:
    return [StatusCount(status=s, count=counts.by_status.get(s, 0)) for s in MessageStatus]


@strawberry.type
class MailingStats:
    mailing_id: strawberry.ID
    state: MailingStateEnum
    total: int
    by_status: list[StatusCount]

    @classmethod
    def build(cls, mailing_id: int, state: MailingState, counts: Counts) -> MailingStats:
        return cls(
            mailing_id=strawberry.ID(str(mailing_id)),
            state=state,
            total=counts.total,
            by_status=status_counts(counts),
        )

    @classmethod
    def from_counts(cls, item: MailingCounts) -> MailingStats:
        return cls.build(item.mailing_id, item.state, item.counts)


async def _per_mailing_page(
    info: strawberry.Info[Context, None], first: int | None = 50, after: str | None = None
) -> Connection[MailingStats]:
    page = await keyset_page(Mailing.all(), first, decode_cursor("stats", after))
    ids = [row.id for row in page.rows]
    counts = dict(zip(ids, await info.context.loaders.counts.load_many(ids), strict=True))
    return connection(
        "stats", page, lambda row: MailingStats.build(row.id, row.state, counts[row.id])
    )


@strawberry.type
class OverallStats:
    mailings: int
    messages: int
    by_status: list[StatusCount]
    per_mailing: list[MailingStats]
    per_mailing_connection: Connection[MailingStats] = strawberry.field(
        resolver=_per_mailing_page,
        description="perMailing as a Relay connection: every mailing's counts, a page at a"
        " time in mailing id order (oldest first), with `first` (default 50, at most 500)"
        " and `after` (a cursor of this connection, else BAD_USER_INPUT on `after`).",
    )
