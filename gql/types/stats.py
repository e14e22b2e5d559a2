from __future__ import annotations

from typing import Annotated

import strawberry

from gql.context import Context
from gql.types.enums import MailingStateEnum, MessageStatusEnum
from gql.types.pagination import AFTER, FIRST, Connection, connection, decode_cursor
from models.mailing import Mailing, MailingState
from models.message import MessageStatus
from models.pages import keyset_page
from models.stats import Counts, MailingCounts


@strawberry.type(description="How many messages are in one status.")
class StatusCount:
    status: MessageStatusEnum = strawberry.field(description="The status counted.")
    count: int = strawberry.field(description="Messages in it now (0 included).")


def status_counts(counts: Counts) -> list[StatusCount]:
    return [StatusCount(status=s, count=counts.by_status.get(s, 0)) for s in MessageStatus]


@strawberry.type(
    description="One mailing's messages counted per status, read from counters the database"
    " keeps up to date with every change (no scan of the messages)."
)
class MailingStats:
    mailing_id: strawberry.ID = strawberry.field(description="The mailing counted.")
    state: MailingStateEnum = strawberry.field(description="The mailing's state now.")
    total: int = strawberry.field(
        description="All its messages: one per client of its audience (0 before it starts)."
    )
    by_status: list[StatusCount] = strawberry.field(
        description="One entry per MessageStatus, in the enum's order, zeros included."
    )

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
    info: strawberry.Info[Context, None],
    first: Annotated[int | None, strawberry.argument(description=FIRST)] = 50,
    after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
) -> Connection[MailingStats]:
    page = await keyset_page(Mailing.all(), first, decode_cursor("stats", after))
    ids = [row.id for row in page.rows]
    counts = dict(zip(ids, await info.context.loaders.counts.load_many(ids), strict=True))
    return connection(
        "stats", page, lambda row: MailingStats.build(row.id, row.state, counts[row.id])
    )


@strawberry.type(description="Delivery statistics across every mailing, counted now.")
class OverallStats:
    mailings: int = strawberry.field(description="Mailings in any state.")
    messages: int = strawberry.field(description="Messages of every mailing (test sends aside).")
    by_status: list[StatusCount] = strawberry.field(
        description="Every mailing's messages per MessageStatus, zeros included."
    )
    per_mailing: list[MailingStats] = strawberry.field(
        description="Every mailing's counts in one list, in mailing id order (not paged: with"
        " many mailings use perMailingConnection)."
    )
    per_mailing_connection: Connection[MailingStats] = strawberry.field(
        resolver=_per_mailing_page,
        description="perMailing as a Relay connection: every mailing's counts, a page at a"
        " time in mailing id order (oldest first), with `first` (default 50, at most 500)"
        " and `after` (a cursor of this connection, else BAD_USER_INPUT on `after`).",
    )
