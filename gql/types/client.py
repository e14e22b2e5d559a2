from __future__ import annotations

import strawberry

from gql.scalars import DateTime
from gql.types.pagination import Connection
from models.client import Client


@strawberry.type(name="Client")
class ClientType:
    row: strawberry.Private[Client]

    @classmethod
    def from_model(cls, row: Client) -> ClientType:
        return cls(row=row)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def phone(self) -> str:
        return self.row.phone

    @strawberry.field
    def operator_code(self) -> str:
        return self.row.operator_code

    @strawberry.field
    def tag(self) -> str | None:
        return self.row.tag

    @strawberry.field
    def timezone(self) -> str:
        return self.row.timezone

    @strawberry.field
    def created_at(self) -> DateTime:
        return DateTime(self.row.created_at)

    @strawberry.field
    def updated_at(self) -> DateTime:
        return DateTime(self.row.updated_at)


@strawberry.input
class ClientInput:
    phone: str
    operator_code: str | None = None
    tag: str | None = None
    timezone: str


@strawberry.input
class ClientPatch:
    phone: str | None = strawberry.UNSET
    operator_code: str | None = strawberry.UNSET
    tag: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET


ClientConnection = Connection[ClientType]


@strawberry.type(name="ImportError")
class ImportRowError:
    """One rejected row of an import (named ImportError in the schema; not the builtin)."""

    row: int
    field: str | None
    message: str


@strawberry.type
class ImportResult:
    created: int
    updated: int
    errors: list[ImportRowError]
