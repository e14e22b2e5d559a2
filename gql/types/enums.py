"""The domain enums exposed under the contract's names (mypy sees the plain enums)."""

from __future__ import annotations

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
