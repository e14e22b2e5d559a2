from __future__ import annotations

from datetime import time
from typing import Annotated

import strawberry

from gql.context import Context
from gql.scalars import DateTime, Time
from gql.types.attempt import TimelinePoint
from gql.types.enums import (
    MailingOrderField,
    MailingStateEnum,
    MessageStatusEnum,
    OrderDirection,
    TimelineBucketEnum,
)
from gql.types.fields import described
from gql.types.message import MessageConnection, MessageType
from gql.types.pagination import Connection, connection, decode_cursor
from gql.types.stats import MailingStats
from gql.types.testsend import TestSendConnection, TestSendType
from models.mailing import Mailing
from models.message import Message
from models.pages import keyset_page
from models.testsend import TestSend
from models.timeline import MAX_BUCKETS, timeline

TimelineFrom = Annotated[
    DateTime | None,
    strawberry.argument(
        name="from",
        description="The range's start (default: when the mailing started), widened to the"
        " start of its bucket; between 2000-01-01 and 2100-01-01 (BAD_USER_INPUT on from).",
    ),
]
TimelineTo = Annotated[
    DateTime | None,
    strawberry.argument(
        description="The range's end, exclusive (default: when the mailing finished, a"
        " cancelled one 60 s later, or now while it runs), widened to the end of its bucket;"
        " after from (BAD_USER_INPUT on to).",
    ),
]


@strawberry.type
class AudienceFilter:
    operator_codes: list[str]
    tags: list[str]


@strawberry.input
class AudienceFilterInput:
    operator_codes: list[str] | None = None
    tags: list[str] | None = None


@strawberry.type
class TimeWindow:
    start: Time
    end: Time


@strawberry.input
class TimeWindowInput:
    start: Time
    end: Time


def _clock(seconds: int) -> Time:
    return Time(time(seconds // 3600, seconds % 3600 // 60, seconds % 60))


async def _test_sends(
    root: MailingType,
    first: Annotated[
        int | None, strawberry.argument(description="Page size: default 50, at most 500.")
    ] = 50,
    after: Annotated[
        str | None, strawberry.argument(description="The endCursor of the previous page.")
    ] = None,
) -> TestSendConnection:
    queryset = TestSend.filter(mailing_id=root.row.id)
    page = await keyset_page(queryset, first, decode_cursor("test_send", after))
    return connection("test_send", page, TestSendType.from_model)


@strawberry.type(name="Mailing")
class MailingType:
    row: strawberry.Private[Mailing]

    @classmethod
    def from_model(cls, row: Mailing) -> MailingType:
        return cls(row=row)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def text(self) -> str:
        return self.row.text

    @strawberry.field
    def start_at(self) -> DateTime:
        return DateTime(self.row.start_at)

    @strawberry.field
    def end_at(self) -> DateTime:
        return DateTime(self.row.end_at)

    @strawberry.field
    def filter(self) -> AudienceFilter:
        return AudienceFilter(
            operator_codes=list(self.row.operator_codes), tags=list(self.row.tags)
        )

    @strawberry.field
    def window(self) -> TimeWindow | None:
        window = self.row.window
        if window is None:
            return None
        return TimeWindow(start=_clock(window.start), end=_clock(window.end))

    @strawberry.field
    def state(self) -> MailingStateEnum:
        return self.row.state

    @strawberry.field
    def created_at(self) -> DateTime:
        return DateTime(self.row.created_at)

    @strawberry.field
    async def stats(self, info: strawberry.Info[Context, None]) -> MailingStats:
        counts = await info.context.loaders.counts.load(self.row.id)
        return MailingStats.build(self.row.id, self.row.state, counts)

    @strawberry.field
    async def messages(
        self,
        first: int | None = 50,
        after: str | None = None,
        status: MessageStatusEnum | None = None,
    ) -> MessageConnection:
        queryset = Message.filter(mailing_id=self.row.id)
        if status is not None:
            queryset = queryset.filter(status=status)
        page = await keyset_page(queryset, first, decode_cursor("message", after))
        return connection("message", page, MessageType.from_model)

    test_sends: TestSendConnection = strawberry.field(
        resolver=_test_sends,
        description=(
            "The mailing's test sends (testSend), oldest first: apart from its messages and"
            " never counted in its stats. A connection like messages (first: default 50, at"
            " most 500; counted by the query cost limit)."
        ),
    )

    @described(
        "Messages sent, failed and retried per UTC bucket over a range, every bucket listed"
        f" (zeros included), at most {MAX_BUCKETS} buckets (more is BAD_USER_INPUT on bucket:"
        " choose a larger bucket or a shorter range). Empty before the mailing starts. One"
        f" grouped query; counts as {MAX_BUCKETS} nodes in the query cost."
    )
    async def timeline(
        self,
        info: strawberry.Info[Context, None],
        bucket: Annotated[
            TimelineBucketEnum, strawberry.argument(description="The width of one bucket.")
        ],
        from_: TimelineFrom = None,
        to: TimelineTo = None,
    ) -> list[TimelinePoint]:
        points = await timeline(self.row, bucket, info.context.now(), from_, to)
        return [TimelinePoint.from_point(p) for p in points]


@strawberry.input
class MailingInput:
    text: str
    start_at: DateTime
    end_at: DateTime
    filter: AudienceFilterInput
    window: TimeWindowInput | None = None


@strawberry.input
class MailingPatch:
    text: str | None = strawberry.UNSET
    start_at: DateTime | None = strawberry.UNSET
    end_at: DateTime | None = strawberry.UNSET
    filter: AudienceFilterInput | None = strawberry.UNSET
    window: TimeWindowInput | None = strawberry.UNSET


MailingConnection = Connection[MailingType]


@strawberry.input(description="The order of `mailings`: newest first unless told otherwise.")
class MailingOrder:
    field: MailingOrderField = strawberry.field(
        default=MailingOrderField.CREATED_AT, description="The sort key (then the id)."
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC, description="ASC or DESC, for the key and the id alike."
    )
