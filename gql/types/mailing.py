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
from gql.types.pagination import AFTER, FIRST, Connection, connection, decode_cursor
from gql.types.stats import MailingStats
from gql.types.testsend import TestSendConnection, TestSendType
from models.client import MAX_TAG
from models.mailing import MAX_FILTER_ITEMS, MAX_TEXT, Mailing
from models.message import Message
from models.pages import keyset_page
from models.testsend import TestSend
from models.timeline import MAX_BUCKETS, timeline

TimelineFrom = Annotated[
    DateTime | None,
    strawberry.argument(
        name="from",
        description="The range's start, with a UTC offset (default: when the mailing"
        " started), widened to the start of its bucket; between 2000-01-01 and 2100-01-01"
        " (BAD_USER_INPUT on from).",
    ),
]
TimelineTo = Annotated[
    DateTime | None,
    strawberry.argument(
        description="The range's end, exclusive, with a UTC offset (default: when it finished, a"
        " cancelled one 60 s later, or now while it runs), widened to the end of its bucket;"
        " after from (BAD_USER_INPUT on to).",
    ),
]


TEXT = (
    f"1 to {MAX_TEXT:,} characters, not blank; tab and line breaks are the only control"
    " characters allowed (BAD_USER_INPUT on text)."
)
START_AT = (
    "When sending starts. An offset is required (Z or ±HH:MM; a naive time is BAD_USER_INPUT"
    " on startAt); between 2000-01-01 and 2100-01-01 UTC. A start in the past starts at once."
)
END_AT = (
    "When sending stops: with an offset (as startAt), after startAt and still in the future"
    " (BAD_USER_INPUT on endAt). Messages not sent by then become EXPIRED."
)
WINDOW = (
    "Send only inside this daily window of the client's local time (each client's own IANA"
    " zone, DST included); start = end is BAD_USER_INPUT on window."
)
WINDOW_TYPE = (
    "A daily sending window in the client's local time (each client's own IANA zone, DST"
    " included): messages go out only while the client's clock reads from start (inclusive)"
    " to end (exclusive); an end before the start spans midnight."
)
WINDOW_START = "When the window opens each day, inclusive, in the client's local time."
WINDOW_END = (
    "When it closes, exclusive, in the client's local time; before start, the window spans"
    " midnight (22:00-06:00)."
)


@strawberry.type(
    description="Which clients a mailing is for: those with any of the operator codes and any"
    " of the tags; an empty list sets no condition."
)
class AudienceFilter:
    operator_codes: list[str] = strawberry.field(
        description="Operator codes, any of them; empty: any operator."
    )
    tags: list[str] = strawberry.field(
        description="Tags, any of them; empty: any client, untagged ones included."
    )


@strawberry.input(
    description="Which clients to select: both lists must match when both are given; `{}`"
    " selects every client."
)
class AudienceFilterInput:
    operator_codes: list[str] | None = strawberry.field(
        default=None,
        description=f"Only clients with one of these operator codes (three ASCII digits each,"
        f" at most {MAX_FILTER_ITEMS}; else BAD_USER_INPUT on filter.operatorCodes). Null or"
        " empty: any.",
    )
    tags: list[str] | None = strawberry.field(
        default=None,
        description=f"Only clients with one of these tags (each non-empty, at most {MAX_TAG}"
        f" characters, no control characters; at most {MAX_FILTER_ITEMS}; else BAD_USER_INPUT"
        " on filter.tags). Null or empty: any client, untagged ones included.",
    )


@strawberry.type(description=WINDOW_TYPE)
class TimeWindow:
    start: Time = strawberry.field(description=WINDOW_START)
    end: Time = strawberry.field(description=WINDOW_END)


@strawberry.input(description=f"{WINDOW_TYPE} start = end is BAD_USER_INPUT on window.")
class TimeWindowInput:
    start: Time = strawberry.field(description=WINDOW_START)
    end: Time = strawberry.field(description=WINDOW_END)


