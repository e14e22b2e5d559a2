from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from gql.context import Context
from gql.scalars import DateTime
from gql.types.client import ClientType
from gql.types.enums import MessageStatusEnum
from gql.types.pagination import Connection
from models.message import Message

if TYPE_CHECKING:
    from gql.types.mailing import MailingType


@strawberry.type(name="Message")
class MessageType:
    row: strawberry.Private[Message]

    @classmethod
    def from_model(cls, row: Message) -> MessageType:
        return cls(row=row)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def status(self) -> MessageStatusEnum:
        return self.row.status

    @strawberry.field
    def phone(self) -> str:
        return self.row.phone

    @strawberry.field
    def created_at(self) -> DateTime:
        return DateTime(self.row.created_at)

    @strawberry.field
    def sent_at(self) -> DateTime | None:
        return DateTime(self.row.sent_at) if self.row.sent_at else None

    @strawberry.field
    def attempts(self) -> int:
        return self.row.attempts

    @strawberry.field
    def last_error(self) -> str | None:
        return self.row.last_error

    @strawberry.field
    async def mailing(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[MailingType, strawberry.lazy("gql.types.mailing")]:
        from gql.types.mailing import MailingType

        row = await info.context.loaders.mailings.load(self.row.mailing_id)  # type: ignore[attr-defined]
        assert row is not None  # messages are deleted with their mailing
        return MailingType(row=row)

    @strawberry.field
    async def client(self, info: strawberry.Info[Context, None]) -> ClientType | None:
        client_id = self.row.client_id  # type: ignore[attr-defined]
        if client_id is None:
            return None
        row = await info.context.loaders.clients.load(client_id)
        return ClientType(row=row) if row else None


MessageConnection = Connection[MessageType]
