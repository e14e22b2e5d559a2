from __future__ import annotations

import strawberry

from gql.types.enums import MailingStateEnum, MessageStatusEnum
from models.mailing import MailingState
from models.message import MessageStatus
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


@strawberry.type
class OverallStats:
    mailings: int
    messages: int
    by_status: list[StatusCount]
    per_mailing: list[MailingStats]
