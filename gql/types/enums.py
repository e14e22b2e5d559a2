"""The domain enums exposed under the contract's names (mypy sees the plain enums)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from models.mailing import MailingState
from models.message import MessageStatus

if TYPE_CHECKING:
    MessageStatusEnum = MessageStatus
    MailingStateEnum = MailingState
else:
    MessageStatusEnum = strawberry.enum(MessageStatus, name="MessageStatus")
    MailingStateEnum = strawberry.enum(MailingState, name="MailingState")


@strawberry.enum(description="Which way a list is sorted.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("asc", description="Smallest (oldest, earliest) first.")
    DESC = strawberry.enum_value("desc", description="Largest (newest, latest) first.")


@strawberry.enum(description="What `mailings(orderBy:)` sorts by; equal values are ordered by id.")
class MailingOrderField(Enum):
    CREATED_AT = strawberry.enum_value("created_at", description="When the mailing was created.")
    START_AT = strawberry.enum_value("start_at", description="Its startAt.")
    STATE = strawberry.enum_value(
        "state",
        description="The state's name alphabetically (CANCELLED, FINISHED, PAUSED, RUNNING,"
        " SCHEDULED with ASC), then by creation time in the same direction.",
    )