def _clock(seconds: int) -> Time:
    return Time(time(seconds // 3600, seconds % 3600 // 60, seconds % 60))


async def _test_sends(
    root: MailingType,
    first: Annotated[int | None, strawberry.argument(description=FIRST)] = 50,
    after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
) -> TestSendConnection:
    queryset = TestSend.filter(mailing_id=root.row.id)
    page = await keyset_page(queryset, first, decode_cursor("test_send", after))
    return connection("test_send", page, TestSendType.from_model)


@strawberry.type(
    name="Mailing",
    description="A campaign: one text sent to every client its filter selects, between startAt"
    " and endAt, optionally only inside a window of the client's local time.",
)
class MailingType:
    row: strawberry.Private[Mailing]

    @classmethod
    def from_model(cls, row: Mailing) -> MailingType:
        return cls(row=row)

    @described("Decimal id (1 to 2,147,483,647).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @described(f"The text sent to every client (1 to {MAX_TEXT:,} characters).")
    def text(self) -> str:
        return self.row.text

    @described("When sending starts, in UTC (it was given with an offset).")
    def start_at(self) -> DateTime:
        return DateTime(self.row.start_at)

    @described("When sending stops, in UTC: messages not sent by then are EXPIRED.")
    def end_at(self) -> DateTime:
        return DateTime(self.row.end_at)

    @described("Which clients it is for.")
    def filter(self) -> AudienceFilter:
        return AudienceFilter(
            operator_codes=list(self.row.operator_codes), tags=list(self.row.tags)
        )

    @described("The daily sending window, in the client's local time; null: any time of day.")
    def window(self) -> TimeWindow | None:
        window = self.row.window
        if window is None:
            return None
        return TimeWindow(start=_clock(window.start), end=_clock(window.end))

    @described("Where it is in its life (see MailingState).")
    def state(self) -> MailingStateEnum:
        return self.row.state

    @described("When it was created (UTC).")
    def created_at(self) -> DateTime:
        return DateTime(self.row.created_at)

    @described(
        "Its messages counted per status, from counters the database keeps (no scan); test"
        " sends are not counted."
    )
    async def stats(self, info: strawberry.Info[Context, None]) -> MailingStats:
        counts = await info.context.loaders.counts.load(self.row.id)
        return MailingStats.build(self.row.id, self.row.state, counts)

    @described(
        "Its messages, one per client of its audience (made when it starts: none before), in"
        " id order."
    )
    async def messages(
        self,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        status: Annotated[
            MessageStatusEnum | None,
            strawberry.argument(description="Only messages in this status; null: all."),
        ] = None,
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


@strawberry.input(description="A new mailing (createMailing).")
class MailingInput:
    text: str = strawberry.field(description=TEXT)
    start_at: DateTime = strawberry.field(description=START_AT)
    end_at: DateTime = strawberry.field(description=END_AT)
    filter: AudienceFilterInput = strawberry.field(
        description="Which clients get it; the audience is taken when the mailing starts."
    )
    window: TimeWindowInput | None = strawberry.field(
        default=None, description=f"{WINDOW} Omitted or null: any time of day."
    )


@strawberry.input(
    description="Changes to a mailing (updateMailing); an omitted field is kept. Every field"
    " may change while SCHEDULED, only endAt and window once RUNNING or PAUSED (another is"
    " CONFLICT on that field), nothing once FINISHED or CANCELLED (CONFLICT)."
)
class MailingPatch:
    text: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"{TEXT} Null is BAD_USER_INPUT."
    )
    start_at: DateTime | None = strawberry.field(
        default=strawberry.UNSET, description=f"{START_AT} Null is BAD_USER_INPUT."
    )
    end_at: DateTime | None = strawberry.field(
        default=strawberry.UNSET,
        description=f"{END_AT} Null is BAD_USER_INPUT. On a started mailing, messages that"
        " expired because their window could not open before the old end are PENDING again"
        " where it opens before the new one.",
    )
    filter: AudienceFilterInput | None = strawberry.field(
        default=strawberry.UNSET, description="The new audience filter; null is BAD_USER_INPUT."
    )
    window: TimeWindowInput | None = strawberry.field(
        default=strawberry.UNSET,
        description=f"{WINDOW} Null removes the window; on a started mailing it applies to"
        " the unsent messages at once.",
    )


MailingConnection = Connection[MailingType]


@strawberry.input(description="The order of `mailings`: newest first unless told otherwise.")
class MailingOrder:
    field: MailingOrderField = strawberry.field(
        default=MailingOrderField.CREATED_AT, description="The sort key (then the id)."
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC, description="ASC or DESC, for the key and the id alike."
    )
